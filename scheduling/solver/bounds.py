"""Lower bounds on the makespan (cheap, valid for any schedule of the instance)."""

from __future__ import annotations

import math

from scheduling.solver.instance import Instance


def heads_and_tails(instance: Instance) -> tuple[list[list[int]], list[list[int]]]:
    """head[j][k]: earliest start of op k (release and minimal predecessors);
    tail[j][k]: minimal work after op k ends."""
    heads, tails = [], []
    for job in instance.jobs:
        h, t = [], []
        time = job.release
        for op in job.operations:
            time = max(time, op.release)
            if op.fixed_start is not None:
                time = max(time, op.fixed_start)
            h.append(time)
            time += op.min_duration()
        after = 0
        for op in reversed(job.operations):
            t.append(after)
            after += op.min_duration()
        t.reverse()
        heads.append(h)
        tails.append(t)
    return heads, tails


def job_bound(instance: Instance) -> int:
    """The longest job: its release plus its minimal processing times (with op releases)."""
    heads, _ = heads_and_tails(instance)
    best = 0
    for j, job in enumerate(instance.jobs):
        if job.operations:
            best = max(best, heads[j][-1] + job.operations[-1].min_duration())
    return best


def machine_bound(instance: Instance) -> int:
    """Per machine, the work that must run on it (ops with that one allowed machine), plus the
    smallest head before and the smallest tail after it; for flexible instances also the
    total minimal work spread over all machines."""
    heads, tails = heads_and_tails(instance)
    best = 0
    loads: dict[int, list[tuple[int, int, int]]] = {}
    total_min = 0
    for j, k, _job, op in instance.operations():
        total_min += op.min_duration()
        allowed = op.allowed()
        if len(allowed) == 1:
            loads.setdefault(allowed[0].machine, []).append(
                (heads[j][k], allowed[0].duration, tails[j][k])
            )
    for items in loads.values():
        load = sum(d for _, d, _ in items)
        best = max(best, min(h for h, _, _ in items) + load + min(t for _, _, t in items))
    if instance.num_machines:
        best = max(best, math.ceil(total_min / instance.num_machines))
    return best


def makespan_lower_bound(instance: Instance) -> int:
    return max(job_bound(instance), machine_bound(instance))
