"""Batches on vessels in campaigns: the data, the rules, an independent checker, dispatching
rules and the CP-SAT model (pure Python + OR-Tools, no Django).

Times are integer minutes from the horizon start (a frozen batch may start before 0).

The rules (checked by `campaign_violations`, kept by `dispatch_campaign` and `solve_campaign`):
- a batch runs on one vessel whose working volume holds it and which has every capability it
  needs; a frozen batch (`fixed_vessel` + `fixed_start`) runs exactly there and then, a locked
  one (`locked_vessel`) on that vessel; a batch that is not frozen starts at or after its release;
- on a vessel nothing overlaps: batches, cleanings and the unavailability windows (maintenance,
  no shift);
- between two consecutive batches on a vessel there is a cleaning (an explicit `Cleaning`, even
  of zero minutes): "minor" when the matrix says so (by default: same product), otherwise
  "major"; a major clean may always replace a minor one. Its length is `durations[(from, to)]`
  when given for the kind the pair needs, else `minor_clean` / `major_clean`;
- a forbidden (from, to) product pair never runs back to back on a vessel (a cleaning between
  them does not make it allowed);
- a campaign is a run of batches separated only by minor cleans: at most
  `max_campaign_batches` batches and at most `max_campaign_minutes` from the start of its first
  batch to the end of its last; then the next cleaning must be major;
- dirty hold: the cleaning after a batch starts at most `dirty_hold` minutes after the batch
  ends; clean hold: a batch starts at most `clean_hold` minutes after the end of the latest
  cleaning before it. When a vessel idles longer than that (the next batch is released late),
  the vessel is cleaned within the dirty hold and cleaned again ("minor" re-clean of a clean
  vessel, `minor_clean` minutes, `after` = None) so that the batch starts within the clean hold;
- the vessel's state at the horizon start: `initial_clean` vessels need no cleaning before their
  first batch (and no clean hold applies to it); a dirty vessel is cleaned before its first
  batch with the kind `initial_product` -> product needs (major when the product is unknown),
  without a dirty hold (that batch ended before the horizon). Campaign counters start at the
  horizon start. A frozen batch that is first on its vessel has already started: its cleaning is
  in the past and is not asked for;
- after a vessel's last batch no cleaning is planned (the next plan decides its kind).

`campaign_violations(problem, schedule)` lists every broken rule in words;
`dispatch_campaign(problem, "fifo" | "edd" | "atcs")` builds a feasible schedule by a dispatching
rule; `solve_campaign(problem, time_limit=...)` optimises with CP-SAT, warm-started from the
best dispatching schedule (or the `hint`, e.g. the published schedule).
"""

from __future__ import annotations

import bisect
import dataclasses
import itertools
import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from scheduling.solver.instance import InvalidInstance

MINOR, MAJOR = "minor", "major"
INF = 10**15


class NoCampaignSchedule(InvalidInstance):
    """No schedule found (e.g. forbidden sequences leave a batch nowhere to go)."""

    code = "no_schedule_found"

    def __init__(self, detail: str, *, stuck: list[str] | None = None) -> None:
        super().__init__(detail)
        self.stuck = stuck or []


# -- the problem -------------------------------------------------------------------------------


@dataclass
class Vessel:
    key: str
    working_volume: float
    capabilities: frozenset[str] = frozenset()
    unavailable: list[tuple[int, int]] = field(default_factory=list)
    """[start, end) windows in which the vessel can do nothing (maintenance, no shift)."""
    initial_product: str | None = None
    """The last product made in the vessel before the horizon."""
    initial_clean: bool = True


@dataclass
class CampaignBatch:
    key: str
    product: str
    volume: float
    duration: int
    release: int = 0
    due: int | None = None
    weight: int = 1
    required_capabilities: frozenset[str] = frozenset()
    fixed_vessel: str | None = None
    fixed_start: int | None = None
    """Frozen (started): the batch runs on `fixed_vessel` from `fixed_start`."""
    locked_vessel: str | None = None
    """The planner locked the batch to this vessel; the solver chooses only the time."""

    @property
    def frozen(self) -> bool:
        return self.fixed_start is not None


@dataclass
class ChangeoverMatrix:
    minor_clean: int
    major_clean: int
    major: set[tuple[str, str]] | None = None
    """Product pairs (from, to) needing a major clean; None: every product change does."""
    durations: dict[tuple[str, str], int] = field(default_factory=dict)
    """Explicit clean minutes from -> to, for the kind the pair needs (overrides the defaults)."""
    forbidden: set[tuple[str, str]] = field(default_factory=set)
    max_campaign_batches: int | None = None
    max_campaign_minutes: int | None = None
    dirty_hold: int | None = None
    """The cleaning must start within this many minutes after a batch ends."""
    clean_hold: int | None = None
    """The next batch must start within this many minutes after the cleaning ends."""

    def needed_kind(self, before: str | None, after: str) -> str:
        """The kind of clean the sequence before -> after needs (major when before is unknown)."""
        if before is None:
            return MAJOR
        if self.major is None:
            return MAJOR if before != after else MINOR
        return MAJOR if (before, after) in self.major else MINOR

    def minutes(self, before: str | None, after: str, kind: str) -> int:
        """The length of a `kind` clean between before and after."""
        if (
            before is not None
            and (before, after) in self.durations
            and kind == self.needed_kind(before, after)
        ):
            return self.durations[(before, after)]
        return self.major_clean if kind == MAJOR else self.minor_clean

    def is_forbidden(self, before: str | None, after: str) -> bool:
        return before is not None and (before, after) in self.forbidden

    def longest_clean(self) -> int:
        return max([self.major_clean, self.minor_clean, *self.durations.values()])


@dataclass
class CampaignProblem:
    vessels: list[Vessel]
    batches: list[CampaignBatch]
    changeovers: ChangeoverMatrix
    horizon: int | None = None
    """The planning window shown to the planner; batches may end after it."""
    name: str = ""

    def vessel(self, key: str) -> Vessel:
        return self._vessels()[key]

    def batch(self, key: str) -> CampaignBatch:
        return self._batches()[key]

    def _vessels(self) -> dict[str, Vessel]:
        return {v.key: v for v in self.vessels}

    def _batches(self) -> dict[str, CampaignBatch]:
        return {b.key: b for b in self.batches}

    def fits(self, batch: CampaignBatch, vessel: Vessel) -> bool:
        """Volume and capabilities (ignores locks and frozen vessels)."""
        return (
            batch.volume <= vessel.working_volume
            and batch.required_capabilities <= vessel.capabilities
        )

    def eligible(self, batch: CampaignBatch) -> list[Vessel]:
        """The vessels the batch may use (its fixed or locked one only, when it has one)."""
        pinned = batch.fixed_vessel or batch.locked_vessel
        return [v for v in self.vessels if self.fits(batch, v) and pinned in (None, v.key)]

    def validate(self) -> None:
        """Refuse what no schedule can satisfy, naming the batch (raises InvalidInstance)."""
        m = self.changeovers
        if not self.vessels:
            raise InvalidInstance("the campaign problem has no vessel")
        for what, value in (
            ("minor clean", m.minor_clean),
            ("major clean", m.major_clean),
            *((f"clean {a} -> {b}", d) for (a, b), d in m.durations.items()),
        ):
            if value < 0:
                raise InvalidInstance(f"the {what} lasts {value} minutes: it cannot be negative")
        for what, value in (
            ("maximum campaign length in batches", m.max_campaign_batches),
            ("maximum campaign length in minutes", m.max_campaign_minutes),
            ("dirty hold", m.dirty_hold),
            ("clean hold", m.clean_hold),
        ):
            if value is not None and value < (1 if "batches" in what else 0):
                raise InvalidInstance(f"the {what} is {value}")
        vessels: dict[str, Vessel] = {}
        for v in self.vessels:
            if v.key in vessels:
                raise InvalidInstance(f"vessel {v.key} is listed twice")
            vessels[v.key] = v
            if v.working_volume <= 0:
                raise InvalidInstance(f"vessel {v.key} has no working volume")
            for s, e in v.unavailable:
                if e < s:
                    raise InvalidInstance(
                        f"vessel {v.key} has an unavailability ending before it starts"
                    )
        seen: set[str] = set()
        frozen: dict[str, list[CampaignBatch]] = {}
        largest = max(v.working_volume for v in self.vessels)
        for b in self.batches:
            name = f"batch {b.key} ({b.product})"
            if b.key in seen:
                raise InvalidInstance(f"batch {b.key} is listed twice")
            seen.add(b.key)
            if b.duration < 0:
                raise InvalidInstance(f"{name} has a negative duration")
            if b.weight < 0:
                raise InvalidInstance(f"{name} has a negative weight")
            if b.volume > largest:
                raise InvalidInstance(
                    f"{name} of {b.volume:g} fits no vessel: the largest working volume is {largest:g}"
                )
            if not any(b.required_capabilities <= v.capabilities for v in self.vessels):
                raise InvalidInstance(
                    f"{name} needs {', '.join(sorted(b.required_capabilities))}: no vessel has it all"
                )
            if not any(self.fits(b, v) for v in self.vessels):
                raise InvalidInstance(
                    f"{name} fits no vessel: none holds {b.volume:g} with "
                    f"{', '.join(sorted(b.required_capabilities))}"
                )
            for label, key in (("frozen on", b.fixed_vessel), ("locked to", b.locked_vessel)):
                if key is None:
                    continue
                if key not in vessels:
                    raise InvalidInstance(f"{name} is {label} vessel {key}, which does not exist")
                if not self.fits(b, vessels[key]):
                    raise InvalidInstance(
                        f"{name} is {label} vessel {key}, which does not hold it "
                        f"(volume {b.volume:g} > {vessels[key].working_volume:g} or a capability missing)"
                    )
            if b.fixed_vessel and b.locked_vessel and b.fixed_vessel != b.locked_vessel:
                raise InvalidInstance(
                    f"{name} is frozen on vessel {b.fixed_vessel} but locked to {b.locked_vessel}"
                )
            if (b.fixed_start is None) != (b.fixed_vessel is None):
                raise InvalidInstance(f"{name} is frozen: give both its vessel and its start")
            if m.max_campaign_minutes is not None and b.duration > m.max_campaign_minutes:
                raise InvalidInstance(
                    f"{name} lasts {b.duration} minutes, longer than the maximum campaign "
                    f"of {m.max_campaign_minutes} minutes"
                )
            if b.fixed_vessel is not None:
                frozen.setdefault(b.fixed_vessel, []).append(b)
                v = vessels[b.fixed_vessel]
                for s, e in v.unavailable:
                    if b.fixed_start < e and s < b.fixed_start + b.duration and e > s:
                        raise InvalidInstance(
                            f"{name} is frozen at {b.fixed_start} on vessel {v.key}, "
                            f"which is unavailable in [{s}, {e})"
                        )
        for key, items in frozen.items():
            items.sort(key=lambda b: b.fixed_start)
            for a, b in itertools.pairwise(items):
                a_end = a.fixed_start + a.duration
                if b.fixed_start < a_end:
                    raise InvalidInstance(
                        f"frozen batches {a.key} [{a.fixed_start}, {a_end}) and {b.key} "
                        f"[{b.fixed_start}, {b.fixed_start + b.duration}) overlap on vessel {key}"
                    )
                need = m.minutes(a.product, b.product, m.needed_kind(a.product, b.product))
                if b.fixed_start - a_end < need:
                    raise InvalidInstance(
                        f"frozen batches {a.key} and {b.key} on vessel {key} leave "
                        f"{b.fixed_start - a_end} minutes between them, the cleaning needs {need}"
                    )


