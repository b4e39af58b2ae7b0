"""Self-audit API, mounted at /api/v1/diagnostic/.

GET  /api/v1/diagnostic/assessments/              list (newest first)
POST /api/v1/diagnostic/assessments/              run {days | period_start+period_end, answers}
GET  /api/v1/diagnostic/assessments/{id}/         one assessment, every item and its evidence
GET  /api/v1/diagnostic/assessments/{id}/pdf/     the signed report as PDF
POST /api/v1/diagnostic/assessments/{id}/sign/    {username, password, reason}   signed
PUT/PATCH/DELETE are 405: an assessment is never changed or deleted.
"""

from typing import Any

from django.conf import settings
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from mes.api.viewsets import GmpReadOnlyViewSet
from mes.diagnostic import selectors, services
from mes.diagnostic.api import serializers as s
from mes.diagnostic.pdf import assessment_pdf
from mes.esign.services import signer_authenticate
from mes.exceptions import NotAuthorized


class AssessmentViewSet(GmpReadOnlyViewSet):
    def get_serializer_class(self):  # type: ignore[no-untyped-def]
        return s.AssessmentListSerializer if self.action == "list" else s.AssessmentSerializer

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.assessment_list(actor=self.request.user)

    def _viewer(self) -> None:
        if not selectors.can_view(self.request.user):
            raise NotAuthorized("You may not see the self-audit.")

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        self._viewer()
        return super().list(request, *args, **kwargs)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        self._viewer()
        return super().retrieve(request, *args, **kwargs)

    @extend_schema(request=s.AssessmentRunInputSerializer, responses={201: s.AssessmentSerializer})
    def create(self, request: Request) -> Response:
        data = self.validated_input(s.AssessmentRunInputSerializer)
        if "period_start" in data:
            period: Any = (data["period_start"], data["period_end"])
        else:
            period = services.last_days(data.get("days", 90))
        assessment = services.assessment_run(
            actor=request.user, period=period, answers=data.get("answers") or {}
        )
        return Response(s.AssessmentSerializer(assessment).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: OpenApiResponse(description="application/pdf")})
    @action(detail=True, methods=["get"])
    def pdf(self, request: Request, pk: Any = None) -> HttpResponse:
        self._viewer()
        assessment = self.get_object()
        content = assessment_pdf(assessment, site_name=getattr(settings, "MES_SITE_NAME", "MES"))
        response = HttpResponse(content, content_type="application/pdf")
        response["Content-Disposition"] = f'inline; filename="self-audit-{assessment.pk}.pdf"'
        return response

    @extend_schema(request=s.AssessmentSignInputSerializer, responses=s.AssessmentSerializer)
    @action(detail=True, methods=["post"])
    def sign(self, request: Request, pk: Any = None) -> Response:
        self._viewer()
        assessment = self.get_object()
        data = self.validated_input(s.AssessmentSignInputSerializer)
        # outside any transaction: a failed attempt is recorded even though nothing is signed
        signer = signer_authenticate(
            request=request,
            actor=request.user,
            username=data["username"],
            password=data["password"],
        )
        services.assessment_sign(
            actor=request.user, assessment=assessment, signer=signer, reason=data.get("reason", "")
        )
        return Response(s.AssessmentSerializer(self.get_queryset().get(pk=assessment.pk)).data)
