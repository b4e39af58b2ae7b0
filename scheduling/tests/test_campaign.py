"""Batches on vessels in campaigns (scheduling.solver.campaign): the independent checker on
hand-made schedules (one test per broken rule), the dispatching rules and the CP-SAT model on
random small problems (every schedule checked), frozen and locked batches, forbidden sequences,
campaign lengths, hold times, objective weights, progress and stop, refused input. No database.
"""

import random
import re
import threading

import pytest

from scheduling.solver.campaign import (
    MAJOR,
    MINOR,
    CampaignBatch,
    CampaignProblem,
    CampaignSchedule,
    ChangeoverMatrix,
    Cleaning,
    InvalidInstance,
    NoCampaignSchedule,
    Vessel,
    _identical_vessel_groups,
    _relabel_for_symmetry,
    campaign_metrics,
    campaign_violations,
    dispatch_campaign,
    generate_campaign_problem,
    improve_campaign,
    solve_campaign,
)


def matrix(**kwargs) -> ChangeoverMatrix:
    return ChangeoverMatrix(minor_clean=10, major_clean=50, **kwargs)


def batch(key, product, duration=100, **kwargs) -> CampaignBatch:
    kwargs.setdefault("volume", 100.0)
    return CampaignBatch(key=key, product=product, duration=duration, **kwargs)


def one_vessel(*batches, **matrix_kwargs) -> CampaignProblem:
    return CampaignProblem(
        vessels=[Vessel("R1", 1000.0)], batches=list(batches), changeovers=matrix(**matrix_kwargs)
    )


def sched(assignments, *cleanings) -> CampaignSchedule:
    return CampaignSchedule(
        assignments={k: ("R1", s, s + d) for k, (s, d) in assignments.items()},
        cleanings=[Cleaning("R1", kind, s, e, a, b) for kind, s, e, a, b in cleanings],
    )


# -- the checker: a feasible schedule and each rule broken once ---------------------------------


def ab_problem(**matrix_kwargs) -> CampaignProblem:
    return one_vessel(batch("a1", "A"), batch("a2", "A"), batch("b1", "B"), **matrix_kwargs)


GOOD = {"a1": (0, 100), "a2": (110, 100), "b1": (260, 100)}
GOOD_CLEANS = [(MINOR, 100, 110, "a1", "a2"), (MAJOR, 210, 260, "a2", "b1")]


def test_checker_accepts_a_correct_campaign():
    problem = ab_problem()
    schedule = sched(GOOD, *GOOD_CLEANS)
    assert campaign_violations(problem, schedule) == []
    metrics = campaign_metrics(problem, schedule)
    assert (metrics.makespan, metrics.changeover_minutes) == (360, 60)
    assert metrics.utilization == {"R1": 300 / 360}


def test_checker_overlap_of_batch_and_cleaning():
    schedule = sched({**GOOD, "a2": (105, 100)}, *GOOD_CLEANS)
    assert campaign_violations(ab_problem(), schedule) == [
        "vessel R1: the minor clean at 100 [100, 110) and batch a2 [105, 205) overlap",
        "vessel R1: no cleaning between batch a1 and batch a2",
    ]


def test_checker_missing_and_wrong_kind_of_cleaning():
    assert campaign_violations(ab_problem(), sched(GOOD, GOOD_CLEANS[1])) == [
        "vessel R1: no cleaning between batch a1 and batch a2"
    ]
    wrong = [GOOD_CLEANS[0], (MINOR, 210, 220, "a2", "b1")]
    assert campaign_violations(ab_problem(), sched(GOOD, *wrong)) == [
        "vessel R1: the cleaning between batch a2 and batch b1 is minor, A -> B needs a major clean"
    ]


def test_checker_cleaning_length_and_matrix_durations():
    problem = ab_problem(durations={("A", "B"): 30})
    assert campaign_violations(problem, sched(GOOD, *GOOD_CLEANS)) == [
        "vessel R1: the major clean between batch a2 and batch b1 lasts 50 minutes, it takes 30"
    ]
    short = [GOOD_CLEANS[0], (MAJOR, 210, 240, "a2", "b1")]
    assert campaign_violations(problem, sched(GOOD, *short)) == []


