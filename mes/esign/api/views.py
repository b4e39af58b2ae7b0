"""Read-only signatures API: /api/v1/mes/signatures/ (list, retrieve), validity included."""

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import permissions, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from mes.esign.api.serializers import SignatureSerializer
from mes.esign.models import Signature
from mes.esign.selectors import can_view_signatures, signature_list, signatures_with_validity

FILTERS = [
    OpenApiParameter("signer", str, description="user ID of the signer"),
    OpenApiParameter("meaning", str, description="signature meaning, e.g. approved"),
    OpenApiParameter("record_type", str, description='"app_label.model", e.g. batches.batch'),
]


class CanViewSignatures(permissions.BasePermission):
    message = "Only QA, supervisors and administrators see the signature register."

    def has_permission(self, request: Request, view: object) -> bool:
        return can_view_signatures(request.user)


@extend_schema_view(list=extend_schema(parameters=FILTERS))
class SignatureViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = SignatureSerializer
    permission_classes = [permissions.IsAuthenticated, CanViewSignatures]

    def get_queryset(self) -> QuerySet[Signature]:
        params = self.request.query_params
        return signature_list(
            actor=self.request.user,
            signer=params.get("signer") or None,
            meaning=params.get("meaning") or None,
            record_type=params.get("record_type") or None,
        )

    def list(self, request: Request, *args: object, **kwargs: object) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        rows = signatures_with_validity(page if page is not None else self.get_queryset())
        data = self.get_serializer(rows, many=True).data
        return self.get_paginated_response(data) if page is not None else Response(data)

    def retrieve(self, request: Request, *args: object, **kwargs: object) -> Response:
        signature = signatures_with_validity([self.get_object()])[0]
        return Response(self.get_serializer(signature).data)