# -- the schedule ------------------------------------------------------------------------------


@dataclass
class Cleaning:
    vessel: str
    kind: str
    """"minor" | "major"."""
    start: int
    end: int
    after: str | None
    """The batch it cleans after (None: the initial state, or a re-clean of a clean vessel)."""
    before: str | None
    """The batch it prepares for."""

    @property
    def minutes(self) -> int:
        return self.end - self.start


@dataclass
class CampaignSchedule:
    assignments: dict[str, tuple[str, int, int]]
    """batch key -> (vessel key, start, end)."""
    cleanings: list[Cleaning] = field(default_factory=list)

    def sequence(self, vessel: str) -> list[str]:
        """The batch keys on a vessel in time order."""
        items = [(s, k) for k, (v, s, _e) in self.assignments.items() if v == vessel]
        return [k for _s, k in sorted(items)]

    @property
    def makespan(self) -> int:
        return max((e for _v, _s, e in self.assignments.values()), default=0)


@dataclass
class CampaignProgress:
    """One improving schedule found during the search."""

    wall_time: float
    objective: int
    objective_bound: float
    makespan: int
    tardiness: int
    changeover_minutes: int
    schedule: CampaignSchedule | None = None


@dataclass
class CampaignResult:
    schedule: CampaignSchedule
    makespan: int
    tardiness: int
    """Weighted: sum of weight * max(0, end - due)."""
    changeover_minutes: int
    utilization: dict[str, float]
    """Per vessel: batch minutes / makespan."""
    status: str
    """"optimal" (proven), "feasible" (the best found within the limit), "dispatch" (nothing
    better than the best dispatching rule or the given schedule was found)."""
    lower_bound: int | None
    """A proven lower bound on the objective (None when unknown)."""
    solve_seconds: float
    objective: int = 0
    start_source: str = ""
    start_objective: int | None = None
    """The objective of the schedule handed to CP-SAT (after the local search)."""
    dispatch_objective: int | None = None
    """The objective of the best dispatching rule (or the given schedule)."""
    stopped: bool = False
    progress: list[CampaignProgress] = field(default_factory=list)


DEFAULT_WEIGHTS = {"tardiness": 1, "makespan": 1, "changeover": 1}


@dataclass
class CampaignMetrics:
    makespan: int
    tardiness: int
    changeover_minutes: int
    utilization: dict[str, float]

    def objective(self, weights: dict | None = None) -> int:
        w = {**DEFAULT_WEIGHTS, **(weights or {})}
        return int(
            w["tardiness"] * self.tardiness
            + w["makespan"] * self.makespan
            + w["changeover"] * self.changeover_minutes
        )


def campaign_metrics(problem: CampaignProblem, schedule: CampaignSchedule) -> CampaignMetrics:
    makespan = schedule.makespan
    tardiness = 0
    busy: dict[str, int] = {v.key: 0 for v in problem.vessels}
    for b in problem.batches:
        if b.key not in schedule.assignments:
            continue
        v, s, e = schedule.assignments[b.key]
        busy[v] = busy.get(v, 0) + (e - s)
        if b.due is not None:
            tardiness += b.weight * max(0, e - b.due)
    return CampaignMetrics(
        makespan=makespan,
        tardiness=tardiness,
        changeover_minutes=sum(c.end - c.start for c in schedule.cleanings),
        utilization={k: (t / makespan if makespan > 0 else 0.0) for k, t in busy.items()},
    )


# -- the independent check ---------------------------------------------------------------------


def _overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1] and a[0] < a[1] and b[0] < b[1]


def campaign_violations(problem: CampaignProblem, schedule: CampaignSchedule) -> list[str]:
    """Every broken rule, one plain sentence each; empty when the schedule is feasible.
    Trusts nothing the solver says."""
    m = problem.changeovers
    out: list[str] = []
    vessels = problem._vessels()
    batches = problem._batches()
    for key in schedule.assignments:
        if key not in batches:
            out.append(f"batch {key} is scheduled but is not part of the problem")
    by_vessel: dict[str, list[tuple[int, int, CampaignBatch]]] = {}
    for b in problem.batches:
        name = f"batch {b.key} ({b.product})"
        if b.key not in schedule.assignments:
            out.append(f"{name} is not scheduled")
            continue
        vk, s, e = schedule.assignments[b.key]
        if vk not in vessels:
            out.append(f"{name} runs on vessel {vk}, which does not exist")
            continue
        v = vessels[vk]
        if e - s != b.duration:
            out.append(f"{name} lasts {e - s} minutes, its duration is {b.duration}")
        if b.volume > v.working_volume:
            out.append(
                f"{name} of {b.volume:g} does not fit vessel {vk} (working volume {v.working_volume:g})"
            )
        missing = b.required_capabilities - v.capabilities
        if missing:
            out.append(f"{name} needs {', '.join(sorted(missing))}, which vessel {vk} lacks")
        if b.fixed_start is not None:
            if (vk, s) != (b.fixed_vessel, b.fixed_start):
                out.append(
                    f"{name} is frozen on vessel {b.fixed_vessel} at {b.fixed_start} "
                    f"but runs on {vk} at {s}"
                )
        elif s < b.release:
            out.append(f"{name} starts at {s}, before its release at {b.release}")
        if b.locked_vessel is not None and vk != b.locked_vessel:
            out.append(f"{name} is locked to vessel {b.locked_vessel} but runs on {vk}")
        by_vessel.setdefault(vk, []).append((s, e, b))
    cleanings_by_vessel: dict[str, list[Cleaning]] = {}
    for c in schedule.cleanings:
        if c.vessel not in vessels:
            out.append(f"a cleaning runs on vessel {c.vessel}, which does not exist")
            continue
        if c.kind not in (MINOR, MAJOR):
            out.append(
                f"the cleaning on vessel {c.vessel} at {c.start} has an unknown kind {c.kind!r}"
            )
        if c.end < c.start:
            out.append(f"the cleaning on vessel {c.vessel} at {c.start} ends before it starts")
        cleanings_by_vessel.setdefault(c.vessel, []).append(c)

    for v in problem.vessels:
        runs = sorted(by_vessel.get(v.key, []), key=lambda t: (t[0], t[1]))
        cleans = sorted(cleanings_by_vessel.get(v.key, []), key=lambda c: (c.start, c.end))
        # nothing overlaps: batches, cleanings, unavailability
        items = [(s, e, f"batch {b.key}") for s, e, b in runs] + [
            (c.start, c.end, f"the {c.kind} clean at {c.start}") for c in cleans
        ]
        items.sort()
        for (s1, e1, n1), (s2, e2, n2) in itertools.combinations(items, 2):
            if s2 >= e1:
                continue
            if _overlaps((s1, e1), (s2, e2)):
                out.append(f"vessel {v.key}: {n1} [{s1}, {e1}) and {n2} [{s2}, {e2}) overlap")
        for s, e, n in items:
            for ws, we in v.unavailable:
                if _overlaps((s, e), (ws, we)):
                    out.append(
                        f"vessel {v.key}: {n} [{s}, {e}) falls in the unavailability [{ws}, {we})"
                    )
        # the sequence: cleanings, forbidden pairs, holds, campaigns
        previous: CampaignBatch | None = None
        previous_end = 0
        camp_batches, camp_start = 0, 0
        for s, e, b in runs:
            between = [c for c in cleans if c.start >= previous_end and c.end <= s]
            if previous is None:
                between = [c for c in cleans if c.end <= s]
            before_product = previous.product if previous is not None else v.initial_product
            new_campaign = previous is None
            needs_clean = previous is not None or (not v.initial_clean and b.fixed_start is None)
            if previous is not None and m.is_forbidden(previous.product, b.product):
                out.append(
                    f"vessel {v.key}: batch {b.key} ({b.product}) follows batch {previous.key} "
                    f"({previous.product}), a forbidden sequence"
                )
            if (
                previous is None
                and not v.initial_clean
                and b.fixed_start is None
                and m.is_forbidden(v.initial_product, b.product)
            ):
                out.append(
                    f"vessel {v.key}: batch {b.key} ({b.product}) is first after "
                    f"{v.initial_product}, a forbidden sequence"
                )
            if needs_clean:
                who = f"batch {previous.key}" if previous is not None else "the initial state"
                if not between:
                    out.append(f"vessel {v.key}: no cleaning between {who} and batch {b.key}")
                else:
                    first = between[0]
                    need = m.needed_kind(before_product, b.product)
                    if need == MAJOR and first.kind != MAJOR:
                        out.append(
                            f"vessel {v.key}: the cleaning between {who} and batch {b.key} is "
                            f"minor, {before_product} -> {b.product} needs a major clean"
                        )
                    want = m.minutes(before_product, b.product, first.kind)
                    if first.end - first.start != want:
                        out.append(
                            f"vessel {v.key}: the {first.kind} clean between {who} and batch "
                            f"{b.key} lasts {first.end - first.start} minutes, it takes {want}"
                        )
                    for extra in between[1:]:
                        if extra.end - extra.start < m.minor_clean:
                            out.append(
                                f"vessel {v.key}: the re-clean at {extra.start} lasts "
                                f"{extra.end - extra.start} minutes, a minor clean takes {m.minor_clean}"
                            )
                    if (
                        previous is not None
                        and m.dirty_hold is not None
                        and first.start - previous_end > m.dirty_hold
                    ):
                        out.append(
                            f"vessel {v.key}: the cleaning after batch {previous.key} starts "
                            f"{first.start - previous_end} minutes after it ends, the dirty hold "
                            f"is {m.dirty_hold}"
                        )
                    new_campaign = new_campaign or first.kind == MAJOR
                    for c in between:
                        if c.before is not None and c.before != b.key:
                            out.append(
                                f"vessel {v.key}: the cleaning at {c.start} says it prepares "
                                f"batch {c.before}, the next batch is {b.key}"
                            )
                    if previous is not None and first.after != previous.key:
                        out.append(
                            f"vessel {v.key}: the cleaning at {first.start} says it follows "
                            f"{first.after}, the previous batch is {previous.key}"
                        )
            if between and m.clean_hold is not None and (previous is not None or needs_clean):
                last_clean_end = max(c.end for c in between)
                if s - last_clean_end > m.clean_hold:
                    out.append(
                        f"vessel {v.key}: batch {b.key} starts {s - last_clean_end} minutes after "
                        f"the cleaning ends, the clean hold is {m.clean_hold}"
                    )
            if new_campaign:
                camp_batches, camp_start = 0, s
            camp_batches += 1
            if m.max_campaign_batches is not None and camp_batches == m.max_campaign_batches + 1:
                out.append(
                    f"vessel {v.key}: batch {b.key} is batch {camp_batches} of a campaign without "
                    f"a major clean, the maximum is {m.max_campaign_batches}"
                )
            if m.max_campaign_minutes is not None and e - camp_start > m.max_campaign_minutes:
                out.append(
                    f"vessel {v.key}: the campaign ending with batch {b.key} lasts "
                    f"{e - camp_start} minutes without a major clean, the maximum is "
                    f"{m.max_campaign_minutes}"
                )
            previous, previous_end = b, e
    return out


