"""Read-only viewsets (querysets from selectors, scoped to the actor's areas) and POST
commands, each calling one service. A refusal is `{"code", "detail"}` with its status."""

from collections.abc import Callable
from typing import Any

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from equipment.selectors import areas_visible_to
from mes.api.viewsets import GmpReadOnlyViewSet
from mes.esign.services import signer_authenticate
from mes.exceptions import DomainError, InvalidInput
from workorders import selectors, services
from workorders.api import serializers as s
from workorders.choices import ReasonKind
from workorders.models import HandoffRule, ReasonCode, WorkOrderUnit


def _reason(code: str, kind: str) -> ReasonCode | None:
    if not code:
        return None
    found = ReasonCode.objects.filter(kind=kind, code=code.strip().upper()).first()
    if found is None:
        raise InvalidInput(f"Unknown {kind} reason code {code!r}.")
    return found


class _Signed:
    def _signer(self, request: Request) -> tuple[Any, str]:
        data = self.validated_input(s.VersionApproveInputSerializer)  # type: ignore[attr-defined]
        signer = signer_authenticate(
            request=request,
            actor=request.user,
            username=data["username"],
            password=data["password"],
        )
        return signer, data["reason"]


class BomViewSet(_Signed, GmpReadOnlyViewSet):
    serializer_class = s.BomSerializer

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.bom_list()

    @extend_schema(request=s.BomCreateInputSerializer, responses=s.BomSerializer)
    def create(self, request: Request) -> Response:
        """A draft BOM version: lines with quantity per, scrap factor, consuming operation."""
        data = self.validated_input(s.BomCreateInputSerializer)
        lines = [dict(line) for line in data.pop("lines")]
        bom = services.bom_create(actor=request.user, lines=lines, **data)
        return Response(self.get_serializer(selectors.bom_list().get(pk=bom.pk)).data, 201)

    @extend_schema(request=s.VersionApproveInputSerializer, responses=s.BomSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: Any = None) -> Response:
        bom = self.get_object()
        signer, reason = self._signer(request)
        bom = services.bom_approve(actor=request.user, bom=bom, signer=signer, reason=reason)
        return Response(self.get_serializer(bom).data)


class RoutingViewSet(_Signed, GmpReadOnlyViewSet):
    serializer_class = s.RoutingSerializer

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.routing_list()

    @extend_schema(request=s.RoutingCreateInputSerializer, responses=s.RoutingSerializer)
    def create(self, request: Request) -> Response:
        """A draft routing version: operations with work centers (and alternatives), setup and
        run minutes, labor vs machine, crew size, the inspection plan."""
        data = self.validated_input(s.RoutingCreateInputSerializer)
        operations = [
            {**op, "characteristics": [dict(c) for c in op.get("characteristics", [])]}
            for op in (dict(o) for o in data.pop("operations"))
        ]
        routing = services.routing_create(actor=request.user, operations=operations, **data)
        return Response(self.get_serializer(selectors.routing_list().get(pk=routing.pk)).data, 201)

    @extend_schema(request=s.VersionApproveInputSerializer, responses=s.RoutingSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: Any = None) -> Response:
        routing = self.get_object()
        signer, reason = self._signer(request)
        routing = services.routing_approve(
            actor=request.user, routing=routing, signer=signer, reason=reason
        )
        return Response(self.get_serializer(routing).data)


class WorkOrderViewSet(GmpReadOnlyViewSet):
    serializer_class = s.WorkOrderSerializer

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.work_order_list(actor=self.request.user).prefetch_related(
            "operations__work_center"
        )

    @extend_schema(request=s.WorkOrderCreateInputSerializer, responses=s.WorkOrderSerializer)
    def create(self, request: Request) -> Response:
        data = self.validated_input(s.WorkOrderCreateInputSerializer)
        wo = services.work_order_create(actor=request.user, **data)
        return Response(self.get_serializer(wo).data, status=201)

    @extend_schema(request=None, responses=s.WorkOrderSerializer)
    @action(detail=True, methods=["post"])
    def release(self, request: Request, pk: Any = None) -> Response:
        wo = services.work_order_release(actor=request.user, work_order=self.get_object())
        return Response(self.get_serializer(wo).data)

    @extend_schema(request=None, responses=s.WorkOrderSerializer)
    @action(detail=True, methods=["post"])
    def close(self, request: Request, pk: Any = None) -> Response:
        wo = services.work_order_close(actor=request.user, work_order=self.get_object())
        return Response(self.get_serializer(wo).data)


