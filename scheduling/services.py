"""Every state change of scheduling: create a schedule (its problem built from the plant's
demand and resources), solve it (`schedule_solve`, run by the Celery task), stop a solve,
move and lock entries, publish.

The problem a schedule was solved for is kept on the schedule (`Schedule.problem`, JSON), so
a move is re-validated against exactly what the solver saw. Every schedule stored (progress
included) has passed the independent feasibility checkers (`schedule_violations` for the work
centers, `campaign_violations` for the vessels).

    schedule = schedule_create(actor=planner, site=site, time_limit_seconds=10)
    schedule_solve(schedule_id=schedule.pk, actor=planner)     # tasks.schedule_solve_task
    schedule_entry_move(actor=planner, entry=e, start=when)     # 409 when a hard rule breaks
    schedule_publish(actor=planner, schedule=schedule)          # the old one is superseded
"""

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from equipment.models import Site, Unit, WorkCenter
from mes.audit.context import acting_as, current_context
from mes.exceptions import Conflict, InvalidInput, InvalidTransition, NotAuthorized
from mes.numbering import next_number
from scheduling import selectors
from scheduling.models import (
    SOLVER_BUSY,
    ChangeoverMatrix,
    ChangeoverRule,
    DemandPriority,
    EntryKind,
    Schedule,
    ScheduleEntry,
    ScheduleEvent,
    ScheduleEventType,
    ScheduleStatus,
    SolverStatus,
)
from scheduling.solver import (
    Alternative,
    Assignment,
    Instance,
    Job,
    Objective,
    Operation,
    greedy_schedule,
    schedule_violations,
    solve,
)
from scheduling.solver import Schedule as JobShopSchedule

logger = logging.getLogger(__name__)

PERM_PLAN = selectors.PERM_PLAN
PROGRESS_WRITE_SECONDS = 0.5
MAX_TIME_LIMIT = 600

# In-process stop events of running solves (the Celery worker or a test thread); a stop
# requested from another process reaches the solve through `Schedule.stop_requested`.
_STOP_EVENTS: dict[int, threading.Event] = {}


# --- helpers ---------------------------------------------------------------------------------


def _require_planner(actor: Any, action: str) -> None:
    if actor is None or not getattr(actor, "is_authenticated", False) or not actor.is_active:
        raise NotAuthorized(f"Only an active, logged-in user may {action}.")
    if not actor.has_perm(PERM_PLAN):
        raise NotAuthorized(
            f"{actor.get_username()} may not {action} (needs permission {PERM_PLAN}).",
            code="permission_denied",
        )


def _request_id() -> str:
    ctx = current_context()
    return ctx.request_id if ctx is not None else ""


def _event(schedule: Schedule, type_: str, actor: Any, **data: Any) -> ScheduleEvent:
    return ScheduleEvent.objects.create(
        schedule=schedule, type=type_, actor=actor, data=data, request_id=_request_id()
    )


def _save(schedule: Schedule, actor: Any, reason: str, fields: list[str]) -> None:
    schedule._history_user, schedule._change_reason = actor, reason  # type: ignore[attr-defined]
    schedule.save(update_fields=fields)


def _lock(schedule: Schedule | int) -> Schedule:
    pk = schedule if isinstance(schedule, int) else schedule.pk
    return Schedule.objects.select_for_update().select_related("site").get(pk=pk)


def _ensure_proposed(schedule: Schedule, action: str) -> None:
    if schedule.status != ScheduleStatus.PROPOSED:
        raise InvalidTransition(
            f"{schedule.number} is {schedule.get_status_display().lower()}: only a proposed "
            f"schedule can be {action}; re-optimize to make a new proposal.",
            code="schedule_not_proposed",
        )


def _ensure_idle(schedule: Schedule, action: str) -> None:
    if schedule.solver_status in SOLVER_BUSY:
        raise Conflict(
            f"{schedule.number} is being solved: stop the solve (or wait) before you {action}.",
            code="schedule_solving",
        )


def _at(start: datetime, minutes: int) -> datetime:
    return start + timedelta(minutes=minutes)


def _minutes(start: datetime, moment: datetime) -> int:
    return selectors.minutes_between(start, moment)


# --- the problem (JSON kept on the schedule) -------------------------------------------------


def _locks_of(schedule: Schedule | None) -> dict[str, tuple[str, int]]:
    """ref ("op:ID" / "batch:ID") -> ("wc"|"unit", resource id) of the locked entries."""
    if schedule is None:
        return {}
    out = {}
    for e in schedule.entries.filter(is_locked=True):
        if e.operation_id:
            out[f"op:{e.operation_id}"] = ("wc", e.work_center_id)
        elif e.batch_id:
            out[f"batch:{e.batch_id}"] = ("unit", e.unit_id)
    return out


def _fits(window: tuple[int, int], fixed: list[tuple[int, int]]) -> bool:
    return all(window[1] <= s or window[0] >= e for s, e in fixed)


