"""Reads of the batch record: lists scoped by area, the batch with its phases, a phase for the
terminal, the review-by-exception summary."""

from dataclasses import dataclass, field
from typing import Any

from django.db.models import Prefetch, Q, QuerySet, Sum
from django.urls import reverse

from batches.choices import BatchStatus, MaterialReturnKind, PhaseStatus
from batches.exceptions import BatchNotFound
from batches.models import (
    BatchEvent,
    BatchOrder,
    MaterialReturn,
    MaterialUse,
    ParameterValue,
    PhaseExecution,
)
from equipment.selectors import areas_visible_to
from mes.esign.selectors import signatures_for_record
from quality.models import Characteristic
from quality.selectors import deviations_open_for_source
from recipes.selectors import recipe_version_current_approved

PERM_VIEW = "batches.view_batchorder"


def can_view_batches(actor: Any) -> bool:
    return bool(getattr(actor, "is_authenticated", False) and actor.has_perm(PERM_VIEW))


def can_execute(actor: Any) -> bool:
    return bool(
        getattr(actor, "is_authenticated", False) and actor.has_perm("batches.execute_batchorder")
    )


def can_create(actor: Any) -> bool:
    return bool(
        getattr(actor, "is_authenticated", False) and actor.has_perm("batches.create_batchorder")
    )


def can_release(actor: Any) -> bool:
    return bool(
        getattr(actor, "is_authenticated", False) and actor.has_perm("batches.release_batchorder")
    )


def batch_list(*, actor: Any, status: str | None = None, q: str = "") -> QuerySet[BatchOrder]:
    """Batches the actor may see: not yet placed in a unit, or in a unit of an area the actor
    may see (guardian scoping on areas, never per batch)."""
    if not can_view_batches(actor):
        return BatchOrder.objects.none()
    qs = BatchOrder.objects.select_related(
        "recipe_version__recipe", "product", "unit", "superseded_by_version"
    ).filter(Q(unit__isnull=True) | Q(unit__area__in=areas_visible_to(actor)))
    if status:
        qs = qs.filter(status=status)
    if q:
        qs = qs.filter(Q(number__icontains=q) | Q(product__code__icontains=q))
    return qs.order_by("-id")


def batch_get(*, actor: Any, pk: int) -> BatchOrder:
    try:
        return batch_list(actor=actor).get(pk=pk)
    except BatchOrder.DoesNotExist:
        raise BatchNotFound(f"There is no batch #{pk} you may see.") from None


def batch_phases(batch: BatchOrder) -> list[PhaseExecution]:
    return list(
        batch.phases.select_related("started_by", "completed_by", "verified_by").order_by(
            "sequence"
        )
    )


def phase_get(*, actor: Any, batch_pk: int, pk: int) -> PhaseExecution:
    batch = batch_get(actor=actor, pk=batch_pk)
    try:
        return (
            PhaseExecution.objects.select_related(
                "batch", "batch__unit", "started_by", "completed_by", "verified_by"
            )
            .prefetch_related(
                Prefetch(
                    "values",
                    queryset=ParameterValue.objects.select_related(
                        "instrument", "entered_by", "superseded_by"
                    ).order_by("id"),
                ),
                Prefetch(
                    "uses",
                    queryset=MaterialUse.objects.select_related(
                        "lot", "material", "dispensed_by"
                    ).order_by("id"),
                ),
            )
            .get(batch=batch, pk=pk)
        )
    except PhaseExecution.DoesNotExist:
        raise BatchNotFound(f"Batch {batch.number} has no phase #{pk}.") from None


def value_is_current(value: ParameterValue) -> bool:
    try:
        value.superseded_by  # noqa: B018
    except ParameterValue.DoesNotExist:
        return True
    return False


def phase_value_rows(phase: PhaseExecution) -> list[dict[str, Any]]:
    """Each parameter of the phase with its current entry and the entries it replaced."""
    entries = list(phase.values.all())
    rows = []
    for param in phase.definition.get("parameters", []):
        mine = [v for v in entries if v.name == param["name"]]
        current = next((v for v in mine if value_is_current(v)), None)
        rows.append(
            {
                "param": param,
                "current": current,
                "history": [v for v in mine if v is not current],
            }
        )
    return rows


@dataclass
class ReviewSummary:
    """Review by exception: what a QA reviewer must look at."""

    open_deviations: list[Any] = field(default_factory=list)
    deviations: list[Any] = field(default_factory=list)
    out_of_limit: list[ParameterValue] = field(default_factory=list)
    corrections: list[ParameterValue] = field(default_factory=list)
    unverified: list[PhaseExecution] = field(default_factory=list)
    yields_out_of_range: list[Any] = field(default_factory=list)

    @property
    def exception_count(self) -> int:
        return (
            len(self.deviations)
            + len(self.out_of_limit)
            + len(self.corrections)
            + len(self.unverified)
            + len(self.yields_out_of_range)
        )


