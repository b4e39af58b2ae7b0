"""The demo plant's genealogy: supplier lots of styrene monomer, initiator and solvent, a
polystyrene resin batch lot made from them, split into sub-lots, packaged into serialized
20 kg pails and shipped to two customers. Idempotent: a second run changes nothing."""

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from genealogy import services
from genealogy.choices import LotStatus, MaterialKind, UnitOfMeasure
from genealogy.models import Lot, Material
from mes.accounts.roles import Role

MATERIALS = [
    {
        "code": "STY",
        "name": "Styrene monomer",
        "kind": MaterialKind.RAW,
        "uom": UnitOfMeasure.KILOGRAM,
        "shelf_life_days": 180,
    },
    {
        "code": "BPO",
        "name": "Benzoyl peroxide initiator",
        "kind": MaterialKind.RAW,
        "uom": UnitOfMeasure.KILOGRAM,
        "shelf_life_days": 365,
    },
    {
        "code": "XYL",
        "name": "Xylene solvent",
        "kind": MaterialKind.RAW,
        "uom": UnitOfMeasure.LITRE,
        "shelf_life_days": 730,
    },
    {
        "code": "PAIL-20",
        "name": "20 L steel pail with lid",
        "kind": MaterialKind.PACKAGING,
        "uom": UnitOfMeasure.EACH,
    },
    {
        "code": "PS-RESIN",
        "name": "Polystyrene resin solution",
        "kind": MaterialKind.INTERMEDIATE,
        "uom": UnitOfMeasure.KILOGRAM,
        "shelf_life_days": 365,
    },
    {
        "code": "PS-RESIN-P20",
        "name": "Polystyrene resin solution, 20 kg pail",
        "kind": MaterialKind.FINISHED,
        "uom": UnitOfMeasure.EACH,
        "is_serialized": True,
    },
]

RECEIPTS = [
    # material, lot, quantity, supplier, supplier lot
    ("STY", "STY-24001", "2000", "Styrolution GmbH", "SLN-88412"),
    (
        "STY",
        "STY-24002",
        "1000",
        "Styrolution GmbH",
        "SLN-88412",
    ),  # same supplier lot, 2nd delivery
    ("BPO", "BPO-24011", "50", "Nouryon", "NRY-5521"),
    ("XYL", "XYL-24007", "1500", "Shell Chemicals", "SC-X-1209"),
    ("PAIL-20", "PAIL-24003", "200", "Mauser Packaging", "MP-77310"),
]
BATCH = "B-1001"
RESIN_LOT = "PS-B1001"
PAILS_PER_SUBLOT = 10
SHIPMENTS = [("Acme Coatings Ltd", "SH-5001", 12), ("Borealis Paints AS", "SH-5002", 8)]


def build_demo_genealogy(ctx: Any) -> None:
    """A demo step (mes.registry.register_demo_step): receives what the platform built."""
    operator = ctx.user(Role.OPERATOR.value)
    supervisor = ctx.user(Role.SUPERVISOR.value)
    qa = ctx.user(Role.QA_REVIEWER.value)
    materials = {}
    for spec in MATERIALS:
        material = Material.objects.filter(code=spec["code"]).first()
        if material is None:
            material = services.material_create(actor=ctx.actor, **spec)
            ctx.created(f"material {material}")
        materials[spec["code"]] = material
    if Lot.objects.filter(material=materials["PS-RESIN"], lot_number=RESIN_LOT).exists():
        return
    start = timezone.now() - timedelta(days=3)
    lots = {}
    for i, (code, number, qty, supplier, supplier_lot) in enumerate(RECEIPTS):
        lot = services.lot_receive(
            actor=operator,
            material=materials[code],
            lot_number=number,
            quantity=Decimal(qty),
            supplier=supplier,
            supplier_lot_number=supplier_lot,
            location="Raw material store",
            occurred_at=start + timedelta(minutes=10 * i),
        )
        # The quality app owns disposition; the demo plays QA's release of incoming lots.
        services.lot_set_status(
            actor=qa, lot=lot, status=LotStatus.RELEASED, reason="demo: incoming inspection passed"
        )
        lots[number] = lot
        ctx.created(f"lot {number} of {code} from {supplier} (supplier lot {supplier_lot})")
    batch_url = f"/batches/{BATCH}/"

    def phase(n: int, name: str) -> dict[str, str]:
        return {"kind": "batch_phase", "ref": f"{BATCH}/phase {n} {name}", "url": batch_url}

    t = start + timedelta(hours=2)
    resin = services.lot_produce(
        actor=operator,
        material=materials["PS-RESIN"],
        lot_number=RESIN_LOT,
        quantity=Decimal("1200"),
        source={"kind": "batch", "ref": BATCH, "url": batch_url},
        inputs=[
            {"lot": lots["STY-24001"], "quantity": "750", "context": phase(1, "charge monomer")},
            {"lot": lots["STY-24002"], "quantity": "150", "context": phase(1, "charge monomer")},
            {"lot": lots["BPO-24011"], "quantity": "9", "context": phase(2, "initiate")},
            {"lot": lots["XYL-24007"], "quantity": "340", "context": phase(4, "dilute")},
        ],
        location="Reactor R-101",
        occurred_at=t,
    )
    ctx.created(f"resin lot {RESIN_LOT} made by batch {BATCH} from 4 supplier lots")
    services.lot_set_status(
        actor=qa, lot=resin, status=LotStatus.RELEASED, reason="demo: batch record reviewed"
    )
    sublots = services.lot_split(
        actor=supervisor,
        lot=resin,
        quantities=["400", "400", "400"],
        reason="fill into three IBCs for packaging",
        occurred_at=t + timedelta(hours=1),
    )
    ctx.created(f"sub-lots {', '.join(s.lot_number for s in sublots)}")
    serial = 0
    pails = []
    for sublot in sublots[:2]:
        for _ in range(PAILS_PER_SUBLOT):
            serial += 1
            pails.append(
                services.unit_create(
                    actor=operator,
                    material=materials["PS-RESIN-P20"],
                    serial_number=f"PSP-{serial:06d}",
                    source={"kind": "packaging", "ref": f"{BATCH}/packaging", "url": batch_url},
                    components=[
                        {"lot": sublot, "quantity": "20"},
                        {"lot": lots["PAIL-24003"], "quantity": "1"},
                    ],
                    occurred_at=t + timedelta(hours=2, minutes=serial),
                )
            )
    ctx.created(f"{len(pails)} serialized pails PSP-000001..PSP-{serial:06d}")
    for pail in pails:
        services.lot_set_status(
            actor=qa, lot=pail, status=LotStatus.RELEASED, reason="demo: packaging released"
        )
    shipped = 0
    for customer, shipment_ref, count in SHIPMENTS:
        services.lot_ship(
            actor=supervisor,
            units=pails[shipped : shipped + count],
            customer=customer,
            shipment_ref=shipment_ref,
            occurred_at=t + timedelta(hours=5),
        )
        shipped += count
        ctx.created(f"shipment {shipment_ref}: {count} pails to {customer}")
