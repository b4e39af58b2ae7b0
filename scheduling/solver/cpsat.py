"""The CP-SAT model of the (flexible) job shop.

One interval per operation on each allowed machine (optional when there is more than one, with
exactly one chosen), no-overlap per machine, precedence inside a job, releases, frozen starts,
locked machines, due dates. The objective is `makespan_weight * makespan +
tardiness_weight * sum(weight_j * tardiness_j)`.

What makes it better than a plain model given the same time and cores:
- a greedy start (several dispatching rules, the best kept) or the current schedule is given as
  a hint, and for a pure makespan objective its makespan is the horizon;
- every start is bounded by its head (release + minimal predecessors) and its tail
  (minimal successors before the horizon); the makespan is bounded below by the job and
  machine bounds;
- identical jobs are ordered (symmetry breaking);
- for flexible instances a redundant cumulative over all operations (capacity = machines);
- tuned parameters (see `tuned_parameters`);
- for flexible instances with a makespan objective, a large-neighbourhood search
  (`lns.improve`) after the full model: the full search runs for at most `full_share` of the
  time and is cut short once it has found nothing for `stall_share` of the time; then CP-SAT
  re-solves small relaxed parts of the best schedule in two threads until the time is up (on
  mk01-mk10 the full search stalls early while the LNS keeps improving; on the classic job
  shops the full search is better and proves optima, so they keep it alone).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ortools.sat.python import cp_model

from scheduling.solver.bounds import heads_and_tails, makespan_lower_bound
from scheduling.solver.feasibility import check_schedule, schedule_violations
from scheduling.solver.greedy import greedy_schedule
from scheduling.solver.instance import (
    Assignment,
    Instance,
    InvalidInstance,
    Objective,
    Schedule,
    ScheduleMetrics,
    objective_value,
    schedule_metrics,
)
from scheduling.solver.lns import BuiltModel
from scheduling.solver.lns import improve as lns_improve


class NoScheduleFound(InvalidInstance):
    code = "no_schedule_found"


@dataclass
class Progress:
    """One improvement found during the search."""

    wall_time: float
    objective: int
    makespan: int
    objective_bound: float
    schedule: Schedule | None = None


@dataclass
class SolveResult:
    status: str
    """"optimal" (proven), "feasible" (the best found within the limit)."""
    schedule: Schedule
    objective: int
    makespan: int
    lower_bound: int
    """A proven lower bound on the makespan."""
    objective_bound: int
    metrics: ScheduleMetrics
    wall_time: float
    start_makespan: int | None
    start_source: str
    stopped: bool = False
    progress: list[Progress] = field(default_factory=list)


def tuned_parameters(*, time_limit: float, num_workers: int, flexible: bool) -> dict:
    """Measured on this 2-core machine (5 s runs on ft10, la19, la24, la27, la38, mk02, mk06,
    mk10): dynamic precedences in the disjunctive propagator and, with 2 workers, the
    full-problem worker without LP ("no_lp") next to the interleaved LNS worker gave the best
    makespans on all of them (la38 1217 vs 1282, la27 1266 vs 1323, mk06 67 vs 75 with the
    default full worker) and proved la19 optimal in 3.6 s. Linearization level 0, objective
    LB search, interleaved search and exploit_all_precedences were worse."""
    params: dict = {
        "max_time_in_seconds": float(time_limit),
        "num_workers": num_workers,
        "use_dynamic_precedence_in_disjunctive": True,
    }
    if num_workers == 2:
        params["subsolvers"] = ["no_lp"]
    return params


class _Callback(cp_model.CpSolverSolutionCallback):
    def __init__(self, build, makespan_var, on_progress, want_schedule, stop, t0):
        super().__init__()
        self._t0 = t0
        self.last_improvement = time.monotonic()
        self._build = build
        self._makespan = makespan_var
        self._on_progress = on_progress
        self._want_schedule = want_schedule
        self._stop = stop
        self.progress: list[Progress] = []

    def on_solution_callback(self) -> None:
        self.last_improvement = time.monotonic()
        p = Progress(
            wall_time=self.last_improvement - self._t0,
            objective=round(self.objective_value),
            makespan=int(self.value(self._makespan)),
            objective_bound=self.best_objective_bound,
            schedule=self._build(self.value) if self._want_schedule else None,
        )
        self.progress.append(p)
        if self._on_progress is not None:
            self._on_progress(p)
        if self._stop is not None and self._stop.is_set():
            self.stop_search()


def _identical_jobs(instance: Instance) -> list[list[int]]:
    groups: dict[tuple, list[int]] = {}
    for j, job in enumerate(instance.jobs):
        if any(
            op.fixed_start is not None or op.locked_machine is not None for op in job.operations
        ):
            continue
        key = (
            job.release,
            job.due,
            job.weight,
            tuple((op.release, tuple(op.alternatives)) for op in job.operations),
        )
        groups.setdefault(key, []).append(j)
    return [g for g in groups.values() if len(g) > 1 and instance.jobs[g[0]].operations]


def build_model(
    instance: Instance,
    objective: Objective,
    warm: Schedule | None,
    *,
    lower: int,
    redundant_cumulative: bool | None = None,
) -> BuiltModel:
    """The full CP-SAT model (hinted with `warm` when given)."""
    heads, tails = heads_and_tails(instance)
    max_total = max(
        [job.release for job in instance.jobs]
        + [op.release for _, _, _, op in instance.operations()]
        + [op.fixed_start or 0 for _, _, _, op in instance.operations()]
    ) + sum(max(a.duration for a in op.allowed()) for _, _, _, op in instance.operations())
    if warm is not None and objective.makespan_only:
        horizon = warm.makespan
    else:
        horizon = max(max_total, warm.makespan if warm else 0)

    model = cp_model.CpModel()
    starts: list[list] = []
    ends: list[list] = []
    choices: list[list[list[tuple[int, int, object]]]] = []  # [j][k] -> (machine, dur, literal)
    per_machine: dict[int, list] = {}
    all_intervals, all_demands = [], []
    for j, job in enumerate(instance.jobs):
        js, je, jc = [], [], []
        for k, op in enumerate(job.operations):
            allowed = op.allowed()
            dmin = min(a.duration for a in allowed)
            dmax = max(a.duration for a in allowed)
            lo = heads[j][k]
            hi = horizon - tails[j][k] - dmin
            if op.fixed_start is not None:
                lo = hi = op.fixed_start
            if hi < lo:
                hi = lo  # the makespan bound will make it infeasible only if truly so
            s = model.new_int_var(lo, hi, f"s{j}_{k}")
            e = model.new_int_var(lo + dmin, hi + dmax, f"e{j}_{k}")
            opts = []
            if len(allowed) == 1:
                a = allowed[0]
                iv = model.new_interval_var(s, a.duration, e, f"i{j}_{k}")
                per_machine.setdefault(a.machine, []).append(iv)
                opts.append((a.machine, a.duration, True))
                all_intervals.append(iv)
            else:
                lits = []
                for a in allowed:
                    lit = model.new_bool_var(f"x{j}_{k}_{a.machine}")
                    iv = model.new_optional_interval_var(
                        s, a.duration, e, lit, f"i{j}_{k}_{a.machine}"
                    )
                    per_machine.setdefault(a.machine, []).append(iv)
                    opts.append((a.machine, a.duration, lit))
                    lits.append(lit)
                model.add_exactly_one(lits)
                model.add(
                    e == s + sum(a.duration * lit for a, lit in zip(allowed, lits, strict=True))
                )
                if dmin != dmax:
                    d = model.new_int_var(dmin, dmax, f"d{j}_{k}")
                    model.add(d == e - s)
                    all_intervals.append(model.new_interval_var(s, d, e, f"m{j}_{k}"))
                else:
                    all_intervals.append(model.new_interval_var(s, dmin, e, f"m{j}_{k}"))
            all_demands.append(1)
            if k:
                model.add(s >= je[-1])
            js.append(s)
            je.append(e)
            jc.append(opts)
        starts.append(js)
        ends.append(je)
        choices.append(jc)
    for intervals in per_machine.values():
        if len(intervals) > 1:
            model.add_no_overlap(intervals)
    if redundant_cumulative is None:
        redundant_cumulative = instance.flexible
    if redundant_cumulative and instance.num_machines > 1:
        model.add_cumulative(all_intervals, all_demands, instance.num_machines)

    makespan = model.new_int_var(min(lower, horizon), max(horizon, lower), "makespan")
    for j, job in enumerate(instance.jobs):
        if job.operations:
            model.add(makespan >= ends[j][-1])

    for group in _identical_jobs(instance):
        for a, b in itertools.pairwise(group):
            model.add(starts[a][0] <= starts[b][0])

    tardiness_terms = []
    tardy_vars: dict[int, object] = {}
    if objective.tardiness_weight:
        for j, job in enumerate(instance.jobs):
            if job.due is None or not job.operations or job.weight == 0:
                continue
            t = model.new_int_var(0, max(0, max_total + horizon - job.due), f"t{j}")
            model.add(t >= ends[j][-1] - job.due)
            tardy_vars[j] = t
            tardiness_terms.append(job.weight * t)
    objective_expr = objective.makespan_weight * makespan + objective.tardiness_weight * sum(
        tardiness_terms
    )
    model.minimize(objective_expr)

    if warm is not None:
        for j, ops in enumerate(warm.assignments):
            for k, a in enumerate(ops):
                model.add_hint(starts[j][k], a.start)
                model.add_hint(ends[j][k], a.end)
                for m, _d, lit in choices[j][k]:
                    if lit is not True:
                        model.add_hint(lit, m == a.machine)
        model.add_hint(makespan, warm.makespan)
        for j, t in tardy_vars.items():
            model.add_hint(t, max(0, warm.completion(j) - instance.jobs[j].due))

    def hint_extra(schedule: Schedule) -> list[tuple[object, int]]:
        out = [(makespan, schedule.makespan)]
        for j, t in tardy_vars.items():
            out.append((t, max(0, schedule.completion(j) - instance.jobs[j].due)))
        return out

    return BuiltModel(
        model=model,
        starts=starts,
        ends=ends,
        choices=choices,
        makespan=makespan,
        objective=objective_expr,
        hint_extra=hint_extra,
        end_bound=max(max(horizon, lower) + max_total, 1),
        makespan_only=objective.makespan_only and objective.makespan_weight > 0,
    )


def solve(
    instance: Instance,
    objective: Objective | None = None,
    *,
    time_limit: float = 10.0,
    num_workers: int = 2,
    start: Schedule | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    progress_schedules: bool = False,
    stop: threading.Event | None = None,
    relative_gap: float = 0.0,
    greedy_budget: float | None = None,
    seed: int = 0,
    extra_parameters: dict | None = None,
    redundant_cumulative: bool | None = None,
    lns: bool | None = None,
    full_share: float = 0.5,
    stall_share: float = 0.1,
    lns_threads: int | None = None,
    lns_options: dict | None = None,
    log: bool = False,
) -> SolveResult:
    """Minimise the objective within `time_limit` seconds.

    `start` (the current schedule, for re-optimisation) is the warm start when it is still
    feasible and at least as good as the greedy start; otherwise the greedy start is.
    `redundant_cumulative` (default: on for flexible instances) adds a cumulative over all
    operations with the number of machines as capacity. `lns` (default: on for flexible
    instances with a makespan-only objective) follows the full search with the
    large-neighbourhood search of `lns.py` (`full_share`, `stall_share`: see the module
    docstring; `lns_threads`, default `num_workers`; `lns_options` go to `lns.improve`). `on_progress` is called with every improving
    schedule (with the schedule itself when `progress_schedules`); setting `stop` ends the
    search and returns the best schedule so far.
    Raises InvalidInstance (explained) when the input cannot be scheduled.
    """
    t0 = time.monotonic()
    objective = objective or Objective()
    instance.validate()

    # the warm start
    if greedy_budget is None:
        greedy_budget = min(0.5, 0.02 * time_limit)
    lower = makespan_lower_bound(instance)
    warm, source = greedy_schedule(
        instance,
        objective,
        time_budget=greedy_budget,
        seed=seed,
        good_enough=lower * objective.makespan_weight if objective.makespan_only else None,
    )
    if start is not None and not schedule_violations(instance, start):
        start_value = objective_value(instance, start, objective)
        if warm is None or start_value <= objective_value(instance, warm, objective):
            warm, source = start, "current schedule"

    built = build_model(
        instance, objective, warm, lower=lower, redundant_cumulative=redundant_cumulative
    )
    model, starts, ends, choices, makespan = (
        built.model,
        built.starts,
        built.ends,
        built.choices,
        built.makespan,
    )

    def build(value) -> Schedule:
        out = []
        for j, job in enumerate(instance.jobs):
            row = []
            for k in range(len(job.operations)):
                s = int(value(starts[j][k]))
                e = int(value(ends[j][k]))
                machine = next(m for m, _d, lit in choices[j][k] if lit is True or value(lit))
                row.append(Assignment(machine, s, e))
            out.append(row)
        return Schedule(assignments=out)

    if lns is None:
        lns = instance.flexible and objective.makespan_only
    solver = cp_model.CpSolver()
    remaining = max(0.1, time_limit - (time.monotonic() - t0))
    deadline = time.monotonic() + remaining
    if lns:
        remaining = max(0.1, remaining * full_share)
    params = tuned_parameters(
        time_limit=remaining, num_workers=num_workers, flexible=instance.flexible
    )
    params["relative_gap_limit"] = relative_gap
    params["random_seed"] = seed
    params["log_search_progress"] = log
    params.update(extra_parameters or {})
    for key, value in params.items():
        if isinstance(value, list | tuple):
            getattr(solver.parameters, key).extend(value)
        else:
            setattr(solver.parameters, key, value)

    callback = _Callback(build, makespan, on_progress, progress_schedules, stop, t0)
    done = threading.Event()
    watcher = None
    full_start = time.monotonic()
    stall = max(1.0, stall_share * (deadline - full_start))
    if stop is not None or lns:

        def watch() -> None:
            # ends the full search on `stop`, or (before the LNS) when it has stalled
            while not done.wait(0.05):
                if stop is not None and stop.is_set():
                    solver.stop_search()
                    return
                now = time.monotonic()
                if (
                    lns
                    and (warm is not None or callback.progress)
                    and now - callback.last_improvement > stall
                    and now - full_start > stall
                ):
                    solver.stop_search()
                    return

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
    try:
        status = solver.solve(model, callback)
    finally:
        done.set()
        if watcher is not None:
            watcher.join()
    stopped = stop is not None and stop.is_set()

    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        schedule = build(solver.value)
        state = "optimal" if status == cp_model.OPTIMAL else "feasible"
        bound = round(solver.best_objective_bound)
    elif status == cp_model.INFEASIBLE:
        raise NoScheduleFound(
            "no schedule satisfies the frozen operations, locked machines and release times together"
        )
    elif warm is not None:
        schedule, state, bound = warm, "feasible", 0
    else:
        raise NoScheduleFound(
            f"no schedule found within {time_limit:g} s (solver status {solver.status_name(status)})"
        )
    progress = callback.progress
    if lns and state != "optimal" and not stopped and time.monotonic() < deadline - 0.1:
        floor = max(bound, lower * objective.makespan_weight if objective.makespan_only else 0)

        def value_of(s: Schedule) -> int:
            return objective_value(instance, s, objective)

        def improved(s: Schedule, v: int) -> None:
            p = Progress(
                wall_time=time.monotonic() - t0,
                objective=v,
                makespan=s.makespan,
                objective_bound=floor,
                schedule=s if progress_schedules else None,
            )
            progress.append(p)
            if on_progress is not None:
                on_progress(p)

        schedule, _stats = lns_improve(
            instance,
            built,
            schedule,
            value_of,
            deadline=deadline,
            lower_bound=floor,
            threads=lns_threads or max(1, num_workers),
            stop=stop,
            on_improve=improved,
            seed=seed,
            **(lns_options or {}),
        )
        stopped = stop is not None and stop.is_set()
        if value_of(schedule) <= floor:
            state = "optimal"
    wall = time.monotonic() - t0
    check_schedule(instance, schedule)
    metrics = schedule_metrics(instance, schedule)
    value = objective_value(instance, schedule, objective)
    if state == "optimal":
        bound = value
    lb = lower
    if objective.makespan_only and objective.makespan_weight:
        lb = max(lb, -(-bound // objective.makespan_weight))
    if state == "optimal" and objective.makespan_only:
        lb = metrics.makespan
    return SolveResult(
        status=state,
        schedule=schedule,
        objective=value,
        makespan=metrics.makespan,
        lower_bound=min(lb, metrics.makespan),
        objective_bound=bound,
        metrics=metrics,
        wall_time=wall,
        start_makespan=warm.makespan if warm else None,
        start_source=source,
        stopped=stopped,
        progress=progress,
    )