def check_campaign(problem: CampaignProblem, schedule: CampaignSchedule) -> None:
    """Raise InfeasibleCampaign naming the first violations, if any."""
    problems = campaign_violations(problem, schedule)
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise InfeasibleCampaign("; ".join(problems[:3]) + more)


class InfeasibleCampaign(InvalidInstance):
    code = "infeasible_schedule"


# -- dispatching -------------------------------------------------------------------------------


class _Calendar:
    """The unavailability windows of one vessel, merged and sorted."""

    def __init__(self, windows: list[tuple[int, int]]) -> None:
        merged: list[list[int]] = []
        for s, e in sorted(w for w in windows if w[1] > w[0]):
            if merged and s <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], e)
            else:
                merged.append([s, e])
        self.starts = [s for s, _ in merged]
        self.ends = [e for _, e in merged]

    def earliest(self, t: int, duration: int) -> int:
        """The earliest s >= t with [s, s + duration) clear of every window."""
        if duration <= 0:
            return t
        i = bisect.bisect_right(self.ends, t)
        while i < len(self.starts) and self.starts[i] < t + duration:
            t = max(t, self.ends[i])
            i += 1
        return t

    def free(self, s: int, duration: int) -> bool:
        return self.earliest(s, duration) == s

    def candidates(self, t: int) -> list[int]:
        """Start times worth trying from t on: t itself and the end of every later window."""
        return [t, *(e for e in self.ends if e > t)]

    def starts_ends(self) -> list[tuple[int, int]]:
        return list(zip(self.starts, self.ends, strict=True))

    def latest(self, t: int, duration: int, lo: int) -> int | None:
        """The latest s in [lo, t] with [s, s + duration) clear of every window, or None."""
        s = t
        while s >= lo:
            if duration <= 0:
                return s
            blocking = [
                ws
                for ws, we in zip(self.starts, self.ends, strict=True)
                if ws < s + duration and s < we
            ]
            if not blocking:
                return s
            s = min(blocking) - duration
        return None


@dataclass
class _VesselState:
    vessel: Vessel
    calendar: _Calendar
    free_at: int = -INF
    product: str | None = None
    last_batch: str | None = None
    dirty: bool = False
    count: int = 0
    camp_start: int = 0
    busy: list[tuple[int, int]] = field(default_factory=list)


@dataclass
class _Placement:
    vessel: str
    start: int
    end: int
    cleanings: list[Cleaning]
    count: int
    camp_start: int

    @property
    def clean_minutes(self) -> int:
        return sum(c.end - c.start for c in self.cleanings)


class _Dispatcher:
    """Appends batches at the end of each vessel's sequence, honouring every rule."""

    def __init__(self, problem: CampaignProblem) -> None:
        self.p = problem
        self.m = problem.changeovers
        self.by_key = {b.key: b for b in problem.batches}
        self.longest = problem.changeovers.longest_clean()
        self.states: dict[str, _VesselState] = {}
        for v in problem.vessels:
            st = _VesselState(vessel=v, calendar=_Calendar(v.unavailable), free_at=0)
            st.product = v.initial_product
            st.dirty = not v.initial_clean
            self.states[v.key] = st
        self.assignments: dict[str, tuple[str, int, int]] = {}
        self.cleanings: list[Cleaning] = []
        self.place_frozen()

    # frozen batches first, in time order on their vessel
    def place_frozen(self) -> None:
        frozen = sorted(
            (b for b in self.p.batches if b.fixed_start is not None),
            key=lambda b: (b.fixed_vessel, b.fixed_start),
        )
        for b in frozen:
            self._commit_frozen(b)

    def _commit_frozen(self, b: CampaignBatch) -> None:
        m = self.m
        st = self.states[b.fixed_vessel]
        start, end = b.fixed_start, b.fixed_start + b.duration
        cleanings: list[Cleaning] = []
        if st.last_batch is None:
            count, camp = 1, start
        else:
            kind = m.needed_kind(st.product, b.product)
            count, camp = st.count + 1, st.camp_start
            if kind == MINOR and self._campaign_over(count, camp, end):
                kind = MAJOR
            if kind == MAJOR:
                count, camp = 1, start
            plan = self._cleanings_before(st, b, start, kind)
            if plan is None:
                raise InvalidInstance(
                    f"frozen batch {b.key} on vessel {st.vessel.key} at {start} leaves no room "
                    f"for the {kind} clean after batch {st.last_batch} within the hold times"
                )
            cleanings = plan
        self._commit(st, b, _Placement(st.vessel.key, start, end, cleanings, count, camp))

    def _campaign_over(self, count: int, camp_start: int, end: int) -> bool:
        m = self.m
        return (m.max_campaign_batches is not None and count > m.max_campaign_batches) or (
            m.max_campaign_minutes is not None and end - camp_start > m.max_campaign_minutes
        )

    def _cleanings_before(
        self, st: _VesselState, b: CampaignBatch, start: int, kind: str
    ) -> list[Cleaning] | None:
        """The cleaning(s) on a dirty vessel so that b can start at `start`, or None."""
        m, cal = self.m, st.calendar
        cd = m.minutes(st.product, b.product, kind)
        lo = st.free_at
        hi = start - cd
        if st.last_batch is not None and m.dirty_hold is not None:
            hi = min(hi, st.free_at + m.dirty_hold)
        if hi < lo:
            return None
        cs = cal.latest(hi, cd, lo)
        if cs is None:
            return None
        ce = cs + cd
        out = [Cleaning(st.vessel.key, kind, cs, ce, st.last_batch, b.key)]
        if m.clean_hold is not None and start - ce > m.clean_hold:
            mc = m.minor_clean
            rs = cal.latest(start - mc, mc, max(ce, start - m.clean_hold - mc))
            if rs is None:
                return None
            out.append(Cleaning(st.vessel.key, MINOR, rs, rs + mc, None, b.key))
        return out

    def _after_ok(self, st: _VesselState, end: int) -> bool:
        """A cleaning of any kind can start within the dirty hold after `end`."""
        m = self.m
        if m.dirty_hold is None:
            return True
        return st.calendar.earliest(end, self.longest) <= end + m.dirty_hold

    def try_place(self, b: CampaignBatch, key: str) -> _Placement | None:
        st = self.states[key]
        m = self.m
        cal = st.calendar
        if st.dirty and m.is_forbidden(st.product, b.product):
            return None
        t = max(b.release, st.free_at)
        if not st.dirty:
            for c in cal.candidates(t):
                s = cal.earliest(c, b.duration)
                if self._after_ok(st, s + b.duration):
                    return _Placement(key, s, s + b.duration, [], 1, s)
            return None
        need = m.needed_kind(st.product, b.product)
        kinds = [MAJOR] if need == MAJOR else [MINOR, MAJOR]
        for kind in kinds:
            cd = m.minutes(st.product, b.product, kind)
            cs0 = cal.earliest(st.free_at, cd)
            late = m.dirty_hold is not None and cs0 > st.free_at + m.dirty_hold
            if st.last_batch is not None and late:
                continue
            for c in cal.candidates(max(b.release, cs0 + cd)):
                s = cal.earliest(c, b.duration)
                e = s + b.duration
                if kind == MINOR:
                    count, camp = st.count + 1, st.camp_start
                    if self._campaign_over(count, camp, e):
                        break  # try a major clean
                else:
                    count, camp = 1, s
                plan = self._cleanings_before(st, b, s, kind)
                if plan is not None and self._after_ok(st, e):
                    return _Placement(key, s, e, plan, count, camp)
        return None

    def _commit(self, st: _VesselState, b: CampaignBatch, pl: _Placement) -> None:
        self.assignments[b.key] = (st.vessel.key, pl.start, pl.end)
        self.cleanings.extend(pl.cleanings)
        st.free_at = pl.end
        st.product = b.product
        st.last_batch = b.key
        st.dirty = True
        st.count, st.camp_start = pl.count, pl.camp_start

    def commit(self, b: CampaignBatch, pl: _Placement) -> None:
        self._commit(self.states[pl.vessel], b, pl)

    def best_placement(self, b: CampaignBatch) -> _Placement | None:
        best = None
        for v in self.p.eligible(b):
            pl = self.try_place(b, v.key)
            if pl is None:
                continue
            score = (pl.end, pl.clean_minutes, v.working_volume)
            if best is None or score < best[0]:
                best = (score, pl)
        return best[1] if best else None

    def movable_sequence(self, key: str) -> list[str]:
        """The batches placed on a vessel that are not frozen, in time order."""
        items = [
            (s, k)
            for k, (v, s, _e) in self.assignments.items()
            if v == key and self.by_key[k].fixed_start is None
        ]
        return [k for _s, k in sorted(items)]

    def rebuild_vessel(self, key: str, order: list[str]) -> _Dispatcher | None:
        """A copy of this dispatcher with the vessel's movable batches re-placed in `order`
        (None when some batch then has no place). The placements of the unchanged head of the
        sequence are reused (the vessel's state after each of them is kept in `snaps`)."""
        other = _Dispatcher.__new__(_Dispatcher)
        other.p, other.m, other.by_key, other.longest = self.p, self.m, self.by_key, self.longest
        snaps = getattr(self, "snaps", {}).get(key)
        current = getattr(self, "orders", {}).get(key)
        keep = 0
        if snaps is not None and current is not None:
            for x, y in zip(order, current, strict=False):
                if x != y:
                    break
                keep += 1
        other.orders = {**getattr(self, "orders", {}), key: list(order)}
        other.snaps = dict(getattr(self, "snaps", {}))
        if snaps is not None and current is not None:
            kept = set(current[:keep])
            other.states = {**self.states, key: dataclasses.replace(snaps[keep])}
            other.assignments = {
                k: a
                for k, a in self.assignments.items()
                if a[0] != key or k in kept or self.by_key[k].fixed_start is not None
            }
            other.cleanings = [
                c
                for c in self.cleanings
                if c.vessel != key
                or c.before in kept
                or (c.before is not None and self.by_key[c.before].fixed_start is not None)
            ]
            history = list(snaps[: keep + 1])
        else:
            v = self.states[key].vessel
            fresh = _VesselState(vessel=v, calendar=self.states[key].calendar, free_at=0)
            fresh.product, fresh.dirty = v.initial_product, not v.initial_clean
            other.states = {**self.states, key: fresh}
            other.assignments = {k: a for k, a in self.assignments.items() if a[0] != key}
            other.cleanings = [c for c in self.cleanings if c.vessel != key]
            for b in sorted(
                (b for b in self.p.batches if b.fixed_vessel == key), key=lambda b: b.fixed_start
            ):
                other._commit_frozen(b)
            history = [dataclasses.replace(other.states[key])]
        for k in order[keep:]:
            b = self.by_key[k]
            pl = other.try_place(b, key)
            if pl is None:
                return None
            other.commit(b, pl)
            history.append(dataclasses.replace(other.states[key]))
        other.snaps[key] = history
        return other

    def insert_stuck(self, b: CampaignBatch) -> _Dispatcher | None:
        """Put a batch that cannot follow any vessel's last product somewhere inside a
        vessel's sequence (re-timing the rest of it): the best such dispatcher, or None."""
        best = None
        for v in self.p.eligible(b):
            current = self.movable_sequence(v.key)
            for k in range(len(current) + 1):
                other = self.rebuild_vessel(v.key, [*current[:k], b.key, *current[k:]])
                if other is None:
                    continue
                st = other.states[v.key]
                clean = sum(c.end - c.start for c in other.cleanings if c.vessel == v.key)
                score = (st.free_at + clean, v.key, k)
                if best is None or score < best[0]:
                    best = (score, other)
        return best[1] if best else None

    def schedule(self) -> CampaignSchedule:
        return CampaignSchedule(
            assignments=dict(self.assignments),
            cleanings=sorted(self.cleanings, key=lambda c: (c.vessel, c.start)),
        )