def test_checker_forbidden_sequence():
    problem = ab_problem(forbidden={("A", "B")})
    assert campaign_violations(problem, sched(GOOD, *GOOD_CLEANS)) == [
        "vessel R1: batch b1 (B) follows batch a2 (A), a forbidden sequence"
    ]


def test_checker_campaign_length_in_batches_and_minutes():
    problem = ab_problem(max_campaign_batches=1)
    assert campaign_violations(problem, sched(GOOD, *GOOD_CLEANS)) == [
        "vessel R1: batch a2 is batch 2 of a campaign without a major clean, the maximum is 1"
    ]
    problem = ab_problem(max_campaign_minutes=200)
    assert campaign_violations(problem, sched(GOOD, *GOOD_CLEANS)) == [
        "vessel R1: the campaign ending with batch a2 lasts 210 minutes without a major clean, "
        "the maximum is 200"
    ]
    # a major clean between the two A batches ends the campaign
    major_between = [(MAJOR, 100, 150, "a1", "a2"), (MAJOR, 250, 300, "a2", "b1")]
    assert (
        campaign_violations(
            problem, sched({"a1": (0, 100), "a2": (150, 100), "b1": (300, 100)}, *major_between)
        )
        == []
    )


def test_checker_dirty_and_clean_hold():
    problem = ab_problem(dirty_hold=20, clean_hold=30)
    late_clean = [(MINOR, 130, 140, "a1", "a2"), (MAJOR, 240, 290, "a2", "b1")]
    assert campaign_violations(
        problem, sched({"a1": (0, 100), "a2": (140, 100), "b1": (290, 100)}, *late_clean)
    ) == [
        "vessel R1: the cleaning after batch a1 starts 30 minutes after it ends, the dirty hold is 20"
    ]
    late = {"a1": (0, 100), "a2": (150, 100), "b1": (300, 100)}
    stale = [(MINOR, 100, 110, "a1", "a2"), (MAJOR, 250, 300, "a2", "b1")]
    assert campaign_violations(problem, sched(late, *stale)) == [
        "vessel R1: batch a2 starts 40 minutes after the cleaning ends, the clean hold is 30"
    ]
    # a re-clean of the clean vessel just before the batch restores the clean hold
    reclean = [stale[0], (MINOR, 130, 140, None, "a2"), stale[1]]
    assert campaign_violations(problem, sched(late, *reclean)) == []


def test_checker_volume_capability_release_duration_and_unscheduled():
    problem = CampaignProblem(
        vessels=[Vessel("R1", 500.0)],
        batches=[
            batch("big", "A", volume=800.0),
            batch("glass", "A", required_capabilities=frozenset({"glass-lined"})),
            batch("late", "A", release=1000),
            batch("missing", "A"),
        ],
        changeovers=matrix(),
    )
    schedule = CampaignSchedule(
        assignments={"big": ("R1", 0, 100), "glass": ("R1", 110, 200), "late": ("R1", 210, 310)},
        cleanings=[
            Cleaning("R1", MINOR, 100, 110, "big", "glass"),
            Cleaning("R1", MINOR, 200, 210, "glass", "late"),
        ],
    )
    assert campaign_violations(problem, schedule) == [
        "batch big (A) of 800 does not fit vessel R1 (working volume 500)",
        "batch glass (A) lasts 90 minutes, its duration is 100",
        "batch glass (A) needs glass-lined, which vessel R1 lacks",
        "batch late (A) starts at 210, before its release at 1000",
        "batch missing (A) is not scheduled",
    ]


