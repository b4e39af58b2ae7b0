"""The genealogy API: read-only materials and lots, the trace and the recall scope, and one
command endpoint per service (receive, produce, consume, split, merge, transfer, ship, adjust).
Views validate input and call ONE service; refusals come back as {"code", "detail"}."""

from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from genealogy import selectors, services
from genealogy.api import serializers as s
from genealogy.models import Lot, RecallJob
from mes.esign.services import signer_authenticate
from mes.exceptions import InvalidInput

TRACE_API_MAX_EDGES = 200_000


class ActionPermission(BasePermission):
    """RBAC per viewset action: `perms = {"action": "app.codename", "*": default}`."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        perms: dict[str, str] = getattr(view, "perms", {})
        name = getattr(view, "action", None) or request.method.lower()
        perm = perms.get(name, perms.get("*"))
        return perm is None or request.user.has_perm(perm)


def _with_time(data: dict[str, Any], key: str = "occurred_at") -> dict[str, Any]:
    return {k: v for k, v in data.items() if not (k == key and v is None)}


class MaterialViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = s.MaterialSerializer
    permission_classes = [IsAuthenticated, ActionPermission]
    perms = {"*": "genealogy.view_material"}

    def get_queryset(self) -> QuerySet:
        return selectors.material_list()


class LotViewSet(viewsets.ReadOnlyModelViewSet):
    """Lots, sub-lots and units. Filters: ?search= (lot or supplier lot number), ?material=,
    ?kind=, ?status=."""

    serializer_class = s.LotSerializer
    permission_classes = [IsAuthenticated, ActionPermission]
    perms = {
        "*": "genealogy.view_lot",
        "trace": "genealogy.trace_lot",
        "recall_scope": "genealogy.recall_lot",
        "receive": "genealogy.receive_lot",
        "produce": "genealogy.produce_lot",
        "consume": "genealogy.consume_lot",
        "split": "genealogy.split_lot",
        "merge": "genealogy.merge_lot",
        "transfer": "genealogy.transfer_lot",
        "ship": "genealogy.ship_lot",
        "adjust": "genealogy.adjust_lot",
    }

    def get_queryset(self) -> QuerySet:
        params = self.request.query_params
        return selectors.lot_list(
            search=params.get("search", ""),
            material_code=params.get("material", ""),
            kind=params.get("kind", ""),
            status=params.get("status", ""),
        )

    def _lot(self) -> Lot:
        return get_object_or_404(Lot.objects.select_related("material"), pk=self.kwargs["pk"])

    def _created(self, lot: Lot) -> Response:
        return Response(s.LotSerializer(lot).data, status=status.HTTP_201_CREATED)

    @action(detail=True, methods=["get"])
    def trace(self, request: Request, pk: str) -> Response:
        """?direction=backward|forward: every node and link reached, with quantities and the
        batch phase or operation where material moved."""
        query = s.TraceQueryInput(data=request.query_params)
        query.is_valid(raise_exception=True)
        trace = selectors.lot_trace(
            lot=self._lot(),
            direction=query.validated_data["direction"],
            max_edges=TRACE_API_MAX_EDGES,
        )
        with selectors.no_gc():
            return Response(s.trace_data(trace))

    @action(detail=True, methods=["get"], url_path="recall-scope")
    def recall_scope(self, request: Request, pk: str) -> Response:
        """Every finished lot, unit, shipment and customer downstream. With ?limit=N: the
        totals and the first N rows of each list, computed in the database (fast for a
        large scope); without: every row."""
        limit = _limit(request)
        scope = selectors.recall_scope_for_lot(lot=self._lot(), limit=limit)
        with selectors.no_gc():
            return Response(s.recall_data(scope, limit=limit))

    @action(detail=True, methods=["get"])
    def events(self, request: Request, pk: str) -> Response:
        events = selectors.lot_events(lot=self._lot())
        return Response(s.LotEventSerializer(events, many=True).data)

    @action(detail=False, methods=["post"])
    def receive(self, request: Request) -> Response:
        data = _valid(s.LotReceiveInput, request)
        lot = services.lot_receive(actor=request.user, **_with_time(data))
        return self._created(lot)

    @action(detail=False, methods=["post"])
    def produce(self, request: Request) -> Response:
        data = _valid(s.LotProduceInput, request)
        data["inputs"] = [dict(item) for item in data.get("inputs", [])]
        lot = services.lot_produce(actor=request.user, **_with_time(data))
        return self._created(lot)

    @action(detail=True, methods=["post"])
    def consume(self, request: Request, pk: str) -> Response:
        data = _valid(s.LotConsumeInput, request)
        event = services.lot_consume(actor=request.user, lot=self._lot(), **_with_time(data))
        return Response(s.LotEventSerializer(event).data, status=status.HTTP_201_CREATED)

    @action(detail=True, methods=["post"])
    def split(self, request: Request, pk: str) -> Response:
        data = _valid(s.LotSplitInput, request)
        sublots = services.lot_split(actor=request.user, lot=self._lot(), **_with_time(data))
        return Response(s.LotSerializer(sublots, many=True).data, status=status.HTTP_201_CREATED)

    @action(detail=False, methods=["post"])
    def merge(self, request: Request) -> Response:
        data = _valid(s.LotMergeInput, request)
        lot = services.lot_merge(actor=request.user, **_with_time(data))
        return self._created(lot)

    @action(detail=True, methods=["post"])
    def transfer(self, request: Request, pk: str) -> Response:
        data = _valid(s.LotTransferInput, request)
        event = services.lot_transfer(actor=request.user, lot=self._lot(), **_with_time(data))
        return Response(s.LotEventSerializer(event).data, status=status.HTTP_201_CREATED)

    @action(detail=False, methods=["post"])
    def ship(self, request: Request) -> Response:
        data = _valid(s.LotShipInput, request)
        events = services.lot_ship(actor=request.user, **_with_time(data))
        return Response(
            s.LotEventSerializer(events, many=True).data, status=status.HTTP_201_CREATED
        )

    @action(detail=True, methods=["post"])
    def adjust(self, request: Request, pk: str) -> Response:
        """Signed: the body carries the caller's user ID and password (21 CFR 11.200)."""
        data = _valid(s.LotAdjustInput, request)
        lot = self._lot()
        signer = signer_authenticate(
            request=request,
            actor=request.user,
            username=data.pop("username"),
            password=data.pop("password"),
        )
        event = services.lot_adjust(actor=request.user, lot=lot, signer=signer, **_with_time(data))
        return Response(s.LotEventSerializer(event).data, status=status.HTTP_201_CREATED)