def _order(problem: CampaignProblem, rule: str) -> list[CampaignBatch]:
    index = {b.key: i for i, b in enumerate(problem.batches)}
    todo = [b for b in problem.batches if b.fixed_start is None]
    if rule == "fifo":
        return sorted(todo, key=lambda b: (b.release, index[b.key]))
    if rule == "edd":
        return sorted(
            todo,
            key=lambda b: (b.due if b.due is not None else INF, b.release, index[b.key]),
        )
    raise ValueError(f"unknown dispatching rule {rule!r}: fifo, edd or atcs")


def _place_stuck(d: _Dispatcher, waiting: list[CampaignBatch]) -> _Dispatcher:
    """Insert the batches no vessel's last product lets follow inside the sequences."""
    for b in list(waiting):
        other = d.insert_stuck(b)
        if other is None:
            names = ", ".join(w.key for w in waiting[:5])
            raise NoCampaignSchedule(
                f"batches {names} cannot follow the last product on any vessel that holds "
                "them, nor fit in between (forbidden sequences or hold times); add a vessel "
                "or a batch of another product",
                stuck=[w.key for w in waiting],
            )
        d = other
        waiting.remove(b)
    return d


def _dispatch_in_order(problem: CampaignProblem, order: list[CampaignBatch]) -> CampaignSchedule:
    d = _Dispatcher(problem)
    waiting: list[CampaignBatch] = []
    for b in order:
        pl = d.best_placement(b)
        if pl is None:
            waiting.append(b)
            continue
        d.commit(b, pl)
        # a new tail may unblock a batch that waits for an allowed sequence
        progress = True
        while waiting and progress:
            progress = False
            for w in list(waiting):
                pl = d.best_placement(w)
                if pl is not None:
                    d.commit(w, pl)
                    waiting.remove(w)
                    progress = True
    if waiting:
        d = _place_stuck(d, waiting)
    return d.schedule()


def _dispatch_atcs(
    problem: CampaignProblem, k1: float, k2: float, weights: dict | None = None
) -> CampaignSchedule:
    """Apparent Tardiness Cost with Setups: whenever a vessel is free, the batch with the
    highest w/p * exp(-slack / (k1 p_avg)) * exp(-changeover / (k2 s_avg)) goes next."""
    d = _Dispatcher(problem)
    m = problem.changeovers
    todo = [b for b in problem.batches if b.fixed_start is None]
    eligible = {b.key: [v.key for v in problem.eligible(b)] for b in todo}
    p_avg = max(1.0, sum(b.duration for b in todo) / max(1, len(todo)))
    s_avg = max(1.0, (m.minor_clean + m.major_clean) / 2)
    wc = (weights or DEFAULT_WEIGHTS).get("changeover", 1)
    blocked: set[str] = set()
    while todo:
        open_vessels = [
            st
            for key, st in d.states.items()
            if key not in blocked and any(key in eligible[b.key] for b in todo)
        ]
        if not open_vessels:
            d = _place_stuck(d, todo)
            break
        st = min(open_vessels, key=lambda s: (s.free_at, s.vessel.key))
        t = max(st.free_at, 0)
        best = None
        for b in todo:
            if st.vessel.key not in eligible[b.key]:
                continue
            if st.dirty and m.is_forbidden(st.product, b.product):
                continue
            if st.dirty:
                setup = m.minutes(st.product, b.product, m.needed_kind(st.product, b.product))
            else:
                setup = 0
            due = b.due if b.due is not None else t + 10 * p_avg
            slack = max(0.0, due - b.duration - max(t, b.release))
            wait = max(0, b.release - t)
            index = (
                (
                    max(b.weight, 0.1)
                    / b.duration
                    * math.exp(-slack / (k1 * p_avg))
                    * math.exp(-(setup * wc + wait) / (k2 * s_avg))
                )
                if b.duration
                else INF
            )
            if best is None or index > best[0]:
                best = (index, b)
        if best is None:
            blocked.add(st.vessel.key)
            continue
        b = best[1]
        pl = d.try_place(b, st.vessel.key)
        if pl is None:
            eligible[b.key] = [k for k in eligible[b.key] if k != st.vessel.key] or eligible[b.key]
            if eligible[b.key] == [st.vessel.key]:
                blocked.add(st.vessel.key)
            continue
        d.commit(b, pl)
        todo.remove(b)
        blocked.clear()
    return d.schedule()


def dispatch_campaign(problem: CampaignProblem, rule: str = "edd", **kwargs) -> CampaignSchedule:
    """A feasible schedule by a dispatching rule: "fifo" (release order), "edd" (earliest due
    date; each batch to the vessel where it ends first), "atcs" (apparent tardiness cost with
    setups, `k1`/`k2` keyword arguments). Raises InvalidInstance when the input is infeasible,
    NoCampaignSchedule when the rule gets stuck on forbidden sequences."""
    problem.validate()
    if rule == "atcs":
        return _dispatch_atcs(
            problem, kwargs.get("k1", 2.0), kwargs.get("k2", 1.0), kwargs.get("weights")
        )
    return _dispatch_in_order(problem, _order(problem, rule))


def best_dispatch(
    problem: CampaignProblem,
    weights: dict | None = None,
    *,
    time_budget: float = 1.0,
    seed: int = 0,
) -> tuple[CampaignSchedule, str, int]:
    """The best schedule of several dispatching rules by the objective: (schedule, rule, value)."""
    deadline = time.monotonic() + time_budget
    candidates: list[tuple[str, Callable[[], CampaignSchedule]]] = [
        ("edd", lambda: dispatch_campaign(problem, "edd")),
        ("fifo", lambda: dispatch_campaign(problem, "fifo")),
    ]
    for k1, k2 in ((2.0, 1.0), (1.0, 0.5), (3.0, 2.0), (0.5, 0.25), (5.0, 4.0)):
        candidates.append(
            (
                f"atcs({k1:g},{k2:g})",
                lambda k1=k1, k2=k2: dispatch_campaign(
                    problem, "atcs", k1=k1, k2=k2, weights=weights
                ),
            )
        )
    best: tuple[int, CampaignSchedule, str] | None = None
    error: Exception | None = None
    for i, (name, make) in enumerate(candidates):
        if i >= 2 and best is not None and time.monotonic() > deadline:
            break
        try:
            schedule = make()
        except NoCampaignSchedule as exc:
            error = exc
            continue
        if campaign_violations(problem, schedule):
            continue
        value = campaign_metrics(problem, schedule).objective(weights)
        if best is None or value < best[0]:
            best = (value, schedule, name)
    if best is None:
        raise error or NoCampaignSchedule("no dispatching rule found a feasible schedule")
    return best[1], best[2], best[0]


_BLOCK_SHARE = 0.1
"""How often the local search moves a whole run of one product instead of one batch (15 s runs
on the 200-batch plant: 0 / 0.25 / 0.5 gave 56160 / 56790 / 56280 on average of two seeds,
within the noise of the shared machine)."""


