"""ERP-connector API (mounted at /api/v1/erp-connectors/).

POST /orders/                        an ERP pushes one order version (integration role, token):
                                     201 created, 200 updated or duplicate, 409 refused (reason)
GET  /orders/                        ERP order links (ERP order -> batch / work order)
GET  /outbox/?status=dead            outbound messages with their delivery log
POST /outbox/{id}/retry/             {reason}: a dead letter back in the queue (audited)
GET  /findings/                      open reconciliation findings
POST /findings/reconcile/            {connection?}: read the ERP back now
GET  /performance/{batch|work-order}/{id}/   B2MML OperationsPerformance XML
POST /schedule/?connection=CODE      B2MML OperationsSchedule XML -> orders (like a push)
DELETE is 405 everywhere.
"""

from typing import Any

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, status
from rest_framework.decorators import action
from rest_framework.parsers import BaseParser
from rest_framework.request import Request
from rest_framework.response import Response

from erp_connectors import b2mml, inbound, selectors, services
from erp_connectors.adapters.base import InboundOrder
from erp_connectors.api import serializers as s
from erp_connectors.models import ErpConnection
from mes.api.viewsets import GmpGenericViewSet, GmpReadOnlyViewSet
from mes.exceptions import InvalidInput, NotFound


class HasPerm(permissions.BasePermission):
    """The user holds `view.required_perm` (per action: `view.action_perms`)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        perms = getattr(view, "action_perms", {})
        perm = perms.get(getattr(view, "action", None), getattr(view, "required_perm", None))
        return bool(request.user and request.user.is_authenticated and request.user.has_perm(perm))


def _connection(code: str) -> ErpConnection:
    connection = ErpConnection.objects.filter(code=(code or "").strip().upper()).first()
    if connection is None:
        raise NotFound(f"There is no ERP connection {code!r}.", code="connection_not_found")
    return connection


def _result_response(result: inbound.ReceiveResult) -> Response:
    body = s.ReceiveResultSerializer(result.as_dict()).data
    if result.is_refused:
        return Response(
            {"code": "order_change_refused", "detail": result.reason, **body},
            status=status.HTTP_409_CONFLICT,
        )
    code = status.HTTP_201_CREATED if result.outcome == "created" else status.HTTP_200_OK
    return Response(body, status=code)


class OrderViewSet(GmpReadOnlyViewSet):
    serializer_class = s.OrderLinkSerializer
    permission_classes = [HasPerm]
    required_perm = "erp_connectors.view_erporderlink"
    action_perms = {"create": inbound.PERM_RECEIVE}

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.link_list().order_by("-id")

    @extend_schema(
        request=s.OrderPushInputSerializer,
        responses={201: s.ReceiveResultSerializer, 200: s.ReceiveResultSerializer},
        summary="An ERP pushes one order version (idempotent on order and version)",
    )
    def create(self, request: Request) -> Response:
        data = self.validated_input(s.OrderPushInputSerializer)
        connection = _connection(data.pop("connection"))
        result = inbound.order_receive(
            actor=request.user, connection=connection, order=InboundOrder(**data), channel="push"
        )
        return _result_response(result)


class OutboxViewSet(GmpReadOnlyViewSet):
    serializer_class = s.OutboxMessageSerializer
    permission_classes = [HasPerm]
    required_perm = "erp_connectors.view_outboxmessage"
    action_perms = {"retry": services.PERM_MANAGE}

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.outbox_list(
            status=self.request.query_params.get("status") or None
        ).prefetch_related("log")

    @extend_schema(request=s.RetryInputSerializer, responses=s.OutboxMessageSerializer)
    @action(detail=True, methods=["post"])
    def retry(self, request: Request, pk: Any = None) -> Response:
        data = self.validated_input(s.RetryInputSerializer)
        message = services.dead_letter_retry(
            actor=request.user, message=self.get_object(), reason=data["reason"]
        )
        fresh = self.get_queryset().get(pk=message.pk)
        return Response(self.get_serializer(fresh).data)


class FindingViewSet(GmpReadOnlyViewSet):
    serializer_class = s.FindingSerializer
    permission_classes = [HasPerm]
    required_perm = "erp_connectors.view_reconciliationfinding"
    action_perms = {"reconcile": services.PERM_MANAGE}

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.findings_open()

    @extend_schema(request=s.ReconcileInputSerializer, responses=s.FindingSerializer(many=True))
    @action(detail=False, methods=["post"])
    def reconcile(self, request: Request) -> Response:
        data = self.validated_input(s.ReconcileInputSerializer)
        connection = _connection(data["connection"]) if data.get("connection") else None
        services.reconciliation_run(connection=connection)
        return Response(self.get_serializer(self.get_queryset(), many=True).data)


class XmlParser(BaseParser):
    media_type = "application/xml"

    def parse(self, stream: Any, media_type: Any = None, parser_context: Any = None) -> bytes:
        return stream.read()


class TextXmlParser(XmlParser):
    media_type = "text/xml"


class B2mmlViewSet(GmpGenericViewSet):
    permission_classes = [HasPerm]
    required_perm = "erp_connectors.view_erporderlink"
    action_perms = {"schedule": inbound.PERM_RECEIVE}
    parser_classes = [XmlParser, TextXmlParser]

    @extend_schema(responses={(200, "application/xml"): bytes})
    @action(
        detail=False,
        methods=["get"],
        url_path=r"performance/(?P<kind>batch|work-order)/(?P<pk>\d+)",
    )
    def performance(self, request: Request, kind: str, pk: str) -> HttpResponse:
        if kind == "batch":
            from batches.models import BatchOrder

            xml = b2mml.batch_performance_xml(get_object_or_404(BatchOrder, pk=pk))
        else:
            from workorders.models import WorkOrder

            xml = b2mml.work_order_performance_xml(get_object_or_404(WorkOrder, pk=pk))
        return HttpResponse(xml, content_type="application/xml")

    @extend_schema(
        request={"application/xml": bytes}, responses=s.ReceiveResultSerializer(many=True)
    )
    @action(detail=False, methods=["post"])
    def schedule(self, request: Request) -> Response:
        connection = _connection(request.query_params.get("connection", ""))
        body = request.data
        if not isinstance(body, bytes | str) or not body:
            raise InvalidInput("Send an OperationsSchedule XML document (application/xml).")
        results = b2mml.schedule_import(actor=request.user, connection=connection, xml=body)
        refused = any(r.is_refused for r in results)
        return Response(
            [s.ReceiveResultSerializer(r.as_dict()).data for r in results],
            status=status.HTTP_409_CONFLICT if refused else status.HTTP_200_OK,
        )
