"""The quality API (/api/v1/quality/): read-only viewsets over selectors, and POST commands
that each call one service. Signed commands carry `username`, `password` and `reason`: the
signer is authenticated here, outside any transaction, then the service signs."""

from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from genealogy.models import Lot, Material
from mes.accounts.models import User
from mes.api.viewsets import GmpReadOnlyViewSet
from mes.esign.services import AuthenticatedSigner, signer_authenticate
from mes.exceptions import InvalidInput, NotAuthorized, NotFound
from quality import permissions as perms
from quality import selectors, services
from quality.api import serializers as s
from quality.choices import Decision
from quality.models import Deviation, LabResult, SpecTest


class QualityReadPermission(permissions.BasePermission):
    """Reads need the viewset's `read_perm`; commands are checked by the services (403
    `not_authorized` with the reason)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        if request.method in permissions.SAFE_METHODS:
            return request.user.has_perm(view.read_perm)
        return True


class QualityViewSet(GmpReadOnlyViewSet):
    permission_classes = [permissions.IsAuthenticated, QualityReadPermission]
    read_perm = ""

    def signer(self) -> tuple[AuthenticatedSigner, dict[str, Any]]:
        """Validate the signature fields (and the command's own, when the action's input
        serializer extends SignatureInputSerializer) and authenticate the signer."""
        serializer_class = getattr(self, "signature_input", s.SignatureInputSerializer)
        data = self.validated_input(serializer_class)
        signer = signer_authenticate(
            request=self.request,
            actor=self.request.user,
            username=data.pop("username"),
            password=data.pop("password"),
        )
        return signer, data


# --- specifications --------------------------------------------------------------------------


class SpecificationViewSet(QualityViewSet):
    serializer_class = s.SpecificationSerializer
    read_perm = perms.VIEW_SPECIFICATION

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.specification_list(actor=self.request.user).prefetch_related("tests")

    @extend_schema(
        request=s.SpecificationCreateInputSerializer, responses=s.SpecificationSerializer
    )
    def create(self, request: Request) -> Response:
        data = self.validated_input(s.SpecificationCreateInputSerializer)
        material = Material.objects.filter(code=data.pop("material")).first()
        if material is None:
            raise NotFound("No such material.")
        spec = services.specification_create(actor=request.user, material=material, **data)
        return Response(self.get_serializer(spec).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.SignatureInputSerializer, responses=s.SpecificationSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: Any = None) -> Response:
        spec = self.get_object()
        signer, data = self.signer()
        spec = services.specification_approve(
            actor=request.user, specification=spec, signer=signer, reason=data["reason"]
        )
        return Response(self.get_serializer(spec).data)


# --- lab results -----------------------------------------------------------------------------


class LabResultViewSet(QualityViewSet):
    serializer_class = s.LabResultSerializer
    read_perm = perms.VIEW_LAB_RESULT

    def get_queryset(self):  # type: ignore[no-untyped-def]
        qs = selectors.lab_result_list(actor=self.request.user).order_by("id")
        lot = self.request.query_params.get("lot")
        return qs.filter(lot_id=lot) if lot and lot.isdigit() else qs

    def _lot(self, data: dict[str, Any]) -> Lot:
        if data.get("lot") is not None:
            lot = Lot.objects.select_related("material").filter(pk=data["lot"]).first()
        else:
            lot = (
                Lot.objects.select_related("material")
                .filter(material__code=data["material"], lot_number=data["lot_number"])
                .first()
            )
        if lot is None:
            raise NotFound("No such lot.", code="lot_not_found")
        return lot

    def _test(self, data: dict[str, Any], lot: Lot) -> SpecTest:
        if data.get("spec_test") is not None:
            test = (
                SpecTest.objects.select_related("specification")
                .filter(pk=data["spec_test"])
                .first()
            )
        else:
            spec = selectors.specification_approved_for(lot.material_id)
            if spec is None:
                raise InvalidInput(f"No approved specification for {lot.material.code}.")
            test = spec.tests.filter(name=data["test"]).first()
        if test is None:
            raise NotFound("No such test in the approved specification.", code="test_not_found")
        return test

    @extend_schema(request=s.LabResultEnterInputSerializer, responses=s.LabResultSerializer)
    def create(self, request: Request) -> Response:
        data = self.validated_input(s.LabResultEnterInputSerializer)
        lot = self._lot(data)
        test = self._test(data, lot)
        source = "lims" if data["external_ref"] else "manual"
        result = services.lab_result_enter(
            actor=request.user,
            lot=lot,
            spec_test=test,
            value=data["value"],
            sample_no=data["sample_no"],
            source=source,
            external_ref=data["external_ref"],
            note=data["note"],
            tested_at=data["tested_at"],
        )
        return Response(self.get_serializer(result).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.LabResultCorrectInputSerializer, responses=s.LabResultSerializer)
    @action(detail=True, methods=["post"])
    def correct(self, request: Request, pk: Any = None) -> Response:
        result = get_object_or_404(LabResult.objects.select_related("lot", "spec_test"), pk=pk)
        data = self.validated_input(s.LabResultCorrectInputSerializer)
        corrected = services.lab_result_correct(actor=request.user, result=result, **data)
        return Response(self.get_serializer(corrected).data, status=status.HTTP_201_CREATED)


# --- lots ------------------------------------------------------------------------------------


class LotViewSet(QualityViewSet):
    """`/lots/`: lots in quarantine awaiting disposition; `/lots/{id}/`: the quality state of
    any lot (what blocks its release); POST `release|reject|hold|quarantine` (signed),
    `override` (request)."""

    serializer_class = s.LotListSerializer
    read_perm = perms.VIEW_DISPOSITION

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.lots_awaiting_disposition(actor=self.request.user)

    def _lot(self, pk: Any) -> Lot:
        return get_object_or_404(Lot.objects.select_related("material"), pk=pk)

    @extend_schema(responses=s.LotQualitySerializer)
    def retrieve(self, request: Request, pk: Any = None) -> Response:
        return Response(s.LotQualitySerializer(selectors.lot_quality(self._lot(pk))).data)

    def _dispose(self, request: Request, pk: Any, decision: str) -> Response:
        lot = self._lot(pk)
        signer, data = self.signer()
        disposition = services.DISPOSITION_SERVICES[decision](
            actor=request.user, lot=lot, signer=signer, reason=data["reason"]
        )
        return Response(
            s.LotDispositionSerializer(disposition).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(request=s.SignatureInputSerializer, responses=s.LotDispositionSerializer)
    @action(detail=True, methods=["post"])
    def release(self, request: Request, pk: Any = None) -> Response:
        return self._dispose(request, pk, Decision.RELEASED)

    @extend_schema(request=s.SignatureInputSerializer, responses=s.LotDispositionSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, pk: Any = None) -> Response:
        return self._dispose(request, pk, Decision.REJECTED)

    @extend_schema(request=s.SignatureInputSerializer, responses=s.LotDispositionSerializer)
    @action(detail=True, methods=["post"])
    def hold(self, request: Request, pk: Any = None) -> Response:
        return self._dispose(request, pk, Decision.ON_HOLD)

    @extend_schema(request=s.SignatureInputSerializer, responses=s.LotDispositionSerializer)
    @action(detail=True, methods=["post"])
    def quarantine(self, request: Request, pk: Any = None) -> Response:
        return self._dispose(request, pk, Decision.QUARANTINE)

    @extend_schema(request=s.OverrideRequestInputSerializer, responses=s.ReleaseOverrideSerializer)
    @action(detail=True, methods=["post"])
    def override(self, request: Request, pk: Any = None) -> Response:
        lot = self._lot(pk)
        data = self.validated_input(s.OverrideRequestInputSerializer)
        deviation = get_object_or_404(Deviation, pk=data["deviation"])
        override = services.override_request(
            actor=request.user, lot=lot, deviation=deviation, justification=data["justification"]
        )
        return Response(s.ReleaseOverrideSerializer(override).data, status=status.HTTP_201_CREATED)


class LotDispositionViewSet(QualityViewSet):
    serializer_class = s.LotDispositionSerializer
    read_perm = perms.VIEW_DISPOSITION

    def get_queryset(self):  # type: ignore[no-untyped-def]
        qs = selectors.lot_dispositions(actor=self.request.user).order_by("-id")
        lot = self.request.query_params.get("lot")
        return qs.filter(lot_id=lot) if lot and lot.isdigit() else qs


class ReleaseOverrideViewSet(QualityViewSet):
    serializer_class = s.ReleaseOverrideSerializer
    read_perm = perms.VIEW_DISPOSITION

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.override_list(actor=self.request.user)

    @extend_schema(request=s.SignatureInputSerializer, responses=s.ReleaseOverrideSerializer)
    @action(detail=True, methods=["post"])
    def sign(self, request: Request, pk: Any = None) -> Response:
        override = self.get_object()
        signer, data = self.signer()
        override = services.override_sign(
            actor=request.user, override=override, signer=signer, reason=data["reason"]
        )
        return Response(self.get_serializer(override).data)


# --- deviations ------------------------------------------------------------------------------


class DeviationViewSet(QualityViewSet):
    """Filters: `?open=1`, `?source_kind=batch&source_ref=B-1001`, `?lot=<id>`."""

    serializer_class = s.DeviationSerializer
    read_perm = perms.VIEW_DEVIATION

    def get_queryset(self):  # type: ignore[no-untyped-def]
        params = self.request.query_params
        qs = selectors.deviation_list(
            actor=self.request.user, open_only=params.get("open") in ("1", "true")
        ).prefetch_related("lot_links", "capa_actions__owner")
        if params.get("source_kind"):
            qs = qs.filter(source_kind=params["source_kind"])
        if params.get("source_ref"):
            qs = qs.filter(source_ref=params["source_ref"])
        if params.get("lot", "").isdigit():
            qs = qs.filter(lot_links__lot_id=params["lot"]).distinct()
        return qs

    @extend_schema(request=s.DeviationOpenInputSerializer, responses=s.DeviationSerializer)
    def create(self, request: Request) -> Response:
        data = self.validated_input(s.DeviationOpenInputSerializer)
        lot_ids = data.pop("lots")
        lots = list(Lot.objects.filter(pk__in=lot_ids))
        missing = sorted(set(lot_ids) - {lot.pk for lot in lots})
        if missing:
            raise InvalidInput(f"Unknown lot id(s): {missing}.")
        deviation = services.deviation_open(actor=request.user, lots=lots, **data)
        return Response(self.get_serializer(deviation).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.DeviationClassifyInputSerializer, responses=s.DeviationSerializer)
    @action(detail=True, methods=["post"])
    def classify(self, request: Request, pk: Any = None) -> Response:
        data = self.validated_input(s.DeviationClassifyInputSerializer)
        deviation = services.deviation_classify(
            actor=request.user, deviation=self.get_object(), **data
        )
        return Response(self.get_serializer(deviation).data)

    @extend_schema(request=s.DeviationInvestigateInputSerializer, responses=s.DeviationSerializer)
    @action(detail=True, methods=["post"])
    def investigate(self, request: Request, pk: Any = None) -> Response:
        data = self.validated_input(s.DeviationInvestigateInputSerializer)
        deviation = services.deviation_investigate(
            actor=request.user, deviation=self.get_object(), **data
        )
        return Response(self.get_serializer(deviation).data)

    @extend_schema(request=s.CapaAddInputSerializer, responses=s.CapaActionSerializer)
    @action(detail=True, methods=["post"])
    def capa(self, request: Request, pk: Any = None) -> Response:
        data = self.validated_input(s.CapaAddInputSerializer)
        owner = User.objects.filter(username__iexact=data.pop("owner")).first()
        if owner is None:
            raise InvalidInput("No such owner.")
        action_ = services.capa_action_add(
            actor=request.user, deviation=self.get_object(), owner=owner, **data
        )
        return Response(s.CapaActionSerializer(action_).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.DeviationCloseInputSerializer, responses=s.DeviationSerializer)
    @action(detail=True, methods=["post"])
    def close(self, request: Request, pk: Any = None) -> Response:
        deviation = self.get_object()
        self.signature_input = s.DeviationCloseInputSerializer
        signer, data = self.signer()
        deviation = services.deviation_close(
            actor=request.user,
            deviation=deviation,
            signer=signer,
            closure_summary=data["closure_summary"],
        )
        return Response(self.get_serializer(deviation).data)


class CapaActionViewSet(QualityViewSet):
    serializer_class = s.CapaActionSerializer
    read_perm = perms.VIEW_DEVIATION

    def get_queryset(self):  # type: ignore[no-untyped-def]
        overdue = self.request.query_params.get("overdue") in ("1", "true")
        if overdue:
            return selectors.capa_overdue(actor=self.request.user)
        return selectors.capa_list(actor=self.request.user).order_by("due_at", "id")

    @extend_schema(request=s.CapaCompleteInputSerializer, responses=s.CapaActionSerializer)
    @action(detail=True, methods=["post"])
    def complete(self, request: Request, pk: Any = None) -> Response:
        data = self.validated_input(s.CapaCompleteInputSerializer)
        action_ = services.capa_action_complete(
            actor=request.user, action=self.get_object(), note=data["note"]
        )
        return Response(self.get_serializer(action_).data)


# --- nonconformances -------------------------------------------------------------------------


class NonconformanceViewSet(QualityViewSet):
    serializer_class = s.NonconformanceSerializer
    read_perm = perms.VIEW_NONCONFORMANCE

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.nonconformance_list(actor=self.request.user).order_by("-id")

    @extend_schema(
        request=s.NonconformanceOpenInputSerializer, responses=s.NonconformanceSerializer
    )
    def create(self, request: Request) -> Response:
        data = self.validated_input(s.NonconformanceOpenInputSerializer)
        lot_id = data.pop("lot")
        lot = get_object_or_404(Lot, pk=lot_id) if lot_id is not None else None
        ncr = services.nonconformance_open(actor=request.user, lot=lot, **data)
        return Response(self.get_serializer(ncr).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=s.NonconformanceDispositionInputSerializer, responses=s.NonconformanceSerializer
    )
    @action(detail=True, methods=["post"])
    def disposition(self, request: Request, pk: Any = None) -> Response:
        ncr = self.get_object()
        self.signature_input = s.NonconformanceDispositionInputSerializer
        signer, data = self.signer()
        deviation_id = data.pop("deviation")
        deviation = get_object_or_404(Deviation, pk=deviation_id) if deviation_id else None
        ncr = services.nonconformance_disposition(
            actor=request.user,
            ncr=ncr,
            disposition=data["disposition"],
            justification=data["justification"],
            signer=signer,
            deviation=deviation,
        )
        return Response(self.get_serializer(ncr).data)


# --- SPC -------------------------------------------------------------------------------------


class CharacteristicViewSet(QualityViewSet):
    serializer_class = s.CharacteristicSerializer
    read_perm = perms.VIEW_CHARACTERISTIC
    lookup_field = "key"
    lookup_value_regex = r"[-a-zA-Z0-9_]+"

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.characteristic_list(actor=self.request.user).order_by("key")

    @extend_schema(
        request=s.CharacteristicCreateInputSerializer, responses=s.CharacteristicSerializer
    )
    def create(self, request: Request) -> Response:
        data = self.validated_input(s.CharacteristicCreateInputSerializer)
        code = data.pop("material")
        material = Material.objects.filter(code=code).first() if code else None
        if code and material is None:
            raise NotFound("No such material.")
        characteristic = services.characteristic_create(
            actor=request.user, material=material, **data
        )
        return Response(self.get_serializer(characteristic).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=s.SpcChartSerializer)
    @action(detail=True, methods=["get"])
    def chart(self, request: Request, key: Any = None) -> Response:
        return Response(s.SpcChartSerializer(selectors.spc_chart(self.get_object())).data)

    @extend_schema(request=s.SpcValueInputSerializer, responses=s.SpcValueSerializer)
    @action(detail=True, methods=["post"])
    def values(self, request: Request, key: Any = None) -> Response:
        if not request.user.has_perm(perms.RECORD_SPC_VALUE):
            raise NotAuthorized(
                f"You lack the permission to record SPC values ({perms.RECORD_SPC_VALUE})."
            )
        data = self.validated_input(s.SpcValueInputSerializer)
        value = services.spc_record_value(actor=request.user, characteristic_key=key, **data)
        return Response(s.SpcValueSerializer(value).data, status=status.HTTP_201_CREATED)
