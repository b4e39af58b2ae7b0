"""The quality part of the demo plant (`manage.py load_demo`), idempotent:

- approved specifications of the demo materials styrene, xylene and the resin solution;
- lot STY-Q2401: every result passes, released by the demo QA reviewer (signed);
- lot STY-Q2402: purity out of specification, in quarantine, with an open major deviation
  and a CAPA action: the lot page shows why it cannot be released yet;
- SPC characteristic `rx-resin-viscosity` with values that break rules 1 and 4.
"""

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from genealogy import services as genealogy_services
from genealogy.choices import LotStatus, MaterialKind, UnitOfMeasure
from genealogy.models import Lot, Material
from mes.accounts.roles import Role
from mes.esign import services as esign_services
from mes.registry import DemoContext
from quality import services
from quality.choices import CapaKind, Classification, SpecificationStatus, TestKind
from quality.models import Characteristic, Deviation, LabResult, Specification

# Specifications of the demo materials (genealogy's demo step makes the materials; this step
# makes any that is missing, so it also runs alone).
SPECS = {
    "STY": {
        "material": ("Styrene monomer", MaterialKind.RAW, UnitOfMeasure.KILOGRAM),
        "title": "Styrene monomer incoming specification",
        "tests": (
            {"name": "Purity", "unit": "%", "method": "GC", "low": "99.6"},
            {"name": "TBC inhibitor", "unit": "ppm", "method": "UV-Vis", "low": "10", "high": "15"},
            {"name": "Appearance", "method": "Visual", "kind": TestKind.PASS_FAIL},
        ),
    },
    "XYL": {
        "material": ("Xylene solvent", MaterialKind.RAW, UnitOfMeasure.LITRE),
        "title": "Xylene incoming specification",
        "tests": (
            {"name": "Purity", "unit": "%", "method": "GC", "low": "98.5"},
            {"name": "Water content", "unit": "%", "method": "Karl Fischer", "high": "0.05"},
        ),
    },
    "PS-RESIN": {
        "material": (
            "Polystyrene resin solution",
            MaterialKind.INTERMEDIATE,
            UnitOfMeasure.KILOGRAM,
        ),
        "title": "Polystyrene resin solution release specification",
        "tests": (
            {
                "name": "Viscosity",
                "unit": "mPa·s",
                "method": "ASTM D2196",
                "low": "1200",
                "high": "1800",
            },
            {"name": "Solids", "unit": "%", "method": "Gravimetric", "low": "38", "high": "42"},
            {"name": "Appearance", "method": "Visual", "kind": TestKind.PASS_FAIL},
        ),
    },
}
LOT_MATERIAL = "STY"
RELEASED_LOT, FAILING_LOT = "STY-Q2401", "STY-Q2402"
PASSING_VALUES = {"Purity": "99.82", "TBC inhibitor": "12", "Appearance": "pass"}
FAILING_VALUES = {"Purity": "99.31", "TBC inhibitor": "13", "Appearance": "pass"}
DEVIATION_TITLE = f"Styrene purity below specification on lot {FAILING_LOT}"
CHARACTERISTIC_KEY = "rx-resin-viscosity"
SPC_VALUES = (
    1500, 1520, 1480, 1510, 1495, 1530, 1470, 1505, 1515, 1490,
    1500, 1525, 1485, 1510, 1700, 1520, 1530, 1525, 1535, 1540,
    1528, 1532, 1545, 1538,
)  # fmt: skip


def demo_signer(user: Any) -> esign_services.AuthenticatedSigner:
    """The demo loader signs for the demo QA reviewer (whose password it printed), through
    the kernel's system-command signer (refused outside a system context)."""
    return esign_services.signer_for_system_command(user=user)


def _material(ctx: DemoContext, code: str) -> Material:
    material = Material.objects.filter(code=code).first()
    if material is None:
        name, kind, uom = SPECS[code]["material"]
        material = genealogy_services.material_create(
            actor=ctx.actor, code=code, name=name, uom=uom, kind=kind, shelf_life_days=365
        )
        ctx.created(f"material {code}")
    return material


