"""Read-only viewsets (querysets from selectors, scoped to the actor's areas) and POST
commands, each calling one service."""

from typing import Any

from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from equipment import selectors, services
from equipment.api import serializers as s
from equipment.models import (
    CleaningRule,
    EquipmentClass,
    MaintenancePlan,
    ProcessCell,
    Site,
    WorkCenter,
)
from mes.esign.services import signer_authenticate


def _usability_body(ok: bool, reasons: list, **extra: Any) -> dict:
    return {"ok": ok, "reasons": [{"code": r.code, "message": r.message} for r in reasons]} | extra


class SiteViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = s.SiteSerializer

    def get_queryset(self):  # type: ignore[no-untyped-def]
        areas = selectors.areas_visible_to(self.request.user)
        return Site.objects.filter(areas__in=areas).distinct().order_by("code")


class AreaViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = s.AreaSerializer

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.areas_visible_to(self.request.user).select_related("site")


class EquipmentClassViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = s.EquipmentClassSerializer
    queryset = EquipmentClass.objects.all()


class ProcessCellViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = s.ProcessCellSerializer

    def get_queryset(self):  # type: ignore[no-untyped-def]
        areas = selectors.areas_visible_to(self.request.user)
        return ProcessCell.objects.filter(area__in=areas).select_related("area")


class WorkCenterViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = s.WorkCenterSerializer

    def get_queryset(self):  # type: ignore[no-untyped-def]
        areas = selectors.areas_visible_to(self.request.user)
        return WorkCenter.objects.filter(area__in=areas).select_related("area")


class UnitViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = s.UnitSerializer

    def get_queryset(self):  # type: ignore[no-untyped-def]
        qs = selectors.unit_list(actor=self.request.user, include_inactive=True)
        status_filter = self.request.query_params.get("status")
        return qs.filter(status=status_filter) if status_filter else qs

    @action(detail=False, methods=["get"])
    def matching(self, request: Request) -> Response:
        """Units matching a requirement: ?equipment_class=reactor&min_volume_l=2000
        &capabilities=glass-lined (comma-separated)."""
        query = s.UnitUsabilityQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        caps = [c for c in data.get("capabilities", "").split(",") if c]
        units = selectors.units_matching(
            data.get("equipment_class"), data.get("min_volume_l"), caps
        ).filter(pk__in=self.get_queryset().values("pk"))
        units = units.select_related("process_cell", "work_center").prefetch_related("capabilities")
        return Response(s.UnitSerializer(units, many=True).data)

    @action(detail=True, methods=["get"])
    def usability(self, request: Request, pk: str | None = None) -> Response:
        """THE gate, for screens of other systems: {ok, reasons[{code, message}]}."""
        unit = self.get_object()
        query = s.UnitUsabilityQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        caps = [c for c in data.get("capabilities", "").split(",") if c]
        ok, reasons = services.unit_usability(
            unit,
            product_code=data.get("product_code") or None,
            equipment_class=data.get("equipment_class"),
            min_volume_l=data.get("min_volume_l"),
            capabilities=caps,
        )
        cleaning = selectors.unit_cleaning_status(unit, product_code=data.get("product_code"))
        return Response(_usability_body(ok, reasons, cleaning_state=cleaning.state))

    @action(detail=True, methods=["get"])
    def logbook(self, request: Request, pk: str | None = None) -> Response:
        unit = self.get_object()
        entries = unit.log_entries.select_related("actor").order_by("at", "id")
        return Response(s.UnitLogEntrySerializer(entries, many=True).data)

    @action(detail=True, methods=["post"], url_path="record-cleaning")
    def record_cleaning(self, request: Request, pk: str | None = None) -> Response:
        unit = self.get_object()
        data = _valid(s.UnitRecordCleaningInputSerializer, request)
        entry = services.unit_record_cleaning(
            actor=request.user,
            unit=unit,
            cleaning_type=data["cleaning_type"],
            at=data.get("at"),
            note=data["note"],
        )
        return Response(s.UnitLogEntrySerializer(entry).data, status=status.HTTP_201_CREATED)

    @action(detail=True, methods=["post"], url_path="verify-cleaning")
    def verify_cleaning(self, request: Request, pk: str | None = None) -> Response:
        unit = self.get_object()
        data = _valid(s.UnitVerifyCleaningInputSerializer, request)
        entry = services.unit_verify_cleaning(
            actor=request.user, unit=unit, at=data.get("at"), note=data["note"]
        )
        return Response(s.UnitLogEntrySerializer(entry).data, status=status.HTTP_201_CREATED)

    @action(detail=True, methods=["post"], url_path="change-status")
    def change_status(self, request: Request, pk: str | None = None) -> Response:
        unit = self.get_object()
        data = _valid(s.UnitChangeStatusInputSerializer, request)
        unit = services.unit_change_status(
            actor=request.user, unit=unit, to_status=data["to_status"], reason=data["reason"]
        )
        return Response(s.UnitSerializer(unit).data)

    @action(detail=True, methods=["post"], url_path="record-usage")
    def record_usage(self, request: Request, pk: str | None = None) -> Response:
        unit = self.get_object()
        data = _valid(s.UnitRecordUsageInputSerializer, request)
        unit = services.unit_record_usage(
            actor=request.user,
            unit=unit,
            hours=data["hours"],
            batches=data["batches"],
            ref=data["ref"],
        )
        return Response(s.UnitSerializer(unit).data)


class InstrumentViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = s.InstrumentSerializer

    def get_queryset(self):  # type: ignore[no-untyped-def]
        qs = selectors.instrument_list(actor=self.request.user)
        if self.request.query_params.get("past_due") in {"1", "true"}:
            qs = qs.filter(pk__in=selectors.instruments_past_due().values("pk"))
        return qs

    @action(detail=True, methods=["get"])
    def usability(self, request: Request, pk: str | None = None) -> Response:
        ok, reasons = services.instrument_usability(self.get_object())
        return Response(_usability_body(ok, reasons))

    @action(detail=True, methods=["get"])
    def calibrations(self, request: Request, pk: str | None = None) -> Response:
        records = selectors.instrument_calibrations(instrument=self.get_object())
        return Response(s.CalibrationRecordSerializer(records, many=True).data)

    @action(detail=True, methods=["post"], url_path="record-calibration")
    def record_calibration(self, request: Request, pk: str | None = None) -> Response:
        instrument = self.get_object()
        data = _valid(s.InstrumentRecordCalibrationInputSerializer, request)
        record = services.instrument_record_calibration(
            actor=request.user,
            instrument=instrument,
            performed_at=data.get("performed_at"),
            reference_value=data.get("reference_value"),
            as_found_value=data.get("as_found_value"),
            as_left_value=data.get("as_left_value"),
            as_found_passed=data.get("as_found_passed"),
            as_left_passed=data.get("as_left_passed"),
            certificate_ref=data["certificate_ref"],
            note=data["note"],
        )
        return Response(s.CalibrationRecordSerializer(record).data, status=status.HTTP_201_CREATED)

    @action(detail=True, methods=["post"], url_path="change-status")
    def change_status(self, request: Request, pk: str | None = None) -> Response:
        instrument = self.get_object()
        data = _valid(s.InstrumentChangeStatusInputSerializer, request)
        instrument = services.instrument_change_status(
            actor=request.user,
            instrument=instrument,
            to_status=data["to_status"],
            reason=data["reason"],
        )
        return Response(s.InstrumentSerializer(instrument).data)


class CleaningRuleViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = s.CleaningRuleSerializer
    queryset = CleaningRule.objects.select_related("unit", "equipment_class").order_by("id")


class MaintenancePlanViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = s.MaintenancePlanSerializer

    def get_queryset(self):  # type: ignore[no-untyped-def]
        areas = selectors.areas_visible_to(self.request.user)
        return MaintenancePlan.objects.filter(unit__area__in=areas).select_related("unit")


class MaintenanceWorkOrderViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = s.MaintenanceWorkOrderSerializer

    def get_queryset(self):  # type: ignore[no-untyped-def]
        open_only = self.request.query_params.get("open") in {"1", "true"}
        return selectors.maintenance_work_order_list(actor=self.request.user, open_only=open_only)

    @action(detail=True, methods=["post"])
    def start(self, request: Request, pk: str | None = None) -> Response:
        order = services.maintenance_work_order_start(
            actor=request.user, work_order=self.get_object()
        )
        return Response(s.MaintenanceWorkOrderSerializer(order).data)

    @action(detail=True, methods=["post"])
    def complete(self, request: Request, pk: str | None = None) -> Response:
        data = _valid(s.MaintenanceWorkOrderCompleteInputSerializer, request)
        order = self.get_object()
        signer = (
            signer_authenticate(
                request=request,
                actor=request.user,
                username=data["username"],
                password=data["password"],
            )
            if data["username"]
            else None
        )
        order = services.maintenance_work_order_complete(
            actor=request.user,
            work_order=order,
            note=data["note"],
            signer=signer,
            signature_reason=data["reason"],
        )
        return Response(s.MaintenanceWorkOrderSerializer(order).data)

    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        data = _valid(s.MaintenanceWorkOrderCancelInputSerializer, request)
        order = services.maintenance_work_order_cancel(
            actor=request.user, work_order=self.get_object(), reason=data["reason"]
        )
        return Response(s.MaintenanceWorkOrderSerializer(order).data)


def _valid(serializer_class: type, request: Request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
