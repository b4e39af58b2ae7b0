"""The job-shop core: parsers on the real benchmark files, the independent feasibility check,
lower bounds, the greedy start, and the CP-SAT model with releases, frozen and locked
operations, due dates, progress reporting and stopping. No database."""

import threading
from pathlib import Path

import pytest

from scheduling.solver import (
    Alternative,
    Assignment,
    InfeasibleSchedule,
    Instance,
    InvalidInstance,
    Job,
    Objective,
    Operation,
    Schedule,
    check_schedule,
    greedy_schedule,
    makespan_lower_bound,
    parse_fjsp,
    parse_jsp,
    read_instance,
    schedule_violations,
    solve,
)

DATA = Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "jobshop"


def op(*alternatives, **kwargs) -> Operation:
    return Operation(alternatives=[Alternative(m, d) for m, d in alternatives], **kwargs)


def two_by_two() -> Instance:
    # J0: m0 3, m1 2;  J1: m1 4, m0 1.  Optimum 6 (J1 first on m1), equal to the machine bound.
    return Instance(
        num_machines=2,
        jobs=[Job(operations=[op((0, 3)), op((1, 2))]), Job(operations=[op((1, 4)), op((0, 1))])],
    )


# -- parsers ---------------------------------------------------------------------------------


def test_parse_ft06_real_file():
    instance = read_instance(DATA / "jsp" / "ft06.txt")
    assert (len(instance.jobs), instance.num_machines, instance.num_operations) == (6, 6, 36)
    assert instance.name == "ft06"
    assert not instance.flexible
    first = [
        (o.alternatives[0].machine, o.alternatives[0].duration) for o in instance.jobs[0].operations
    ]
    assert first == [(2, 1), (0, 3), (1, 6), (3, 7), (5, 3), (4, 6)]
    last = [
        (o.alternatives[0].machine, o.alternatives[0].duration) for o in instance.jobs[5].operations
    ]
    assert last == [(1, 3), (3, 3), (5, 9), (0, 10), (4, 4), (2, 1)]


def test_parse_every_shipped_jsp_file_matches_its_header():
    for name, jobs, machines in [
        ("ft10", 10, 10),
        ("ft20", 20, 5),
        ("la21", 15, 10),
        ("la40", 15, 15),
    ]:
        instance = read_instance(DATA / "jsp" / f"{name}.txt")
        assert (len(instance.jobs), instance.num_machines) == (jobs, machines)
        # every job visits every machine once in the classic instances
        for job in instance.jobs:
            assert sorted(o.alternatives[0].machine for o in job.operations) == list(
                range(machines)
            )


def test_parse_mk01_real_file_flexible():
    instance = read_instance(DATA / "fjsp" / "mk01.txt", flexible=True)
    assert (len(instance.jobs), instance.num_machines, instance.num_operations) == (10, 6, 55)
    assert instance.flexible
    first, second = instance.jobs[0].operations[:2]
    assert first.alternatives == [Alternative(0, 5), Alternative(2, 4)]
    assert second.alternatives == [Alternative(4, 3), Alternative(2, 5), Alternative(1, 1)]


def test_parse_fjsp_one_based_original_numbering():
    # Brandimarte's original files number machines from 1
    instance = parse_fjsp("2 2 1.5\n2 2 1 5 2 4 1 2 3\n1 1 1 7\n")
    assert instance.jobs[0].operations[0].alternatives == [Alternative(0, 5), Alternative(1, 4)]
    assert instance.jobs[0].operations[1].alternatives == [Alternative(1, 3)]
    assert instance.jobs[1].operations[0].alternatives == [Alternative(0, 7)]


def test_parse_refuses_malformed_text():
    with pytest.raises(InvalidInstance, match="odd number of values"):
        parse_jsp("1 2\n0 3 1\n")
    with pytest.raises(InvalidInstance, match="announces 3 jobs, the file has 1"):
        parse_jsp("3 2\n0 3 1 4\n")
    with pytest.raises(InvalidInstance, match="names machine 2, the instance has machines 0-1"):
        parse_jsp("1 2\n0 3 2 4\n")
    with pytest.raises(InvalidInstance, match="ends inside an operation"):
        parse_fjsp("1 2\n1 2 0 3 1\n")


# -- feasibility check -----------------------------------------------------------------------