def _vessel_cost(d: _Dispatcher, key: str) -> tuple[int, int, int]:
    """(weighted tardiness, cleaning minutes, end of the last batch) on one vessel."""
    tard = end = 0
    for k, (v, _s, e) in d.assignments.items():
        if v != key:
            continue
        b = d.by_key[k]
        if b.due is not None:
            tard += b.weight * max(0, e - b.due)
        end = max(end, e)
    clean = sum(c.end - c.start for c in d.cleanings if c.vessel == key)
    return tard, clean, end


def improve_campaign(
    problem: CampaignProblem,
    schedule: CampaignSchedule,
    weights: dict | None = None,
    *,
    time_budget: float = 5.0,
    seed: int = 0,
    stop: threading.Event | None = None,
) -> tuple[CampaignSchedule, int]:
    """Local search on the vessels' sequences: move a batch next to a batch of the same product
    (forming campaigns) or a few places along its vessel, re-time the two vessels with the
    dispatcher (every rule kept), keep the move when the objective does not get worse.
    Returns (the best schedule, its objective); never worse than `schedule`."""
    w = {**DEFAULT_WEIGHTS, **(weights or {})}
    deadline = time.monotonic() + time_budget
    rng = random.Random(seed)  # noqa: S311 (search diversity)
    d = _Dispatcher(problem)
    frozen = {b.key for b in problem.batches if b.fixed_start is not None}
    seqs = {
        v.key: [k for k in schedule.sequence(v.key) if k not in frozen] for v in problem.vessels
    }
    for key, seq in seqs.items():
        rebuilt = d.rebuild_vessel(key, seq)
        if rebuilt is None:
            return schedule, campaign_metrics(problem, schedule).objective(w)
        d = rebuilt
    costs = {v.key: _vessel_cost(d, v.key) for v in problem.vessels}

    def total(c: dict[str, tuple[int, int, int]]) -> int:
        return (
            w["tardiness"] * sum(t for t, _c, _e in c.values())
            + w["changeover"] * sum(cl for _t, cl, _e in c.values())
            + w["makespan"] * max((e for _t, _c, e in c.values()), default=0)
        )

    current = total(costs)
    best_value = campaign_metrics(problem, schedule).objective(w)
    best = schedule
    if current < best_value:
        best, best_value = d.schedule(), current
    movable = [b for b in problem.batches if b.fixed_start is None]
    eligible = {b.key: [v.key for v in problem.eligible(b)] for b in movable}
    by_product: dict[str, list[str]] = {}
    for b in problem.batches:
        by_product.setdefault(b.product, []).append(b.key)
    where = {k: v for v, seq in seqs.items() for k in seq}
    product = {b.key: b.product for b in problem.batches}
    while movable and time.monotonic() < deadline and not (stop is not None and stop.is_set()):
        b = rng.choice(movable)
        src = where[b.key]
        block = [b.key]
        r = rng.random()
        if r < _BLOCK_SHARE:
            # the whole run of b's product around it moves together (merging campaigns)
            seq = seqs[src]
            lo = hi = seq.index(b.key)
            while lo > 0 and product[seq[lo - 1]] == b.product:
                lo -= 1
            while hi + 1 < len(seq) and product[seq[hi + 1]] == b.product:
                hi += 1
            block = seq[lo : hi + 1]
        if r < 0.7:
            # next to a batch of the same product on a vessel that holds the block
            mates = [
                k
                for k in by_product[b.product]
                if k not in block and k in where and all(where[k] in eligible[x] for x in block)
            ]
            if not mates:
                continue
            mate = rng.choice(mates)
            dst = where[mate]
            target = [k for k in seqs[dst] if k not in block]
            pos = target.index(mate) + (1 if rng.random() < 0.6 else 0)
        else:
            dst = src if rng.random() < 0.6 else rng.choice(eligible[b.key])
            target = [k for k in seqs[dst] if k != b.key]
            if dst == src:
                old = seqs[src].index(b.key)
                pos = max(0, min(len(target), old + rng.randint(-3, 3)))
            else:
                pos = rng.randint(0, len(target))
        new_dst = [*target[:pos], *block, *target[pos:]]
        if dst == src and new_dst == seqs[src]:
            continue
        trial = d.rebuild_vessel(dst, new_dst)
        if trial is None:
            continue
        new_src = [k for k in seqs[src] if k not in block]
        if dst != src:
            trial = trial.rebuild_vessel(src, new_src)
            if trial is None:
                continue
        new_costs = dict(costs)
        for key in {src, dst}:
            new_costs[key] = _vessel_cost(trial, key)
        value = total(new_costs)
        # plain descent (plateau moves allowed): accepting up to 0.3 % / 1 % worse moves early on
        # gave 57 270 / 58 430 against 57 380 (12 s, three seeds): no gain
        if value <= current:
            d, costs, current = trial, new_costs, value
            seqs[dst] = new_dst
            if dst != src:
                seqs[src] = new_src
            for k in block:
                where[k] = dst
            if value < best_value:
                best, best_value = d.schedule(), value
    return best, best_value


# -- a generated plant -------------------------------------------------------------------------


