"""SPC on known sequences: limits by hand, capability, Western Electric rules 1-4."""

import re

import pytest

from quality import spc


def test_individuals_limits_of_a_known_sequence():
    # x̄ = 58/5 = 11.6; moving ranges 2, 1, 2, 1 -> MR̄ = 1.5
    limits = spc.individuals_limits([10, 12, 11, 13, 12])

    assert limits.center == pytest.approx(11.6)
    assert limits.mr_bar == pytest.approx(1.5)
    assert limits.ucl == pytest.approx(11.6 + 2.66 * 1.5)  # 15.59
    assert limits.lcl == pytest.approx(11.6 - 2.66 * 1.5)  # 7.61
    assert limits.mr_ucl == pytest.approx(3.267 * 1.5)  # 4.9005
    assert limits.mr_lcl == 0.0
    assert limits.sigma == pytest.approx(2.66 * 1.5 / 3)


def test_moving_ranges_are_absolute_differences():
    assert spc.moving_ranges([5, 3, 8, 8]) == [2.0, 5.0, 0.0]


def test_individuals_needs_two_values():
    with pytest.raises(spc.SpcInputError, match="at least two values"):
        spc.individuals_limits([4.2])


def test_xbar_r_limits_of_known_subgroups():
    # means 11, 12, 10 -> X̿ = 11; ranges 2, 2, 2 -> R̄ = 2; n = 3: A2 1.023, D3 0, D4 2.574
    limits = spc.xbar_r_limits([[10, 12, 11], [11, 13, 12], [9, 11, 10]])

    assert limits.n == 3
    assert limits.grand_mean == pytest.approx(11.0)
    assert limits.r_bar == pytest.approx(2.0)
    assert limits.ucl == pytest.approx(13.046)
    assert limits.lcl == pytest.approx(8.954)
    assert limits.r_ucl == pytest.approx(5.148)
    assert limits.r_lcl == 0.0
    assert limits.sigma_within == pytest.approx(2.0 / 1.693)


def test_xbar_r_uses_d3_for_subgroups_of_seven():
    groups = [[1, 2, 3, 4, 5, 6, 7], [2, 3, 4, 5, 6, 7, 8]]  # ranges 6, 6; means 4, 5

    limits = spc.xbar_r_limits(groups)

    assert limits.r_lcl == pytest.approx(0.076 * 6)
    assert limits.r_ucl == pytest.approx(1.924 * 6)
    assert limits.ucl == pytest.approx(4.5 + 0.419 * 6)


def test_xbar_r_refuses_mixed_or_unsupported_sizes():
    with pytest.raises(spc.SpcInputError, match=r"differ in size: \[2, 3\]"):
        spc.xbar_r_limits([[1, 2], [1, 2, 3]])
    with pytest.raises(spc.SpcInputError, match=re.escape("subgroup size 11 is outside 2..10")):
        spc.xbar_r_limits([list(range(11))])


def test_split_subgroups_leaves_out_an_incomplete_last_group():
    assert spc.split_subgroups([1, 2, 3, 4, 5, 6, 7], 3) == [[1, 2, 3], [4, 5, 6]]


def test_capability_two_sided():
    cap = spc.capability(mean=10.0, sigma=0.5, lsl=8.5, usl=12.0)

    assert cap.cp == pytest.approx(3.5 / 3)  # (12 - 8.5) / (6 * 0.5)
    assert cap.cpu == pytest.approx(2.0 / 1.5)
    assert cap.cpl == pytest.approx(1.5 / 1.5)
    assert cap.cpk == pytest.approx(1.0)


def test_capability_one_sided_has_no_cp():
    cap = spc.capability(mean=0.2, sigma=0.05, usl=0.5)

    assert cap.cp is None
    assert cap.cpl is None
    assert cap.cpk == pytest.approx(2.0)  # (0.5 - 0.2) / 0.15


def test_capability_refuses_zero_sigma_and_no_limits():
    with pytest.raises(spc.SpcInputError, match="positive sigma"):
        spc.capability(mean=1, sigma=0, lsl=0, usl=2)
    with pytest.raises(spc.SpcInputError, match="at least one specification limit"):
        spc.capability(mean=1, sigma=1)


def test_sample_std():
    assert spc.sample_std([2, 4, 4, 4, 5, 5, 7, 9]) == pytest.approx(2.1380899)


def _fired(values):
    return spc.western_electric(values, center=0.0, sigma=1.0)


def test_rule_1_one_point_beyond_three_sigma():
    # point 3 also completes rule 2 (3.5 and 2.9 beyond +2σ among the last three)
    assert _fired([0.5, 3.5, -3.2, 2.9]) == {1: [1, 2], 2: [3], 3: [], 4: []}


def test_rule_2_two_of_three_beyond_two_sigma_same_side():
    # points 1 and 3 beyond +2σ with point 2 between: fires at 3 (the point completing it)
    assert _fired([0.0, 2.5, 0.3, 2.1, -2.5, 0.0]) == {1: [], 2: [3], 3: [], 4: []}


def test_rule_2_needs_the_same_side():
    assert _fired([2.5, -2.5, 0.0, 2.2])[2] == []


def test_rule_2_fires_on_the_first_two_points_of_a_series():
    assert _fired([2.5, 2.4])[2] == [1]


def test_rule_3_four_of_five_beyond_one_sigma_same_side():
    assert _fired([1.5, 1.2, 0.5, 1.1, 1.3, -0.2]) == {1: [], 2: [], 3: [4], 4: []}


def test_rule_4_eight_in_a_row_on_one_side():
    values = [0.1] * 8 + [-0.1] + [0.2] * 9

    assert _fired(values) == {1: [], 2: [], 3: [], 4: [7, 16, 17]}


def test_rule_4_a_point_on_the_centre_line_breaks_the_run():
    assert _fired([0.1] * 4 + [0.0] + [0.1] * 4)[4] == []


def test_violations_ordered_by_point_then_rule():
    found = spc.violations([0.5, 3.5, -3.2, 2.9], center=0.0, sigma=1.0)

    assert [(v.index, v.rule) for v in found] == [(1, 1), (2, 1), (3, 2)]
    assert found[0].description == "One point beyond 3σ (outside the control limits)"


def test_rules_on_a_real_chart_against_all_data_and_a_baseline():
    values = [10.0, 10.2, 9.9, 10.1, 10.0, 9.8, 10.1, 10.0, 13.0, 10.1]

    # limits from every value: the spike drags the centre line up to 10.32, so the first
    # eight points all sit below it (rule 4 at point 7) and the spike breaks rule 1
    limits = spc.individuals_limits(values)
    assert limits.center == pytest.approx(10.32)
    assert limits.mr_bar == pytest.approx(7.3 / 9)
    assert limits.ucl == pytest.approx(10.32 + 2.66 * 7.3 / 9)  # 12.4776
    assert spc.western_electric(values, center=limits.center, sigma=limits.sigma) == {
        1: [8],
        2: [],
        3: [],
        4: [7],
    }

    # limits from the first eight (phase I baseline): only the spike is out of control
    baseline = spc.individuals_limits(values[:8])
    assert baseline.center == pytest.approx(10.0125)
    assert baseline.ucl == pytest.approx(10.0125 + 2.66 * 0.2)
    assert spc.western_electric(values, center=baseline.center, sigma=baseline.sigma) == {
        1: [8],
        2: [],
        3: [],
        4: [],
    }