def test_feasibility_accepts_the_optimal_two_by_two():
    instance = two_by_two()
    schedule = Schedule(
        [[Assignment(0, 0, 3), Assignment(1, 4, 6)], [Assignment(1, 0, 4), Assignment(0, 4, 5)]]
    )
    assert schedule_violations(instance, schedule) == []
    assert schedule.makespan == 6


def test_feasibility_catches_overlap_on_a_machine():
    instance = two_by_two()
    schedule = Schedule(
        [[Assignment(0, 0, 3), Assignment(1, 3, 5)], [Assignment(1, 0, 4), Assignment(0, 4, 5)]]
    )
    assert schedule_violations(instance, schedule) == [
        "machine 1: job 1 operation 0 and job 0 operation 1 overlap"
    ]
    with pytest.raises(InfeasibleSchedule, match="overlap"):
        check_schedule(instance, schedule)


def test_feasibility_catches_precedence_violation():
    instance = two_by_two()
    schedule = Schedule(
        [[Assignment(0, 0, 3), Assignment(1, 4, 6)], [Assignment(1, 0, 4), Assignment(0, 3, 4)]]
    )
    # [0, 3) and [3, 4) on machine 0 touch but do not overlap: only the precedence is broken
    assert schedule_violations(instance, schedule) == [
        "job 1 operation 1 starts at 3, before its preceding operation ends at 4"
    ]


def test_feasibility_catches_wrong_machine_and_wrong_duration():
    instance = two_by_two()
    schedule = Schedule(
        [[Assignment(1, 0, 3), Assignment(1, 4, 6)], [Assignment(1, 6, 9), Assignment(0, 9, 10)]]
    )
    problems = schedule_violations(instance, schedule)
    assert "job 0 operation 0 runs on machine 1, which it may not use" in problems
    assert "job 1 operation 0 lasts 3 on machine 1, its time there is 4" in problems


def test_fjsp_feasibility_uses_the_time_of_the_chosen_machine():
    instance = Instance(num_machines=2, jobs=[Job(operations=[op((0, 5), (1, 2))])])
    assert schedule_violations(instance, Schedule([[Assignment(1, 0, 2)]])) == []
    assert schedule_violations(instance, Schedule([[Assignment(1, 0, 5)]])) == [
        "job 0 operation 0 lasts 5 on machine 1, its time there is 2"
    ]


# -- bounds and greedy -----------------------------------------------------------------------


def test_lower_bounds_by_hand():
    assert makespan_lower_bound(two_by_two()) == 6
    # flexible: total minimal work 2 + 2 + 2 + 2 = 8 over 2 machines = 4; the longest job is 4
    flex = Instance(
        num_machines=2,
        jobs=[Job(operations=[op((0, 2), (1, 3)), op((0, 2), (1, 2))]) for _ in range(2)],
    )
    assert makespan_lower_bound(flex) == 4
    # a release of 10 on job 0 pushes the job bound to 15
    released = two_by_two()
    released.jobs[0].release = 10
    assert makespan_lower_bound(released) == 15


def test_greedy_is_feasible_and_honours_frozen_operations():
    instance = read_instance(DATA / "jsp" / "ft10.txt")
    instance.jobs[3].operations[0].fixed_start = 40
    schedule, rule = greedy_schedule(instance, time_budget=0.2)
    assert rule
    assert schedule_violations(instance, schedule) == []
    assert schedule.assignments[3][0].start == 40


# -- the CP-SAT model ------------------------------------------------------------------------


def test_ft06_solved_to_its_optimum_55():
    instance = read_instance(DATA / "jsp" / "ft06.txt")
    result = solve(instance, time_limit=5)
    assert result.makespan == 55
    assert result.status == "optimal"
    assert result.lower_bound == 55
    assert schedule_violations(instance, result.schedule) == []
    assert result.wall_time < 5.5


def test_mk01_flexible_schedule_is_feasible_and_near_optimum():
    instance = read_instance(DATA / "fjsp" / "mk01.txt", flexible=True)
    result = solve(instance, time_limit=3)
    assert schedule_violations(instance, result.schedule) == []
    assert 40 <= result.makespan <= 42  # published optimum 40
    assert result.lower_bound <= 40
    used = {a.machine for ops in result.schedule.assignments for a in ops}
    assert used == set(range(6))


def test_two_by_two_optimum_and_metrics():
    result = solve(two_by_two(), time_limit=2)
    assert (result.makespan, result.status, result.lower_bound) == (6, "optimal", 6)
    assert result.schedule.assignments[1][0] == Assignment(1, 0, 4)
    assert result.schedule.assignments[0][1] == Assignment(1, 4, 6)
    assert result.metrics.per_machine_busy == [4, 6]
    assert result.metrics.utilization == pytest.approx(10 / 12)