def test_checker_frozen_locked_and_unavailability():
    problem = CampaignProblem(
        vessels=[Vessel("R1", 1000.0, unavailable=[(150, 200)]), Vessel("R2", 1000.0)],
        batches=[
            batch("f", "A", fixed_vessel="R1", fixed_start=0),
            batch("l", "A", locked_vessel="R1"),
        ],
        changeovers=matrix(),
    )
    schedule = CampaignSchedule(
        assignments={"f": ("R1", 10, 110), "l": ("R2", 120, 220)}, cleanings=[]
    )
    assert campaign_violations(problem, schedule) == [
        "batch f (A) is frozen on vessel R1 at 0 but runs on R1 at 10",
        "batch l (A) is locked to vessel R1 but runs on R2",
    ]
    schedule = CampaignSchedule(
        assignments={"f": ("R1", 0, 100), "l": ("R1", 110, 210)},
        cleanings=[Cleaning("R1", MINOR, 100, 110, "f", "l")],
    )
    assert campaign_violations(problem, schedule) == [
        "vessel R1: batch l [110, 210) falls in the unavailability [150, 200)"
    ]


def test_checker_dirty_initial_vessel_needs_its_cleaning():
    problem = CampaignProblem(
        vessels=[Vessel("R1", 1000.0, initial_product="X", initial_clean=False)],
        batches=[batch("a", "A")],
        changeovers=matrix(forbidden={("X", "A")}),
    )
    assert campaign_violations(problem, sched({"a": (0, 100)})) == [
        "vessel R1: batch a (A) is first after X, a forbidden sequence",
        "vessel R1: no cleaning between the initial state and batch a",
    ]


# -- refused input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("batches", "message"),
    [
        (
            [batch("huge", "A", volume=5000.0)],
            "batch huge (A) of 5000 fits no vessel: the largest working volume is 1000",
        ),
        (
            [batch("g", "A", required_capabilities=frozenset({"glass-lined"}))],
            "batch g (A) needs glass-lined: no vessel has it all",
        ),
        (
            [
                batch("f1", "A", fixed_vessel="R1", fixed_start=0),
                batch("f2", "A", fixed_vessel="R1", fixed_start=50),
            ],
            "frozen batches f1 [0, 100) and f2 [50, 150) overlap on vessel R1",
        ),
        (
            [
                batch("f1", "A", fixed_vessel="R1", fixed_start=0),
                batch("f2", "B", fixed_vessel="R1", fixed_start=120),
            ],
            "frozen batches f1 and f2 on vessel R1 leave 20 minutes between them, the cleaning needs 50",
        ),
        (
            [batch("x", "A", locked_vessel="R9")],
            "batch x (A) is locked to vessel R9, which does not exist",
        ),
        (
            [batch("x", "A", fixed_start=5)],
            "batch x (A) is frozen: give both its vessel and its start",
        ),
    ],
)
def test_infeasible_input_is_explained(batches, message):
    problem = one_vessel(*batches)
    for call in (
        lambda: dispatch_campaign(problem, "edd"),
        lambda: solve_campaign(problem, time_limit=1),
    ):
        with pytest.raises(InvalidInstance, match=re.escape(message)):
            call()


# -- random small problems: every schedule is feasible -----------------------------------------