def build_problem(
    *, site: Site, horizon_start: datetime, horizon_hours: int, locks: dict | None = None
) -> dict[str, Any]:
    """The site's demand on its resources, as the JSON the schedule keeps."""
    locks = locks or {}
    start = horizon_start
    wc_windows, unit_windows = selectors.unavailability(site, start, horizon_hours)

    # --- work centers (job shop) ---
    demand = selectors.work_order_demand(site)
    centers = {wc.pk: wc for wc in selectors.site_work_centers(site)}
    for wo in demand:
        for op in wo.operations:
            for wc in op.work_centers:
                centers.setdefault(wc.pk, wc)
    machines = sorted(centers, key=lambda pk: centers[pk].code)
    index = {pk: i for i, pk in enumerate(machines)}
    jobs: list[dict[str, Any]] = []
    frozen_on: dict[int, list[tuple[int, int]]] = {}
    for wo in demand:
        due = _minutes(start, wo.due_at)
        started = [k for k, op in enumerate(wo.operations) if op.started_at is not None]
        last_started = started[-1] if started else -1
        release = 0
        for k in started:
            od = wo.operations[k]
            op = od.operation
            s = max(0, _minutes(start, od.started_at))
            elapsed = max(0, _minutes(od.started_at, start))
            d = max(1, od.minutes - elapsed)
            m = index[op.work_center_id]
            frozen_on.setdefault(m, []).append((s, s + d))
            release = max(release, s + d)
            jobs.append(
                {
                    "kind": "order",
                    "work_order": wo.work_order.pk,
                    "label": f"{wo.work_order.number}/{op.seq}",
                    "release": 0,
                    "due": due if k == len(wo.operations) - 1 else None,
                    "weight": wo.priority,
                    "ops": [
                        {
                            "operation": op.pk,
                            "label": f"{op.seq} {op.name}",
                            "alternatives": [[m, d]],
                            "fixed_start": s,
                            "locked_machine": m,
                        }
                    ],
                }
            )
        rest = wo.operations[last_started + 1 :]
        if rest:
            ops = []
            for od in rest:
                op = od.operation
                lock = locks.get(f"op:{op.pk}")
                ops.append(
                    {
                        "operation": op.pk,
                        "label": f"{op.seq} {op.name}",
                        "alternatives": [[index[wc.pk], od.minutes] for wc in od.work_centers],
                        "fixed_start": None,
                        "locked_machine": index.get(lock[1]) if lock else None,
                    }
                )
            jobs.append(
                {
                    "kind": "order",
                    "work_order": wo.work_order.pk,
                    "label": wo.work_order.number,
                    "release": release,
                    "due": due,
                    "weight": wo.priority,
                    "ops": ops,
                }
            )
    if jobs:
        for wc_id, windows in wc_windows.items():
            if wc_id not in index:
                continue
            m = index[wc_id]
            for s, e in windows:
                if _fits((s, e), frozen_on.get(m, [])):
                    jobs.append(
                        {
                            "kind": "unavailable",
                            "label": f"unavailable {centers[wc_id].code} @{s}",
                            "release": 0,
                            "due": None,
                            "weight": 0,
                            "ops": [
                                {
                                    "operation": None,
                                    "label": "unavailable",
                                    "alternatives": [[m, e - s]],
                                    "fixed_start": s,
                                    "locked_machine": m,
                                }
                            ],
                        }
                    )

    # --- vessels (campaigns) ---
    campaign = None
    batches = selectors.batch_demand(site)
    if batches:
        vessels = selectors.site_vessels(site)
        if not vessels:
            raise InvalidInput(
                f"Batch {batches[0].batch.number} needs a vessel, and site {site.code} has no "
                "unit with a working volume in a process cell.",
                code="invalid_schedule_input",
            )
        states = selectors.vessel_states(vessels, start)
        fixed_on: dict[str, list[tuple[int, int]]] = {}
        batch_rows = []
        for b in batches:
            row: dict[str, Any] = {
                "key": b.batch.number,
                "batch": b.batch.pk,
                "product": b.product_code,
                "volume": b.volume_l,
                "duration": b.minutes,
                "release": 0,
                "due": _minutes(start, b.due_at) if b.due_at else None,
                "weight": b.priority,
                "required_capabilities": sorted(b.capabilities),
                "fixed_vessel": None,
                "fixed_start": None,
                "locked_vessel": None,
            }
            if b.started_at is not None and b.batch.unit_id:
                s = max(0, _minutes(start, b.started_at))
                row["duration"] = max(1, b.minutes - max(0, _minutes(b.started_at, start)))
                row["fixed_vessel"] = b.batch.unit.code
                row["fixed_start"] = s
                fixed_on.setdefault(b.batch.unit.code, []).append((s, s + row["duration"]))
            else:
                lock = locks.get(f"batch:{b.batch.pk}")
                if lock:
                    row["locked_vessel"] = next((v.code for v in vessels if v.pk == lock[1]), None)
            batch_rows.append(row)
        vessel_rows = []
        for v in vessels:
            product, clean = states[v.pk]
            caps = {c.code for c in v.capabilities.all()}
            caps.add(f"class:{v.equipment_class.name.lower()}")
            vessel_rows.append(
                {
                    "key": v.code,
                    "unit": v.pk,
                    "working_volume": float(v.working_volume_l),
                    "capabilities": sorted(caps),
                    "unavailable": [
                        [s, e]
                        for s, e in unit_windows.get(v.pk, [])
                        if _fits((s, e), fixed_on.get(v.code, []))
                    ],
                    "initial_product": product,
                    "initial_clean": clean,
                }
            )
        matrix = selectors.changeover_matrix_for(site)
        dirty, clean_hold = selectors.hold_limits(vessels)
        rules = list(matrix.rules.all()) if matrix else []
        campaign = {
            "name": site.code,
            "horizon": None,
            "vessels": vessel_rows,
            "batches": batch_rows,
            "changeovers": {
                "minor_clean": matrix.minor_clean_minutes if matrix else 60,
                "major_clean": matrix.major_clean_minutes if matrix else 240,
                "major_pairs": [
                    [r.from_product, r.to_product]
                    for r in rules
                    if r.kind == "major" and not r.is_forbidden
                ],
                "minor_pairs": [
                    [r.from_product, r.to_product]
                    for r in rules
                    if r.kind == "minor" and not r.is_forbidden
                ],
                "durations": [
                    [r.from_product, r.to_product, r.clean_minutes]
                    for r in rules
                    if r.clean_minutes is not None and not r.is_forbidden
                ],
                "forbidden": [[r.from_product, r.to_product] for r in rules if r.is_forbidden],
                "max_campaign_batches": matrix.max_campaign_batches if matrix else None,
                "max_campaign_minutes": (
                    matrix.max_campaign_hours * 60 if matrix and matrix.max_campaign_hours else None
                ),
                "dirty_hold": dirty,
                "clean_hold": clean_hold,
            },
        }
    return {
        "horizon_start": start.isoformat(),
        "horizon_hours": horizon_hours,
        "machines": machines,
        "machine_codes": [centers[pk].code for pk in machines],
        "jobs": jobs,
        "campaign": campaign,
    }


def jobshop_instance(problem: dict[str, Any]) -> Instance | None:
    if not any(j["kind"] == "order" for j in problem["jobs"]):
        return None
    jobs = []
    for j in problem["jobs"]:
        ops = [
            Operation(
                alternatives=[Alternative(m, d) for m, d in o["alternatives"]],
                fixed_start=o["fixed_start"],
                locked_machine=o["locked_machine"],
                label=o["label"],
            )
            for o in j["ops"]
        ]
        jobs.append(
            Job(
                operations=ops,
                release=j["release"],
                due=j["due"],
                weight=j["weight"],
                label=j["label"],
            )
        )
    return Instance(num_machines=len(problem["machines"]), jobs=jobs, name="work centers")