def _valid(serializer_class: type, request: Request) -> dict[str, Any]:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def _limit(request: Request) -> int | None:
    raw = request.query_params.get("limit")
    if raw in (None, ""):
        return None
    try:
        limit = int(raw)
    except ValueError as exc:
        raise InvalidInput("limit must be a whole number.") from exc
    if limit < 0:
        raise InvalidInput("limit must not be negative.")
    return limit


class RecallScopeView(APIView):
    """GET ?supplier_lot_number=...: the recall scope of every lot of that supplier lot."""

    permission_classes = [IsAuthenticated, ActionPermission]
    perms = {"get": "genealogy.recall_lot"}

    @extend_schema(
        parameters=[
            OpenApiParameter("supplier_lot_number", str, required=True),
            OpenApiParameter("supplier", str),
            OpenApiParameter("limit", int, description="Rows to return (totals are complete)."),
        ],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request) -> Response:
        limit = _limit(request)
        scope = selectors.recall_scope_for_supplier_lot(
            supplier_lot_number=request.query_params.get("supplier_lot_number", ""),
            supplier=request.query_params.get("supplier", ""),
            limit=limit,
        )
        with selectors.no_gc():
            return Response(s.recall_data(scope, limit=limit))


class RecallJobViewSet(
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.ListModelMixin,
    viewsets.GenericViewSet,
):
    """Recall scopes computed in the background: POST {"lot": id} or
    {"supplier_lot_number": "..."}, then GET the job for its progress."""

    serializer_class = s.RecallJobSerializer
    permission_classes = [IsAuthenticated, ActionPermission]
    perms = {"*": "genealogy.recall_lot"}

    def get_queryset(self) -> QuerySet:
        return RecallJob.objects.select_related("requested_by")

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = _valid(s.RecallJobInput, request)
        job = services.recall_job_start(
            actor=request.user,
            lot=data.get("lot"),
            supplier_lot_number=data.get("supplier_lot_number", ""),
        )
        job.refresh_from_db()
        return Response(s.RecallJobSerializer(job).data, status=status.HTTP_202_ACCEPTED)
