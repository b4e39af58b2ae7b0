"""Large-neighbourhood search around the CP-SAT model of the (flexible) job shop.

The incumbent schedule is improved by relaxing a part of it and re-solving that part with
CP-SAT: the operations outside the neighbourhood keep their machine and their order on it (a
precedence between consecutive kept operations of a machine, not their times, so the whole
schedule may still shift), the freed ones may take any allowed machine and any place. Each
sub-problem minimises the objective and, as a tie-break, the sum of the jobs' completion times
(so that equal-makespan moves that make room are taken), with the incumbent as a complete hint
and as an upper bound; a result is kept when it is not worse by (objective, tie-break).

Neighbourhoods (chosen at random): a window of operations consecutive in time; operations of a
critical path (the chain of operations that sets the makespan) and their neighbours in time;
the operations of a few machines; the operations of a few jobs. Their size adapts: it grows
when the sub-problem was solved to optimality without a gain and shrinks when it ran out of
time. Several threads search in parallel on the shared incumbent (CP-SAT releases the GIL).

Measured on this 2-core machine: see scheduling/README.md (mk01-mk10 against a plain model).
"""

from __future__ import annotations

import bisect
import itertools
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from ortools.sat.python import cp_model

from scheduling.solver.bounds import heads_and_tails
from scheduling.solver.feasibility import schedule_violations
from scheduling.solver.instance import Assignment, Instance, Schedule

logger = logging.getLogger(__name__)


@dataclass
class BuiltModel:
    """What the LNS needs from the full model (built by `cpsat.build_model`)."""

    model: cp_model.CpModel
    starts: list[list]
    ends: list[list]
    choices: list[list[list[tuple[int, int, object]]]]
    """[j][k] -> (machine, duration, literal or True when the operation has one machine)."""
    makespan: object
    objective: object
    """The objective expression of the full model."""
    hint_extra: Callable[[Schedule], list[tuple[object, int]]]
    """Hints for the auxiliary variables (makespan, tardiness) of a schedule."""
    end_bound: int
    """The largest end any operation may have in the model."""
    makespan_only: bool = False
    """The objective is the makespan alone (the compact sub-problems apply)."""


def _completion_sum(schedule: Schedule) -> int:
    return sum(ops[-1].end for ops in schedule.assignments if ops)


def critical_operations(schedule: Schedule, rng: random.Random) -> list[tuple[int, int]]:
    """One critical path, latest first: from an operation that ends at the makespan, back
    through the job or machine predecessor that ends exactly when it starts (a random one
    when both do)."""
    by_machine: dict[int, list[tuple[int, int, int, int]]] = {}
    for j, ops in enumerate(schedule.assignments):
        for k, a in enumerate(ops):
            if a.end > a.start:
                by_machine.setdefault(a.machine, []).append((a.start, a.end, j, k))
    machine_pred: dict[tuple[int, int], tuple[int, int, int]] = {}
    for items in by_machine.values():
        items.sort()
        for prev, cur in itertools.pairwise(items):
            machine_pred[(cur[2], cur[3])] = (prev[1], prev[2], prev[3])
    makespan = schedule.makespan
    ends = [
        (j, len(ops) - 1)
        for j, ops in enumerate(schedule.assignments)
        if ops and ops[-1].end == makespan
    ]
    if not ends:
        return []
    j, k = rng.choice(ends)
    path = []
    seen = set()
    while (j, k) not in seen:
        seen.add((j, k))
        path.append((j, k))
        a = schedule.assignments[j][k]
        options = []
        if k and schedule.assignments[j][k - 1].end == a.start:
            options.append((j, k - 1))
        mp = machine_pred.get((j, k))
        if mp is not None and mp[0] == a.start:
            options.append((mp[1], mp[2]))
        if not options:
            break
        j, k = rng.choice(options)
    return path