def test_frozen_operations_stay_where_they_are():
    instance = two_by_two()
    # J1's first operation has started at 1 on machine 1: J0 must wait for it or go first
    instance.jobs[1].operations[0].fixed_start = 1
    result = solve(instance, time_limit=2)
    assert result.schedule.assignments[1][0] == Assignment(1, 1, 5)
    # best: J0 m0 0-3, J1 m0 5-6, J0 m1 5-7 -> 7
    assert result.makespan == 7
    assert result.status == "optimal"


def test_locked_machine_is_respected_in_a_flexible_instance():
    jobs = [Job(operations=[op((0, 2), (1, 5))]), Job(operations=[op((0, 2), (1, 5))])]
    free = solve(Instance(num_machines=2, jobs=jobs), time_limit=2)
    assert free.makespan == 4  # both on the fast machine 0
    jobs[1].operations[0].locked_machine = 1
    locked = solve(Instance(num_machines=2, jobs=jobs), time_limit=2)
    assert locked.schedule.assignments[1][0] == Assignment(1, 0, 5)
    assert locked.schedule.assignments[0][0] == Assignment(0, 0, 2)
    assert locked.makespan == 5


def test_release_times_delay_operations():
    instance = two_by_two()
    instance.jobs[1].operations[1].release = 20
    result = solve(instance, time_limit=2)
    assert result.schedule.assignments[1][1] == Assignment(0, 20, 21)
    assert result.makespan == 21


def single_machine_with_due_dates() -> Instance:
    # A p3 d3 w1, B p2 d4 w3, C p4 d5 w1.  By hand over the 6 orders the weighted tardiness is:
    # ABC 7, ACB 17, BAC 6, BCA 7, CAB 19, CBA 12 -> optimum 6 with B, A, C (makespan always 9).
    return Instance(
        num_machines=1,
        jobs=[
            Job(operations=[op((0, 3))], due=3, weight=1, label="A"),
            Job(operations=[op((0, 2))], due=4, weight=3, label="B"),
            Job(operations=[op((0, 4))], due=5, weight=1, label="C"),
        ],
    )


def test_weighted_tardiness_optimum_by_hand():
    instance = single_machine_with_due_dates()
    result = solve(instance, Objective(makespan_weight=0, tardiness_weight=1), time_limit=2)
    starts = [ops[0].start for ops in result.schedule.assignments]
    assert starts == [2, 0, 5]  # B, A, C
    assert result.metrics.weighted_tardiness == 6
    assert result.metrics.total_tardiness == 6  # A 2 late, C 4 late
    assert result.metrics.late_jobs == 2
    assert result.objective == 6
    assert result.status == "optimal"


def test_mixed_objective_adds_makespan():
    instance = single_machine_with_due_dates()
    result = solve(instance, Objective(makespan_weight=2, tardiness_weight=1), time_limit=2)
    assert result.objective == 2 * 9 + 6


def test_tardiness_objective_trades_makespan_for_due_dates():
    # two machines; job U is urgent (due 2) but its route starts on the machine job L needs first
    instance = Instance(
        num_machines=2,
        jobs=[
            Job(operations=[op((0, 2)), op((1, 6))], due=100, label="L"),
            Job(operations=[op((0, 2))], due=2, weight=10, label="U"),
        ],
    )
    by_makespan = solve(instance, Objective(1, 0), time_limit=2)
    assert by_makespan.makespan == 8
    by_due = solve(instance, Objective(1, 1), time_limit=2)
    assert by_due.schedule.assignments[1][0] == Assignment(0, 0, 2)
    assert (by_due.makespan, by_due.metrics.weighted_tardiness, by_due.objective) == (10, 0, 10)


def test_warm_start_from_the_current_schedule():
    instance = read_instance(DATA / "jsp" / "ft06.txt")
    first = solve(instance, time_limit=5)
    again = solve(instance, time_limit=2, start=first.schedule, greedy_budget=0)
    assert again.start_source == "current schedule"
    assert again.start_makespan == 55
    assert again.makespan == 55


