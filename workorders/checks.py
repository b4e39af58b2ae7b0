"""What workorders contributes to the production-model self-audit (mes.registry). Aggregate,
read-only queries over the work orders of the period.

- "Labor is captured at the operation" (symptom zero_labor_variance): the share of work orders
  closed in the period with clocked labor on every operation whose standard includes labor
  (time basis labor or both) and that processed something.
- "Scrap is recorded at each operation" (symptom scrap_not_by_operation): closed work orders
  reconcile: at every operation the good and scrapped counters equal the quantity reports
  recorded there (scrap with its reason), and started = good at the last operation + scrapped.
- "Component-to-serial linkage" (symptom missing_component_linkage): every unit finished in the
  period has each line of its BOM linked (a component consumption into the unit) at the
  operation the BOM line names.
- Facts for step 1: approved BOMs and routings, work orders released in the period (discrete),
  active process-to-discrete handoff rules (mixed).
"""

from decimal import Decimal

from django.db.models import (
    Count,
    DecimalField,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce
from django.urls import reverse

from mes.registry import (
    CapabilityCheck,
    CheckResult,
    Evidence,
    InstallationFact,
    Period,
    register_check,
    register_fact,
)
from workorders.choices import (
    QuantityKind,
    TimeBasis,
    UnitStatus,
    VersionStatus,
    WorkOrderStatus,
)
from workorders.models import (
    Bom,
    BomLine,
    ComponentConsumption,
    HandoffRule,
    LaborRecord,
    QuantityReport,
    Routing,
    WorkOrder,
    WorkOrderOperation,
    WorkOrderUnit,
)

EXAMPLES = 5
QTY = DecimalField(max_digits=18, decimal_places=6)
ZERO = Value(Decimal(0), output_field=QTY)
# A share of closed work orders below this is a failure, not a warning.
LABOR_FAIL_BELOW = 0.8


def _closed_in(period: Period) -> QuerySet[WorkOrder]:
    return WorkOrder.objects.filter(
        status=WorkOrderStatus.CLOSED, closed_at__gte=period.start, closed_at__lt=period.end
    )


def _examples(orders: QuerySet[WorkOrder], label: str) -> list[Evidence]:
    rows = orders.order_by("number").values_list("pk", "number")[:EXAMPLES]
    return [
        Evidence(label, number, reverse("workorders:work_order_detail", args=[pk]))
        for pk, number in rows
    ]


def labor_at_operation(period: Period) -> CheckResult:
    closed = _closed_in(period)
    total = closed.count()
    if not total:
        return CheckResult(CheckResult.NOT_APPLICABLE, "No work order was closed in the period.")
    needs_labor = WorkOrderOperation.objects.filter(
        work_order__in=closed,
        time_basis__in=[TimeBasis.LABOR, TimeBasis.BOTH],
    ).filter(Q(qty_good__gt=0) | Q(qty_scrap__gt=0))
    without = needs_labor.filter(
        ~Exists(LaborRecord.objects.filter(operation_id=OuterRef("pk"), seconds__gt=0))
    )
    missing_ops = without.count()
    lacking = closed.filter(pk__in=without.values("work_order_id"))
    bad = lacking.count()
    share = (total - bad) / total
    hours = LaborRecord.objects.filter(operation__work_order__in=closed).aggregate(
        s=Coalesce(Sum("seconds"), ZERO)
    )["s"]
    evidence = [
        Evidence("Work orders closed in the period", total, reverse("workorders:variance")),
        Evidence("With labor on every labor operation", f"{total - bad} ({share:.0%})"),
        Evidence("Labor operations without any clocked labor", missing_ops),
        Evidence("Labor hours clocked on them", f"{Decimal(hours) / 3600:.1f} h"),
        *_examples(lacking, "Operation without labor"),
    ]
    measured = {
        "closed": total,
        "with_labor": total - bad,
        "share": round(share, 4),
        "operations_without_labor": missing_ops,
    }
    if bad:
        status = CheckResult.FAIL if share < LABOR_FAIL_BELOW else CheckResult.WARNING
        return CheckResult(
            status,
            f"{bad} of {total} closed work orders have an operation without clocked labor: "
            "their labor variance is estimated, not measured.",
            evidence,
            measured,
        )
    return CheckResult(
        CheckResult.PASS,
        f"All {total} closed work orders have labor clocked on every labor operation.",
        evidence,
        measured,
    )


def _reported(kind: str) -> Subquery:
    return Subquery(
        QuantityReport.objects.filter(operation_id=OuterRef("pk"), kind=kind)
        .values("operation_id")
        .annotate(total=Sum("quantity"))
        .values("total")[:1],
        output_field=QTY,
    )


def scrap_by_operation(period: Period) -> CheckResult:
    closed = _closed_in(period)
    total = closed.count()
    if not total:
        return CheckResult(CheckResult.NOT_APPLICABLE, "No work order was closed in the period.")
    ops = WorkOrderOperation.objects.filter(work_order__in=closed).annotate(
        scrap_reported=Coalesce(_reported(QuantityKind.SCRAP), ZERO),
        good_reported=Coalesce(_reported(QuantityKind.GOOD), ZERO),
    )
    unreported = ops.filter(~Q(qty_scrap=F("scrap_reported")) | ~Q(qty_good=F("good_reported")))
    unreported_ops = unreported.count()
    no_reason = QuantityReport.objects.filter(
        operation__work_order__in=closed, kind=QuantityKind.SCRAP, reason__isnull=True
    ).count()
    balance = closed.annotate(
        started=Coalesce(Sum("operations__qty_received", filter=Q(operations__is_first=True)), ZERO)
        - Coalesce(
            Sum("operations__qty_rework_returned", filter=Q(operations__is_first=True)), ZERO
        ),
        finished=Coalesce(Sum("operations__qty_good", filter=Q(operations__is_last=True)), ZERO),
        scrapped=Coalesce(Sum("operations__qty_scrap"), ZERO),
    )
    unbalanced_ids = balance.filter(~Q(started=F("finished") + F("scrapped"))).values("pk")
    not_reconciled = closed.filter(
        Q(pk__in=unreported.values("work_order_id"))
        | Q(pk__in=unbalanced_ids)
        | Q(
            pk__in=QuantityReport.objects.filter(
                kind=QuantityKind.SCRAP, reason__isnull=True
            ).values("operation__work_order_id")
        )
    )
    bad = not_reconciled.count()
    scrap = WorkOrderOperation.objects.filter(work_order__in=closed).aggregate(
        s=Coalesce(Sum("qty_scrap"), ZERO)
    )["s"]
    evidence = [
        Evidence("Work orders closed in the period", total, reverse("workorders:work_order_list")),
        Evidence("That reconcile operation by operation", total - bad),
        Evidence("Operations whose counters differ from their quantity reports", unreported_ops),
        Evidence("Scrap reports without a reason", no_reason),
        Evidence("Quantity scrapped (all operations)", f"{Decimal(scrap).normalize():f}"),
        *_examples(not_reconciled, "Does not reconcile"),
    ]
    measured = {
        "closed": total,
        "reconciled": total - bad,
        "operations_unreported": unreported_ops,
        "scrap_without_reason": no_reason,
    }
    if bad:
        return CheckResult(
            CheckResult.FAIL,
            f"{bad} of {total} closed work orders do not reconcile: scrap or good quantities "
            "were not recorded at the operation where they happened.",
            evidence,
            measured,
        )
    return CheckResult(
        CheckResult.PASS,
        f"All {total} closed work orders reconcile: good and scrap recorded at each operation.",
        evidence,
        measured,
    )


def component_linkage(period: Period) -> CheckResult:
    units = WorkOrderUnit.objects.filter(
        status=UnitStatus.FINISHED, updated_at__gte=period.start, updated_at__lt=period.end
    )
    required = Subquery(
        BomLine.objects.filter(bom_id=OuterRef("work_order__bom_id"))
        .values("bom_id")
        .annotate(n=Count("pk"))
        .values("n")[:1],
        output_field=IntegerField(),
    )
    linked = Subquery(
        ComponentConsumption.objects.filter(
            unit_id=OuterRef("pk"), operation__seq=F("bom_line__operation_seq")
        )
        .values("unit_id")
        .annotate(n=Count("bom_line_id", distinct=True))
        .values("n")[:1],
        output_field=IntegerField(),
    )
    units = units.annotate(required=Coalesce(required, 0), linked=Coalesce(linked, 0))
    counts = units.aggregate(
        total=Count("pk"),
        unlinked=Count("pk", filter=Q(linked__lt=F("required"))),
    )
    total, unlinked = counts["total"], counts["unlinked"]
    if not total:
        return CheckResult(
            CheckResult.NOT_APPLICABLE, "No serialized unit was finished in the period."
        )
    evidence = [
        Evidence("Units finished in the period", total, reverse("workorders:work_order_list")),
        Evidence("With every BOM component linked at its operation", total - unlinked),
        Evidence("Missing a component link", unlinked),
    ]
    for wo_id, serial in (
        units.filter(linked__lt=F("required"))
        .order_by("serial_number")
        .values_list("work_order_id", "serial_number")[:EXAMPLES]
    ):
        evidence.append(
            Evidence(
                "Unit missing a component",
                serial,
                reverse("workorders:work_order_detail", args=[wo_id]),
            )
        )
    measured = {"units": total, "linked": total - unlinked, "unlinked": unlinked}
    if unlinked:
        return CheckResult(
            CheckResult.FAIL,
            f"{unlinked} of {total} finished units lack a component-to-serial link for a line "
            "of their BOM at the operation that consumes it.",
            evidence,
            measured,
        )
    return CheckResult(
        CheckResult.PASS,
        f"All {total} finished units have every BOM component linked at its operation.",
        evidence,
        measured,
    )


def approved_routing_count(period: Period) -> int:
    return Routing.objects.filter(status=VersionStatus.APPROVED).count()


def approved_bom_count(period: Period) -> int:
    return Bom.objects.filter(status=VersionStatus.APPROVED).count()


def released_work_order_count(period: Period) -> int:
    return WorkOrder.objects.filter(
        released_at__gte=period.start, released_at__lt=period.end
    ).count()


def handoff_rule_count(period: Period) -> int:
    return HandoffRule.objects.filter(is_active=True).count()


register_check(
    CapabilityCheck(
        key="workorders.labor_at_operation",
        title="Labor is captured at the operation",
        model="discrete",
        evaluate=labor_at_operation,
        symptom="zero_labor_variance",
        fixed_by="Operation-level labor and machine time capture with actual vs. standard "
        "variance reporting",
        order=110,
        tags=("costing",),
    )
)
register_check(
    CapabilityCheck(
        key="workorders.scrap_by_operation",
        title="Scrap is recorded at each operation",
        model="discrete",
        evaluate=scrap_by_operation,
        symptom="scrap_not_by_operation",
        fixed_by="Unit-level pass/fail inspection and scrap recording at each routing operation",
        order=120,
        tags=("quantities",),
    )
)
register_check(
    CapabilityCheck(
        key="workorders.component_linkage",
        title="Component-to-serial linkage at the operation",
        model="discrete",
        evaluate=component_linkage,
        symptom="missing_component_linkage",
        fixed_by="Component-to-assembly linkage recorded at the operation where the component "
        "is consumed",
        order=130,
        tags=("traceability",),
    )
)
register_fact(
    InstallationFact(
        key="workorders.approved_routings",
        title="Approved routings",
        indicates="discrete",
        count=approved_routing_count,
        order=30,
        url_name="workorders:routing_list",
    )
)
register_fact(
    InstallationFact(
        key="workorders.approved_boms",
        title="Approved BOMs",
        indicates="discrete",
        count=approved_bom_count,
        order=35,
        url_name="workorders:bom_list",
    )
)
register_fact(
    InstallationFact(
        key="workorders.released",
        title="Work orders released in the period",
        indicates="discrete",
        count=released_work_order_count,
        order=40,
        url_name="workorders:work_order_list",
    )
)
register_fact(
    InstallationFact(
        key="workorders.handoff_rules",
        title="Active process-to-discrete handoff rules",
        indicates="mixed",
        count=handoff_rule_count,
        order=50,
    )
)