def campaign_problem(problem: dict[str, Any]) -> Any:
    from scheduling.solver import campaign as cs

    data = problem.get("campaign")
    if not data:
        return None
    ch = data["changeovers"]
    products = {b["product"] for b in data["batches"]} | {
        v["initial_product"] for v in data["vessels"] if v["initial_product"]
    }
    minor_pairs = {tuple(p) for p in ch["minor_pairs"]}
    major = {(a, b) for a in products for b in products if a != b and (a, b) not in minor_pairs}
    major |= {tuple(p) for p in ch["major_pairs"]}
    matrix = cs.ChangeoverMatrix(
        minor_clean=ch["minor_clean"],
        major_clean=ch["major_clean"],
        major=major,
        durations={(a, b): m for a, b, m in ch["durations"]},
        forbidden={tuple(p) for p in ch["forbidden"]},
        max_campaign_batches=ch["max_campaign_batches"],
        max_campaign_minutes=ch["max_campaign_minutes"],
        dirty_hold=ch["dirty_hold"],
        clean_hold=ch["clean_hold"],
    )
    vessels = [
        cs.Vessel(
            key=v["key"],
            working_volume=v["working_volume"],
            capabilities=frozenset(v["capabilities"]),
            unavailable=[tuple(w) for w in v["unavailable"]],
            initial_product=v["initial_product"],
            initial_clean=v["initial_clean"],
        )
        for v in data["vessels"]
    ]
    batches = [
        cs.CampaignBatch(
            key=b["key"],
            product=b["product"],
            volume=b["volume"],
            duration=b["duration"],
            release=b["release"],
            due=b["due"],
            weight=b["weight"],
            required_capabilities=frozenset(b["required_capabilities"]),
            fixed_vessel=b["fixed_vessel"],
            fixed_start=b["fixed_start"],
            locked_vessel=b["locked_vessel"],
        )
        for b in data["batches"]
    ]
    return cs.CampaignProblem(
        vessels=vessels,
        batches=batches,
        changeovers=matrix,
        horizon=data["horizon"],
        name=data["name"],
    )


def _validate_problem(problem: dict[str, Any]) -> None:
    """Refuse input no schedule can satisfy, naming the operation or batch (400)."""
    instance = jobshop_instance(problem)
    if instance is not None:
        instance.validate()
    cp = campaign_problem(problem)
    if cp is not None:
        from scheduling.solver import campaign as cs

        cp.validate()
        cs.dispatch_campaign(cp)  # raises InvalidInstance naming the batch it cannot place


# --- results <-> entries ---------------------------------------------------------------------


@dataclass
class _Parts:
    jobshop: JobShopSchedule | None = None
    campaign: Any = None


def _entries_for(
    schedule: Schedule,
    problem: dict[str, Any],
    parts: _Parts,
    locks: dict[str, tuple[str, int]] | None = None,
) -> list[ScheduleEntry]:
    """Entries of a result. Locked: locked in the problem, or in `locks` (the entries being
    replaced) and still on that resource."""
    start = schedule.horizon_start
    locks = locks or {}
    machines = problem["machines"]
    out: list[ScheduleEntry] = []
    if parts.jobshop is not None:
        for j, job in enumerate(problem["jobs"]):
            for k, op in enumerate(job["ops"]):
                a = parts.jobshop.assignments[j][k]
                wc_id = machines[a.machine]
                if job["kind"] == "unavailable":
                    out.append(
                        ScheduleEntry(
                            schedule=schedule,
                            kind=EntryKind.UNAVAILABLE,
                            work_center_id=wc_id,
                            key=f"off:wc:{wc_id}:{a.start}",
                            label="unavailable",
                            start=_at(start, a.start),
                            end=_at(start, a.end),
                        )
                    )
                    continue
                ref = f"op:{op['operation']}"
                out.append(
                    ScheduleEntry(
                        schedule=schedule,
                        kind=EntryKind.OPERATION,
                        work_center_id=wc_id,
                        operation_id=op["operation"],
                        key=ref,
                        label=f"{job['label'].split('/')[0]} op {op['label']}",
                        start=_at(start, a.start),
                        end=_at(start, a.end),
                        due_at=_at(start, job["due"]) if job["due"] is not None else None,
                        is_frozen=op["fixed_start"] is not None,
                        is_locked=op["fixed_start"] is None
                        and (
                            op["locked_machine"] is not None
                            or (ref in locks and locks[ref][1] == wc_id)
                        ),
                    )
                )
    data = problem.get("campaign")
    if data and parts.campaign is not None:
        units = {v["key"]: v["unit"] for v in data["vessels"]}
        rows = {b["key"]: b for b in data["batches"]}
        for key, (vessel, s, e) in parts.campaign.assignments.items():
            b = rows[key]
            ref = f"batch:{b['batch']}"
            out.append(
                ScheduleEntry(
                    schedule=schedule,
                    kind=EntryKind.BATCH,
                    unit_id=units[vessel],
                    batch_id=b["batch"],
                    key=ref,
                    label=f"{key} {b['product']}",
                    product_code=b["product"],
                    start=_at(start, s),
                    end=_at(start, e),
                    due_at=_at(start, b["due"]) if b["due"] is not None else None,
                    is_frozen=b["fixed_start"] is not None,
                    is_locked=b["fixed_start"] is None
                    and (
                        b["locked_vessel"] is not None
                        or (ref in locks and locks[ref][1] == units[vessel])
                    ),
                )
            )
        for c in parts.campaign.cleanings:
            out.append(
                ScheduleEntry(
                    schedule=schedule,
                    kind=EntryKind.CLEANING,
                    unit_id=units[c.vessel],
                    key=f"clean:{c.vessel}:{c.start}",
                    label=f"{c.kind} clean",
                    cleaning_kind=c.kind,
                    product_code=rows[c.before]["product"] if c.before in rows else "",
                    start=_at(start, c.start),
                    end=_at(start, c.end),
                )
            )
        for v in data["vessels"]:
            for s, e in v["unavailable"]:
                out.append(
                    ScheduleEntry(
                        schedule=schedule,
                        kind=EntryKind.UNAVAILABLE,
                        unit_id=v["unit"],
                        key=f"off:unit:{v['unit']}:{s}",
                        label="unavailable",
                        start=_at(start, s),
                        end=_at(start, e),
                    )
                )
    return out


