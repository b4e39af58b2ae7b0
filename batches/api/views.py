"""Batches API: reads through selectors, every change through one service.

GET  /api/v1/batches/orders/                    list (?status=, ?q=)
POST /api/v1/batches/orders/                    create {recipe_version, batch_size, number?}
GET  /api/v1/batches/orders/{id}/               one batch
POST /api/v1/batches/orders/{id}/start/         {unit}
POST /api/v1/batches/orders/{id}/yield/         {quantity, lot_number?}
POST /api/v1/batches/orders/{id}/complete/
POST /api/v1/batches/orders/{id}/cancel/        {username, password, reason}   signed
POST /api/v1/batches/orders/{id}/repoint/       {username, password, reason, recipe_version?}  signed
POST /api/v1/batches/orders/{id}/release/       {username, password, reason}   signed (+ lots)
GET  /api/v1/batches/orders/{id}/ebr/           the EBR as JSON
GET  /api/v1/batches/orders/{id}/batchml/       the EBR as BatchML (B2MML BatchProductionRecord)
GET  /api/v1/batches/phases/?batch=ID           phases with values and uses
POST /api/v1/batches/phases/{id}/start/
POST /api/v1/batches/phases/{id}/values/        {name, value, instrument?}
POST /api/v1/batches/phases/{id}/correct/       {value_id, value, reason}
POST /api/v1/batches/phases/{id}/dispense/      {lot, quantity, uom?}
POST /api/v1/batches/phases/{id}/complete/      {username, password, reason}   signed
POST /api/v1/batches/phases/{id}/verify/        {username, password, reason}   signed
DELETE is 405 everywhere (GMP records are never deleted).
"""

from typing import Any

from django.db.models import Prefetch
from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from batches import batchml, ebr, selectors, services
from batches.api import serializers as s
from batches.models import MaterialUse, ParameterValue, PhaseExecution
from equipment.models import Instrument, Unit
from genealogy.models import Lot
from mes.api.viewsets import GmpReadOnlyViewSet
from mes.esign.services import signer_authenticate
from mes.exceptions import InvalidInput


def _signer(request: Request, data: dict[str, Any]) -> Any:
    """Outside any transaction: a failed attempt is recorded even though the action fails."""
    return signer_authenticate(
        request=request, actor=request.user, username=data["username"], password=data["password"]
    )


class BatchOrderViewSet(GmpReadOnlyViewSet):
    serializer_class = s.BatchOrderSerializer

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.batch_list(
            actor=self.request.user,
            status=self.request.query_params.get("status") or None,
            q=self.request.query_params.get("q", ""),
        ).select_related("output_lot")

    def _out(self, batch: Any, code: int = status.HTTP_200_OK) -> Response:
        fresh = self.get_queryset().get(pk=batch.pk)
        return Response(self.get_serializer(fresh).data, status=code)

    @extend_schema(request=s.BatchCreateInputSerializer, responses=s.BatchOrderSerializer)
    def create(self, request: Request) -> Response:
        data = self.validated_input(s.BatchCreateInputSerializer)
        batch = services.batch_order_create(
            actor=request.user,
            recipe_version_id=data["recipe_version"],
            batch_size=data["batch_size"],
            number=data["number"] or None,
        )
        return self._out(batch, status.HTTP_201_CREATED)

    @extend_schema(request=s.BatchStartInputSerializer, responses=s.BatchOrderSerializer)
    @action(detail=True, methods=["post"])
    def start(self, request: Request, pk: Any = None) -> Response:
        batch = self.get_object()
        code = self.validated_input(s.BatchStartInputSerializer)["unit"].strip()
        unit = Unit.objects.filter(code=code).first()
        if unit is None:
            raise InvalidInput(f"There is no unit {code!r}.", code="unit_not_found")
        return self._out(services.batch_start(actor=request.user, batch=batch, unit=unit))

    @extend_schema(request=s.BatchYieldInputSerializer, responses=s.BatchOrderSerializer)
    @action(detail=True, methods=["post"], url_path="yield")
    def record_yield(self, request: Request, pk: Any = None) -> Response:
        batch = self.get_object()
        data = self.validated_input(s.BatchYieldInputSerializer)
        services.batch_record_yield(
            actor=request.user,
            batch=batch,
            quantity=data["quantity"],
            lot_number=data["lot_number"] or None,
        )
        return self._out(batch)

    @extend_schema(request=None, responses=s.BatchOrderSerializer)
    @action(detail=True, methods=["post"])
    def complete(self, request: Request, pk: Any = None) -> Response:
        return self._out(services.batch_complete(actor=request.user, batch=self.get_object()))

    @extend_schema(request=s.BatchCancelInputSerializer, responses=s.BatchOrderSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: Any = None) -> Response:
        batch = self.get_object()
        data = self.validated_input(s.BatchCancelInputSerializer)
        signer = _signer(request, data)
        return self._out(
            services.batch_cancel(
                actor=request.user, batch=batch, reason=data["reason"], signer=signer
            )
        )

    @extend_schema(request=s.BatchRepointInputSerializer, responses=s.BatchOrderSerializer)
    @action(detail=True, methods=["post"])
    def repoint(self, request: Request, pk: Any = None) -> Response:
        batch = self.get_object()
        data = self.validated_input(s.BatchRepointInputSerializer)
        signer = _signer(request, data)
        return self._out(
            services.batch_repoint(
                actor=request.user,
                batch=batch,
                signer=signer,
                reason=data["reason"],
                recipe_version_id=data["recipe_version"],
            )
        )

    @extend_schema(request=s.BatchSignInputSerializer, responses=s.BatchOrderSerializer)
    @action(detail=True, methods=["post"])
    def release(self, request: Request, pk: Any = None) -> Response:
        batch = self.get_object()
        data = self.validated_input(s.BatchSignInputSerializer)
        signer = _signer(request, data)
        services.batch_release(
            actor=request.user, batch=batch, signer=signer, reason=data.get("reason", "")
        )
        return self._out(batch)

    @extend_schema(responses={200: dict})
    @action(detail=True, methods=["get"])
    def ebr(self, request: Request, pk: Any = None) -> Response:
        return Response(ebr.ebr_export(self.get_object()))

    @extend_schema(responses={(200, "application/xml"): str})
    @action(detail=True, methods=["get"])
    def batchml(self, request: Request, pk: Any = None) -> HttpResponse:
        batch = self.get_object()
        response = HttpResponse(batchml.batchml_export(batch), content_type="application/xml")
        response["Content-Disposition"] = f'attachment; filename="BatchML-{batch.number}.xml"'
        return response


