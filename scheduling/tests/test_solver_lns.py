"""The large-neighbourhood search of the flexible job shop (scheduling/solver/lns.py) and its
place in `solve`: every schedule it keeps is feasible, it never returns anything worse than the
start it was given, it respects the lower bound, frozen and locked operations, and stops when
asked. No database; no assertion on time or on a particular makespan reached."""

import itertools
import random
import threading
import time
from pathlib import Path

from scheduling.solver import (
    Alternative,
    Instance,
    Job,
    Objective,
    Operation,
    greedy_schedule,
    makespan_lower_bound,
    objective_value,
    read_instance,
    schedule_violations,
    solve,
)
from scheduling.solver.cpsat import build_model
from scheduling.solver.lns import critical_operations, improve

DATA = Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "jobshop"


def op(*alternatives, **kwargs) -> Operation:
    return Operation(alternatives=[Alternative(m, d) for m, d in alternatives], **kwargs)


def _lns(instance, objective, start, seconds, **options):
    built = build_model(instance, objective, start, lower=makespan_lower_bound(instance))
    improvements = []

    def value_of(s):
        return objective_value(instance, s, objective)

    best, stats = improve(
        instance,
        built,
        start,
        value_of,
        deadline=time.monotonic() + seconds,
        lower_bound=makespan_lower_bound(instance) if objective.makespan_only else 0,
        on_improve=lambda s, v: improvements.append((s, v)),
        **options,
    )
    return best, stats, improvements, value_of


def test_critical_path_of_an_active_schedule_runs_back_to_time_zero():
    instance = read_instance(DATA / "jsp" / "ft06.txt")
    schedule, _ = greedy_schedule(instance, time_budget=0)
    path = critical_operations(schedule, random.Random(0))
    ops = [schedule.assignments[j][k] for j, k in path]
    assert ops[0].end == schedule.makespan
    # each operation starts exactly when the next one on the path (its predecessor) ends
    for later, earlier in itertools.pairwise(ops):
        assert later.start == earlier.end
    assert ops[-1].start == 0  # Giffler-Thompson schedules are active: no idle on the path
    assert sum(a.end - a.start for a in ops) == schedule.makespan


def test_lns_improves_a_greedy_start_and_every_kept_schedule_is_feasible():
    instance = read_instance(DATA / "fjsp" / "mk01.txt", flexible=True)
    start, _ = greedy_schedule(instance, time_budget=0)  # deterministic rules only
    best, stats, improvements, value_of = _lns(instance, Objective(), start, 3.0)
    assert schedule_violations(instance, best) == []
    assert makespan_lower_bound(instance) <= best.makespan <= start.makespan
    assert stats["calls"] > 0
    values = [v for _s, v in improvements]
    assert values == sorted(values, reverse=True)  # each report strictly better
    assert len(set(values)) == len(values)
    for schedule, v in improvements:
        assert schedule_violations(instance, schedule) == []
        assert v == value_of(schedule) < value_of(start)
    if improvements:
        assert value_of(best) == values[-1]


def test_lns_keeps_frozen_and_locked_operations():
    instance = read_instance(DATA / "fjsp" / "mk01.txt", flexible=True)
    frozen = instance.jobs[2].operations[0]
    frozen.locked_machine = frozen.alternatives[-1].machine
    frozen.fixed_start = 7
    locked = instance.jobs[5].operations[1]
    locked.locked_machine = locked.alternatives[0].machine
    start, _ = greedy_schedule(instance, time_budget=0)
    assert schedule_violations(instance, start) == []
    best, _stats, improvements, _ = _lns(instance, Objective(), start, 2.0)
    for schedule in [best] + [s for s, _v in improvements]:
        assert schedule_violations(instance, schedule) == []
        assert schedule.assignments[2][0].start == 7
        assert schedule.assignments[2][0].machine == frozen.locked_machine
        assert schedule.assignments[5][1].machine == locked.locked_machine


def test_lns_on_the_full_model_with_a_tardiness_objective_never_gets_worse():
    # the general path (a clone of the full model per neighbourhood), used for mixed objectives
    instance = read_instance(DATA / "fjsp" / "mk01.txt", flexible=True)
    for j, job in enumerate(instance.jobs):
        job.due = 20 + 3 * j
        job.weight = 1 + j % 3
    objective = Objective(makespan_weight=1, tardiness_weight=2)
    start, _ = greedy_schedule(instance, objective, time_budget=0)
    best, stats, improvements, value_of = _lns(instance, objective, start, 2.0, compact=False)
    assert stats["calls"] > 0
    assert schedule_violations(instance, best) == []
    assert value_of(best) <= value_of(start)
    for schedule, v in improvements:
        assert v == value_of(schedule)


def test_lns_stops_at_the_lower_bound():
    # two identical jobs on two identical machines: the greedy start may already be optimal,
    # the bound (4) is reached at once and the search ends long before its deadline
    instance = Instance(
        num_machines=2,
        jobs=[Job(operations=[op((0, 2), (1, 2)), op((0, 2), (1, 2))]) for _ in range(2)],
    )
    start, _ = greedy_schedule(instance, time_budget=0)
    t0 = time.monotonic()
    best, _stats, _imp, _ = _lns(instance, Objective(), start, 30.0)
    assert best.makespan == 4 == makespan_lower_bound(instance)
    assert time.monotonic() - t0 < 20


def test_solve_flexible_uses_lns_and_reports_a_bound_below_its_makespan():
    instance = read_instance(DATA / "fjsp" / "mk02.txt", flexible=True)
    result = solve(instance, time_limit=4, full_share=0.3)
    assert schedule_violations(instance, result.schedule) == []
    assert result.makespan <= result.start_makespan
    assert makespan_lower_bound(instance) <= result.lower_bound <= result.makespan
    assert result.lower_bound <= 26  # best known upper bound of mk02
    progress = [p.makespan for p in result.progress]
    assert progress == sorted(progress, reverse=True)
    assert not progress or result.makespan == min(progress)


def test_solve_stop_flag_ends_the_lns_phase():
    instance = read_instance(DATA / "fjsp" / "mk10.txt", flexible=True)
    stop = threading.Event()
    timer = threading.Timer(3.0, stop.set)
    timer.start()
    try:
        t0 = time.monotonic()
        result = solve(instance, time_limit=60, full_share=0.02, stop=stop)
    finally:
        timer.cancel()
    assert result.stopped
    assert time.monotonic() - t0 < 15
    assert schedule_violations(instance, result.schedule) == []
    assert result.makespan <= result.start_makespan