class OperationViewSet(GmpReadOnlyViewSet):
    serializer_class = s.WorkOrderOperationSerializer

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.operation_list(actor=self.request.user, released_only=False)

    def _done(self, pk: Any) -> Response:
        return Response(self.get_serializer(self.get_queryset().get(pk=pk)).data)

    @extend_schema(request=None, responses=s.WorkOrderOperationSerializer)
    @action(detail=True, methods=["post"], url_path="clock-on")
    def clock_on(self, request: Request, pk: Any = None) -> Response:
        services.labor_clock_on(actor=request.user, operation=self.get_object())
        return self._done(pk)

    @extend_schema(request=None, responses=s.WorkOrderOperationSerializer)
    @action(detail=True, methods=["post"], url_path="clock-off")
    def clock_off(self, request: Request, pk: Any = None) -> Response:
        services.labor_clock_off(actor=request.user, operation=self.get_object())
        return self._done(pk)

    @extend_schema(request=None, responses=s.WorkOrderOperationSerializer)
    @action(detail=True, methods=["post"], url_path="machine-start")
    def machine_start(self, request: Request, pk: Any = None) -> Response:
        services.machine_start(actor=request.user, operation=self.get_object())
        return self._done(pk)

    @extend_schema(request=None, responses=s.WorkOrderOperationSerializer)
    @action(detail=True, methods=["post"], url_path="machine-stop")
    def machine_stop(self, request: Request, pk: Any = None) -> Response:
        services.machine_stop(actor=request.user, operation=self.get_object())
        return self._done(pk)

    @extend_schema(
        request=s.OperationReportInputSerializer, responses=s.WorkOrderOperationSerializer
    )
    @action(detail=True, methods=["post"])
    def report(self, request: Request, pk: Any = None) -> Response:
        data = self.validated_input(s.OperationReportInputSerializer)
        services.operation_report(
            actor=request.user,
            operation=self.get_object(),
            good=data["good"],
            scrap=data["scrap"],
            rework=data["rework"],
            scrap_reason=_reason(data["scrap_reason"], ReasonKind.SCRAP),
            rework_reason=_reason(data["rework_reason"], ReasonKind.REWORK),
        )
        return self._done(pk)


def _unit_body(unit: WorkOrderUnit) -> dict[str, Any]:
    """`WorkOrderUnitSerializer`'s shape, built directly for the terminal's commands (the
    hot path: no serializer instance per request). Kept equal by a test."""
    return {
        "id": unit.pk,
        "serial_number": unit.serial_number,
        "status": unit.status,
        "operation": unit.operation.seq if unit.operation else None,
    }