def random_problem(seed: int, *, batches: int = 8) -> CampaignProblem:
    rng = random.Random(seed)
    products = ["A", "B", "C"][: rng.randint(2, 3)]
    vessels = [
        Vessel(
            f"R{i}",
            rng.choice([500.0, 1000.0]),
            capabilities=frozenset({"jacket"}) if i == 0 else frozenset(),
            unavailable=[(rng.randrange(0, 800), 0)] if rng.random() < 0.4 else [],
            initial_product=rng.choice([None, *products]),
            initial_clean=True,
        )
        for i in range(rng.randint(1, 3))
    ]
    for v in vessels:
        v.unavailable = [(s, s + rng.randrange(30, 120)) for s, _ in v.unavailable]
    vessels[0].working_volume = 1000.0
    items = []
    for k in range(batches):
        items.append(
            CampaignBatch(
                key=f"b{k}",
                product=rng.choice(products),
                volume=rng.choice([300.0, 800.0]),
                duration=rng.randrange(30, 150, 10),
                release=rng.randrange(0, 600, 10),
                due=rng.choice([None, rng.randrange(200, 1200, 10)]),
                weight=rng.randint(1, 3),
                required_capabilities=frozenset({"jacket"}) if rng.random() < 0.15 else frozenset(),
                locked_vessel="R0" if rng.random() < 0.1 else None,
            )
        )
    if rng.random() < 0.5:
        items[0].fixed_vessel, items[0].fixed_start = "R0", 0
        items[0].product = products[-1]  # nothing is forbidden after the last product
        items[0].volume = 300.0
        items[0].required_capabilities = frozenset()
        # no maintenance right after the frozen batch (its cleaning could then start nowhere
        # within the dirty hold: a true dead end, refused by both solvers)
        vessels[0].unavailable = [
            (s, e) for s, e in vessels[0].unavailable if s >= items[0].duration + 200
        ]
    # one direction only (A after B, never B after A), so every problem has a schedule
    forbidden = {(a, b) for a in products for b in products if a < b and rng.random() < 0.3}
    for v in vessels[1:]:
        if rng.random() < 0.5:
            v.initial_clean, v.initial_product = False, None  # dirty, product unknown
    return CampaignProblem(
        vessels=vessels,
        batches=items,
        changeovers=ChangeoverMatrix(
            minor_clean=rng.choice([0, 10, 20]),
            major_clean=rng.choice([40, 60]),
            durations={(products[0], products[1]): 25} if rng.random() < 0.5 else {},
            forbidden=forbidden,
            max_campaign_batches=rng.choice([None, 2, 3]),
            max_campaign_minutes=rng.choice([None, 400]),
            dirty_hold=rng.choice([None, 60]),
            clean_hold=rng.choice([None, 90]),
        ),
        name=f"random-{seed}",
    )


@pytest.mark.parametrize("rule", ["fifo", "edd", "atcs"])
def test_dispatching_rules_are_feasible_on_random_problems(rule):
    for seed in range(60):
        problem = random_problem(seed)
        schedule = dispatch_campaign(problem, rule)
        assert campaign_violations(problem, schedule) == [], problem.name
        for b in problem.batches:
            vessel, start, _end = schedule.assignments[b.key]
            if b.fixed_start is not None:
                assert (vessel, start) == (b.fixed_vessel, b.fixed_start)
            if b.locked_vessel is not None:
                assert vessel == b.locked_vessel


def test_solver_is_feasible_and_never_worse_than_dispatching_on_random_problems():
    for seed in range(8):
        problem = random_problem(seed, batches=7)
        result = solve_campaign(problem, time_limit=1.5)
        assert campaign_violations(problem, result.schedule) == [], problem.name
        assert result.objective <= result.start_objective <= result.dispatch_objective
        assert result.status in ("optimal", "feasible", "dispatch")
        metrics = campaign_metrics(problem, result.schedule)
        assert (result.makespan, result.tardiness, result.changeover_minutes) == (
            metrics.makespan,
            metrics.tardiness,
            metrics.changeover_minutes,
        )


# -- the solver's decisions on small exact cases -----------------------------------------------


def test_solver_groups_products_into_a_campaign():
    # A B A B on one vessel, no due dates: A A B B needs minor + major + minor = 70 minutes
    problem = one_vessel(batch("a1", "A"), batch("b1", "B"), batch("a2", "A"), batch("b2", "B"))
    result = solve_campaign(problem, time_limit=2, weights={"makespan": 1, "changeover": 1})
    assert result.status == "optimal"
    assert campaign_violations(problem, result.schedule) == []
    assert result.changeover_minutes == 70
    assert result.makespan == 470
    assert sorted(c.kind for c in result.schedule.cleanings) == [MAJOR, MINOR, MINOR]
    seq = result.schedule.sequence("R1")
    assert [problem.batch(k).product for k in seq] in (list("AABB"), list("BBAA"))