class PhaseExecutionViewSet(GmpReadOnlyViewSet):
    serializer_class = s.PhaseExecutionSerializer

    def get_queryset(self):  # type: ignore[no-untyped-def]
        scoped = PhaseExecution.objects.filter(
            batch__in=selectors.batch_list(actor=self.request.user)
        )
        if self.action not in ("list", "retrieve", None):
            # a command: the service locks and reloads the phase; only its id and batch are
            # needed here (not every value and use of the phase)
            return scoped.only("id", "batch")
        return self._readable(scoped)

    def _readable(self, scoped):  # type: ignore[no-untyped-def]
        qs = (
            scoped.select_related("batch", "completed_by", "verified_by")
            .defer("batch__control_recipe")
            .prefetch_related(
                Prefetch(
                    "values",
                    queryset=ParameterValue.objects.select_related(
                        "instrument", "entered_by"
                    ).order_by("id"),
                ),
                Prefetch(
                    "uses",
                    queryset=MaterialUse.objects.select_related("material", "lot").order_by("id"),
                ),
            )
            .order_by("batch_id", "sequence")
        )
        batch = self.request.query_params.get("batch")
        if batch and batch.isdigit():
            qs = qs.filter(batch_id=int(batch))
        return qs

    def _out(self, phase: Any, code: int = status.HTTP_200_OK) -> Response:
        scoped = PhaseExecution.objects.filter(pk=phase.pk)
        return Response(self.get_serializer(self._readable(scoped).get()).data, status=code)

    @extend_schema(request=None, responses=s.PhaseExecutionSerializer)
    @action(detail=True, methods=["post"])
    def start(self, request: Request, pk: Any = None) -> Response:
        return self._out(services.phase_start(actor=request.user, phase=self.get_object()))

    @extend_schema(request=s.ValueInputSerializer, responses=s.PhaseExecutionSerializer)
    @action(detail=True, methods=["post"])
    def values(self, request: Request, pk: Any = None) -> Response:
        phase = self.get_object()
        data = self.validated_input(s.ValueInputSerializer)
        instrument = None
        if data["instrument"]:
            instrument = Instrument.objects.filter(code=data["instrument"].strip()).first()
            if instrument is None:
                raise InvalidInput(
                    f"There is no instrument {data['instrument']!r}.", code="instrument_not_found"
                )
        services.parameter_value_record(
            actor=request.user,
            phase=phase,
            name=data["name"],
            value=data["value"],
            instrument=instrument,
        )
        return self._out(phase, status.HTTP_201_CREATED)

    @extend_schema(request=s.CorrectionInputSerializer, responses=s.PhaseExecutionSerializer)
    @action(detail=True, methods=["post"])
    def correct(self, request: Request, pk: Any = None) -> Response:
        phase = self.get_object()
        data = self.validated_input(s.CorrectionInputSerializer)
        value = ParameterValue.objects.filter(pk=data["value_id"], phase=phase).first()
        if value is None:
            raise InvalidInput("No such entry in this phase.", code="value_not_found")
        services.parameter_value_correct(
            actor=request.user, value=value, new_value=data["value"], reason=data["reason"]
        )
        return self._out(phase, status.HTTP_201_CREATED)

    @extend_schema(request=s.DispenseInputSerializer, responses=s.PhaseExecutionSerializer)
    @action(detail=True, methods=["post"])
    def dispense(self, request: Request, pk: Any = None) -> Response:
        phase = self.get_object()
        data = self.validated_input(s.DispenseInputSerializer)
        lot = Lot.objects.select_related("material").filter(pk=data["lot"]).first()
        if lot is None:
            raise InvalidInput(f"There is no lot #{data['lot']}.", code="lot_not_found")
        services.material_dispense(
            actor=request.user,
            phase=phase,
            lot=lot,
            quantity=data["quantity"],
            uom=data["uom"] or None,
        )
        return self._out(phase, status.HTTP_201_CREATED)

    @extend_schema(request=s.BatchSignInputSerializer, responses=s.PhaseExecutionSerializer)
    @action(detail=True, methods=["post"])
    def complete(self, request: Request, pk: Any = None) -> Response:
        phase = self.get_object()
        data = self.validated_input(s.BatchSignInputSerializer)
        signer = _signer(request, data)
        services.phase_complete(
            actor=request.user, phase=phase, signer=signer, reason=data.get("reason", "")
        )
        return self._out(phase)

    @extend_schema(request=s.BatchSignInputSerializer, responses=s.PhaseExecutionSerializer)
    @action(detail=True, methods=["post"])
    def verify(self, request: Request, pk: Any = None) -> Response:
        phase = self.get_object()
        data = self.validated_input(s.BatchSignInputSerializer)
        signer = _signer(request, data)
        services.phase_verify(
            actor=request.user, phase=phase, signer=signer, reason=data.get("reason", "")
        )
        return self._out(phase)
