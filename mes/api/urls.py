"""Platform API, mounted at /api/v1/mes/."""

from django.urls import include, path
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response

from mes.api.serializers import ErrorSerializer, MeSerializer
from mes.audit.api import router as audit_router


@extend_schema(
    operation_id="me_retrieve",
    summary="Who am I: the authenticated user's printed name and roles",
    responses={200: MeSerializer, 401: ErrorSerializer},
)
@api_view(["GET"])
def whoami(request: Request) -> Response:
    user = request.user
    data = {
        "username": user.get_username(),
        "printed_name": user.printed_name,
        "roles": sorted(user.role_names),
    }
    return Response(MeSerializer(data).data)


urlpatterns = [path("me/", whoami, name="api-me"), path("", include("mes.esign.api.urls"))]
urlpatterns += audit_router.urls  # /api/v1/mes/audit-events/ (read-only, mes/audit/api.py)
