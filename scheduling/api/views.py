"""Scheduling API: reads through selectors, every change through one service.

GET  /api/v1/scheduling/schedules/                 list (?status=)
POST /api/v1/scheduling/schedules/                 create and solve {site, weights?, time_limit_seconds?}
GET  /api/v1/scheduling/schedules/{id}/            one schedule (progress and metrics)
GET  /api/v1/scheduling/schedules/{id}/progress/   solver status, best objective, bound, elapsed
GET  /api/v1/scheduling/schedules/{id}/entries/    the Gantt entries
GET  /api/v1/scheduling/schedules/{id}/conflicts/  hard-rule violations of the stored entries
GET  /api/v1/scheduling/schedules/{id}/compare/    against the published schedule
POST /api/v1/scheduling/schedules/{id}/solve/      re-optimize {weights?, time_limit_seconds?}
POST /api/v1/scheduling/schedules/{id}/stop/       stop the running solve
POST /api/v1/scheduling/schedules/{id}/publish/    publish (the previous one is superseded)
POST /api/v1/scheduling/entries/{id}/move/         {start, work_center?|unit?}  409 if a rule breaks
POST /api/v1/scheduling/entries/{id}/lock/         {locked}
GET  /api/v1/scheduling/dispatch/?work_center=CODE|unit=CODE   the published dispatch list
DELETE is 405 everywhere.
"""

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from equipment.models import Site, Unit, WorkCenter
from equipment.selectors import areas_visible_to
from mes.api.viewsets import GmpReadOnlyViewSet
from mes.exceptions import InvalidInput
from scheduling import selectors, services, tasks
from scheduling.api import serializers as s
from scheduling.models import Schedule, ScheduleEntry


def _require_view(request: Request) -> None:
    if not selectors.can_view(request.user):
        raise PermissionDenied("You may not see schedules (needs scheduling.view_schedule).")


class ScheduleViewSet(GmpReadOnlyViewSet):
    serializer_class = s.ScheduleSerializer

    def get_queryset(self):  # type: ignore[no-untyped-def]
        if getattr(self, "swagger_fake_view", False):  # the OpenAPI schema generator
            return Schedule.objects.none()
        _require_view(self.request)
        return selectors.schedule_list(
            actor=self.request.user, status=self.request.query_params.get("status") or None
        )

    def _out(self, schedule: Any, code: int = status.HTTP_200_OK) -> Response:
        fresh = self.get_queryset().get(pk=schedule.pk)
        return Response(self.get_serializer(fresh).data, status=code)

    @extend_schema(request=s.ScheduleCreateInputSerializer, responses=s.ScheduleSerializer)
    def create(self, request: Request) -> Response:
        if not selectors.can_plan(request.user):
            raise PermissionDenied("Only planners create schedules (scheduling.plan_schedule).")
        data = self.validated_input(s.ScheduleCreateInputSerializer)
        site = Site.objects.filter(
            code=data.pop("site"), areas__in=areas_visible_to(request.user)
        ).first()
        if site is None:
            raise InvalidInput("There is no such site you may see.", code="site_not_found")
        schedule = services.schedule_create(actor=request.user, site=site, **data)
        tasks.enqueue_solve(schedule, request.user)
        return self._out(schedule, status.HTTP_201_CREATED)

    @extend_schema(responses=s.ScheduleSerializer)
    @action(detail=True, methods=["get"])
    def progress(self, request: Request, pk: Any = None) -> Response:
        return Response(self.get_serializer(self.get_object()).data)

    @extend_schema(responses=s.ScheduleEntrySerializer(many=True))
    @action(detail=True, methods=["get"])
    def entries(self, request: Request, pk: Any = None) -> Response:
        entries = selectors.schedule_entries(self.get_object())
        return Response(s.ScheduleEntrySerializer(entries, many=True).data)

    @action(detail=True, methods=["get"])
    def conflicts(self, request: Request, pk: Any = None) -> Response:
        problems, by_entry = services.schedule_conflicts(self.get_object())
        return Response({"conflicts": problems, "entries": by_entry})

    @action(detail=True, methods=["get"])
    def compare(self, request: Request, pk: Any = None) -> Response:
        schedule = self.get_object()
        published = selectors.schedule_published(schedule.site_id)
        result = selectors.schedule_compare(schedule, published)
        return Response(
            {
                "proposed": schedule.number,
                "published": published.number if published else None,
                "metrics": result["metrics"],
                "counts": result["counts"],
                "rows": [
                    {
                        "ref": r.ref,
                        "label": r.label,
                        "change": r.change,
                        "before_resource": r.before_resource,
                        "after_resource": r.after_resource,
                        "before_start": r.before_start,
                        "after_start": r.after_start,
                        "delta_minutes": r.delta_minutes,
                    }
                    for r in result["rows"]
                ],
            }
        )

    @extend_schema(request=s.ScheduleSolveInputSerializer, responses=s.ScheduleSerializer)
    @action(detail=True, methods=["post"])
    def solve(self, request: Request, pk: Any = None) -> Response:
        data = self.validated_input(s.ScheduleSolveInputSerializer)
        schedule = services.schedule_request_solve(
            actor=request.user, schedule=self.get_object(), **data
        )
        tasks.enqueue_solve(schedule, request.user)
        return self._out(schedule, status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses=s.ScheduleSerializer)
    @action(detail=True, methods=["post"])
    def stop(self, request: Request, pk: Any = None) -> Response:
        return self._out(services.schedule_stop(actor=request.user, schedule=self.get_object()))

    @extend_schema(request=None, responses=s.ScheduleSerializer)
    @action(detail=True, methods=["post"])
    def publish(self, request: Request, pk: Any = None) -> Response:
        return self._out(services.schedule_publish(actor=request.user, schedule=self.get_object()))


