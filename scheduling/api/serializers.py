"""Serializers of the scheduling API: read shapes and the input of each command."""

from rest_framework import serializers

from scheduling.models import Schedule, ScheduleEntry


class ScheduleSerializer(serializers.ModelSerializer):
    site = serializers.CharField(source="site.code", read_only=True)
    created_by = serializers.CharField(source="created_by.username", read_only=True)
    published_by = serializers.CharField(
        source="published_by.username", read_only=True, default=None
    )
    based_on = serializers.CharField(source="based_on.number", read_only=True, default=None)

    class Meta:
        model = Schedule
        fields = [
            "id",
            "number",
            "site",
            "status",
            "note",
            "horizon_start",
            "horizon_hours",
            "tardiness_weight",
            "makespan_weight",
            "changeover_weight",
            "time_limit_seconds",
            "based_on",
            "solver_status",
            "stop_requested",
            "solver_message",
            "best_objective",
            "objective_bound",
            "elapsed_seconds",
            "solutions_found",
            "makespan_minutes",
            "tardiness_minutes",
            "changeover_minutes",
            "utilization",
            "created_by",
            "created_at",
            "published_by",
            "published_at",
            "superseded_at",
        ]
        read_only_fields = fields


class ScheduleEntrySerializer(serializers.ModelSerializer):
    work_center = serializers.CharField(source="work_center.code", read_only=True, default=None)
    unit = serializers.CharField(source="unit.code", read_only=True, default=None)
    operation = serializers.IntegerField(source="operation_id", read_only=True)
    batch = serializers.IntegerField(source="batch_id", read_only=True)
    schedule = serializers.CharField(source="schedule.number", read_only=True)

    class Meta:
        model = ScheduleEntry
        fields = [
            "id",
            "schedule",
            "kind",
            "key",
            "label",
            "work_center",
            "unit",
            "operation",
            "batch",
            "product_code",
            "cleaning_kind",
            "start",
            "end",
            "due_at",
            "is_locked",
            "is_frozen",
        ]
        read_only_fields = fields


class ScheduleCreateInputSerializer(serializers.Serializer):
    site = serializers.CharField(help_text="Site code.")
    note = serializers.CharField(required=False, allow_blank=True, default="")
    tardiness_weight = serializers.IntegerField(min_value=0, default=10)
    makespan_weight = serializers.IntegerField(min_value=0, default=1)
    changeover_weight = serializers.IntegerField(min_value=0, default=1)
    time_limit_seconds = serializers.IntegerField(min_value=1, max_value=600, default=10)
    horizon_hours = serializers.IntegerField(min_value=1, max_value=2160, default=168)


class ScheduleSolveInputSerializer(serializers.Serializer):
    tardiness_weight = serializers.IntegerField(min_value=0, required=False)
    makespan_weight = serializers.IntegerField(min_value=0, required=False)
    changeover_weight = serializers.IntegerField(min_value=0, required=False)
    time_limit_seconds = serializers.IntegerField(min_value=1, max_value=600, required=False)


class EntryMoveInputSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    work_center = serializers.CharField(required=False, allow_blank=True, default="")
    unit = serializers.CharField(required=False, allow_blank=True, default="")


class EntryLockInputSerializer(serializers.Serializer):
    locked = serializers.BooleanField(default=True)