def test_progress_reports_and_stop_flag():
    instance = read_instance(DATA / "jsp" / "la21.txt")
    stop = threading.Event()
    seen = []

    def on_progress(p):
        seen.append(p)
        stop.set()

    result = solve(
        instance, time_limit=20, on_progress=on_progress, progress_schedules=True, stop=stop
    )
    assert result.stopped
    assert result.wall_time < 5
    assert seen
    assert seen[0].schedule is not None
    assert schedule_violations(instance, seen[0].schedule) == []
    assert seen[0].makespan == seen[0].schedule.makespan
    assert result.makespan <= seen[0].makespan
    # at least the static bound, never more than the proven optimum 1046
    assert makespan_lower_bound(instance) <= result.lower_bound <= 1046


# -- infeasible input, explained -------------------------------------------------------------


def test_operation_without_allowed_machine_is_explained():
    instance = Instance(
        num_machines=2, jobs=[Job(operations=[op((0, 2)), Operation(alternatives=[])])]
    )
    with pytest.raises(InvalidInstance, match=r"^job 0 operation 1 has no allowed machine$"):
        solve(instance, time_limit=1)


def test_overlapping_frozen_operations_are_explained():
    instance = two_by_two()
    instance.jobs[0].operations[1].fixed_start = 4  # m1 [4, 6)
    instance.jobs[1].operations[0].fixed_start = 3  # m1 [3, 7)
    with pytest.raises(InvalidInstance) as err:
        solve(instance, time_limit=1)
    assert err.value.detail == (
        "frozen operations overlap on machine 1: job 1 operation 0 [3, 7) and job 0 operation 1 [4, 6)"
    )
    assert err.value.code == "invalid_schedule_input"


def test_lock_to_a_machine_not_allowed_is_explained():
    instance = Instance(
        num_machines=2, jobs=[Job(operations=[op((0, 2), locked_machine=1)], label="WO-7")]
    )
    with pytest.raises(
        InvalidInstance, match="job WO-7 operation 0 is locked to machine 1, which is not one"
    ):
        solve(instance, time_limit=1)


def test_frozen_before_release_or_before_predecessor_is_explained():
    instance = two_by_two()
    instance.jobs[0].release = 5
    instance.jobs[0].operations[0].fixed_start = 2
    with pytest.raises(InvalidInstance, match="frozen at 2, before its release at 5"):
        solve(instance, time_limit=1)
    instance = two_by_two()
    instance.jobs[0].operations[1].fixed_start = 1
    with pytest.raises(
        InvalidInstance, match="frozen at 1, before its preceding operation can end"
    ):
        solve(instance, time_limit=1)


def test_frozen_operation_on_an_undetermined_machine_is_explained():
    instance = Instance(num_machines=2, jobs=[Job(operations=[op((0, 2), (1, 3), fixed_start=0)])])
    with pytest.raises(InvalidInstance, match="frozen at 0 but its machine is not determined"):
        solve(instance, time_limit=1)


def test_identical_jobs_symmetry_breaking_keeps_the_optimum():
    # three identical jobs m0 2 then m1 3: a flow shop whose optimum is 2 + 3 * 3 = 11
    instance = Instance(
        num_machines=2, jobs=[Job(operations=[op((0, 2)), op((1, 3))]) for _ in range(3)]
    )
    result = solve(instance, time_limit=2)
    assert (result.makespan, result.status) == (11, "optimal")
    firsts = [ops[0].start for ops in result.schedule.assignments]
    assert firsts == sorted(firsts)  # identical jobs keep their order


def test_frozen_and_locked_together_in_a_flexible_instance():
    # the started operation is frozen on the slow machine 1; the others must work around it
    instance = Instance(
        num_machines=2,
        jobs=[
            Job(operations=[op((0, 3), (1, 6), fixed_start=0, locked_machine=1), op((0, 2))]),
            Job(operations=[op((0, 3), (1, 6)), op((0, 2), (1, 2))]),
            Job(operations=[op((0, 3), (1, 6), locked_machine=0)]),
        ],
    )
    result = solve(instance, time_limit=2)
    a = result.schedule.assignments
    assert a[0][0] == Assignment(1, 0, 6)
    assert a[2][0].machine == 0
    assert schedule_violations(instance, result.schedule) == []
    # machine 0 carries J1 [0,3), J2 [3,6), J0 op1 [6,8); J1 op1 goes to machine 1 at [6,8)
    assert result.makespan == 8
    assert result.status == "optimal"


def test_schedule_with_missing_jobs_is_refused():
    assert schedule_violations(
        two_by_two(), Schedule([[Assignment(0, 0, 3), Assignment(1, 4, 6)]])
    ) == ["1 jobs scheduled, the instance has 2"]