def _parts_from_entries(
    schedule: Schedule, problem: dict[str, Any], entries: list[ScheduleEntry]
) -> _Parts:
    """The stored entries back as the solvers' schedules (None for a part not complete)."""
    start = schedule.horizon_start
    by_ref = {e.key: e for e in entries if e.kind in (EntryKind.OPERATION, EntryKind.BATCH)}
    parts = _Parts()
    machines = {wc: i for i, wc in enumerate(problem["machines"])}
    instance = jobshop_instance(problem)
    if instance is not None:
        rows, complete = [], True
        for job in problem["jobs"]:
            row = []
            for op in job["ops"]:
                if job["kind"] == "unavailable":
                    m, d = op["alternatives"][0]
                    row.append(Assignment(m, op["fixed_start"], op["fixed_start"] + d))
                    continue
                e = by_ref.get(f"op:{op['operation']}")
                if e is None or e.work_center_id not in machines:
                    complete = False
                    break
                row.append(
                    Assignment(
                        machines[e.work_center_id], _minutes(start, e.start), _minutes(start, e.end)
                    )
                )
            rows.append(row)
        if complete:
            parts.jobshop = JobShopSchedule(assignments=rows)
    data = problem.get("campaign")
    if data:
        from scheduling.solver import campaign as cs

        units = {v["unit"]: v["key"] for v in data["vessels"]}
        assignments = {}
        for b in data["batches"]:
            e = by_ref.get(f"batch:{b['batch']}")
            if e is None or e.unit_id not in units:
                return parts
            assignments[b["key"]] = (
                units[e.unit_id],
                _minutes(start, e.start),
                _minutes(start, e.end),
            )
        cleanings = []
        for e in sorted(
            (e for e in entries if e.kind == EntryKind.CLEANING), key=lambda e: e.start
        ):
            vessel = units.get(e.unit_id)
            s, f = _minutes(start, e.start), _minutes(start, e.end)
            on = sorted((a[1], a[2], k) for k, a in assignments.items() if a[0] == vessel)
            after = next((k for bs, be, k in reversed(on) if be <= s), None)
            before = next((k for bs, be, k in on if bs >= f), None)
            cleanings.append(cs.Cleaning(vessel, e.cleaning_kind, s, f, after, before))
        parts.campaign = cs.CampaignSchedule(assignments=assignments, cleanings=cleanings)
    return parts


def _violations(problem: dict[str, Any], parts: _Parts) -> list[str]:
    problems: list[str] = []
    instance = jobshop_instance(problem)
    if instance is not None:
        if parts.jobshop is None:
            problems.append("some operations of the work orders are not scheduled")
        else:
            problems += schedule_violations(instance, parts.jobshop)
    cp = campaign_problem(problem)
    if cp is not None:
        from scheduling.solver import campaign as cs

        if parts.campaign is None:
            problems.append("some batches are not scheduled")
        else:
            problems += cs.campaign_violations(cp, parts.campaign)
    return problems


@dataclass
class Metrics:
    makespan: int = 0
    tardiness: int = 0
    changeover: int = 0
    utilization: dict[str, float] = field(default_factory=dict)

    def objective(self, schedule: Schedule) -> int:
        return (
            schedule.tardiness_weight * self.tardiness
            + schedule.makespan_weight * self.makespan
            + schedule.changeover_weight * self.changeover
        )


def _metrics(problem: dict[str, Any], parts: _Parts) -> Metrics:
    busy: dict[str, int] = {}
    end = tard = change = 0
    if parts.jobshop is not None:
        codes = problem["machine_codes"]
        for job, row in zip(problem["jobs"], parts.jobshop.assignments, strict=True):
            if job["kind"] != "order" or not row:
                continue
            for a in row:
                busy[codes[a.machine]] = busy.get(codes[a.machine], 0) + a.end - a.start
                end = max(end, a.end)
            if job["due"] is not None:
                tard += job["weight"] * max(0, row[-1].end - job["due"])
    data = problem.get("campaign")
    if data and parts.campaign is not None:
        rows = {b["key"]: b for b in data["batches"]}
        for key, (vessel, s, e) in parts.campaign.assignments.items():
            busy[vessel] = busy.get(vessel, 0) + e - s
            end = max(end, e)
            b = rows[key]
            if b["due"] is not None:
                tard += b["weight"] * max(0, e - b["due"])
        change = sum(c.end - c.start for c in parts.campaign.cleanings)
    return Metrics(
        makespan=end,
        tardiness=tard,
        changeover=change,
        utilization={k: round(v / end, 3) if end else 0.0 for k, v in sorted(busy.items())},
    )


def _store(
    schedule_id: int, problem: dict[str, Any], parts: _Parts, *, bound: int | None, elapsed: float
) -> bool:
    """Check and store a (best so far) schedule; False (nothing written) when it is not
    feasible or the schedule is no longer being solved."""
    problems = _violations(problem, parts)
    if problems:
        logger.error("schedule %s: infeasible result refused: %s", schedule_id, problems[:3])
        return False
    with transaction.atomic():
        schedule = _lock(schedule_id)
        if schedule.status != ScheduleStatus.PROPOSED:
            return False
        metrics = _metrics(problem, parts)
        locks = _locks_of(schedule)
        schedule.entries.all().delete()
        ScheduleEntry.objects.bulk_create(_entries_for(schedule, problem, parts, locks))
        schedule.makespan_minutes = metrics.makespan
        schedule.tardiness_minutes = metrics.tardiness
        schedule.changeover_minutes = metrics.changeover
        schedule.utilization = metrics.utilization
        schedule.best_objective = metrics.objective(schedule)
        schedule.objective_bound = bound
        schedule.elapsed_seconds = round(elapsed, 2)
        schedule.solutions_found += 1
        schedule.save(
            update_fields=[
                "makespan_minutes",
                "tardiness_minutes",
                "changeover_minutes",
                "utilization",
                "best_objective",
                "objective_bound",
                "elapsed_seconds",
                "solutions_found",
            ]
        )
    return True


# --- create, solve, stop ---------------------------------------------------------------------


def _next_number() -> str:
    return next_number(Schedule, "number", "SCH-")


@transaction.atomic
def schedule_create(
    *,
    actor: Any,
    site: Site,
    note: str = "",
    tardiness_weight: int = 10,
    makespan_weight: int = 1,
    changeover_weight: int = 1,
    time_limit_seconds: int = 10,
    horizon_hours: int = 168,
    horizon_start: datetime | None = None,
) -> Schedule:
    """A proposed schedule of `site`, its problem built now from the released demand (warm
    start and locks from the published schedule); queued for solving. Input no schedule can
    satisfy is refused (400, naming the operation or batch) and nothing is written."""
    _require_planner(actor, "create schedules")
    if not 1 <= time_limit_seconds <= MAX_TIME_LIMIT:
        raise InvalidInput(f"The time limit must be 1 to {MAX_TIME_LIMIT} seconds.")
    if not 1 <= horizon_hours <= 24 * 90:
        raise InvalidInput("The horizon must be 1 hour to 90 days.")
    if tardiness_weight + makespan_weight + changeover_weight == 0:
        raise InvalidInput("At least one objective weight must be above zero.")
    published = selectors.schedule_published(site)
    start = (horizon_start or timezone.now()).replace(second=0, microsecond=0)
    problem = build_problem(
        site=site, horizon_start=start, horizon_hours=horizon_hours, locks=_locks_of(published)
    )
    _validate_problem(problem)
    reason = "schedule created"
    with acting_as(actor, reason=reason):
        schedule = Schedule(
            number=_next_number(),
            site=site,
            note=note.strip()[:200],
            horizon_start=start,
            horizon_hours=horizon_hours,
            tardiness_weight=tardiness_weight,
            makespan_weight=makespan_weight,
            changeover_weight=changeover_weight,
            time_limit_seconds=time_limit_seconds,
            based_on=published,
            problem=problem,
            solver_status=SolverStatus.QUEUED,
            created_by=actor,
        )
        schedule._history_user, schedule._change_reason = actor, reason  # type: ignore[attr-defined]
        schedule.save()
        _event(
            schedule,
            ScheduleEventType.CREATED,
            actor,
            based_on=published.number if published else None,
        )
        _event(schedule, ScheduleEventType.SOLVE_REQUESTED, actor, time_limit=time_limit_seconds)
    return schedule