def generate_campaign_problem(
    *, products: int = 30, batches: int = 200, vessels: int = 6, seed: int = 7
) -> CampaignProblem:
    """A reproducible campaign problem: vessels in pairs of equal size (2, 5, 10 m3, ...), one
    pair glass-lined; products in families (a change inside a family is a shorter major clean),
    some product pairs forbidden; batches released over two weeks with due dates 2-6 days after
    release; minor clean 1 h, major clean 4 h, campaigns of at most 6 batches or 5 days, dirty
    hold 12 h, clean hold 3 days, an 8-hour maintenance window on each of the first two vessels
    (the other pairs are identical vessels)."""
    rng = random.Random(seed)  # noqa: S311 (reproducible test data)
    sizes = [2000.0, 5000.0, 10000.0]
    vessel_list = []
    for i in range(vessels):
        size = sizes[(i // 2) % len(sizes)]
        caps = frozenset({"glass-lined"}) if (i // 2) % len(sizes) == 1 else frozenset()
        start = rng.randrange(2 * 1440, 10 * 1440, 60)
        vessel_list.append(
            Vessel(
                key=f"V{i + 1:02d}",
                working_volume=size,
                capabilities=caps,
                unavailable=[(start, start + 480)] if i < 2 else [],
                initial_product=None,
                initial_clean=True,
            )
        )
    names = [f"P{i + 1:02d}" for i in range(products)]
    family = {p: i % 5 for i, p in enumerate(names)}
    base_duration = {p: rng.randrange(240, 721, 30) for p in names}
    needs_glass = {p: rng.random() < 0.2 for p in names}
    popularity = [rng.random() ** 2 + 0.05 for _ in names]
    largest_any = max(v.working_volume for v in vessel_list)
    largest_glass = max(
        [v.working_volume for v in vessel_list if "glass-lined" in v.capabilities] or [0.0]
    )
    batch_list = []
    for i in range(batches):
        # every product at least once, then by popularity
        product = names[i] if i < products else rng.choices(names, weights=popularity)[0]
        glass = needs_glass[product] and largest_glass > 0
        top = largest_glass if glass else largest_any
        volume = float(rng.choice([v for v in sizes if v <= top]) * rng.uniform(0.5, 1.0))
        release = rng.randrange(0, 14 * 1440, 30)
        batch_list.append(
            CampaignBatch(
                key=f"B{i + 1:03d}",
                product=product,
                volume=round(volume, 1),
                duration=base_duration[product] + rng.randrange(0, 121, 30),
                release=release,
                due=release + rng.randrange(2 * 1440, 6 * 1440, 60),
                weight=rng.choice([1, 1, 1, 2, 3]),
                required_capabilities=frozenset({"glass-lined"}) if glass else frozenset(),
            )
        )
    durations = {}
    forbidden = set()
    for a, b in itertools.permutations(names, 2):
        if family[a] == family[b]:
            durations[(a, b)] = 150
        elif rng.random() < 0.03:
            forbidden.add((a, b))
    return CampaignProblem(
        vessels=vessel_list,
        batches=batch_list,
        changeovers=ChangeoverMatrix(
            minor_clean=60,
            major_clean=240,
            durations=durations,
            forbidden=forbidden,
            max_campaign_batches=6,
            max_campaign_minutes=5 * 1440,
            dirty_hold=12 * 60,
            clean_hold=3 * 1440,
        ),
        horizon=21 * 1440,
        name=f"campaign-{products}p-{batches}b-{vessels}v-seed{seed}",
    )


# -- CP-SAT ------------------------------------------------------------------------------------


def _identical_vessel_groups(problem: CampaignProblem) -> list[list[str]]:
    """Vessels nobody can tell apart (same volume, capabilities, calendar, initial state) and
    to which no batch is frozen or locked."""
    pinned = {b.fixed_vessel for b in problem.batches} | {b.locked_vessel for b in problem.batches}
    groups: dict[tuple, list[str]] = {}
    for v in problem.vessels:
        if v.key in pinned:
            continue
        sig = (
            v.working_volume,
            v.capabilities,
            tuple(sorted(v.unavailable)),
            v.initial_product,
            v.initial_clean,
        )
        groups.setdefault(sig, []).append(v.key)
    return [g for g in groups.values() if len(g) > 1]


def _relabel_for_symmetry(
    problem: CampaignProblem, schedule: CampaignSchedule, groups: list[list[str]]
) -> CampaignSchedule:
    """Swap identical vessels in a schedule so that, inside each group, vessels are ordered by
    the index of the first batch they hold (the order the model's symmetry breaking asks)."""
    index = {b.key: i for i, b in enumerate(problem.batches)}
    mapping: dict[str, str] = {}
    for group in groups:
        first = {
            v: min(
                (index[k] for k, (vv, _s, _e) in schedule.assignments.items() if vv == v),
                default=INF,
            )
            for v in group
        }
        ordered = sorted(group, key=lambda v: (first[v], group.index(v)))
        mapping.update(dict(zip(ordered, group, strict=True)))
    if not mapping:
        return schedule
    return CampaignSchedule(
        assignments={k: (mapping.get(v, v), s, e) for k, (v, s, e) in schedule.assignments.items()},
        cleanings=[
            Cleaning(mapping.get(c.vessel, c.vessel), c.kind, c.start, c.end, c.after, c.before)
            for c in schedule.cleanings
        ],
    )


def _int_weights(weights: dict | None) -> dict[str, int]:
    w = {**DEFAULT_WEIGHTS, **(weights or {})}
    unknown = set(w) - set(DEFAULT_WEIGHTS)
    if unknown:
        raise InvalidInstance(f"unknown objective weights: {', '.join(sorted(unknown))}")
    out = {}
    for k, value in w.items():
        if value < 0 or int(value) != value:
            raise InvalidInstance(f"the {k} weight must be a whole number >= 0, not {value}")
        out[k] = int(value)
    if not any(out.values()):
        raise InvalidInstance("at least one objective weight must be positive")
    return out


def solve_campaign(
    problem: CampaignProblem,
    *,
    time_limit: float,
    num_workers: int = 2,
    weights: dict | None = None,
    hint: CampaignSchedule | None = None,
    progress: Callable[[CampaignProgress], None] | None = None,
    stop: threading.Event | None = None,
    successors: int = 24,
    seed: int = 0,
    log: bool = False,
    extra_parameters: dict | None = None,
    local_search: float | None = None,
    decompose_above: int = 80,
) -> CampaignResult:
    """Minimise weights["tardiness"] * weighted tardiness + weights["makespan"] * makespan +
    weights["changeover"] * cleaning minutes (default 1, 1, 1) within `time_limit` seconds.

    The model: per batch one optional interval per vessel that holds it, and the optional
    interval of the cleaning before it (its length and kind set by the arc it comes in on) and
    of a re-clean (clean hold); per vessel one circuit (AddCircuit, the vessel's start as node 0,
    a skipped batch as a self-loop) whose arc literals carry the changeover time, the dirty hold
    and the campaign counters (batches and start time of the running campaign); a no-overlap per
    vessel over batches, cleanings and unavailability. On vessels that may hold many batches
    each batch keeps arcs only to its `successors` nearest batches by due date, every batch of
    the same product and the arcs of the start schedule (so the bound is then of that model).
    Identical vessels are ordered by the first batch they hold (symmetry breaking).

    The warm start: the best of the dispatching rules (EDD, FIFO, ATCS with several
    parameters), or `hint` (e.g. the published schedule) when it is feasible and better,
    improved by `improve_campaign` (local search moving batches next to batches of the same
    product) for the share `local_search` of the time (default 15 %, 50 % above 80 batches,
    where CP-SAT alone needs long to load the model on two cores); every value of the model is
    hinted, so CP-SAT starts from that schedule.

    `progress` is called with every improving schedule; setting `stop` ends the search and
    returns the best schedule so far. Raises InvalidInstance (explained) for infeasible input.
    """
    from ortools.sat.python import cp_model

    t0 = time.monotonic()
    problem.validate()
    w = _int_weights(weights)
    m = problem.changeovers
    batches = problem.batches
    n = len(batches)
    if local_search is None:
        local_search = 0.6 if n > decompose_above else 0.15
    if n == 0:
        empty = CampaignSchedule(assignments={}, cleanings=[])
        return CampaignResult(
            empty, 0, 0, 0, {v.key: 0.0 for v in problem.vessels}, "optimal", 0, 0.0
        )

    start: CampaignSchedule | None
    start_value: int | None
    try:
        start, source, start_value = best_dispatch(
            problem, w, time_budget=min(1.0, 0.05 * time_limit), seed=seed
        )
    except NoCampaignSchedule:  # the rules got stuck on forbidden sequences: CP-SAT alone
        start, source, start_value = None, "", None
    if hint is not None and not campaign_violations(problem, hint):
        given = campaign_metrics(problem, hint).objective(w)
        if start_value is None or given <= start_value:
            start, source, start_value = hint, "given schedule", given
    dispatch_value = start_value
    early_progress: list[CampaignProgress] = []
    if start is not None and local_search > 0:
        budget = local_search * max(0.0, time_limit - (time.monotonic() - t0))
        improved, value = improve_campaign(
            problem, start, w, time_budget=budget, seed=seed, stop=stop
        )
        if value < start_value:
            start, source, start_value = improved, f"{source} + local search", value
            metrics = campaign_metrics(problem, start)
            found = CampaignProgress(
                wall_time=time.monotonic() - t0,
                objective=value,
                objective_bound=0,
                makespan=metrics.makespan,
                tardiness=metrics.tardiness,
                changeover_minutes=metrics.changeover_minutes,
                schedule=start if progress is not None else None,
            )
            early_progress.append(found)
            if progress is not None:
                progress(found)
    if start is not None and n > decompose_above and len(problem.vessels) > 2:
        return _solve_by_vessel_pairs(
            problem,
            start,
            w,
            t0=t0,
            time_limit=time_limit,
            num_workers=num_workers,
            progress=progress,
            stop=stop,
            seed=seed,
            source=source,
            start_value=start_value,
            dispatch_value=dispatch_value,
            early_progress=early_progress,
        )
    if start is not None and time_limit - (time.monotonic() - t0) < 0.3:
        metrics = campaign_metrics(problem, start)  # no time left to build the model
        return CampaignResult(
            schedule=start,
            makespan=metrics.makespan,
            tardiness=metrics.tardiness,
            changeover_minutes=metrics.changeover_minutes,
            utilization=metrics.utilization,
            status="dispatch" if start_value == dispatch_value else "feasible",
            lower_bound=None,
            solve_seconds=time.monotonic() - t0,
            objective=start_value,
            start_source=source,
            start_objective=start_value,
            dispatch_objective=dispatch_value,
            stopped=stop is not None and stop.is_set(),
            progress=early_progress,
        )
    groups = _identical_vessel_groups(problem)
    if start is not None:
        start = _relabel_for_symmetry(problem, start, groups)

    index = {b.key: i for i, b in enumerate(batches)}
    facts = _start_facts(problem, start)
    longest = m.longest_clean()
    lo_all = min([0, *(b.fixed_start for b in batches if b.fixed_start is not None)])
    safe = (
        max([0, *(b.release for b in batches), *(b.fixed_start or 0 for b in batches)])
        + sum(b.duration for b in batches)
        + n * (longest + m.minor_clean)
        + sum(max(0, e - s) for v in problem.vessels for s, e in v.unavailable)
    )
    horizon = safe
    if start is not None:
        if w["makespan"]:
            horizon = min(horizon, max(start.makespan, start_value // w["makespan"]))
        horizon = max(horizon, start.makespan)
    horizon = max(horizon, problem.horizon or 0)

    model = cp_model.CpModel()

    def hint_value(var, value) -> None:
        if start is not None:
            model.add_hint(var, int(value))

    s_var, e_var = [], []
    x: dict[tuple[int, str], object] = {}
    has, major, cs, ce, cd = [], [], [], [], []
    rec, rs = [], []
    eligible: dict[str, list[int]] = {v.key: [] for v in problem.vessels}
    per_vessel_intervals: dict[str, list] = {v.key: [] for v in problem.vessels}
    use_campaign = m.max_campaign_batches is not None or m.max_campaign_minutes is not None
    cnt, camp, newc = [], [], []
    for j, b in enumerate(batches):
        if b.fixed_start is not None:
            lo = hi = b.fixed_start
        else:
            lo, hi = b.release, max(b.release, horizon - b.duration)
        s = model.new_int_var(lo, hi, f"s{j}")
        e = model.new_int_var(lo + b.duration, hi + b.duration, f"e{j}")
        model.add(e == s + b.duration)
        f = facts[b.key]
        hint_value(s, f.start)
        hint_value(e, f.end)
        s_var.append(s)
        e_var.append(e)
        h = model.new_bool_var(f"has{j}")
        mj = model.new_bool_var(f"major{j}")
        model.add_implication(mj, h)
        c_s = model.new_int_var(lo_all - longest, hi, f"cs{j}")
        c_d = model.new_int_var(0, longest, f"cd{j}")
        c_e = model.new_int_var(lo_all - longest, hi, f"ce{j}")
        model.add(c_e == c_s + c_d)
        fc = f.first_clean
        hint_value(h, fc is not None)
        hint_value(mj, fc is not None and fc.kind == MAJOR)
        hint_value(c_s, fc.start if fc else f.start)
        hint_value(c_d, fc.end - fc.start if fc else 0)
        hint_value(c_e, fc.end if fc else f.start)
        model.add(c_e <= s)
        model.add(c_s == s).only_enforce_if(~h)
        has.append(h)
        major.append(mj)
        cs.append(c_s)
        ce.append(c_e)
        cd.append(c_d)
        if m.clean_hold is not None:
            r = model.new_bool_var(f"re{j}")
            model.add_implication(r, h)
            r_s = model.new_int_var(lo_all - longest, hi, f"rs{j}")
            model.add(r_s >= c_e).only_enforce_if(r)
            model.add(r_s + m.minor_clean <= s).only_enforce_if(r)
            model.add(s - r_s - m.minor_clean <= m.clean_hold).only_enforce_if(r)
            model.add(r_s == c_e).only_enforce_if(~r)
            model.add(s - c_e <= m.clean_hold).only_enforce_if([h, ~r])
            hint_value(r, f.reclean is not None)
            hint_value(r_s, f.reclean.start if f.reclean else (fc.end if fc else f.start))
            rec.append(r)
            rs.append(r_s)
        if use_campaign:
            cj = model.new_int_var(1, m.max_campaign_batches or n, f"cnt{j}")
            pj = model.new_int_var(lo_all, hi, f"camp{j}")
            nj = model.new_bool_var(f"new{j}")
            hint_value(cj, f.count)
            hint_value(pj, f.camp_start)
            hint_value(nj, f.new_campaign)
            model.add_implication(mj, nj)
            model.add(cj == 1).only_enforce_if(nj)
            model.add(pj == s).only_enforce_if(nj)
            if m.max_campaign_minutes is not None:
                model.add(e - pj <= m.max_campaign_minutes)
            cnt.append(cj)
            camp.append(pj)
            newc.append(nj)
        lits = []
        for v in problem.eligible(b):
            lit = model.new_bool_var(f"x{j}_{v.key}")
            here = f.vessel == v.key
            hint_value(lit, here)
            x[(j, v.key)] = lit
            lits.append(lit)
            eligible[v.key].append(j)
            per_vessel_intervals[v.key].append(
                model.new_optional_interval_var(s, b.duration, e, lit, f"b{j}_{v.key}")
            )
            pc = model.new_bool_var(f"pc{j}_{v.key}")
            hint_value(pc, here and fc is not None)
            model.add_bool_and([lit, h]).only_enforce_if(pc)
            model.add_bool_or([~lit, ~h, pc])
            per_vessel_intervals[v.key].append(
                model.new_optional_interval_var(c_s, c_d, c_e, pc, f"c{j}_{v.key}")
            )
            if m.clean_hold is not None:
                pr = model.new_bool_var(f"pr{j}_{v.key}")
                hint_value(pr, here and f.reclean is not None)
                model.add_bool_and([lit, rec[j]]).only_enforce_if(pr)
                model.add_bool_or([~lit, ~rec[j], pr])
                per_vessel_intervals[v.key].append(
                    model.new_optional_interval_var(
                        rs[j], m.minor_clean, rs[j] + m.minor_clean, pr, f"r{j}_{v.key}"
                    )
                )
        model.add_exactly_one(lits)
        if b.fixed_vessel is not None:
            model.add(x[(j, b.fixed_vessel)] == 1)

    # the start schedule's arcs are always kept
    start_arcs = {
        (f.vessel, index[f.pred], index[key]) for key, f in facts.items() if f.pred is not None
    }

    def rank_key(j: int):
        b = batches[j]
        return (b.due if b.due is not None else INF, b.release, j)

    arcs_by_vessel: dict[str, list[tuple[int, int, object]]] = {}
    depot_lits: dict[int, list] = {j: [] for j in range(n)}
    clean_terms: dict[int, list] = {j: [] for j in range(n)}
    for v in problem.vessels:
        nodes = eligible[v.key]
        if not nodes:
            continue
        pos = {j: p + 1 for p, j in enumerate(nodes)}
        ranked = sorted(nodes, key=rank_key)
        rank = {j: r for r, j in enumerate(ranked)}
        circuit = []
        pinned_here = any(
            batches[j].fixed_vessel == v.key or batches[j].locked_vessel == v.key for j in nodes
        )
        if not pinned_here:
            empty = model.new_bool_var(f"empty_{v.key}")
            hint_value(empty, start is not None and not start.sequence(v.key))
            circuit.append((0, 0, empty))
        arcs: list[tuple[int, int, object]] = []
        for j in nodes:
            b = batches[j]
            circuit.append((pos[j], pos[j], ~x[(j, v.key)]))
            # from the vessel's start
            allowed = True
            if not v.initial_clean and b.fixed_start is None:
                allowed = not m.is_forbidden(v.initial_product, b.product)
            if allowed:
                d = model.new_bool_var(f"d{v.key}_{j}")
                fj = facts[b.key]
                hint_value(d, fj.vessel == v.key and fj.pred is None)
                circuit.append((0, pos[j], d))
                depot_lits[j].append(d)
                if v.initial_clean or b.fixed_start is not None:
                    model.add_implication(d, ~has[j])
                else:
                    model.add_implication(d, has[j])
                    need = m.needed_kind(v.initial_product, b.product)
                    big_clean = m.minutes(v.initial_product, b.product, MAJOR)
                    if need == MAJOR:
                        model.add_implication(d, major[j])
                        clean_terms[j].append(big_clean * d)
                    else:
                        small = m.minutes(v.initial_product, b.product, MINOR)
                        clean_terms[j].append(small * d)
                        if big_clean != small:
                            z = model.new_bool_var(f"z{v.key}_0_{j}")
                            hint_value(
                                z,
                                fj.vessel == v.key
                                and fj.pred is None
                                and fj.first_clean is not None
                                and fj.first_clean.kind == MAJOR,
                            )
                            model.add_bool_and([d, major[j]]).only_enforce_if(z)
                            model.add_bool_or([~d, ~major[j], z])
                            clean_terms[j].append((big_clean - small) * z)
                    model.add(cs[j] >= 0).only_enforce_if(d)
            # to the vessel's end
            last = model.new_bool_var(f"l{v.key}_{j}")
            hint_value(last, facts[b.key].vessel == v.key and facts[b.key].last)
            circuit.append((pos[j], 0, last))
        # batch -> batch
        big = len(nodes) > successors + 1
        for i in nodes:
            bi = batches[i]
            for j in nodes:
                if i == j:
                    continue
                bj = batches[j]
                keep = (
                    not big
                    or (v.key, i, j) in start_arcs
                    or bi.product == bj.product
                    or -successors // 4 <= rank[j] - rank[i] <= successors
                )
                if not keep or m.is_forbidden(bi.product, bj.product):
                    continue
                if bj.fixed_start is not None:
                    earliest_end = bi.fixed_start if bi.fixed_start is not None else bi.release
                    if earliest_end + bi.duration > bj.fixed_start:
                        continue
                a = model.new_bool_var(f"a{v.key}_{i}_{j}")
                fj = facts[bj.key]
                used = fj.vessel == v.key and fj.pred == bi.key
                hint_value(a, used)
                circuit.append((pos[i], pos[j], a))
                arcs.append((i, j, a))
                model.add_implication(a, has[j])
                if m.dirty_hold is None:
                    model.add(cs[j] >= e_var[i]).only_enforce_if(a)
                else:
                    model.add_linear_constraint(cs[j] - e_var[i], 0, m.dirty_hold).only_enforce_if(
                        a
                    )
                need = m.needed_kind(bi.product, bj.product)
                big_clean = m.minutes(bi.product, bj.product, MAJOR)
                if need == MAJOR:
                    model.add_implication(a, major[j])
                    clean_terms[j].append(big_clean * a)
                else:
                    small = m.minutes(bi.product, bj.product, MINOR)
                    clean_terms[j].append(small * a)
                    if big_clean != small:
                        z = model.new_bool_var(f"z{v.key}_{i}_{j}")
                        hint_value(z, used and fj.first_clean.kind == MAJOR)
                        model.add_bool_and([a, major[j]]).only_enforce_if(z)
                        model.add_bool_or([~a, ~major[j], z])
                        clean_terms[j].append((big_clean - small) * z)
                    if use_campaign:
                        model.add(cnt[j] == cnt[i] + 1).only_enforce_if([a, ~major[j]])
                        model.add(camp[j] == camp[i]).only_enforce_if([a, ~major[j]])
        model.add_circuit(circuit)
        arcs_by_vessel[v.key] = arcs
        windows = [
            model.new_fixed_size_interval_var(s0, e0 - s0, f"u{v.key}_{s0}")
            for s0, e0 in _Calendar(v.unavailable).starts_ends()
        ]
        model.add_no_overlap(per_vessel_intervals[v.key] + windows)
    for j in range(n):
        # the cleaning before j: its length is set by the arc j comes in on (0 when none)
        model.add(cd[j] == sum(clean_terms[j]))
    if use_campaign:
        for j in range(n):
            # a new campaign exactly when the batch is first on its vessel or after a major clean
            first = sum(depot_lits[j])
            model.add(newc[j] <= major[j] + first)
            for d in depot_lits[j]:
                model.add_implication(d, newc[j])

    # symmetry: identical vessels ordered by the first batch they hold
    for group in groups:
        nodes = sorted(eligible[group[0]])
        prev_prefix: dict[str, object] = {}
        prefix_hint = dict.fromkeys(group, False)
        for t, j in enumerate(nodes):
            prefix = {}
            for g, vk in enumerate(group):
                if g > 0:
                    if t == 0:
                        model.add(x[(j, vk)] == 0)
                    else:
                        model.add_implication(x[(j, vk)], prev_prefix[group[g - 1]])
                y = model.new_bool_var(f"y{j}_{vk}")
                prefix_hint[vk] = prefix_hint[vk] or facts[batches[j].key].vessel == vk
                hint_value(y, prefix_hint[vk])
                model.add_implication(x[(j, vk)], y)
                if t == 0:
                    model.add_implication(y, x[(j, vk)])
                else:
                    model.add_implication(prev_prefix[vk], y)
                    model.add_bool_or([~y, prev_prefix[vk], x[(j, vk)]])
                prefix[vk] = y
            prev_prefix = prefix

    # objective
    tard = []
    tard_vars: dict[int, object] = {}
    for j, b in enumerate(batches):
        if b.due is None or b.weight == 0 or not w["tardiness"]:
            continue
        t = model.new_int_var(0, max(0, horizon + longest - b.due), f"t{j}")
        model.add(t >= e_var[j] - b.due)
        hint_value(t, max(0, facts[b.key].end - b.due))
        tard_vars[j] = t
        tard.append(b.weight * t)
    makespan = model.new_int_var(0, horizon, "makespan")
    hint_value(makespan, start.makespan if start is not None else 0)
    model.add_max_equality(makespan, e_var)
    changeover = sum(cd) + (m.minor_clean * sum(rec) if rec else 0)
    model.minimize(
        w["tardiness"] * sum(tard) + w["makespan"] * makespan + w["changeover"] * changeover
    )

    def build(value) -> CampaignSchedule:
        assignments: dict[str, tuple[str, int, int]] = {}
        for j, b in enumerate(batches):
            vk = next(v.key for v in problem.eligible(b) if value(x[(j, v.key)]))
            assignments[b.key] = (vk, int(value(s_var[j])), int(value(e_var[j])))
        out = CampaignSchedule(assignments=assignments, cleanings=[])
        for v in problem.vessels:
            previous = None
            for key in out.sequence(v.key):
                j = index[key]
                if value(has[j]):
                    out.cleanings.append(
                        Cleaning(
                            v.key,
                            MAJOR if value(major[j]) else MINOR,
                            int(value(cs[j])),
                            int(value(ce[j])),
                            previous,
                            key,
                        )
                    )
                    if rec and value(rec[j]):
                        r0 = int(value(rs[j]))
                        out.cleanings.append(
                            Cleaning(v.key, MINOR, r0, r0 + m.minor_clean, None, key)
                        )
                previous = key
        out.cleanings.sort(key=lambda c: (c.vessel, c.start))
        return out

    class Callback(cp_model.CpSolverSolutionCallback):
        def __init__(self) -> None:
            super().__init__()
            self.progress: list[CampaignProgress] = []

        def on_solution_callback(self) -> None:
            schedule = build(self.value)
            metrics = campaign_metrics(problem, schedule)
            p = CampaignProgress(
                wall_time=time.monotonic() - t0,
                objective=round(self.objective_value),
                objective_bound=self.best_objective_bound,
                makespan=metrics.makespan,
                tardiness=metrics.tardiness,
                changeover_minutes=metrics.changeover_minutes,
                schedule=schedule if progress is not None else None,
            )
            self.progress.append(p)
            if progress is not None:
                progress(p)
            if stop is not None and stop.is_set():
                self.stop_search()

    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(0.1, time_limit - (time.monotonic() - t0))
    solver.parameters.num_workers = num_workers
    solver.parameters.random_seed = seed
    solver.parameters.log_search_progress = log
    # on big models presolve (probing above all) takes 10-20 s of a 60 s budget on two shared
    # cores and buys little: the first solution then comes at ~4 s instead of ~22 s
    solver.parameters.cp_model_presolve = n <= 80
    solver.parameters.presolve_probing_deterministic_time_limit = 0.1
    solver.parameters.probing_deterministic_time_limit = 0.1
    for key, value in (extra_parameters or {}).items():
        setattr(solver.parameters, key, value)
    callback = Callback()
    done = threading.Event()
    watcher = None
    if stop is not None:

        def watch() -> None:
            while not done.is_set():
                if stop.wait(0.05):
                    solver.stop_search()
                    return

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
    try:
        if stop is not None and stop.is_set():  # stopped during the local search
            status = cp_model.UNKNOWN
        else:
            status = solver.solve(model, callback)
    finally:
        done.set()
        if watcher is not None:
            watcher.join()
    stopped = stop is not None and stop.is_set()
    bound: int | None = None
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        schedule = build(solver.value)
        state = "optimal" if status == cp_model.OPTIMAL else "feasible"
        bound = math.ceil(solver.best_objective_bound - 1e-6)
    elif status == cp_model.INFEASIBLE:
        raise NoCampaignSchedule(
            "no schedule satisfies the frozen batches, locks, holds and forbidden sequences together"
        )
    elif start is not None:
        schedule, state = start, "dispatch"
    else:
        raise NoCampaignSchedule(
            f"no schedule found within {time_limit:g} s: the dispatching rules get stuck on "
            "forbidden sequences and the solver found none in time"
        )
    check_campaign(problem, schedule)
    metrics = campaign_metrics(problem, schedule)
    value = metrics.objective(w)
    if start is not None and value > start_value:  # never worse than the start
        schedule, state, metrics, value = (
            start,
            "dispatch",
            campaign_metrics(problem, start),
            start_value,
        )
    if state == "optimal":
        bound = value
    if state == "dispatch" and dispatch_value is not None and value < dispatch_value:
        state = "feasible"  # the local search improved on the start
    return CampaignResult(
        schedule=schedule,
        makespan=metrics.makespan,
        tardiness=metrics.tardiness,
        changeover_minutes=metrics.changeover_minutes,
        utilization=metrics.utilization,
        status=state,
        lower_bound=bound if bound is None else min(bound, value),
        solve_seconds=time.monotonic() - t0,
        objective=value,
        start_source=source,
        start_objective=start_value,
        dispatch_objective=dispatch_value,
        stopped=stopped,
        progress=early_progress + callback.progress,
    )


def _merge(
    schedule: CampaignSchedule, part: CampaignSchedule, vessels: set[str]
) -> CampaignSchedule:
    """`schedule` with everything on `vessels` replaced by `part`."""
    assignments = {k: a for k, a in schedule.assignments.items() if a[0] not in vessels}
    assignments.update(part.assignments)
    cleanings = [c for c in schedule.cleanings if c.vessel not in vessels] + list(part.cleanings)
    return CampaignSchedule(
        assignments=assignments, cleanings=sorted(cleanings, key=lambda c: (c.vessel, c.start))
    )


def _freeze_outside_window(
    problem: CampaignProblem,
    schedule: CampaignSchedule,
    batches: list[CampaignBatch],
    window: int,
    rng: random.Random,
) -> list[CampaignBatch]:
    """Copies of `batches` with all but `window` consecutive ones (by start) frozen where
    `schedule` has them. The first batch of a vessel that starts dirty stays free (frozen, its
    cleaning would count as already done)."""
    order = sorted(batches, key=lambda b: schedule.assignments[b.key][1])
    free_from = rng.randrange(0, max(1, len(order) - window + 1))
    free = {b.key for b in order[free_from : free_from + window]}
    for v in problem.vessels:
        seq = schedule.sequence(v.key)
        if seq and not v.initial_clean:
            free.add(seq[0])
    out = []
    for b in batches:
        if b.key in free or b.fixed_start is not None:
            out.append(b)
            continue
        vessel, start, _end = schedule.assignments[b.key]
        out.append(
            CampaignBatch(
                key=b.key,
                product=b.product,
                volume=b.volume,
                duration=b.duration,
                release=b.release,
                due=b.due,
                weight=b.weight,
                required_capabilities=b.required_capabilities,
                fixed_vessel=vessel,
                fixed_start=start,
                locked_vessel=None,
            )
        )
    return out


def _solve_by_vessel_pairs(
    problem: CampaignProblem,
    start: CampaignSchedule,
    w: dict[str, int],
    *,
    t0: float,
    time_limit: float,
    num_workers: int,
    progress,
    stop,
    seed: int,
    source: str,
    start_value: int,
    dispatch_value: int | None,
    early_progress: list[CampaignProgress],
    window: int = 14,
    window_share: float = 0.7,
) -> CampaignResult:
    """Large problems: CP-SAT on two vessels at a time (the batches now on them may swap
    vessels and are re-sequenced), the rest of the plan fixed; a better plan for the pair is
    kept. Most steps (`window_share`) free only `window` consecutive batches of the pair and
    freeze the others where they are (a small model). Vessels are independent once batches are
    assigned, so every step keeps the whole plan feasible; the plant-wide objective decides."""
    rng = random.Random(seed)  # noqa: S311 (search diversity)
    deadline = t0 + time_limit
    best, best_value = start, start_value
    keys = [v.key for v in problem.vessels]
    pairs = list(itertools.combinations(keys, 2))

    def exchange(pair) -> int:
        a, b = pair
        return sum(
            1
            for x in problem.batches
            if x.fixed_start is None
            and x.locked_vessel is None
            and problem.fits(x, problem.vessel(a))
            and problem.fits(x, problem.vessel(b))
        )

    log: list[CampaignProgress] = list(early_progress)
    queue: list[tuple[str, str]] = []
    rounds_without_gain = 0
    while time.monotonic() < deadline - 0.5 and not (stop is not None and stop.is_set()):
        if not queue:
            # pairs that can exchange batches first, in a random order
            queue = sorted(pairs, key=lambda p: (exchange(p) == 0, rng.random()))
            rounds_without_gain += 1
            if rounds_without_gain > 3:
                break
        pair = queue.pop(0)
        vessels = set(pair)
        sub_batches = [b for b in problem.batches if best.assignments[b.key][0] in vessels]
        if not sub_batches:
            continue
        windowed = rng.random() < window_share
        if windowed:
            sub_batches = _freeze_outside_window(problem, best, sub_batches, window, rng)
        sub = CampaignProblem(
            vessels=[v for v in problem.vessels if v.key in vessels],
            batches=sub_batches,
            changeovers=problem.changeovers,
            horizon=problem.horizon,
            name=f"{problem.name} {pair[0]}+{pair[1]}",
        )
        part = CampaignSchedule(
            assignments={b.key: best.assignments[b.key] for b in sub_batches},
            cleanings=[c for c in best.cleanings if c.vessel in vessels],
        )
        remaining = deadline - time.monotonic()
        step = min(remaining, 3.0 if windowed else max(3.0, time_limit / 12))
        if step < 1.0:
            break
        try:
            res = solve_campaign(
                sub,
                time_limit=step,
                num_workers=num_workers,
                weights=w,
                hint=part,
                stop=stop,
                seed=rng.randrange(1000),
                local_search=0.1,
            )
        except InvalidInstance:
            continue
        candidate = _merge(best, res.schedule, vessels)
        metrics = campaign_metrics(problem, candidate)
        value = metrics.objective(w)
        if value < best_value and not campaign_violations(problem, candidate):
            best, best_value = candidate, value
            rounds_without_gain = 0
            p = CampaignProgress(
                wall_time=time.monotonic() - t0,
                objective=value,
                objective_bound=0,
                makespan=metrics.makespan,
                tardiness=metrics.tardiness,
                changeover_minutes=metrics.changeover_minutes,
                schedule=candidate if progress is not None else None,
            )
            log.append(p)
            if progress is not None:
                progress(p)
    check_campaign(problem, best)
    metrics = campaign_metrics(problem, best)
    return CampaignResult(
        schedule=best,
        makespan=metrics.makespan,
        tardiness=metrics.tardiness,
        changeover_minutes=metrics.changeover_minutes,
        utilization=metrics.utilization,
        status="feasible" if dispatch_value is None or best_value < dispatch_value else "dispatch",
        lower_bound=None,
        solve_seconds=time.monotonic() - t0,
        objective=best_value,
        start_source=f"{source} + CP-SAT on vessel pairs",
        start_objective=start_value,
        dispatch_objective=dispatch_value,
        stopped=stop is not None and stop.is_set(),
        progress=log,
    )


@dataclass
class _StartFact:
    vessel: str
    start: int
    end: int
    pred: str | None
    last: bool
    first_clean: Cleaning | None
    reclean: Cleaning | None
    count: int
    camp_start: int
    new_campaign: bool


def _start_facts(problem: CampaignProblem, start: CampaignSchedule | None) -> dict[str, _StartFact]:
    """What the start schedule decides for each batch, in the model's terms (for the hint)."""
    if start is None:
        blank = _StartFact("", 0, 0, None, False, None, None, 1, 0, True)
        return {b.key: blank for b in problem.batches}
    before: dict[str, list[Cleaning]] = {}
    for c in sorted(start.cleanings, key=lambda c: c.start):
        if c.before is not None:
            before.setdefault(c.before, []).append(c)
    out = {}
    for v in problem.vessels:
        seq = start.sequence(v.key)
        count, camp = 0, 0
        for pos, key in enumerate(seq):
            _v, s, e = start.assignments[key]
            cl = before.get(key, [])
            first = cl[0] if cl else None
            new = pos == 0 or (first is not None and first.kind == MAJOR)
            if new:
                count, camp = 1, s
            else:
                count += 1
            out[key] = _StartFact(
                vessel=v.key,
                start=s,
                end=e,
                pred=seq[pos - 1] if pos else None,
                last=pos == len(seq) - 1,
                first_clean=first,
                reclean=cl[1] if len(cl) > 1 else None,
                count=count,
                camp_start=camp,
                new_campaign=new,
            )
    return out
