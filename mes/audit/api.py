"""Read-only API of the audit trail, mounted at /api/v1/mes/audit-events/ (mes/api/urls.py).

Filters as query parameters (the same as the screen): `table`, `record`, `user` (name or id),
`action` (INSERT/UPDATE/DELETE), `since`, `until` (ISO date-times). Nothing can be created,
changed or deleted here (405): events are written by the database only.
"""

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import exceptions, permissions, serializers
from rest_framework.request import Request
from rest_framework.routers import SimpleRouter
from rest_framework.views import APIView

from mes.api.viewsets import GmpReadOnlyViewSet
from mes.audit import selectors
from mes.audit.forms import AuditEventFilterForm
from mes.audit.models import AuditEvent


class AuditEventSerializer(serializers.ModelSerializer):
    record_type = serializers.CharField(read_only=True)

    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "seq",
            "occurred_at",
            "record_type",
            "table_name",
            "record_pk",
            "action",
            "old_values",
            "new_values",
            "user_id",
            "user_name",
            "roles",
            "reason",
            "on_behalf_of",
            "request_id",
            "app_version",
            "txid",
            "prev_hash",
            "hash",
        ]
        read_only_fields = fields


class CanViewAuditTrail(permissions.BasePermission):
    message = "Reading the audit trail needs the QA Reviewer, Supervisor or Administrator role."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return selectors.can_view_audit_trail(request.user)


_FILTERS = [
    OpenApiParameter("table", OpenApiTypes.STR, description="database table of the record type"),
    OpenApiParameter("record", OpenApiTypes.STR, description="record id"),
    OpenApiParameter("user", OpenApiTypes.STR, description="user name (part of it) or user id"),
    OpenApiParameter("action", OpenApiTypes.STR, enum=["INSERT", "UPDATE", "DELETE"]),
    OpenApiParameter("since", OpenApiTypes.DATETIME),
    OpenApiParameter("until", OpenApiTypes.DATETIME),
]


@extend_schema_view(list=extend_schema(parameters=_FILTERS))
class AuditEventViewSet(GmpReadOnlyViewSet):
    """Audit events, newest first: who changed which GMP record, when (database clock), why,
    with old and new values and the hash chain. Read-only: the database writes them."""

    serializer_class = AuditEventSerializer
    permission_classes = [permissions.IsAuthenticated, CanViewAuditTrail]
    http_method_names = ["get", "head", "options"]

    def get_queryset(self) -> QuerySet[AuditEvent]:
        if getattr(self, "swagger_fake_view", False):
            return AuditEvent.objects.none()
        form = AuditEventFilterForm(self.request.query_params)
        if not form.is_valid():
            raise exceptions.ValidationError(form.errors)
        return selectors.audit_event_list(actor=self.request.user, **form.filters())

    def http_method_not_allowed(self, request: Request, *args: Any, **kwargs: Any) -> Any:
        raise exceptions.MethodNotAllowed(
            request.method,
            detail="The audit trail is read-only: events are written by the database.",
        )


router = SimpleRouter()
router.register("audit-events", AuditEventViewSet, basename="audit-event")