class _Search:
    def __init__(
        self,
        instance: Instance,
        built: BuiltModel,
        incumbent: Schedule,
        value_of: Callable[[Schedule], int],
        *,
        deadline: float,
        lower_bound: int,
        stop: threading.Event | None,
        on_improve: Callable[[Schedule, int], None] | None,
        sub_time_limit: float,
        seed: int,
        tie_break: bool = True,
        compact: bool | None = None,
    ) -> None:
        self.tie_break = tie_break
        self.compact = built.makespan_only if compact is None else compact
        self.heads, self.tails = heads_and_tails(instance)
        self.instance = instance
        self.built = built
        self.value_of = value_of
        self.deadline = deadline
        self.lower_bound = lower_bound
        self.stop = stop
        self.on_improve = on_improve
        self.sub_time_limit = sub_time_limit
        self.seed = seed
        self.lock = threading.Lock()
        self.best = incumbent
        self.best_key = (value_of(incumbent), _completion_sum(incumbent))
        self.ops = [
            (j, k)
            for j, k, _job, op in instance.operations()
            if op.fixed_start is None  # frozen operations stay where they are anyway
        ]
        self.n_jobs = len(instance.jobs)
        self.active: set[cp_model.CpSolver] = set()
        self.calls = 0
        self.improvements = 0

    # -- neighbourhoods ----------------------------------------------------------------------

    def _by_time(self, schedule: Schedule) -> list[tuple[int, int, int]]:
        return sorted((schedule.assignments[j][k].start, j, k) for j, k in self.ops)

    def _window(self, schedule: Schedule, size: int, rng: random.Random) -> set:
        order = self._by_time(schedule)
        i = rng.randrange(max(1, len(order) - size + 1))
        return {(j, k) for _s, j, k in order[i : i + size]}

    def _critical(self, schedule: Schedule, size: int, rng: random.Random) -> set:
        path = [p for p in critical_operations(schedule, rng) if p in self._free_ok]
        if not path:
            return self._window(schedule, size, rng)
        if len(path) >= size:
            i = rng.randrange(len(path) - size + 1)
            return set(path[i : i + size])
        chosen = set(path)
        order = self._by_time(schedule)
        starts = [s for s, _j, _k in order]
        # fill with the operations nearest in time to random critical ones, widening the
        # span when nothing new comes in
        span = max(1, (size - len(chosen)) // 2)
        while len(chosen) < min(size, len(self.ops)):
            j, k = rng.choice(path)
            i = bisect.bisect_left(starts, schedule.assignments[j][k].start)
            before = len(chosen)
            for _s, j2, k2 in order[max(0, i - span) : i + span + 1]:
                if len(chosen) >= size:
                    break
                chosen.add((j2, k2))
            if len(chosen) == before:
                span *= 2
        return chosen

    def _machines(self, schedule: Schedule, size: int, rng: random.Random) -> set:
        by_machine: dict[int, list[tuple[int, int, int]]] = {}
        for j, k in self.ops:
            a = schedule.assignments[j][k]
            by_machine.setdefault(a.machine, []).append((a.start, j, k))
        machines = list(by_machine)
        rng.shuffle(machines)
        chosen: set = set()
        for m in machines:
            items = sorted(by_machine[m])
            room = size - len(chosen)
            if room <= 0:
                break
            if len(items) > room:
                i = rng.randrange(len(items) - room + 1)
                items = items[i : i + room]
            chosen.update((j, k) for _s, j, k in items)
        return chosen

    def _jobs(self, schedule: Schedule, size: int, rng: random.Random) -> set:
        jobs = list(range(self.n_jobs))
        rng.shuffle(jobs)
        chosen: set = set()
        for j in jobs:
            if len(chosen) >= size:
                break
            chosen.update(
                (j, k) for k in range(len(schedule.assignments[j])) if (j, k) in self._free_ok
            )
        return chosen

    @property
    def _free_ok(self) -> set:
        if not hasattr(self, "_free_ok_set"):
            self._free_ok_set = set(self.ops)
        return self._free_ok_set

    # -- one sub-problem ---------------------------------------------------------------------

    def _sub_model(self, schedule: Schedule, free: set) -> cp_model.CpModel:
        built = self.built
        sub = built.model.clone()
        proto = sub.proto
        chains: dict[int, list[tuple[int, int, int, int]]] = {}
        for j, ops in enumerate(schedule.assignments):
            for k, a in enumerate(ops):
                if (j, k) in free:
                    continue
                for m, _d, lit in built.choices[j][k]:
                    if lit is True:
                        continue
                    domain = proto.variables[lit.index].domain
                    value = 1 if m == a.machine else 0
                    domain[0] = value
                    domain[1] = value
                if a.end > a.start:
                    chains.setdefault(a.machine, []).append((a.start, a.end, j, k))
        for items in chains.values():
            items.sort()
            for (_s1, _e1, j1, k1), (_s2, _e2, j2, k2) in itertools.pairwise(items):
                sub.add(
                    sub.get_int_var_from_proto_index(built.starts[j2][k2].index)
                    >= sub.get_int_var_from_proto_index(built.ends[j1][k1].index)
                )
        value = self.value_of(schedule)
        # objective <= incumbent, then (objective, completion sum) lexicographically
        total_end = sum(
            built.ends[j][len(ops) - 1] for j, ops in enumerate(schedule.assignments) if ops
        )
        weight = self.n_jobs * built.end_bound + 1 if self.tie_break else 1
        sub.add(built.objective <= value)
        sub.minimize(weight * built.objective + total_end if self.tie_break else built.objective)
        sub.clear_hints()
        for j, ops in enumerate(schedule.assignments):
            for k, a in enumerate(ops):
                sub.add_hint(built.starts[j][k], a.start)
                sub.add_hint(built.ends[j][k], a.end)
                for m, _d, lit in built.choices[j][k]:
                    if lit is not True:
                        sub.add_hint(lit, m == a.machine)
        for var, v in built.hint_extra(schedule):
            sub.add_hint(var, v)
        return sub

    def _compact_model(self, schedule: Schedule, free: set):
        """The sub-problem alone (makespan objective): a kept operation is one interval on
        its machine, chained after the kept operation before it there; a freed one has an
        optional interval per allowed machine. Much less to presolve than the full model."""
        instance = self.instance
        heads, tails = self.heads, self.tails
        bound = schedule.makespan
        model = cp_model.CpModel()
        starts, ends, choices = [], [], []
        per_machine: dict[int, list] = {}
        chains: dict[int, list[tuple[int, int, object, object]]] = {}
        makespan = model.new_int_var(0, bound, "makespan")
        job_ends = []
        for j, job in enumerate(instance.jobs):
            js, je, jc = [], [], []
            for k, op in enumerate(job.operations):
                a = schedule.assignments[j][k]
                if op.fixed_start is not None:
                    s = model.new_constant(a.start)
                    e = model.new_constant(a.end)
                    iv = model.new_fixed_size_interval_var(a.start, a.end - a.start, "")
                    per_machine.setdefault(a.machine, []).append(iv)
                    jc.append([(a.machine, a.end - a.start, True)])
                elif (j, k) not in free:
                    d = a.end - a.start
                    lo = heads[j][k]
                    hi = max(lo, bound - tails[j][k] - d)
                    s = model.new_int_var(lo, hi, "")
                    e = model.new_int_var(lo + d, hi + d, "")
                    iv = model.new_interval_var(s, d, e, "")
                    per_machine.setdefault(a.machine, []).append(iv)
                    if d > 0:
                        chains.setdefault(a.machine, []).append((a.start, a.end, s, e))
                    jc.append([(a.machine, d, True)])
                else:
                    allowed = op.allowed()
                    dmin = min(x.duration for x in allowed)
                    dmax = max(x.duration for x in allowed)
                    lo = heads[j][k]
                    hi = max(lo, bound - tails[j][k] - dmin)
                    s = model.new_int_var(lo, hi, "")
                    e = model.new_int_var(lo + dmin, hi + dmax, "")
                    if len(allowed) == 1:
                        x = allowed[0]
                        iv = model.new_interval_var(s, x.duration, e, "")
                        per_machine.setdefault(x.machine, []).append(iv)
                        jc.append([(x.machine, x.duration, True)])
                    else:
                        opts, lits = [], []
                        for x in allowed:
                            lit = model.new_bool_var("")
                            iv = model.new_optional_interval_var(s, x.duration, e, lit, "")
                            per_machine.setdefault(x.machine, []).append(iv)
                            opts.append((x.machine, x.duration, lit))
                            lits.append(lit)
                            model.add_hint(lit, x.machine == a.machine)
                        model.add_exactly_one(lits)
                        jc.append(opts)
                if k:
                    model.add(s >= je[-1])
                model.add_hint(s, a.start)
                model.add_hint(e, a.end)
                js.append(s)
                je.append(e)
            if je:
                model.add(makespan >= je[-1])
                job_ends.append(je[-1])
            starts.append(js)
            ends.append(je)
            choices.append(jc)
        for items in chains.values():
            items.sort(key=lambda t: (t[0], t[1]))
            for (_s1, _e1, _sv1, ev1), (_s2, _e2, sv2, _ev2) in itertools.pairwise(items):
                model.add(sv2 >= ev1)
        for intervals in per_machine.values():
            if len(intervals) > 1:
                model.add_no_overlap(intervals)
        model.add_hint(makespan, bound)
        if self.tie_break:
            weight = len(job_ends) * bound + 1
            model.minimize(weight * makespan + sum(job_ends))
        else:
            model.minimize(makespan)
        return model, starts, ends, choices

    def _read(self, solver: cp_model.CpSolver, starts, ends, choices) -> Schedule:
        out = []
        for j, row in enumerate(starts):
            ops = []
            for k in range(len(row)):
                machine = next(
                    m for m, _d, lit in choices[j][k] if lit is True or solver.value(lit)
                )
                ops.append(
                    Assignment(machine, int(solver.value(row[k])), int(solver.value(ends[j][k])))
                )
            out.append(ops)
        return Schedule(assignments=out)

    def _finished(self) -> bool:
        return (
            time.monotonic() >= self.deadline
            or (self.stop is not None and self.stop.is_set())
            or self.best_key[0] <= self.lower_bound
        )

    def worker(self, index: int) -> None:
        rng = random.Random(self.seed * 1000 + index)  # noqa: S311 (search diversity)
        n = len(self.ops)
        if n == 0:
            return
        size = float(min(n, max(6, min(30, n // 5))))
        kinds = [self._window, self._critical, self._critical, self._machines, self._jobs]
        while not self._finished():
            with self.lock:
                schedule, key = self.best, self.best_key
            nsize = max(2, min(n, int(size)))
            kind = rng.choice(kinds)
            free = kind(schedule, nsize, rng)
            if self.compact:
                sub, v_starts, v_ends, v_choices = self._compact_model(schedule, free)
            else:
                sub = self._sub_model(schedule, free)
                v_starts, v_ends, v_choices = self.built.starts, self.built.ends, self.built.choices
            solver = cp_model.CpSolver()
            remaining = self.deadline - time.monotonic()
            if remaining <= 0.05:
                break
            solver.parameters.max_time_in_seconds = min(self.sub_time_limit, remaining)
            solver.parameters.num_workers = 1
            solver.parameters.random_seed = rng.randrange(1 << 30)
            with self.lock:
                self.active.add(solver)
            try:
                status = solver.solve(sub)
            finally:
                with self.lock:
                    self.active.discard(solver)
            self.calls += 1
            logger.debug(
                "lns thread %s %s size=%s status=%s %.2fs from %s best %s",
                index,
                kind.__name__,
                len(free),
                solver.status_name(status),
                solver.wall_time,
                key,
                self.best_key,
            )
            if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
                size = max(2.0, size * 0.9)
                continue
            found = self._read(solver, v_starts, v_ends, v_choices)
            problems = schedule_violations(self.instance, found)
            if problems:  # never expected; the incumbent stays
                logger.warning("lns sub-problem gave an infeasible schedule: %s", problems[:3])
                continue
            found_key = (self.value_of(found), _completion_sum(found))
            improved = False
            with self.lock:
                if found_key < self.best_key:
                    better = found_key[0] < self.best_key[0]
                    self.best, self.best_key = found, found_key
                    if better:
                        self.improvements += 1
                        improved = True
            if improved and self.on_improve is not None:
                self.on_improve(found, found_key[0])
            if status == cp_model.OPTIMAL:
                if found_key >= key:
                    size = min(float(n), size * 1.1 + 0.5)
            else:
                size = max(2.0, size * 0.93)

    def stop_all(self) -> None:
        with self.lock:
            for solver in self.active:
                solver.stop_search()


def improve(
    instance: Instance,
    built: BuiltModel,
    incumbent: Schedule,
    value_of: Callable[[Schedule], int],
    *,
    deadline: float,
    lower_bound: int = 0,
    threads: int = 2,
    stop: threading.Event | None = None,
    on_improve: Callable[[Schedule, int], None] | None = None,
    sub_time_limit: float = 2.0,
    seed: int = 0,
    tie_break: bool = True,
    compact: bool | None = None,
) -> tuple[Schedule, dict]:
    """Improve `incumbent` (feasible) until `deadline` (time.monotonic()), `stop`, or the
    objective reaching `lower_bound`. Returns the best schedule and search statistics."""
    search = _Search(
        instance,
        built,
        incumbent,
        value_of,
        deadline=deadline,
        lower_bound=lower_bound,
        stop=stop,
        on_improve=on_improve,
        sub_time_limit=sub_time_limit,
        seed=seed,
        tie_break=tie_break,
        compact=compact,
    )
    workers = [
        threading.Thread(target=search.worker, args=(i,), daemon=True)
        for i in range(max(1, threads))
    ]
    for w in workers:
        w.start()
    while any(w.is_alive() for w in workers):
        for w in workers:
            w.join(0.05)
        if stop is not None and stop.is_set():
            search.stop_all()
    stats = {"calls": search.calls, "improvements": search.improvements}
    return search.best, stats