def test_objective_weights_choose_between_tardiness_and_changeovers():
    problem = one_vessel(
        batch("a1", "A", due=100),
        batch("b1", "B", due=250),
        batch("a2", "A", due=400, weight=1),
    )
    # tardiness first: A B A keeps every due date
    result = solve_campaign(
        problem, time_limit=2, weights={"tardiness": 100, "makespan": 0, "changeover": 1}
    )
    assert result.schedule.sequence("R1") == ["a1", "b1", "a2"]
    assert result.tardiness == 0
    # changeovers first: A A B
    result = solve_campaign(
        problem, time_limit=2, weights={"tardiness": 0, "makespan": 0, "changeover": 1}
    )
    assert result.schedule.sequence("R1") == ["a1", "a2", "b1"]
    assert result.changeover_minutes == 60
    assert result.status == "optimal"


def test_campaign_limit_forces_a_major_clean():
    problem = one_vessel(*(batch(f"a{i}", "A") for i in range(4)), max_campaign_batches=2)
    for schedule in (
        dispatch_campaign(problem, "edd"),
        solve_campaign(problem, time_limit=2).schedule,
    ):
        assert campaign_violations(problem, schedule) == []
        assert [c.kind for c in sorted(schedule.cleanings, key=lambda c: c.start)] == [
            MINOR,
            MAJOR,
            MINOR,
        ]


def test_forbidden_sequence_is_avoided():
    # EDD would put A first, but B may never follow A: both the dispatcher (which retries with
    # the stuck batch first) and the solver put B first
    problem = one_vessel(batch("a", "A", due=100), batch("b", "B", due=300), forbidden={("A", "B")})
    for schedule in (
        dispatch_campaign(problem, "edd"),
        solve_campaign(problem, time_limit=2).schedule,
    ):
        assert schedule.sequence("R1") == ["b", "a"]
        assert campaign_violations(problem, schedule) == []


def test_a_dirty_vessel_that_may_never_run_the_product_is_explained():
    # R1 last made A and is dirty; A -> B is forbidden and B fits nowhere else
    problem = CampaignProblem(
        vessels=[Vessel("R1", 1000.0, initial_product="A", initial_clean=False)],
        batches=[batch("b", "B")],
        changeovers=matrix(forbidden={("A", "B")}),
    )
    with pytest.raises(NoCampaignSchedule, match="batches b cannot follow the last product"):
        dispatch_campaign(problem, "edd")
    with pytest.raises(NoCampaignSchedule, match="no schedule satisfies"):
        solve_campaign(problem, time_limit=1)


def test_clean_hold_adds_a_reclean_when_a_batch_is_released_late():
    problem = one_vessel(
        batch("a1", "A", fixed_vessel="R1", fixed_start=0),
        batch("a2", "A", release=500),
        dirty_hold=30,
        clean_hold=100,
    )
    for schedule in (
        dispatch_campaign(problem, "fifo"),
        solve_campaign(problem, time_limit=2).schedule,
    ):
        assert campaign_violations(problem, schedule) == []
        cleans = sorted(schedule.cleanings, key=lambda c: c.start)
        assert len(cleans) == 2
        first, again = cleans
        assert first.start - 100 <= 30  # within the dirty hold after a1
        assert (first.after, again.after, again.before) == ("a1", None, "a2")
        assert 500 - again.end <= 100  # within the clean hold before a2


def test_frozen_and_locked_batches_are_respected_by_the_solver():
    problem = CampaignProblem(
        vessels=[Vessel("R1", 1000.0), Vessel("R2", 1000.0)],
        batches=[
            batch("f", "A", fixed_vessel="R2", fixed_start=-30),
            batch("l1", "B", locked_vessel="R2", due=200),
            batch("x", "B", due=150),
            batch("y", "A", due=150),
        ],
        changeovers=matrix(),
    )
    result = solve_campaign(problem, time_limit=2)
    assert campaign_violations(problem, result.schedule) == []
    assert result.schedule.assignments["f"] == ("R2", -30, 70)
    assert result.schedule.assignments["l1"][0] == "R2"