def batch_review_summary(batch: BatchOrder) -> ReviewSummary:
    from quality.models import Deviation

    values = ParameterValue.objects.filter(phase__batch=batch).select_related("phase")
    return ReviewSummary(
        open_deviations=list(deviations_open_for_source(kind="batch", ref=batch.number)),
        deviations=list(
            Deviation.objects.filter(source_kind="batch", source_ref=batch.number).order_by("id")
        ),
        out_of_limit=list(values.filter(is_out_of_limit=True).order_by("id")),
        corrections=list(values.filter(supersedes__isnull=False).order_by("id")),
        unverified=[
            p
            for p in batch.phases.filter(status=PhaseStatus.COMPLETED, verified_at__isnull=True)
            if p.requires_verification
        ],
        yields_out_of_range=list(batch.yields.filter(is_within_range=False)),
    )


def batch_events(batch: BatchOrder) -> QuerySet[BatchEvent]:
    return batch.events.select_related("actor", "phase").order_by("id")


def batch_signatures(batch: BatchOrder) -> list:
    return signatures_for_record(batch)


def phase_signatures(phase: PhaseExecution) -> list:
    return signatures_for_record(phase)


def batches_in_progress(*, actor: Any) -> QuerySet[BatchOrder]:
    return batch_list(actor=actor, status=BatchStatus.STARTED)


def batch_repoint_target(batch: BatchOrder) -> Any:
    """The version a batch not yet started would be re-pointed to: the current approved
    version of its recipe when that is not the batch's own; else None."""
    if batch.status != BatchStatus.CREATED:
        return None
    current = recipe_version_current_approved(batch.recipe_version.recipe_id)
    if current is None or current.pk == batch.recipe_version_id:
        return None
    return current


def batch_spc_links(batch: BatchOrder) -> list[dict[str, Any]]:
    """The SPC charts the batch's numeric process parameters feed (those that have points)."""
    from batches.services import spc_key

    code = batch.control_recipe["recipe"]["code"]
    rows = []
    for up in batch.control_recipe.get("unit_procedures", []):
        for op in up["operations"]:
            for ph in op["phases"]:
                for param in ph.get("parameters", []):
                    if param.get("data_type") == "number":
                        key = spc_key(code, ph["path"], param["name"])
                        rows.append({"path": ph["path"], "name": param["name"], "key": key})
    existing = set(
        Characteristic.objects.filter(key__in=[r["key"] for r in rows]).values_list(
            "key", flat=True
        )
    )
    return [
        {**r, "url": reverse("quality:spc_chart", args=[r["key"]])}
        for r in rows
        if r["key"] in existing
    ]


def batch_reconciliation(batch: BatchOrder) -> list[dict[str, Any]]:
    """Material reconciliation per input of the control recipe: the scaled quantity planned
    and its tolerance window (summed over the phases that use it), what was dispensed (a
    genealogy consumption each), what went back to stock and what was written off as waste
    (`material_return`), consumed = dispensed - returned - waste, its difference from the
    plan and the tolerance verdict, and the lots."""
    from decimal import Decimal

    planned: dict[int, dict[str, Any]] = {}
    for up in batch.control_recipe.get("unit_procedures", []):
        for op in up["operations"]:
            for ph in op["phases"]:
                for item in ph.get("inputs", []):
                    row = planned.setdefault(
                        item["material_id"],
                        {
                            "material": item["material"],
                            "uom": item["uom"],
                            "planned": Decimal(0),
                            "low": Decimal(0),
                            "high": Decimal(0),
                            "phases": [],
                            "dispensed": Decimal(0),
                            "returned": Decimal(0),
                            "waste": Decimal(0),
                            "lots": [],
                        },
                    )
                    row["planned"] += Decimal(item["quantity"])
                    row["low"] += Decimal(item["quantity_min"])
                    row["high"] += Decimal(item["quantity_max"])
                    row["phases"].append(ph["path"])
    uses = MaterialUse.objects.filter(phase__batch=batch).select_related("lot").order_by("id")
    for use in uses:
        row = planned.get(use.material_id)
        if row is None:  # not an input of the recipe (cannot happen: dispensing checks it)
            continue
        row["dispensed"] += use.quantity
        if use.lot.lot_number not in row["lots"]:
            row["lots"].append(use.lot.lot_number)
    backs = (
        MaterialReturn.objects.filter(use__phase__batch=batch)
        .values("use__material_id", "kind")
        .annotate(total=Sum("quantity"))
    )
    for back in backs:
        row = planned.get(back["use__material_id"])
        if row is not None:
            key = "returned" if back["kind"] == MaterialReturnKind.RETURNED else "waste"
            row[key] += back["total"]
    result = []
    for row in planned.values():
        row["consumed"] = row["dispensed"] - row["returned"] - row["waste"]
        row["difference"] = row["consumed"] - row["planned"]
        row["is_within_tolerance"] = row["low"] <= row["consumed"] <= row["high"]
        result.append(row)
    return result