@transaction.atomic
def schedule_request_solve(
    *,
    actor: Any,
    schedule: Schedule,
    time_limit_seconds: int | None = None,
    tardiness_weight: int | None = None,
    makespan_weight: int | None = None,
    changeover_weight: int | None = None,
) -> Schedule:
    """Re-optimize a proposed schedule: its problem is rebuilt now (what started since is
    frozen, locked entries stay on their resource), warm-started from its current entries."""
    _require_planner(actor, "re-optimize schedules")
    schedule = _lock(schedule)
    _ensure_proposed(schedule, "re-optimized")
    _ensure_idle(schedule, "re-optimize")
    for name, value in (
        ("time_limit_seconds", time_limit_seconds),
        ("tardiness_weight", tardiness_weight),
        ("makespan_weight", makespan_weight),
        ("changeover_weight", changeover_weight),
    ):
        if value is not None:
            if value < 0 or (name == "time_limit_seconds" and not 1 <= value <= MAX_TIME_LIMIT):
                raise InvalidInput(f"{name.replace('_', ' ')} out of range: {value}")
            setattr(schedule, name, value)
    start = timezone.now().replace(second=0, microsecond=0)
    problem = build_problem(
        site=schedule.site,
        horizon_start=start,
        horizon_hours=schedule.horizon_hours,
        locks=_locks_of(schedule),
    )
    _validate_problem(problem)
    with acting_as(actor, reason="re-optimize"):
        schedule.problem = problem
        schedule.horizon_start = start
        schedule.solver_status = SolverStatus.QUEUED
        schedule.stop_requested = False
        schedule.solver_message = ""
        _save(
            schedule,
            actor,
            "re-optimize",
            [
                "problem",
                "horizon_start",
                "solver_status",
                "stop_requested",
                "solver_message",
                "time_limit_seconds",
                "tardiness_weight",
                "makespan_weight",
                "changeover_weight",
            ],
        )
        _event(
            schedule,
            ScheduleEventType.SOLVE_REQUESTED,
            actor,
            time_limit=schedule.time_limit_seconds,
        )
    return schedule


@transaction.atomic
def schedule_stop(*, actor: Any, schedule: Schedule) -> Schedule:
    """Ask a running solve to stop: it keeps the best schedule found so far."""
    _require_planner(actor, "stop a solve")
    schedule = _lock(schedule)
    if schedule.solver_status not in SOLVER_BUSY:
        raise Conflict(f"{schedule.number} is not being solved.", code="schedule_not_solving")
    with acting_as(actor, reason="stop the solve"):
        schedule.stop_requested = True
        _save(schedule, actor, "stop requested", ["stop_requested"])
        _event(schedule, ScheduleEventType.STOP_REQUESTED, actor)
    event = _STOP_EVENTS.get(schedule.pk)
    if event is not None:
        event.set()
    return schedule


def _hint_parts(schedule: Schedule, problem: dict[str, Any]) -> _Parts:
    """The warm start: the schedule's own entries, else those of the schedule it is based on
    (the published one), re-timed to the new horizon start."""
    source = schedule if schedule.entries.exists() else schedule.based_on
    if source is None:
        return _Parts()
    shift = _minutes(source.horizon_start, schedule.horizon_start)
    entries = list(source.entries.all())
    fake = Schedule(horizon_start=source.horizon_start)
    parts = _parts_from_entries(fake, problem, entries)
    if parts.jobshop is not None:
        parts.jobshop = JobShopSchedule(
            assignments=[
                row
                if job["kind"] == "unavailable"
                else [Assignment(a.machine, a.start - shift, a.end - shift) for a in row]
                for job, row in zip(problem["jobs"], parts.jobshop.assignments, strict=True)
            ]
        )
    if parts.campaign is not None:
        from scheduling.solver import campaign as cs

        rows = {b["key"]: b for b in problem["campaign"]["batches"]}
        assignments = {
            k: (v, max(0, s - shift), max(0, s - shift) + rows[k]["duration"])
            for k, (v, s, _e) in parts.campaign.assignments.items()
        }
        for b in problem["campaign"]["batches"]:
            if b["fixed_start"] is not None:
                assignments[b["key"]] = (
                    b["fixed_vessel"],
                    b["fixed_start"],
                    b["fixed_start"] + b["duration"],
                )
        parts.campaign = cs.CampaignSchedule(
            assignments=assignments,
            cleanings=derive_cleanings(campaign_problem(problem), assignments),
        )
    return parts


