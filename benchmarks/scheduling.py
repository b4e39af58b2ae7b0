"""Scheduling benchmark: the job-shop solver against a plain CP-SAT model, and the vessel
campaign solver against first-in-first-out and earliest-due-date dispatching.

    python benchmarks/scheduling.py [--instances ft06,la01-la05,mk01] [--time-limit 60] [--workers 2]
    python benchmarks/scheduling.py --part campaign [--campaign-time-limit 60]
    python benchmarks/scheduling.py --part jobshop|campaign|both ...   (default: both)

Instances (benchmarks/data/jobshop/, see its README for source and licence): ft06, ft10, ft20,
la01-la40 (JSP) and mk01-mk10 (Brandimarte FJSP). Per instance it prints the makespan found by
the product's solver (scheduling.solver.solve) and by a plain CP-SAT model (one interval per
operation or optional intervals for flexible ones, no-overlap per machine, precedence, makespan
objective, default parameters) given the same time limit and number of workers, the published
optimum or best known upper bound, both gaps and both times, then the mean gaps and on how
many instances the product is better / worse than the plain model. The two run one after the
other on each instance, the product first on even-numbered ones and the plain model first on
the others, so that a change in the machine's load hits both alike; the load average is
printed per instance.

Campaign part: a generated plant (`generate_campaign_problem`: 30 products, 200 batches,
6 vessels, a changeover matrix with product families, forbidden pairs, campaign limits and hold
times); for FIFO and EDD dispatching and for `solve_campaign` it prints the total changeover
hours, the weighted tardiness (weight x minutes late, in hours), the makespan and the number of
rule violations found by the independent checker (0 = feasible).
The machine's load average is printed before and after (the machine may be shared).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ortools.sat.python import cp_model  # noqa: E402

from scheduling.solver import Assignment, Schedule, check_schedule, read_instance, solve  # noqa: E402
from scheduling.solver.campaign import (  # noqa: E402
    campaign_metrics,
    campaign_violations,
    dispatch_campaign,
    generate_campaign_problem,
    solve_campaign,
)

DATA = ROOT / "benchmarks" / "data" / "jobshop"
JSP = ["ft06", "ft10", "ft20"] + [f"la{i:02d}" for i in range(1, 41)]
FJSP = [f"mk{i:02d}" for i in range(1, 11)]


def reference_values() -> dict[str, tuple[int | None, int]]:
    """name -> (proven optimum or None, best known upper bound)."""
    out = {}
    for path in (DATA / "jsp" / "optima.txt", DATA / "fjsp" / "best_known.txt"):
        for line in path.read_text().splitlines():
            parts = line.split()
            if len(parts) >= 6:
                optimum = None if parts[3] == "-" else int(parts[3])
                out[parts[0]] = (optimum, int(parts[5]))
    return out


def expand(spec: str) -> list[str]:
    names = []
    for part in spec.split(","):
        part = part.strip()
        if part in ("all", "jsp"):
            names += JSP
        if part in ("all", "fjsp"):
            names += FJSP
        if part in ("all", "jsp", "fjsp"):
            continue
        m = re.fullmatch(r"([a-z]+)(\d+)-(?:[a-z]+)?(\d+)", part)
        if m:
            prefix, lo, hi = m.group(1), int(m.group(2)), int(m.group(3))
            names += [f"{prefix}{i:02d}" for i in range(lo, hi + 1)]
        elif part:
            names.append(part)
    return names


def path_of(name: str) -> tuple[Path, bool]:
    if name.startswith("mk"):
        return DATA / "fjsp" / f"{name}.txt", True
    return DATA / "jsp" / f"{name}.txt", False


def solve_plain(instance, *, time_limit: float, workers: int) -> tuple[int | None, str, float]:
    """The floor: intervals, no-overlap, precedence, default parameters."""
    t0 = time.monotonic()
    model = cp_model.CpModel()
    horizon = sum(max(a.duration for a in op.alternatives) for _, _, _, op in instance.operations())
    per_machine: dict[int, list] = {}
    starts, ends, chosen = [], [], []
    for j, job in enumerate(instance.jobs):
        js, je, jc = [], [], []
        for k, op in enumerate(job.operations):
            s = model.new_int_var(0, horizon, f"s{j}_{k}")
            e = model.new_int_var(0, horizon, f"e{j}_{k}")
            if len(op.alternatives) == 1:
                a = op.alternatives[0]
                per_machine.setdefault(a.machine, []).append(
                    model.new_interval_var(s, a.duration, e, "")
                )
                jc.append([(a.machine, True)])
            else:
                lits = []
                for a in op.alternatives:
                    lit = model.new_bool_var("")
                    iv = model.new_optional_interval_var(s, a.duration, e, lit, "")
                    per_machine.setdefault(a.machine, []).append(iv)
                    lits.append((a.machine, lit))
                model.add_exactly_one(lit for _, lit in lits)
                jc.append(lits)
            if k:
                model.add(s >= je[-1])
            js.append(s)
            je.append(e)
        starts.append(js)
        ends.append(je)
        chosen.append(jc)
    for intervals in per_machine.values():
        model.add_no_overlap(intervals)
    makespan = model.new_int_var(0, horizon, "makespan")
    model.add_max_equality(makespan, [je[-1] for je in ends if je])
    model.minimize(makespan)
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = time_limit
    solver.parameters.num_workers = workers
    status = solver.solve(model)
    wall = time.monotonic() - t0
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None, solver.status_name(status).lower(), wall
    schedule = Schedule(
        assignments=[
            [
                Assignment(
                    next(m for m, lit in chosen[j][k] if lit is True or solver.value(lit)),
                    solver.value(starts[j][k]),
                    solver.value(ends[j][k]),
                )
                for k in range(len(job.operations))
            ]
            for j, job in enumerate(instance.jobs)
        ]
    )
    check_schedule(instance, schedule)
    return schedule.makespan, solver.status_name(status).lower(), wall


def gap(value: int | None, best: int) -> float | None:
    return None if value is None else 100.0 * (value - best) / best


def fmt_gap(g: float | None) -> str:
    return "   -  " if g is None else f"{g:6.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--instances", default="all", help="e.g. ft06,la01-la05,mk01-mk10, jsp, fjsp, all"
    )
    parser.add_argument(
        "--time-limit", type=float, default=60.0, help="seconds per instance and solver"
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-plain", action="store_true", help="skip the plain model")
    parser.add_argument("--part", choices=["jobshop", "campaign", "both"], default="both")
    parser.add_argument("--campaign-time-limit", type=float, default=60.0)
    parser.add_argument("--campaign-seed", type=int, default=7)
    args = parser.parse_args(argv)
    print(f"load average before: {load()}", flush=True)
    if args.part in ("jobshop", "both"):
        jobshop(args)
    if args.part in ("campaign", "both"):
        campaign(args)
    print(f"load average after: {load()}", flush=True)
    return 0


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg()) + f" ({os.cpu_count()} cores)"


def campaign(args) -> None:
    problem = generate_campaign_problem(
        products=30, batches=200, vessels=6, seed=args.campaign_seed
    )
    m = problem.changeovers
    print(
        f"\ncampaign problem {problem.name}: {len(problem.batches)} batches, "
        f"{len({b.product for b in problem.batches})} products, {len(problem.vessels)} vessels; "
        f"clean minor {m.minor_clean} / major {m.major_clean} min ({len(m.durations)} pair "
        f"durations), {len(m.forbidden)} forbidden pairs, campaigns <= {m.max_campaign_batches} "
        f"batches / {m.max_campaign_minutes} min, dirty hold {m.dirty_hold} min, clean hold "
        f"{m.clean_hold} min\n"
        f"{'method':<22}{'changeover h':>13}{'w. tardiness h':>15}{'makespan h':>11}"
        f"{'cleanings':>10}{'violations':>11}{'time s':>8}",
        flush=True,
    )
    rows = []
    for rule in ("fifo", "edd"):
        t0 = time.monotonic()
        schedule = dispatch_campaign(problem, rule)
        rows.append((f"dispatch {rule.upper()}", schedule, time.monotonic() - t0))
    result = solve_campaign(problem, time_limit=args.campaign_time_limit, num_workers=args.workers)
    rows.append(
        (
            f"solver {args.campaign_time_limit:g}s ({result.status})",
            result.schedule,
            result.solve_seconds,
        )
    )
    for name, schedule, seconds in rows:
        metrics = campaign_metrics(problem, schedule)
        violations = campaign_violations(problem, schedule)
        print(
            f"{name:<22}{metrics.changeover_minutes / 60:>13.1f}{metrics.tardiness / 60:>15.1f}"
            f"{metrics.makespan / 60:>11.1f}{len(schedule.cleanings):>10}{len(violations):>11}"
            f"{seconds:>8.1f}",
            flush=True,
        )
    print(
        f"solver start: {result.start_source} (objective {result.start_objective}), "
        f"final objective {result.objective}, bound {result.lower_bound}, "
        f"{len(result.progress)} improvements"
    )


def jobshop(args) -> None:
    refs = reference_values()
    names = expand(args.instances)
    print(
        f"time limit {args.time_limit:g} s, {args.workers} workers; gap = (makespan - best) / best\n"
        f"{'inst':<6}{'best':>6} {'opt?':>4} | {'product':>8}{'status':>9}{'gap%':>7}{'time':>7} "
        f"| {'plain':>8}{'status':>9}{'gap%':>7}{'time':>7} | load (1 min) after both"
    )
    gaps: dict[str, list[float]] = {"product": [], "plain": []}
    groups: dict[str, dict[str, list[float]]] = {}
    pairs: dict[str, list[tuple[float, float]]] = {}
    for index, name in enumerate(names):
        path, flexible = path_of(name)
        instance = read_instance(path, flexible=flexible)
        optimum, best = refs.get(name, (None, 0))

        def run_product(instance=instance):
            return solve(instance, time_limit=args.time_limit, num_workers=args.workers)

        def run_plain(instance=instance):
            return solve_plain(instance, time_limit=args.time_limit, workers=args.workers)

        # alternate which solver goes first, so that a change of the machine's load hits both
        if args.no_plain:
            res, plain = run_product(), None
        elif index % 2 == 0:
            res, plain = run_product(), run_plain()
        else:
            plain = run_plain()
            res = run_product()
        g1 = gap(res.makespan, best) if best else None
        line = (
            f"{name:<6}{best:>6} {'yes' if optimum else 'no':>4} | {res.makespan:>8}{res.status:>9}"
            f"{fmt_gap(g1):>7}{res.wall_time:>7.1f} "
        )
        if plain is not None:
            mk, status, wall = plain
            g2 = gap(mk, best) if best else None
            line += f"| {mk if mk is not None else '-':>8}{status:>9}{fmt_gap(g2):>7}{wall:>7.1f}"
            if g2 is not None and g1 is not None:
                pairs.setdefault(group_of(name), []).append((g1, g2))
            if g2 is not None:
                gaps["plain"].append(g2)
                groups.setdefault(group_of(name), {}).setdefault("plain", []).append(g2)
        line += f" | load {os.getloadavg()[0]:.1f}"
        print(line, flush=True)
        if g1 is not None:
            gaps["product"].append(g1)
            groups.setdefault(group_of(name), {}).setdefault("product", []).append(g1)
    for group, values in groups.items():
        text = ", ".join(
            f"{who} {statistics.mean(v):.2f} % ({len(v)})" for who, v in values.items()
        )
        print(f"mean gap {group}: {text}")
        both = pairs.get(group, [])
        if both:
            wins = sum(a < b for a, b in both)
            losses = sum(a > b for a, b in both)
            print(
                f"  product better than plain on {wins}, worse on {losses}, "
                f"equal on {len(both) - wins - losses}"
            )


def group_of(name: str) -> str:
    if name.startswith("mk"):
        return "mk01-mk10"
    if name.startswith("la"):
        n = int(name[2:])
        return "la01-la20" if n <= 20 else "la21-la40"
    return "ft"


if __name__ == "__main__":
    raise SystemExit(main())