class UnitViewSet(GmpReadOnlyViewSet):
    """Serialized units: scan a component, inspect, complete, scrap, rework.

    A command does not load the unit through the area-scoped queryset first: the service
    locks the unit and checks the actor's `operate_in_area` grant (which implies visibility)
    in its lock statement, and answers with the unit as it left the transaction. Only when
    the service refuses is visibility checked, so that a unit of an area the actor cannot see
    is still a 404 (not a 403 or 409 that would reveal it)."""

    serializer_class = s.WorkOrderUnitSerializer

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return WorkOrderUnit.objects.filter(
            work_order__area__in=areas_visible_to(self.request.user)
        ).select_related("operation", "work_order")

    def _command(self, pk: Any, call: Callable[[WorkOrderUnit], WorkOrderUnit]) -> Response:
        try:
            target = WorkOrderUnit(pk=int(pk))
        except (TypeError, ValueError) as exc:
            raise Http404 from exc
        try:
            unit = call(target)
        except WorkOrderUnit.DoesNotExist as exc:
            raise Http404 from exc
        except DomainError:
            if not self.get_queryset().filter(pk=target.pk).exists():
                raise Http404 from None
            raise
        return Response(_unit_body(unit))

    @extend_schema(request=s.ScanInputSerializer, responses=s.WorkOrderUnitSerializer)
    @action(detail=True, methods=["post"])
    def scan(self, request: Request, pk: Any = None) -> Response:
        data = self.validated_input(s.ScanInputSerializer)
        return self._command(
            pk,
            lambda unit: (
                services.unit_scan_component(actor=request.user, unit=unit, code=data["code"]).unit
            ),  # type: ignore[return-value]
        )

    @extend_schema(request=s.InspectInputSerializer, responses=s.WorkOrderUnitSerializer)
    @action(detail=True, methods=["post"])
    def inspect(self, request: Request, pk: Any = None) -> Response:
        data = self.validated_input(s.InspectInputSerializer)
        try:
            results = {int(k): v for k, v in data["results"].items()}
        except ValueError as exc:
            raise InvalidInput("results keys are characteristic ids.") from exc
        return self._command(
            pk,
            lambda unit: (
                services.unit_inspect(actor=request.user, unit=unit, results=results)[0].unit
            ),  # type: ignore[return-value]
        )

    @extend_schema(request=None, responses=s.WorkOrderUnitSerializer)
    @action(detail=True, methods=["post"])
    def complete(self, request: Request, pk: Any = None) -> Response:
        return self._command(
            pk, lambda unit: services.unit_complete_operation(actor=request.user, unit=unit)
        )

    @extend_schema(request=s.ReasonInputSerializer, responses=s.WorkOrderUnitSerializer)
    @action(detail=True, methods=["post"])
    def scrap(self, request: Request, pk: Any = None) -> Response:
        data = self.validated_input(s.ReasonInputSerializer)
        return self._command(
            pk,
            lambda unit: services.unit_scrap(
                actor=request.user,
                unit=unit,
                note=data["note"],
                reason_code=_reason(data["reason"], ReasonKind.SCRAP),
            ),
        )

    @extend_schema(request=s.ReasonInputSerializer, responses=s.WorkOrderUnitSerializer)
    @action(detail=True, methods=["post"])
    def rework(self, request: Request, pk: Any = None) -> Response:
        data = self.validated_input(s.ReasonInputSerializer)
        return self._command(
            pk,
            lambda unit: services.unit_send_to_rework(
                actor=request.user,
                unit=unit,
                note=data["note"],
                reason_code=_reason(data["reason"], ReasonKind.REWORK),
            ),
        )


class HandoffRuleViewSet(GmpReadOnlyViewSet):
    """Mixed-mode handoff rules: material released → work order for an item on a line."""

    serializer_class = s.HandoffRuleSerializer

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return HandoffRule.objects.select_related("material", "item", "area").order_by("id")

    @extend_schema(request=s.HandoffRuleCreateInputSerializer, responses=s.HandoffRuleSerializer)
    def create(self, request: Request) -> Response:
        data = self.validated_input(s.HandoffRuleCreateInputSerializer)
        rule = services.handoff_rule_create(actor=request.user, **data)
        return Response(self.get_serializer(rule).data, status=201)

    @extend_schema(request=s.HandoffRuleSetActiveInputSerializer, responses=s.HandoffRuleSerializer)
    @action(detail=True, methods=["post"], url_path="set-active")
    def set_active(self, request: Request, pk: Any = None) -> Response:
        data = self.validated_input(s.HandoffRuleSetActiveInputSerializer)
        rule = services.handoff_rule_set_active(actor=request.user, rule=self.get_object(), **data)
        return Response(self.get_serializer(rule).data)


class VarianceView(APIView):
    @extend_schema(responses=None)
    def get(self, request: Request) -> Response:
        group_by = request.query_params.get("group_by", "item")
        if group_by not in selectors.GROUPS:
            raise InvalidInput(f"group_by must be one of {', '.join(selectors.GROUPS)}.")
        rows = selectors.variance_report(group_by=group_by)
        return Response(
            [
                {
                    "key": r.key,
                    "label": r.label,
                    "std_labor_hours": r.std_labor_hours,
                    "actual_labor_hours": r.actual_labor_hours,
                    "std_machine_hours": r.std_machine_hours,
                    "actual_machine_hours": r.actual_machine_hours,
                    "std_cost": r.std_cost,
                    "actual_cost": r.actual_cost,
                    "cost_variance": r.cost_variance,
                }
                for r in rows
            ]
        )
