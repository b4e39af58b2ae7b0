"""Statistical process control: pure functions, no database.

- Individuals / moving-range chart: CL = X̄, UCL/LCL = X̄ ± 2.66·MR̄, UCL_MR = 3.267·MR̄ (LCL_MR = 0).
- X̄-R chart for subgroups of n = 2..10: UCL/LCL = X̿ ± A2·R̄, UCL_R = D4·R̄, LCL_R = D3·R̄.
- Capability: Cp = (USL − LSL) / 6σ, Cpk = min(USL − μ, μ − LSL) / 3σ.
- Western Electric rules 1–4, with the index of every point at which a rule fires.

The zones of the Western Electric rules are thirds of the distance from the centre line to the
control limit, so that rule 1 ("beyond 3σ") is exactly "beyond the control limit": for the
individuals chart σ = 2.66·MR̄ / 3 (≈ MR̄ / d2), for the X̄ chart σ = A2·R̄ / 3.
"""

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Union

Number = Union[float, int, Decimal]  # noqa: UP007

E2 = 2.66  # individuals chart: 3 / d2(2)
D4_MR = 3.267  # moving-range chart: D4 for n = 2

# Shewhart constants for subgroup size n.
A2 = {2: 1.880, 3: 1.023, 4: 0.729, 5: 0.577, 6: 0.483, 7: 0.419, 8: 0.373, 9: 0.337, 10: 0.308}
D3 = {2: 0.0, 3: 0.0, 4: 0.0, 5: 0.0, 6: 0.0, 7: 0.076, 8: 0.136, 9: 0.184, 10: 0.223}
D4 = {2: 3.267, 3: 2.574, 4: 2.282, 5: 2.114, 6: 2.004, 7: 1.924, 8: 1.864, 9: 1.816, 10: 1.777}
D2 = {2: 1.128, 3: 1.693, 4: 2.059, 5: 2.326, 6: 2.534, 7: 2.704, 8: 2.847, 9: 2.970, 10: 3.078}

RULES = {
    1: "One point beyond 3σ (outside the control limits)",
    2: "Two of three consecutive points beyond 2σ on the same side",
    3: "Four of five consecutive points beyond 1σ on the same side",
    4: "Eight consecutive points on the same side of the centre line",
}


class SpcInputError(ValueError):
    """Not enough (or unusable) data for the computation asked."""


def _floats(values: Iterable[Number]) -> list[float]:
    out = [float(v) for v in values]
    if any(math.isnan(v) or math.isinf(v) for v in out):
        raise SpcInputError("values must be finite numbers")
    return out


def mean(values: Sequence[Number]) -> float:
    data = _floats(values)
    if not data:
        raise SpcInputError("the mean of no values is undefined")
    return math.fsum(data) / len(data)


def sample_std(values: Sequence[Number]) -> float:
    """Sample standard deviation (n − 1)."""
    data = _floats(values)
    if len(data) < 2:
        raise SpcInputError("a standard deviation needs at least two values")
    m = math.fsum(data) / len(data)
    return math.sqrt(math.fsum((x - m) ** 2 for x in data) / (len(data) - 1))


def moving_ranges(values: Sequence[Number]) -> list[float]:
    """|x[i] − x[i−1]| for i = 1..n−1."""
    data = _floats(values)
    return [abs(b - a) for a, b in itertools.pairwise(data)]


@dataclass(frozen=True)
class IndividualsLimits:
    center: float
    ucl: float
    lcl: float
    mr_bar: float
    mr_ucl: float
    mr_lcl: float
    sigma: float  # for the zones of the Western Electric rules: (UCL − CL) / 3


def individuals_limits(values: Sequence[Number]) -> IndividualsLimits:
    """Limits of the individuals and moving-range charts (at least two values)."""
    data = _floats(values)
    if len(data) < 2:
        raise SpcInputError("an individuals chart needs at least two values")
    center = math.fsum(data) / len(data)
    mrs = moving_ranges(data)
    mr_bar = math.fsum(mrs) / len(mrs)
    half = E2 * mr_bar
    return IndividualsLimits(
        center=center,
        ucl=center + half,
        lcl=center - half,
        mr_bar=mr_bar,
        mr_ucl=D4_MR * mr_bar,
        mr_lcl=0.0,
        sigma=half / 3,
    )


@dataclass(frozen=True)
class XbarRLimits:
    n: int
    grand_mean: float
    r_bar: float
    ucl: float
    lcl: float
    r_ucl: float
    r_lcl: float
    sigma: float  # of the subgroup means, for the zones: A2·R̄ / 3
    sigma_within: float  # of the individual values: R̄ / d2


def subgroup_means(subgroups: Sequence[Sequence[Number]]) -> list[float]:
    return [mean(g) for g in subgroups]


def subgroup_ranges(subgroups: Sequence[Sequence[Number]]) -> list[float]:
    return [max(_floats(g)) - min(_floats(g)) for g in subgroups]


