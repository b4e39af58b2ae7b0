"""Factories of batches. Batch records are made THROUGH the services, the way the plant makes
them; master data (recipe, unit, instrument, released lots) through the lower apps'
factories and services."""

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from batches import services
from batches.models import BatchOrder, PhaseExecution
from equipment import services as equipment_services
from equipment.tests.factories import InstrumentFactory, UnitFactory
from genealogy.models import Lot, Material
from mes.accounts.tests.factories import DEFAULT_PASSWORD
from mes.esign.services import AuthenticatedSigner
from quality import services as quality_services
from quality.selectors import specification_approved_for
from quality.tests.factories import (
    PASSING,
    approved_spec,
    enter_results,
    lot_with_results,
    sign_as,
)
from recipes.models import RecipeVersion
from recipes.tests.factories import approved_recipe


def signer_for(user: Any, password: str = DEFAULT_PASSWORD) -> AuthenticatedSigner:
    """What the terminal's signature dialog produces (user ID and password checked)."""
    return sign_as(user, password)


def recipe(*, author: Any, reviewer: Any, code: str = "RESIN-T") -> RecipeVersion:
    """The standard test recipe (recipes.tests.factories.standard_tree), approved."""
    return approved_recipe(author=author, reviewer=reviewer, code=code)


def reactor(*, cleaned_by: Any = None, verified_by: Any = None, **kwargs: Any) -> Any:
    """A glass-lined reactor, cleaned (major) two hours ago and verified when the people are
    given (equipment's gate refuses a unit without a verified cleaning)."""
    unit = UnitFactory(capabilities=["glass-lined"], **kwargs)
    if cleaned_by is not None:
        at = timezone.now() - timedelta(hours=2)
        equipment_services.unit_record_cleaning(
            actor=cleaned_by, unit=unit, cleaning_type="major", at=at
        )
        equipment_services.unit_verify_cleaning(
            actor=verified_by, unit=unit, at=at + timedelta(minutes=30)
        )
    return unit


def probe(**kwargs: Any) -> Any:
    return InstrumentFactory(**kwargs)


def released_lot(*, material: Material | str, quantity: Any, qa: Any) -> Lot:
    """A received lot of `material` with passing results, released by `qa` (signed)."""
    if isinstance(material, str):
        material = Material.objects.get(code=material)
    spec = specification_approved_for(material) or approved_spec(material=material)
    lot = lot_with_results(spec=spec, values=PASSING, actor=qa, quantity=Decimal(str(quantity)))
    quality_services.lot_release(actor=qa, lot=lot, signer=sign_as(qa), reason="released")
    return Lot.objects.get(pk=lot.pk)


def batch_order(
    *, planner: Any, version: RecipeVersion, batch_size: Any = "2000", number: str | None = None
) -> BatchOrder:
    return services.batch_order_create(
        actor=planner, recipe_version_id=version.pk, batch_size=batch_size, number=number
    )


def started_batch(
    *, planner: Any, operator: Any, version: RecipeVersion, unit: Any, **kw: Any
) -> BatchOrder:
    batch = batch_order(planner=planner, version=version, **kw)
    return services.batch_start(actor=operator, batch=batch, unit=unit)


def phase(batch: BatchOrder, sequence: int) -> PhaseExecution:
    return PhaseExecution.objects.get(batch=batch, sequence=sequence)


def output_lot_results(batch: BatchOrder, *, qa: Any, values: dict[str, Any] = PASSING) -> Lot:
    """The lab results of the batch's output lot against its product's release specification
    (made when missing): what quality needs before the batch release can release the lot."""
    lot = BatchOrder.objects.select_related("output_lot__material").get(pk=batch.pk).output_lot
    spec = specification_approved_for(lot.material) or approved_spec(material=lot.material)
    enter_results(lot, spec, values, actor=qa)
    return lot