class ScheduleEntryViewSet(GmpReadOnlyViewSet):
    serializer_class = s.ScheduleEntrySerializer

    def get_queryset(self):  # type: ignore[no-untyped-def]
        if getattr(self, "swagger_fake_view", False):  # the OpenAPI schema generator
            return ScheduleEntry.objects.none()
        _require_view(self.request)
        return ScheduleEntry.objects.filter(
            schedule__in=selectors.schedule_list(actor=self.request.user)
        ).select_related("schedule", "work_center", "unit")

    @extend_schema(request=s.EntryMoveInputSerializer, responses=s.ScheduleEntrySerializer)
    @action(detail=True, methods=["post"])
    def move(self, request: Request, pk: Any = None) -> Response:
        data = self.validated_input(s.EntryMoveInputSerializer)
        work_center = unit = None
        if data["work_center"]:
            work_center = WorkCenter.objects.filter(code=data["work_center"]).first()
            if work_center is None:
                raise InvalidInput(f"There is no work center {data['work_center']!r}.")
        if data["unit"]:
            unit = Unit.objects.filter(code=data["unit"]).first()
            if unit is None:
                raise InvalidInput(f"There is no unit {data['unit']!r}.")
        entry, warnings = services.schedule_entry_move(
            actor=request.user,
            entry=self.get_object(),
            start=data["start"],
            work_center=work_center,
            unit=unit,
        )
        body = dict(self.get_serializer(entry).data)
        body["warnings"] = warnings
        return Response(body)

    @extend_schema(request=s.EntryLockInputSerializer, responses=s.ScheduleEntrySerializer)
    @action(detail=True, methods=["post"])
    def lock(self, request: Request, pk: Any = None) -> Response:
        data = self.validated_input(s.EntryLockInputSerializer)
        entry = services.schedule_entry_lock(
            actor=request.user, entry=self.get_object(), locked=data["locked"]
        )
        return Response(self.get_serializer(entry).data)


class DispatchListView(APIView):
    """The published dispatch list of one work center or unit, in order."""

    @extend_schema(responses=s.ScheduleEntrySerializer(many=True))
    def get(self, request: Request) -> Response:
        _require_view(request)
        areas = areas_visible_to(request.user)
        code_wc = request.query_params.get("work_center", "")
        code_unit = request.query_params.get("unit", "")
        if code_wc:
            wc = (
                WorkCenter.objects.filter(code=code_wc, area__in=areas)
                .select_related("area")
                .first()
            )
            if wc is None:
                raise InvalidInput(f"There is no work center {code_wc!r} you may see.")
            entries = selectors.dispatch_list(work_center=wc)
        elif code_unit:
            unit = (
                Unit.objects.filter(code=code_unit, area__in=areas).select_related("area").first()
            )
            if unit is None:
                raise InvalidInput(f"There is no unit {code_unit!r} you may see.")
            entries = selectors.dispatch_list(unit=unit)
        else:
            raise InvalidInput("Say which work_center or unit.")
        return Response(s.ScheduleEntrySerializer(entries, many=True).data)
