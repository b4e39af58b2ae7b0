"""A good start for CP-SAT: Giffler-Thompson active schedules under several priority rules
(most work remaining, most operations remaining, shortest processing time, earliest due date,
earliest start, and randomised versions of these), keeping the best by the objective.

Frozen operations are placed first at their fixed times; other operations are inserted into the
earliest gap of a machine's timeline that fits them.
"""

from __future__ import annotations

import bisect
import itertools
import random
import time
from collections.abc import Callable

from scheduling.solver.instance import Assignment, Instance, Objective, Schedule, objective_value


class _Timeline:
    """Busy intervals of one machine, sorted by start."""

    __slots__ = ("ends", "starts")

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.ends: list[int] = []

    def earliest_fit(self, est: int, duration: int) -> int:
        starts, ends = self.starts, self.ends
        i = bisect.bisect_right(ends, est)  # intervals ending at or before est cannot block
        t = est
        while i < len(starts):
            if t + duration <= starts[i]:
                return t
            t = max(t, ends[i])
            i += 1
        return t

    def add(self, start: int, end: int) -> None:
        i = bisect.bisect_left(self.starts, start)
        self.starts.insert(i, start)
        self.ends.insert(i, end)


Rule = Callable[[int, int, int, int], float]
"""priority(job, op, start, duration): lower first."""


def _rules(instance: Instance) -> dict[str, Rule]:
    remaining = []
    for job in instance.jobs:
        acc, rem = 0, []
        for op in reversed(job.operations):
            acc += op.min_duration()
            rem.append(acc)
        rem.reverse()
        remaining.append(rem)
    n_ops = [len(job.operations) for job in instance.jobs]
    due = [job.due if job.due is not None else 10**12 for job in instance.jobs]
    weight = [max(job.weight, 1) for job in instance.jobs]
    rules: dict[str, Rule] = {
        "mwkr": lambda j, k, s, d: -remaining[j][k],
        "mopnr": lambda j, k, s, d: (-(n_ops[j] - k), -remaining[j][k]),
        "spt": lambda j, k, s, d: (d, -remaining[j][k]),
        "est": lambda j, k, s, d: (s, -remaining[j][k]),
        "mwkr/pt": lambda j, k, s, d: -remaining[j][k] / max(d, 1),
    }
    if any(job.due is not None for job in instance.jobs):
        rules["edd"] = lambda j, k, s, d: (due[j], -remaining[j][k])
        rules["slack"] = lambda j, k, s, d: (due[j] - s - remaining[j][k]) / weight[j]
    return rules


def dispatch(
    instance: Instance,
    rule: Rule,
    *,
    rng: random.Random | None = None,
    noise: float = 0,
    flexible_choice: bool = False,
):
    """One active schedule built by `rule`; None when frozen operations cannot be honoured.
    Giffler-Thompson on the machine of the earliest completion, or with `flexible_choice`
    every operation on its own earliest-completing machine (better for flexible shops)."""
    timelines = [_Timeline() for _ in range(instance.num_machines)]
    assignments: list[list[Assignment | None]] = [
        [None] * len(job.operations) for job in instance.jobs
    ]
    for j, k, _job, op in instance.operations():
        if op.fixed_start is not None:
            alt = op.allowed()[0]
            timelines[alt.machine].add(op.fixed_start, op.fixed_start + alt.duration)
            assignments[j][k] = Assignment(
                alt.machine, op.fixed_start, op.fixed_start + alt.duration
            )
    next_op = [0] * len(instance.jobs)
    job_ready = [job.release for job in instance.jobs]
    active = [j for j, job in enumerate(instance.jobs) if job.operations]
    while active:
        candidates = []  # (end, start, machine, j, k, duration)
        for j in list(active):
            k = next_op[j]
            job = instance.jobs[j]
            op = job.operations[k]
            est = max(job_ready[j], op.release)
            if op.fixed_start is not None:
                a = assignments[j][k]
                if a.start < est:
                    return None
                job_ready[j] = a.end
                next_op[j] += 1
                if next_op[j] == len(job.operations):
                    active.remove(j)
                continue
            best = None
            for alt in op.allowed():
                s = timelines[alt.machine].earliest_fit(est, alt.duration)
                cand = (s + alt.duration, s, alt.machine, j, k, alt.duration)
                if best is None or cand < best:
                    best = cand
            candidates.append(best)
        if not candidates:
            continue
        if flexible_choice:
            # each operation on its own earliest-completing machine; the rule chooses among
            # those that could start before the earliest completion
            c_star = min(c[0] for c in candidates)
            near = [c for c in candidates if c[1] < c_star] or candidates
            if noise and rng is not None and rng.random() < noise:
                pick = rng.choice(near)
            else:
                pick = min(near, key=lambda c: rule(c[3], c[4], c[1], c[5]))
            _e, s, m_star, j, k, d = pick
        else:
            c_star, _s, m_star, _j, _k, _d = min(candidates)
            conflict = []
            for _end, _start, _m, j, k, _dur in candidates:
                op = instance.jobs[j].operations[k]
                d = op.duration_on(m_star)
                if d is None:
                    continue
                est = max(job_ready[j], op.release)
                s = timelines[m_star].earliest_fit(est, d)
                if s < c_star:
                    conflict.append((j, k, s, d))
            if noise and rng is not None and rng.random() < noise:
                chosen = rng.choice(conflict)
            else:
                chosen = min(conflict, key=lambda c: rule(*c))
            j, k, s, d = chosen
        timelines[m_star].add(s, s + d)
        assignments[j][k] = Assignment(m_star, s, s + d)
        job_ready[j] = s + d
        next_op[j] += 1
        if next_op[j] == len(instance.jobs[j].operations):
            active.remove(j)
    return Schedule(assignments=assignments)  # type: ignore[arg-type]


def greedy_schedule(
    instance: Instance,
    objective: Objective | None = None,
    *,
    time_budget: float = 0.5,
    seed: int = 0,
    good_enough: int | None = None,
) -> tuple[Schedule | None, str]:
    """The best schedule over all rules, then randomised restarts within `time_budget` seconds.
    Stops early once the objective reaches `good_enough` (a lower bound).
    Returns (schedule or None, the name of the rule that built it)."""
    objective = objective or Objective()
    deadline = time.monotonic() + time_budget
    rules = _rules(instance)
    best: tuple[int, Schedule, str] | None = None
    modes = (False, True) if instance.flexible else (False,)
    for (name, rule), flexible_choice in itertools.product(rules.items(), modes):
        schedule = dispatch(instance, rule, flexible_choice=flexible_choice)
        if schedule is None:
            continue
        name = f"{name}/flex" if flexible_choice else name
        value = objective_value(instance, schedule, objective)
        if best is None or value < best[0]:
            best = (value, schedule, name)
    if best is None:
        return None, ""
    rng = random.Random(seed)  # noqa: S311 (search diversity, not security)
    names = list(rules)
    attempt = 0
    while time.monotonic() < deadline and (good_enough is None or best[0] > good_enough):
        attempt += 1
        name = names[attempt % len(names)]
        flexible_choice = instance.flexible and attempt % 2 == 0
        schedule = dispatch(
            instance, rules[name], rng=rng, noise=0.15, flexible_choice=flexible_choice
        )
        if schedule is None:
            break
        value = objective_value(instance, schedule, objective)
        if value < best[0]:
            best = (value, schedule, f"{name}+random")
    return best[1], best[2]
