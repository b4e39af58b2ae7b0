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
POST /api/v1/batches/phases/{id}/values/        {name, value, instrument?}      -> the entry
POST /api/v1/batches/phases/{id}/correct/       {value_id, value, reason}       -> the entry
POST /api/v1/batches/phases/{id}/dispense/      {lot, quantity, uom?}
POST /api/v1/batches/phases/{id}/returns/       {use, kind: returned|waste, quantity, reason}
POST /api/v1/batches/phases/{id}/complete/      {username, password, reason}   signed
POST /api/v1/batches/phases/{id}/verify/        {username, password, reason}   signed
DELETE is 405 everywhere (GMP records are never deleted).
"""

from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import Prefetch, prefetch_related_objects
from django.http import Http404, HttpResponse
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


# The scoped phase lookup of a command, compiled once per actor identity and permission set.
# Building it (the area scoping through guardian) cost more CPU than running it. Its SQL
# depends only on the actor's id, superuser flag and global permissions (object permissions
# and role memberships are joined in the database at run time), so it is keyed by exactly
# those: a changed permission makes a new key, a withdrawn area grant is seen at once.
_COMMAND_SQL: dict[tuple[Any, ...], tuple[str, tuple[Any, ...], int]] = {}
_COMMAND_SQL_MAX = 1024
_PK_PLACEHOLDER = -7_391_002_113


def _command_phase(actor: Any, pk: Any) -> PhaseExecution | None:
    """The phase `pk` if the actor may see its batch (only its id and batch), else None."""
    if not str(pk).isdigit():
        return None
    key = (actor.pk, actor.is_superuser, actor.is_active, frozenset(actor.get_all_permissions()))
    compiled = _COMMAND_SQL.get(key)
    if compiled is None:
        qs = PhaseExecution.objects.filter(
            pk=_PK_PLACEHOLDER, batch__in=selectors.batch_list(actor=actor)
        ).values_list("id", "batch_id")
        try:
            sql, params = qs.query.sql_with_params()
        except EmptyResultSet:  # the actor may see no batch at all
            return None
        at = [i for i, p in enumerate(params) if p == _PK_PLACEHOLDER]
        if len(at) != 1:  # pragma: no cover - the ORM always passes the pk as one parameter
            row = qs.first()
            return _phase_from_row(row)
        if len(_COMMAND_SQL) >= _COMMAND_SQL_MAX:
            _COMMAND_SQL.clear()
        compiled = _COMMAND_SQL[key] = (sql, tuple(params), at[0])
    sql, params, at = compiled
    values = list(params)
    values[at] = int(pk)
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        return _phase_from_row(cursor.fetchone())


def _phase_from_row(row: Any) -> PhaseExecution | None:
    if row is None:
        return None
    return PhaseExecution.from_db(connection.alias, ["id", "batch_id"], list(row))


_PHASE_CHILDREN = (
    Prefetch(
        "values",
        queryset=ParameterValue.objects.select_related("instrument", "entered_by").order_by("id"),
    ),
    Prefetch("uses", queryset=MaterialUse.objects.select_related("material", "lot").order_by("id")),
)


class PhaseExecutionViewSet(GmpReadOnlyViewSet):
    serializer_class = s.PhaseExecutionSerializer

    def get_queryset(self):  # type: ignore[no-untyped-def]
        scoped = PhaseExecution.objects.filter(
            batch__in=selectors.batch_list(actor=self.request.user)
        )
        if self.action not in ("list", "retrieve", None):
            # a command (see get_object): the service locks and reloads the phase; only its id
            # and batch are needed here (not every value and use of the phase)
            return scoped.only("id", "batch")
        return self._readable(scoped)

    def get_object(self) -> Any:
        if self.action in ("list", "retrieve", None):
            return super().get_object()
        phase = _command_phase(self.request.user, self.kwargs["pk"])
        if phase is None:
            raise Http404("No phase matches the given query.")
        self.check_object_permissions(self.request, phase)
        return phase

    def _readable(self, scoped):  # type: ignore[no-untyped-def]
        qs = (
            scoped.select_related("batch", "completed_by", "verified_by")
            .defer("batch__control_recipe")
            .prefetch_related(*_PHASE_CHILDREN)
            .order_by("batch_id", "sequence")
        )
        batch = self.request.query_params.get("batch")
        if batch and batch.isdigit():
            qs = qs.filter(batch_id=int(batch))
        return qs

    def _out(self, phase: Any, code: int = status.HTTP_200_OK) -> Response:
        scoped = PhaseExecution.objects.filter(pk=phase.pk)
        return Response(self.get_serializer(self._readable(scoped).get()).data, status=code)

    def _out_changed(self, phase: PhaseExecution) -> Response:
        """The phase a service just changed and returned (locked, with its batch row): only
        its values and uses are read, not the phase and batch again."""
        prefetch_related_objects([phase], *_PHASE_CHILDREN)
        return Response(self.get_serializer(phase).data)

    def _out_entry(self, entry: ParameterValue) -> Response:
        """A recorded entry (201): the entry alone, not the whole phase again (its values grow
        with every entry); GET phases/{id}/ gives the phase."""
        return Response(s.RecordedValueSerializer(entry).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=s.PhaseExecutionSerializer)
    @action(detail=True, methods=["post"])
    def start(self, request: Request, pk: Any = None) -> Response:
        return self._out_changed(services.phase_start(actor=request.user, phase=self.get_object()))

    @extend_schema(request=s.ValueInputSerializer, responses={201: s.RecordedValueSerializer})
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
        entry = services.parameter_value_record(
            actor=request.user,
            phase=phase,
            name=data["name"],
            value=data["value"],
            instrument=instrument,
        )
        return self._out_entry(entry)

    @extend_schema(request=s.CorrectionInputSerializer, responses={201: s.RecordedValueSerializer})
    @action(detail=True, methods=["post"])
    def correct(self, request: Request, pk: Any = None) -> Response:
        phase = self.get_object()
        data = self.validated_input(s.CorrectionInputSerializer)
        value = ParameterValue.objects.filter(pk=data["value_id"], phase=phase).first()
        if value is None:
            raise InvalidInput("No such entry in this phase.", code="value_not_found")
        entry = services.parameter_value_correct(
            actor=request.user, value=value, new_value=data["value"], reason=data["reason"]
        )
        return self._out_entry(entry)

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

    @extend_schema(request=s.ReturnInputSerializer, responses=s.MaterialReturnSerializer)
    @action(detail=True, methods=["post"])
    def returns(self, request: Request, pk: Any = None) -> Response:
        phase = self.get_object()
        data = self.validated_input(s.ReturnInputSerializer)
        use = MaterialUse.objects.filter(pk=data["use"], phase=phase).first()
        if use is None:
            raise InvalidInput("No such dispense in this phase.", code="use_not_found")
        record = services.material_return(
            actor=request.user,
            use=use,
            kind=data["kind"],
            quantity=data["quantity"],
            uom=data["uom"] or None,
            reason=data["reason"],
        )
        return Response(s.MaterialReturnSerializer(record).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.BatchSignInputSerializer, responses=s.PhaseExecutionSerializer)
    @action(detail=True, methods=["post"])
    def complete(self, request: Request, pk: Any = None) -> Response:
        phase = self.get_object()
        data = self.validated_input(s.BatchSignInputSerializer)
        signer = _signer(request, data)
        return self._out_changed(
            services.phase_complete(
                actor=request.user, phase=phase, signer=signer, reason=data.get("reason", "")
            )
        )

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