def xbar_r_limits(subgroups: Sequence[Sequence[Number]]) -> XbarRLimits:
    """Limits of the X̄ and R charts; every subgroup has the same size n, 2 ≤ n ≤ 10."""
    if not subgroups:
        raise SpcInputError("an X̄-R chart needs at least one subgroup")
    sizes = {len(g) for g in subgroups}
    if len(sizes) != 1:
        raise SpcInputError(f"subgroups differ in size: {sorted(sizes)}")
    n = sizes.pop()
    if n not in A2:
        raise SpcInputError(f"subgroup size {n} is outside 2..10")
    means = subgroup_means(subgroups)
    ranges = subgroup_ranges(subgroups)
    grand = math.fsum(means) / len(means)
    r_bar = math.fsum(ranges) / len(ranges)
    return XbarRLimits(
        n=n,
        grand_mean=grand,
        r_bar=r_bar,
        ucl=grand + A2[n] * r_bar,
        lcl=grand - A2[n] * r_bar,
        r_ucl=D4[n] * r_bar,
        r_lcl=D3[n] * r_bar,
        sigma=A2[n] * r_bar / 3,
        sigma_within=r_bar / D2[n],
    )


def split_subgroups(values: Sequence[Number], n: int) -> list[list[float]]:
    """Consecutive subgroups of n values; an incomplete last subgroup is left out."""
    data = _floats(values)
    return [data[i : i + n] for i in range(0, len(data) - n + 1, n)]


@dataclass(frozen=True)
class Capability:
    mean: float
    sigma: float
    cp: float | None  # needs both limits
    cpk: float | None
    cpu: float | None
    cpl: float | None


def capability(
    *, mean: float, sigma: float, lsl: Number | None = None, usl: Number | None = None
) -> Capability:
    """Cp and Cpk for a process of mean `mean` and standard deviation `sigma`. With one
    spec limit only, Cp is None and Cpk is the one-sided index."""
    if sigma <= 0:
        raise SpcInputError("capability needs a positive sigma")
    if lsl is None and usl is None:
        raise SpcInputError("capability needs at least one specification limit")
    lo = float(lsl) if lsl is not None else None
    hi = float(usl) if usl is not None else None
    if lo is not None and hi is not None and lo >= hi:
        raise SpcInputError("the lower spec limit must be below the upper one")
    cpu = (hi - mean) / (3 * sigma) if hi is not None else None
    cpl = (mean - lo) / (3 * sigma) if lo is not None else None
    cp = (hi - lo) / (6 * sigma) if hi is not None and lo is not None else None
    sides = [c for c in (cpu, cpl) if c is not None]
    return Capability(mean=mean, sigma=sigma, cp=cp, cpk=min(sides), cpu=cpu, cpl=cpl)


@dataclass(frozen=True)
class Violation:
    rule: int
    index: int

    @property
    def description(self) -> str:
        return RULES[self.rule]


def western_electric(
    values: Sequence[Number], *, center: float, sigma: float
) -> dict[int, list[int]]:
    """For each rule 1–4, the indices of the points at which it fires.

    1: the point is more than 3σ from the centre line;
    2: the point is beyond 2σ and, of the three consecutive points ending with it (fewer at
       the start of the series), at least two are beyond 2σ on that same side;
    3: the point is beyond 1σ and, of the five consecutive points ending with it (fewer at
       the start), at least four are beyond 1σ on that same side;
    4: the point and the seven before it are all on the same side of the centre line (a point
       exactly on the line belongs to neither side); every further point of the run fires too.
    """
    data = _floats(values)
    dev = [x - center for x in data]
    fired: dict[int, list[int]] = {1: [], 2: [], 3: [], 4: []}

    def beyond(i: int, k: float, side: int) -> bool:
        return side * dev[i] > k * sigma

    run_side, run_len = 0, 0
    for i, d in enumerate(dev):
        if abs(d) > 3 * sigma:
            fired[1].append(i)
        for side in (1, -1):
            window = range(max(0, i - 2), i + 1)
            if beyond(i, 2, side) and sum(beyond(j, 2, side) for j in window) >= 2:
                fired[2].append(i)
                break
        for side in (1, -1):
            window = range(max(0, i - 4), i + 1)
            if beyond(i, 1, side) and sum(beyond(j, 1, side) for j in window) >= 4:
                fired[3].append(i)
                break
        side = 1 if d > 0 else -1 if d < 0 else 0
        if side != 0 and side == run_side:
            run_len += 1
        else:
            run_side, run_len = side, (1 if side != 0 else 0)
        if run_len >= 8:
            fired[4].append(i)
    return fired


def violations(values: Sequence[Number], *, center: float, sigma: float) -> list[Violation]:
    """Every (rule, point) that fires, ordered by point then rule."""
    fired = western_electric(values, center=center, sigma=sigma)
    found = [Violation(rule=rule, index=i) for rule, indices in fired.items() for i in indices]
    return sorted(found, key=lambda v: (v.index, v.rule))