def _specification(ctx: DemoContext, code: str, qa: Any) -> Specification:
    material = _material(ctx, code)
    spec = Specification.objects.filter(
        material=material, status=SpecificationStatus.APPROVED
    ).first()
    if spec is not None:
        return spec
    spec = Specification.objects.filter(material=material, status=SpecificationStatus.DRAFT).first()
    if spec is None:
        spec = services.specification_create(
            actor=ctx.actor,
            material=material,
            title=SPECS[code]["title"],
            tests=SPECS[code]["tests"],
            sample_count=1,
        )
    spec = services.specification_approve(actor=qa, specification=spec, signer=demo_signer(qa))
    ctx.created(f"specification {spec} approved by {qa.username}")
    return spec


def _lot(ctx: DemoContext, material: Material, lot_number: str) -> Lot:
    lot = Lot.objects.filter(material=material, lot_number=lot_number).first()
    if lot is None:
        lot = genealogy_services.lot_receive(
            actor=ctx.actor,
            material=material,
            lot_number=lot_number,
            quantity=Decimal("500"),
            supplier="Styrolution GmbH",
            supplier_lot_number=f"SLN-{lot_number}",
            location="Raw material store",
        )
        ctx.created(f"lot {lot_number} ({material.code}) received")
    return lot


def _results(ctx: DemoContext, lot: Lot, spec: Specification, values: dict, qa: Any) -> None:
    for test in spec.tests.all():
        if LabResult.objects.filter(lot=lot, spec_test=test).exists():
            continue
        result = services.lab_result_enter(
            actor=qa, lot=lot, spec_test=test, value=values[test.name]
        )
        ctx.created(
            f"result {test.name} = {result.value_text} on {lot.lot_number} ({result.outcome})"
        )


def build_demo_quality(ctx: DemoContext) -> None:
    qa = ctx.user(Role.QA_REVIEWER)
    supervisor = ctx.user(Role.SUPERVISOR)
    specs = {code: _specification(ctx, code, qa) for code in SPECS}
    spec = specs[LOT_MATERIAL]

    good = _lot(ctx, spec.material, RELEASED_LOT)
    _results(ctx, good, spec, PASSING_VALUES, qa)
    if good.status == LotStatus.QUARANTINE:
        services.lot_release(
            actor=qa, lot=good, signer=demo_signer(qa), reason="All results within specification."
        )
        ctx.created(f"lot {RELEASED_LOT} released by {qa.username}")

    bad = _lot(ctx, spec.material, FAILING_LOT)
    _results(ctx, bad, spec, FAILING_VALUES, qa)
    if not Deviation.objects.filter(title=DEVIATION_TITLE).exists():
        deviation = services.deviation_open(
            actor=qa,
            title=DEVIATION_TITLE,
            description="GC purity 99.31 % against a minimum of 99.6 % at incoming testing.",
            source={"kind": "lot", "ref": FAILING_LOT, "url": f"/quality/lots/{bad.pk}/"},
            lots=[bad],
        )
        services.deviation_classify(
            actor=qa, deviation=deviation, classification=Classification.MAJOR
        )
        services.deviation_investigate(
            actor=qa,
            deviation=deviation,
            investigation="Supplier CoA shows 99.71 %; the tank truck was not purged before filling.",
            root_cause="Carrier cleaning procedure not followed.",
        )
        services.capa_action_add(
            actor=qa,
            deviation=deviation,
            kind=CapaKind.CORRECTIVE,
            description="Require a cleaning certificate for every styrene tank truck.",
            owner=supervisor,
            due_at=timezone.localdate() + timedelta(days=14),
        )
        ctx.created(f"deviation {deviation.number} (major, open) with one CAPA action")

    if not Characteristic.objects.filter(key=CHARACTERISTIC_KEY).exists():
        characteristic = services.characteristic_create(
            actor=ctx.actor,
            key=CHARACTERISTIC_KEY,
            name="Resin viscosity at discharge",
            unit="mPa·s",
            lsl="1200",
            usl="1800",
            target="1500",
            material=specs["PS-RESIN"].material,
        )
        start = timezone.now() - timedelta(hours=len(SPC_VALUES))
        for i, value in enumerate(SPC_VALUES):
            services.spc_record_value(
                actor=ctx.actor,
                characteristic_key=characteristic.key,
                value=value,
                at=start + timedelta(hours=i),
                source_ref=f"B-{1001 + i // 4}",
            )
        ctx.created(f"SPC characteristic {CHARACTERISTIC_KEY} with {len(SPC_VALUES)} values")