class _Run:
    """What the solver thread shares with the thread that writes progress to the database."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.parts = _Parts()
        self.bound: int | None = None
        self.dirty = False
        self.error: BaseException | None = None
        self.statuses: list[str] = []

    def update(self, *, jobshop: Any = None, campaign: Any = None, bound: Any = None) -> None:
        with self.lock:
            if jobshop is not None:
                self.parts.jobshop = jobshop
            if campaign is not None:
                self.parts.campaign = campaign
            if bound is not None:
                self.bound = round(bound)
            self.dirty = True

    def take(self) -> tuple[_Parts, int | None] | None:
        with self.lock:
            if not self.dirty:
                return None
            self.dirty = False
            return _Parts(self.parts.jobshop, self.parts.campaign), self.bound


def _run_solvers(
    schedule: Schedule, problem: dict[str, Any], hint: _Parts, run: _Run, stop: threading.Event
) -> None:
    try:
        instance = jobshop_instance(problem)
        cp = campaign_problem(problem)
        objective = Objective(
            makespan_weight=schedule.makespan_weight, tardiness_weight=schedule.tardiness_weight
        )
        # a feasible schedule of both parts first (greedy), so progress is complete from the start
        from scheduling.solver import campaign as cs

        first_js = None
        if instance is not None:
            first_js, _src = greedy_schedule(instance, objective, time_budget=0.2)
        first_cp = cs.dispatch_campaign(cp, "edd") if cp is not None else None
        run.update(jobshop=first_js, campaign=first_cp)
        total = float(schedule.time_limit_seconds)
        share = 0.5 if instance is not None and cp is not None else 1.0
        if instance is not None and not stop.is_set():
            result = solve(
                instance,
                objective,
                time_limit=max(0.5, total * share),
                start=hint.jobshop,
                on_progress=lambda p: run.update(jobshop=p.schedule, bound=p.objective_bound),
                progress_schedules=True,
                stop=stop,
            )
            run.update(jobshop=result.schedule, bound=result.objective_bound)
            run.statuses.append(f"work centers: {result.status}")
        if cp is not None and not stop.is_set():
            weights = {
                "tardiness": schedule.tardiness_weight,
                "makespan": schedule.makespan_weight,
                "changeover": schedule.changeover_weight,
            }

            def on_campaign(p: Any) -> None:
                sched = getattr(p, "schedule", None)
                if sched is not None:
                    run.update(campaign=sched)

            res = cs.solve_campaign(
                cp,
                time_limit=max(0.5, total * share),
                weights=weights,
                hint=hint.campaign,
                progress=on_campaign,
                stop=stop,
            )
            run.update(campaign=res.schedule)
            run.statuses.append(f"vessels: {res.status}")
    except BaseException as exc:  # reported by the writing thread
        run.error = exc


def schedule_solve(
    *, schedule_id: int, actor: Any, stop: threading.Event | None = None
) -> Schedule:
    """Solve a queued schedule (the Celery task calls this): the solvers run in a thread; this
    thread writes each improving schedule (checked) and the progress to the database every
    half second and turns the planner's Stop (`stop_requested`) into the solver's stop event.
    Started operations and batches are frozen, locked entries keep their resource."""
    _require_planner(actor, "solve schedules")
    with transaction.atomic():
        schedule = _lock(schedule_id)
        _ensure_proposed(schedule, "solved")
        if schedule.solver_status != SolverStatus.QUEUED:
            raise Conflict(f"{schedule.number} is not queued for solving.", code="not_queued")
        with acting_as(actor, reason="solve started"):
            schedule.solver_status = SolverStatus.RUNNING
            schedule.solutions_found = 0
            _save(schedule, actor, "solve started", ["solver_status", "solutions_found"])
    problem = schedule.problem
    hint = _hint_parts(schedule, problem)
    stop = stop or threading.Event()
    _STOP_EVENTS[schedule.pk] = stop
    run = _Run()
    t0 = time.monotonic()
    worker = threading.Thread(
        target=_run_solvers, args=(schedule, problem, hint, run, stop), daemon=True
    )
    stored = 0
    try:
        with acting_as(actor, reason="solve progress"):
            worker.start()
            while worker.is_alive():
                worker.join(PROGRESS_WRITE_SECONDS)
                taken = run.take()
                if taken is not None and _store(
                    schedule.pk, problem, taken[0], bound=taken[1], elapsed=time.monotonic() - t0
                ):
                    stored += 1
                if (
                    not stop.is_set()
                    and Schedule.objects.filter(pk=schedule.pk, stop_requested=True).exists()
                ):
                    stop.set()
            taken = run.take()
            if taken is not None and _store(
                schedule.pk, problem, taken[0], bound=taken[1], elapsed=time.monotonic() - t0
            ):
                stored += 1
    finally:
        _STOP_EVENTS.pop(schedule.pk, None)
    with transaction.atomic():
        schedule = _lock(schedule.pk)
        if not stored:
            status = SolverStatus.FAILED
            message = (
                str(getattr(run.error, "detail", run.error))
                if run.error is not None
                else "no feasible schedule was found"
            )
            event = ScheduleEventType.SOLVE_FAILED
        else:
            status = SolverStatus.STOPPED if stop.is_set() else SolverStatus.DONE
            message = "; ".join(run.statuses)
            if run.error is not None:
                message += f" (after an error: {run.error})"
            event = ScheduleEventType.SOLVE_FINISHED
        with acting_as(actor, reason="solve finished"):
            schedule.solver_status = status
            schedule.solver_message = message[:2000]
            schedule.elapsed_seconds = round(time.monotonic() - t0, 2)
            _save(
                schedule,
                actor,
                "solve finished",
                ["solver_status", "solver_message", "elapsed_seconds"],
            )
            _event(
                schedule,
                event,
                actor,
                status=status,
                objective=schedule.best_objective,
                makespan=schedule.makespan_minutes,
                tardiness=schedule.tardiness_minutes,
                changeover=schedule.changeover_minutes,
                seconds=schedule.elapsed_seconds,
            )
    if run.error is not None and not isinstance(run.error, Exception):
        raise run.error
    return schedule


# --- the planner's changes -------------------------------------------------------------------


def schedule_conflicts(schedule: Schedule) -> tuple[list[str], dict[int, str]]:
    """The hard-rule violations of the stored entries (re-checked against the schedule's
    problem): the sentences, and per entry id the sentence that names it."""
    if not schedule.problem:
        return [], {}
    entries = list(schedule.entries.select_related("work_center", "unit"))
    try:
        problems = _violations(
            schedule.problem, _parts_from_entries(schedule, schedule.problem, entries)
        )
    except InvalidInput as exc:
        problems = [exc.detail]
    blamed = _blame(schedule.problem, entries, problems)
    if schedule.status != ScheduleStatus.SUPERSEDED:
        for pk, sentence in _plant_changes(schedule, entries).items():
            problems.append(sentence)
            blamed.setdefault(pk, sentence)
    return problems, blamed


def _plant_changes(schedule: Schedule, entries: list[ScheduleEntry]) -> dict[int, str]:
    """What the plant changed since the solve: a unit out of service, or maintenance or a
    shift window now overlapping a scheduled entry."""
    start = schedule.horizon_start
    by_wc, by_unit = selectors.unavailability(schedule.site, start, schedule.horizon_hours)
    out = {}
    for e in entries:
        if e.kind == EntryKind.UNAVAILABLE or e.is_frozen:
            continue
        if e.unit_id and e.unit.status == "out_of_service":
            out[e.pk] = f"{e.unit.code} is out of service: {e.label} cannot run there"
            continue
        windows = (
            by_wc.get(e.work_center_id, []) if e.work_center_id else by_unit.get(e.unit_id, [])
        )
        s, f = _minutes(start, e.start), _minutes(start, e.end)
        for ws, we in windows:
            if s < we and ws < f:
                resource = (e.work_center or e.unit).code
                out[e.pk] = (
                    f"{resource}: {e.label} falls in a window where {resource} is now "
                    f"unavailable ({_at(start, ws):%a %H:%M}-{_at(start, we):%a %H:%M})"
                )
                break
    return out


def _blame(
    problem: dict[str, Any], entries: list[ScheduleEntry], problems: list[str]
) -> dict[int, str]:
    names: dict[int, list[str]] = {}
    jobs_by_op = {}
    for job in problem["jobs"]:
        for k, op in enumerate(job["ops"]):
            if op["operation"]:
                jobs_by_op[op["operation"]] = f"job {job['label']} operation {op['label'] or k}"
    for e in entries:
        if e.operation_id and e.operation_id in jobs_by_op:
            names[e.pk] = [jobs_by_op[e.operation_id]]
        elif e.batch_id:
            names[e.pk] = [e.label.split(" ")[0]]
    out = {}
    for pk, candidates in names.items():
        for sentence in problems:
            if any(c and c in sentence for c in candidates):
                out[pk] = sentence
                break
    return out


def _free(windows: list[tuple[int, int]], s: int, e: int) -> bool:
    return all(e <= ws or s >= we for ws, we in windows)


def derive_cleanings(cp: Any, assignments: dict[str, tuple[str, int, int]]) -> list:
    """The cleanings a given placement of batches needs (after the planner moved a batch), by
    the rules of `scheduling.solver.campaign`: before each batch the kind its predecessor (or
    the vessel's state) calls for, major when a minor one would overrun the campaign limits;
    placed right after the previous batch (dirty hold), else right before the next one; a
    minor re-clean before the batch when the clean hold would otherwise expire."""
    from scheduling.solver import campaign as cs

    m = cp.changeovers
    batches = {b.key: b for b in cp.batches}
    out = []
    for v in cp.vessels:
        runs = sorted(
            ((s, e, batches[k]) for k, (vk, s, e) in assignments.items() if vk == v.key),
            key=lambda t: (t[0], t[1], t[2].key),
        )
        previous, previous_end = None, 0
        camp_batches, camp_start = 0, 0
        for s, e, b in runs:
            needs = previous is not None or (not v.initial_clean and b.fixed_start is None)
            new_campaign = previous is None
            if needs:
                before = previous.product if previous is not None else v.initial_product
                kind = m.needed_kind(before, b.product)
                if kind == cs.MINOR and (
                    (
                        m.max_campaign_batches is not None
                        and camp_batches + 1 > m.max_campaign_batches
                    )
                    or (
                        m.max_campaign_minutes is not None
                        and e - camp_start > m.max_campaign_minutes
                    )
                ):
                    kind = cs.MAJOR
                d = m.minutes(before, b.product, kind)
                early = previous_end if previous is not None else s - d
                cs_ = early if _free(v.unavailable, early, early + d) else s - d
                out.append(
                    cs.Cleaning(
                        v.key, kind, cs_, cs_ + d, previous.key if previous else None, b.key
                    )
                )
                if m.clean_hold is not None and s - (cs_ + d) > m.clean_hold:
                    r = s - m.minor_clean
                    out.append(cs.Cleaning(v.key, cs.MINOR, r, s, None, b.key))
                new_campaign = new_campaign or kind == cs.MAJOR
            if new_campaign:
                camp_batches, camp_start = 0, s
            camp_batches += 1
            previous, previous_end = b, e
    return out


@transaction.atomic
def schedule_entry_move(
    *,
    actor: Any,
    entry: ScheduleEntry,
    start: datetime,
    work_center: WorkCenter | None = None,
    unit: Unit | None = None,
) -> tuple[ScheduleEntry, list[str]]:
    """Move an operation or batch of a proposed schedule to `start` (and, optionally, another
    work center or vessel). The whole schedule is re-validated: a move that breaks a hard
    rule (overlap, precedence, volume, capability, forbidden sequence, hold time,
    unavailability) is refused (409) and nothing is written. A moved entry is locked to its
    resource. Returns the entry and the warnings (a due date now missed)."""
    _require_planner(actor, "move schedule entries")
    schedule = _lock(entry.schedule_id)
    _ensure_proposed(schedule, "changed")
    _ensure_idle(schedule, "move entries")
    entry = ScheduleEntry.objects.select_for_update().get(pk=entry.pk, schedule=schedule)
    if timezone.is_naive(start):
        raise InvalidInput("The new start must carry a time zone.")
    if entry.kind not in (EntryKind.OPERATION, EntryKind.BATCH):
        raise InvalidInput("Only operations and batches are moved; cleanings follow the batches.")
    if entry.is_frozen:
        raise Conflict(f"{entry.label} has started: it cannot be moved.", code="entry_frozen")
    start = start.replace(second=0, microsecond=0)
    problem = schedule.problem
    entries = list(schedule.entries.all())
    target = next(e for e in entries if e.pk == entry.pk)
    duration = target.end - target.start
    if entry.kind == EntryKind.OPERATION:
        wc_id = work_center.pk if work_center else target.work_center_id
        op = next(
            o for j in problem["jobs"] for o in j["ops"] if o["operation"] == target.operation_id
        )
        machines = problem["machines"]
        allowed = {machines[m]: d for m, d in op["alternatives"]}
        if wc_id not in allowed:
            raise Conflict(f"{entry.label} may not run on that work center.", code="move_refused")
        if entry.is_locked and wc_id != target.work_center_id:
            raise Conflict(
                f"{entry.label} is locked to its work center: unlock it first.", code="entry_locked"
            )
        duration = timedelta(minutes=allowed[wc_id])
        target.work_center_id = wc_id
    else:
        unit_id = unit.pk if unit else target.unit_id
        if entry.is_locked and unit_id != target.unit_id:
            raise Conflict(
                f"{entry.label} is locked to its vessel: unlock it first.", code="entry_locked"
            )
        target.unit_id = unit_id
    target.start, target.end = start, start + duration
    parts = _parts_from_entries(schedule, problem, entries)
    if entry.kind == EntryKind.BATCH and parts.campaign is not None:
        parts.campaign.cleanings = derive_cleanings(
            campaign_problem(problem), parts.campaign.assignments
        )
    problems = _violations(problem, parts)
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise Conflict(
            f"{entry.label} cannot move there: " + "; ".join(problems[:3]) + more,
            code="move_breaks_rule",
        )
    warnings = []
    if target.due_at and target.end > target.due_at:
        late = _minutes(target.due_at, target.end)
        warnings.append(f"{entry.label} now ends {late} min after its due date.")
    reason = f"{entry.label} moved"
    with acting_as(actor, reason=reason):
        old = {"start": entry.start.isoformat(), "resource": entry.resource_key}
        if entry.kind == EntryKind.BATCH:
            metrics = _metrics(problem, parts)
            locks = _locks_of(schedule)
            schedule.entries.all().delete()
            ScheduleEntry.objects.bulk_create(_entries_for(schedule, problem, parts, locks))
            moved = schedule.entries.get(key=target.key)
            moved.is_locked = True
            moved.save(update_fields=["is_locked"])
        else:
            target.is_locked = True
            target.save(update_fields=["work_center", "start", "end", "is_locked"])
            moved = target
            metrics = _metrics(problem, parts)
        schedule.makespan_minutes = metrics.makespan
        schedule.tardiness_minutes = metrics.tardiness
        schedule.changeover_minutes = metrics.changeover
        schedule.utilization = metrics.utilization
        schedule.best_objective = metrics.objective(schedule)
        _save(
            schedule,
            actor,
            reason,
            [
                "makespan_minutes",
                "tardiness_minutes",
                "changeover_minutes",
                "utilization",
                "best_objective",
            ],
        )
        _event(
            schedule,
            ScheduleEventType.ENTRY_MOVED,
            actor,
            entry=moved.key,
            before=old,
            after={"start": moved.start.isoformat(), "resource": moved.resource_key},
            warnings=warnings,
        )
    return moved, warnings


@transaction.atomic
def schedule_entry_lock(*, actor: Any, entry: ScheduleEntry, locked: bool = True) -> ScheduleEntry:
    """Lock (or unlock) an operation or batch of a proposed schedule to its resource: a
    re-optimization keeps it there."""
    _require_planner(actor, "lock schedule entries")
    schedule = _lock(entry.schedule_id)
    _ensure_proposed(schedule, "changed")
    _ensure_idle(schedule, "lock entries")
    entry = ScheduleEntry.objects.select_for_update().get(pk=entry.pk, schedule=schedule)
    if entry.kind not in (EntryKind.OPERATION, EntryKind.BATCH):
        raise InvalidInput("Only operations and batches are locked.")
    if entry.is_locked == locked:
        return entry
    with acting_as(actor, reason="lock" if locked else "unlock"):
        entry.is_locked = locked
        entry.save(update_fields=["is_locked"])
        _event(
            schedule,
            ScheduleEventType.ENTRY_LOCKED if locked else ScheduleEventType.ENTRY_UNLOCKED,
            actor,
            entry=entry.key,
        )
    return entry


@transaction.atomic
def schedule_publish(*, actor: Any, schedule: Schedule) -> Schedule:
    """Publish a proposed schedule: it becomes the dispatch lists of the site's work centers
    and units; the previously published one becomes superseded. Refused while solving, when
    empty, or when a hard rule is broken."""
    _require_planner(actor, "publish schedules")
    schedule = _lock(schedule)
    _ensure_proposed(schedule, "published")
    _ensure_idle(schedule, "publish")
    if not schedule.entries.exclude(kind=EntryKind.UNAVAILABLE).exists():
        raise Conflict(
            f"{schedule.number} has no scheduled operation or batch.", code="schedule_empty"
        )
    problems, _ = schedule_conflicts(schedule)
    if problems:
        raise Conflict(
            f"{schedule.number} breaks a rule: " + "; ".join(problems[:3]),
            code="schedule_infeasible",
        )
    now = timezone.now()
    with acting_as(actor, reason=f"{schedule.number} published"):
        previous = (
            Schedule.objects.select_for_update()
            .filter(site=schedule.site, status=ScheduleStatus.PUBLISHED)
            .first()
        )
        if previous is not None:
            previous.status = ScheduleStatus.SUPERSEDED
            previous.superseded_at = now
            _save(previous, actor, f"superseded by {schedule.number}", ["status", "superseded_at"])
            _event(previous, ScheduleEventType.SUPERSEDED, actor, by=schedule.number)
        schedule.status = ScheduleStatus.PUBLISHED
        schedule.published_at = now
        schedule.published_by = actor
        _save(schedule, actor, "published", ["status", "published_at", "published_by"])
        _event(
            schedule,
            ScheduleEventType.PUBLISHED,
            actor,
            supersedes=previous.number if previous else None,
            makespan=schedule.makespan_minutes,
            tardiness=schedule.tardiness_minutes,
            changeover=schedule.changeover_minutes,
        )
    return schedule


# --- master data (back office) ---------------------------------------------------------------


@transaction.atomic
def changeover_rule_set(
    *,
    actor: Any,
    matrix: ChangeoverMatrix,
    from_product: str,
    to_product: str,
    kind: str = ChangeoverRule.Kind.MAJOR,
    clean_minutes: int | None = None,
    is_forbidden: bool = False,
) -> ChangeoverRule:
    """Create or correct the rule of one from → to product pair (the old values stay in the
    audit trail and the rule's history)."""
    _require_planner(actor, "change the changeover matrix")
    from_product, to_product = from_product.strip(), to_product.strip()
    if not from_product or not to_product:
        raise InvalidInput("Give both products of the sequence.")
    if kind not in ChangeoverRule.Kind.values:
        raise InvalidInput(f"Unknown cleaning kind {kind!r}.")
    if clean_minutes is not None and not 0 <= clean_minutes <= 7 * 24 * 60:
        raise InvalidInput("Cleaning minutes must be 0 to one week.")
    rule = (
        ChangeoverRule.objects.select_for_update()
        .filter(matrix=matrix, from_product=from_product, to_product=to_product)
        .first()
    ) or ChangeoverRule(matrix=matrix, from_product=from_product, to_product=to_product)
    reason = f"changeover {from_product} -> {to_product} set"
    with acting_as(actor, reason=reason):
        rule.kind, rule.clean_minutes, rule.is_forbidden = kind, clean_minutes, is_forbidden
        rule._history_user, rule._change_reason = actor, reason  # type: ignore[attr-defined]
        rule.save()
    return rule


@transaction.atomic
def demand_priority_set(
    *,
    actor: Any,
    batch: Any = None,
    work_order: Any = None,
    due_at: datetime | None = None,
    priority: int = 1,
    duration_minutes: int | None = None,
) -> DemandPriority:
    """The planner's due date, priority and (batches) duration of one order."""
    _require_planner(actor, "set order priorities")
    if (batch is None) == (work_order is None):
        raise InvalidInput("Give either a batch order or a work order.")
    if not 1 <= priority <= 10:
        raise InvalidInput("The priority is 1 (normal) to 10.")
    if duration_minutes is not None and not 1 <= duration_minutes <= 30 * 24 * 60:
        raise InvalidInput("A batch lasts 1 minute to 30 days.")
    if work_order is not None and duration_minutes is not None:
        raise InvalidInput("A work order's time comes from its routing, not from a duration.")
    if due_at is not None and timezone.is_naive(due_at):
        raise InvalidInput("The due date must carry a time zone.")
    found = DemandPriority.objects.select_for_update().filter(
        batch=batch, work_order=work_order
    ).first() or DemandPriority(batch=batch, work_order=work_order)
    reason = f"priority of {batch or work_order} set"
    with acting_as(actor, reason=reason):
        found.due_at, found.priority, found.duration_minutes = due_at, priority, duration_minutes
        found._history_user, found._change_reason = actor, reason  # type: ignore[attr-defined]
        found.save()
    return found
