"""Finite-capacity scheduling: master data (changeover matrices, shift calendars), the
planner's demand overrides (due date, priority, batch duration), schedules with their entries
and the append-only schedule event log.

Hold times (dirty hold, clean hold) are NOT duplicated here: they come from equipment's
`CleaningRule`. Planned maintenance comes from equipment's maintenance work orders.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now
from simple_history.models import HistoricalRecords

from mes.audit.registry import audited


class ScheduleStatus(models.TextChoices):
    PROPOSED = "proposed", "Proposed"
    PUBLISHED = "published", "Published"
    SUPERSEDED = "superseded", "Superseded"


class SolverStatus(models.TextChoices):
    IDLE = "idle", "Not solved"
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    STOPPED = "stopped", "Stopped by the planner"
    FAILED = "failed", "Failed"


SOLVER_BUSY = (SolverStatus.QUEUED, SolverStatus.RUNNING)


class EntryKind(models.TextChoices):
    OPERATION = "operation", "Operation"
    BATCH = "batch", "Batch"
    CLEANING = "cleaning", "Changeover / cleaning"
    UNAVAILABLE = "unavailable", "Unavailable"


class ScheduleEventType(models.TextChoices):
    CREATED = "schedule.created", "Created"
    SOLVE_REQUESTED = "schedule.solve_requested", "Solve requested"
    SOLVE_FINISHED = "schedule.solve_finished", "Solve finished"
    SOLVE_FAILED = "schedule.solve_failed", "Solve failed"
    STOP_REQUESTED = "schedule.stop_requested", "Stop requested"
    ENTRY_MOVED = "entry.moved", "Entry moved"
    ENTRY_LOCKED = "entry.locked", "Entry locked"
    ENTRY_UNLOCKED = "entry.unlocked", "Entry unlocked"
    PUBLISHED = "schedule.published", "Published"
    SUPERSEDED = "schedule.superseded", "Superseded"


@audited()
class ChangeoverMatrix(models.Model):
    """Product-to-product cleaning times of the vessels of one process cell (or of every cell
    of a site when no cell is given). Same product: minor clean; product change: major clean,
    unless a rule says otherwise."""

    site = models.ForeignKey("equipment.Site", on_delete=models.PROTECT, related_name="+")
    process_cell = models.ForeignKey(
        "equipment.ProcessCell", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    name = models.CharField(max_length=100)
    minor_clean_minutes = models.PositiveIntegerField(default=60)
    major_clean_minutes = models.PositiveIntegerField(default=240)
    max_campaign_batches = models.PositiveIntegerField(
        null=True, blank=True, help_text="After this many batches in a row a major clean is due."
    )
    max_campaign_hours = models.PositiveIntegerField(
        null=True, blank=True, help_text="After this many hours of a campaign a major clean is due."
    )
    is_active = models.BooleanField(default=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["site__code", "name"]
        verbose_name_plural = "changeover matrices"
        constraints = [
            models.UniqueConstraint(
                fields=["site", "process_cell"],
                condition=Q(is_active=True),
                name="scheduling_one_active_matrix_per_cell",
            ),
            models.CheckConstraint(
                condition=Q(max_campaign_batches__isnull=True) | Q(max_campaign_batches__gt=0),
                name="scheduling_matrix_campaign_batches_positive",
            ),
        ]

    def __str__(self) -> str:
        return self.name


@audited()
class ChangeoverRule(models.Model):
    """One from → to product pair: its cleaning (kind, minutes) or that it is forbidden."""

    class Kind(models.TextChoices):
        MINOR = "minor", "Minor clean"
        MAJOR = "major", "Major clean"

    matrix = models.ForeignKey(ChangeoverMatrix, on_delete=models.PROTECT, related_name="rules")
    from_product = models.CharField(max_length=64)
    to_product = models.CharField(max_length=64)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.MAJOR)
    clean_minutes = models.PositiveIntegerField(
        null=True, blank=True, help_text="Blank: the matrix's minor or major time."
    )
    is_forbidden = models.BooleanField(default=False, help_text="This sequence may never run.")
    history = HistoricalRecords()

    class Meta:
        ordering = ["matrix", "from_product", "to_product"]
        constraints = [
            models.UniqueConstraint(
                fields=["matrix", "from_product", "to_product"], name="scheduling_rule_pair"
            )
        ]

    def __str__(self) -> str:
        what = "forbidden" if self.is_forbidden else self.kind
        return f"{self.from_product} → {self.to_product}: {what}"


@audited()
class ShiftCalendar(models.Model):
    """Working windows of a work center or a unit, by weekday. A resource without a
    calendar works around the clock."""

    name = models.CharField(max_length=100)
    work_center = models.OneToOneField(
        "equipment.WorkCenter", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    unit = models.OneToOneField(
        "equipment.Unit", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(work_center__isnull=False, unit__isnull=True)
                    | Q(work_center__isnull=True, unit__isnull=False)
                ),
                name="scheduling_calendar_one_resource",
            )
        ]

    def __str__(self) -> str:
        return self.name


@audited()
class ShiftWindow(models.Model):
    """Working time on one weekday (0 = Monday), local plant time; end may be 24:00 (00:00)."""

    calendar = models.ForeignKey(ShiftCalendar, on_delete=models.PROTECT, related_name="windows")
    weekday = models.PositiveSmallIntegerField()
    start = models.TimeField()
    end = models.TimeField(help_text="00:00 means midnight at the end of the day.")

    class Meta:
        ordering = ["calendar", "weekday", "start"]
        constraints = [
            models.CheckConstraint(
                condition=Q(weekday__gte=0, weekday__lte=6), name="scheduling_window_weekday"
            )
        ]

    def __str__(self) -> str:
        return f"{self.weekday} {self.start:%H:%M}-{self.end:%H:%M}"


@audited()
class DemandPriority(models.Model):
    """The planner's view of one order: a due date (batches have none; work orders have a due
    date that this may override), a priority (the tardiness weight) and, for a batch, its
    duration on the vessel."""

    batch = models.OneToOneField(
        "batches.BatchOrder", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    work_order = models.OneToOneField(
        "workorders.WorkOrder", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    due_at = models.DateTimeField(null=True, blank=True)
    priority = models.PositiveSmallIntegerField(default=1, help_text="1 (normal) to 10.")
    duration_minutes = models.PositiveIntegerField(
        null=True, blank=True, help_text="Batches: time on the vessel (default from the recipe)."
    )
    history = HistoricalRecords()

    class Meta:
        verbose_name_plural = "demand priorities"
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(batch__isnull=False, work_order__isnull=True)
                    | Q(batch__isnull=True, work_order__isnull=False)
                ),
                name="scheduling_priority_one_order",
            ),
            models.CheckConstraint(
                condition=Q(priority__gte=1, priority__lte=10), name="scheduling_priority_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.batch or self.work_order} priority {self.priority}"


@audited(deletable=False)
class Schedule(models.Model):
    """A schedule of one site: proposed (the planner works on it), published (the dispatch
    lists), superseded (kept). Solver progress and result metrics are kept on the row."""

    number = models.CharField(max_length=30, unique=True)
    site = models.ForeignKey("equipment.Site", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(
        max_length=12, choices=ScheduleStatus.choices, default=ScheduleStatus.PROPOSED
    )
    note = models.CharField(max_length=200, blank=True, default="")
    horizon_start = models.DateTimeField()
    horizon_hours = models.PositiveIntegerField(default=168)
    tardiness_weight = models.PositiveIntegerField(default=10)
    makespan_weight = models.PositiveIntegerField(default=1)
    changeover_weight = models.PositiveIntegerField(default=1)
    time_limit_seconds = models.PositiveIntegerField(default=10)
    based_on = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    problem = models.JSONField(default=dict, blank=True, help_text="What the solver was given.")
    # solver progress
    solver_status = models.CharField(
        max_length=10, choices=SolverStatus.choices, default=SolverStatus.IDLE
    )
    stop_requested = models.BooleanField(default=False)
    solver_message = models.TextField(blank=True, default="")
    best_objective = models.BigIntegerField(null=True, blank=True)
    objective_bound = models.BigIntegerField(null=True, blank=True)
    elapsed_seconds = models.FloatField(null=True, blank=True)
    solutions_found = models.PositiveIntegerField(default=0)
    # result metrics (minutes)
    makespan_minutes = models.PositiveIntegerField(null=True, blank=True)
    tardiness_minutes = models.PositiveIntegerField(null=True, blank=True)
    changeover_minutes = models.PositiveIntegerField(null=True, blank=True)
    utilization = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(db_default=Now())
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    published_at = models.DateTimeField(null=True, blank=True)
    superseded_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-id"]
        permissions = [("plan_schedule", "Can create, solve, change and publish schedules")]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=ScheduleStatus.values), name="scheduling_schedule_status"
            ),
            models.CheckConstraint(
                condition=Q(solver_status__in=SolverStatus.values),
                name="scheduling_schedule_solver_status",
            ),
            models.UniqueConstraint(
                fields=["site"],
                condition=Q(status="published"),
                name="scheduling_one_published_per_site",
            ),
            models.CheckConstraint(
                condition=~Q(status="published")
                | Q(published_at__isnull=False, published_by__isnull=False),
                name="scheduling_published_has_who_when",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.number} ({self.get_status_display().lower()})"

    @property
    def is_solving(self) -> bool:
        return self.solver_status in SOLVER_BUSY


@audited()
class ScheduleEntry(models.Model):
    """One bar of the Gantt: an operation on a work center, a batch or a cleaning on a vessel,
    or a window where the resource is unavailable. Frozen = already started (the solver keeps
    it); locked = the planner pinned it to its resource."""

    schedule = models.ForeignKey(Schedule, on_delete=models.PROTECT, related_name="entries")
    kind = models.CharField(max_length=12, choices=EntryKind.choices)
    work_center = models.ForeignKey(
        "equipment.WorkCenter", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    unit = models.ForeignKey(
        "equipment.Unit", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    operation = models.ForeignKey(
        "workorders.WorkOrderOperation",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    batch = models.ForeignKey(
        "batches.BatchOrder", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    key = models.CharField(max_length=80, help_text="The solver's name of the entry.")
    label = models.CharField(max_length=200)
    product_code = models.CharField(max_length=64, blank=True, default="")
    cleaning_kind = models.CharField(max_length=10, blank=True, default="")
    start = models.DateTimeField()
    end = models.DateTimeField()
    due_at = models.DateTimeField(null=True, blank=True)
    is_locked = models.BooleanField(default=False)
    is_frozen = models.BooleanField(default=False)

    class Meta:
        ordering = ["schedule", "start", "id"]
        verbose_name_plural = "schedule entries"
        constraints = [
            models.CheckConstraint(
                condition=Q(end__gte=models.F("start")), name="scheduling_entry_end_after_start"
            ),
            models.CheckConstraint(
                condition=Q(work_center__isnull=False) | Q(unit__isnull=False),
                name="scheduling_entry_has_resource",
            ),
        ]
        indexes = [models.Index(fields=["schedule", "kind"], name="scheduling_entry_kind_idx")]

    def __str__(self) -> str:
        return f"{self.label} {self.start:%Y-%m-%d %H:%M}"

    @property
    def resource_key(self) -> str:
        return f"wc:{self.work_center_id}" if self.work_center_id else f"unit:{self.unit_id}"

    @property
    def is_movable(self) -> bool:
        return self.kind in (EntryKind.OPERATION, EntryKind.BATCH) and not self.is_frozen


@audited(append_only=True)
class ScheduleEvent(models.Model):
    """Append-only: every planner decision on a schedule (who, when, what)."""

    schedule = models.ForeignKey(Schedule, on_delete=models.PROTECT, related_name="events")
    type = models.CharField(max_length=40, choices=ScheduleEventType.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(db_default=Now())
    data = models.JSONField(default=dict, blank=True)
    request_id = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        ordering = ["schedule", "id"]
        default_permissions = ("view",)

    def __str__(self) -> str:
        return f"{self.schedule_id} {self.type}"