def test_identical_vessels_are_found_and_relabelled_in_first_batch_order():
    problem = CampaignProblem(
        vessels=[Vessel("R1", 1000.0), Vessel("R2", 1000.0), Vessel("R3", 500.0)],
        batches=[batch("a", "A"), batch("b", "B")],
        changeovers=matrix(),
    )
    assert _identical_vessel_groups(problem) == [["R1", "R2"]]
    swapped = CampaignSchedule(assignments={"a": ("R2", 0, 100), "b": ("R1", 0, 100)})
    relabelled = _relabel_for_symmetry(problem, swapped, [["R1", "R2"]])
    assert relabelled.assignments == {"a": ("R1", 0, 100), "b": ("R2", 0, 100)}
    result = solve_campaign(problem, time_limit=2, hint=swapped)
    assert result.status == "optimal"
    assert result.makespan == 100
    assert campaign_violations(problem, result.schedule) == []


def test_progress_reports_schedules_and_stop_ends_the_search():
    problem = generate_campaign_problem(products=6, batches=30, vessels=2, seed=3)
    seen = []
    stop = threading.Event()

    def on_progress(p):
        seen.append(p)
        stop.set()  # the planner presses "stop" at the first schedule

    result = solve_campaign(problem, time_limit=2, progress=on_progress, stop=stop)
    assert result.stopped
    assert len(seen) == 1
    assert campaign_violations(problem, seen[0].schedule) == []
    assert seen[0].objective == campaign_metrics(problem, seen[0].schedule).objective()
    assert campaign_violations(problem, result.schedule) == []
    assert result.objective <= seen[0].objective


def test_a_better_given_schedule_is_the_warm_start():
    problem = one_vessel(
        batch("a1", "A", due=1000), batch("b1", "B", due=1000), batch("a2", "A", due=1000)
    )
    good = sched(
        {"a1": (0, 100), "a2": (110, 100), "b1": (260, 100)},
        (MINOR, 100, 110, "a1", "a2"),
        (MAJOR, 210, 260, "a2", "b1"),
    )
    result = solve_campaign(problem, time_limit=1, hint=good)
    assert result.start_source == "given schedule"
    assert result.objective <= campaign_metrics(problem, good).objective()


def test_generated_plant_is_reproducible_and_dispatchable():
    one = generate_campaign_problem(products=30, batches=200, vessels=6, seed=7)
    two = generate_campaign_problem(products=30, batches=200, vessels=6, seed=7)
    assert one == two
    assert len(one.batches) == 200
    assert len({b.product for b in one.batches}) == 30
    for rule in ("fifo", "edd", "atcs"):
        assert campaign_violations(one, dispatch_campaign(one, rule)) == []


def test_local_search_forms_campaigns_and_keeps_every_rule():
    problem = generate_campaign_problem(products=8, batches=40, vessels=2, seed=11)
    start = dispatch_campaign(problem, "edd")
    before = campaign_metrics(problem, start)
    improved, value = improve_campaign(problem, start, time_budget=1.0, seed=1)
    after = campaign_metrics(problem, improved)
    assert campaign_violations(problem, improved) == []
    assert value == after.objective()
    assert value < before.objective()


def test_large_problems_are_solved_two_vessels_at_a_time():
    problem = generate_campaign_problem(products=6, batches=24, vessels=4, seed=5)
    result = solve_campaign(problem, time_limit=2, decompose_above=10, local_search=0.2)
    assert campaign_violations(problem, result.schedule) == []
    assert result.start_source.endswith("+ CP-SAT on vessel pairs")
    assert result.objective <= result.start_objective <= result.dispatch_objective
    assert result.objective == campaign_metrics(problem, result.schedule).objective()
    assert result.lower_bound is None


def test_local_search_keeps_every_rule_on_random_problems():
    for seed in range(15):
        problem = random_problem(seed, batches=12)
        start = dispatch_campaign(problem, "fifo")
        improved, value = improve_campaign(problem, start, time_budget=0.15, seed=seed)
        assert campaign_violations(problem, improved) == [], problem.name
        assert value == campaign_metrics(problem, improved).objective()
        assert value <= campaign_metrics(problem, start).objective()
        for b in problem.batches:
            if b.fixed_start is not None:
                assert improved.assignments[b.key][:2] == (b.fixed_vessel, b.fixed_start)
            if b.locked_vessel is not None:
                assert improved.assignments[b.key][0] == b.locked_vessel
