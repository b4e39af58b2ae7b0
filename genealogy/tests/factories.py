"""Factories of genealogy. Materials are plain rows; lots are made THROUGH the services (a lot
without its ledger would break the invariant quantity == sum of events)."""

from datetime import date
from decimal import Decimal
from typing import Any

import factory

from genealogy import services
from genealogy.choices import MaterialKind, UnitOfMeasure
from genealogy.models import Link, Lot, LotEvent, Material
from mes.accounts.tests.factories import UserFactory


class MaterialFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Material
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"MAT-{n:04d}")
    name = factory.LazyAttribute(lambda o: f"Material {o.code}")
    kind = MaterialKind.RAW
    uom = UnitOfMeasure.KILOGRAM
    is_lot_controlled = True
    is_serialized = False


class SerializedMaterialFactory(MaterialFactory):
    kind = MaterialKind.FINISHED
    uom = UnitOfMeasure.EACH
    is_serialized = True


def _actor(actor: Any) -> Any:
    return actor or UserFactory(username="lot.factory")


_lot_seq = iter(range(1, 10**9))


def q(value: Any) -> Decimal:
    """A quantity as the database returns it (6 places)."""
    return Decimal(str(value)).quantize(Decimal("0.000001"))


def received_lot(
    *,
    material: Material | None = None,
    quantity: Any = "100",
    lot_number: str | None = None,
    supplier: str = "Acme Chemicals",
    supplier_lot_number: str | None = None,
    expires_at: date | None = None,
    actor: Any = None,
) -> Lot:
    n = next(_lot_seq)
    return services.lot_receive(
        actor=_actor(actor),
        material=material or MaterialFactory(),
        lot_number=lot_number or f"R{n:06d}",
        quantity=Decimal(str(quantity)),
        supplier=supplier,
        supplier_lot_number=supplier_lot_number or f"SUP-{n:06d}",
        expires_at=expires_at,
    )


def produced_lot(
    *,
    material: Material | None = None,
    quantity: Any = "100",
    inputs: list[tuple[Lot, Any]] = (),  # type: ignore[assignment]
    source_ref: str | None = None,
    lot_number: str | None = None,
    actor: Any = None,
) -> Lot:
    n = next(_lot_seq)
    ref = source_ref or f"B-{n:05d}"
    return services.lot_produce(
        actor=_actor(actor),
        material=material or MaterialFactory(kind=MaterialKind.INTERMEDIATE),
        quantity=Decimal(str(quantity)),
        lot_number=lot_number or f"P{n:06d}",
        source={"kind": "batch", "ref": ref, "url": f"/batches/{ref}/"},
        inputs=[
            {"lot": lot, "quantity": q, "context": {"kind": "batch_phase", "ref": f"{ref}/phase 1"}}
            for lot, q in inputs
        ],
    )


def signer_for(user: Any, password: str | None = None) -> Any:
    """What a view does before a signed service: the user enters user ID and password."""
    from django.test import RequestFactory

    from mes.accounts.tests.factories import DEFAULT_PASSWORD
    from mes.esign.services import signer_authenticate

    request = RequestFactory().post("/genealogy/sign/", REMOTE_ADDR="10.9.8.7")
    request.user = user
    return signer_authenticate(
        request=request,
        actor=user,
        username=user.get_username(),
        password=password or DEFAULT_PASSWORD,
    )


def ledger_state() -> dict[str, Any]:
    """Everything a refused service must leave untouched (compare before and after)."""
    return {
        "lots": Lot.objects.count(),
        "events": LotEvent.objects.count(),
        "links": Link.objects.count(),
        "quantities": dict(Lot.objects.values_list("id", "quantity")),
        "statuses": dict(Lot.objects.values_list("id", "status")),
        "places": dict(Lot.objects.values_list("id", "location")),
    }
