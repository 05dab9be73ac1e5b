"""The comparison statistics on inputs whose answers are known by hand."""

import math

import numpy as np
import pytest

from ofmu_theory.comparison import first_reaching, interval, paired, search_configs, verdict


def test_t_interval_matches_the_textbook_formula():
    # mean 2, s = 1, n = 3: half-width t_{2, 0.975} / sqrt(3) = 4.302653 / 1.732051 = 2.484138
    iv = interval([1.0, 2.0, 3.0])
    assert iv.mean == 2.0 and iv.n == 3
    assert iv.low == pytest.approx(2.0 - 2.484138, abs=1e-6)
    assert iv.high == pytest.approx(2.0 + 2.484138, abs=1e-6)


def test_bootstrap_interval_is_seeded_and_brackets_the_mean():
    values = [0.1, 0.4, 0.35, 0.2, 0.3]
    a, b = interval(values, method="bootstrap", seed=3), interval(values, method="bootstrap", seed=3)
    assert a == b
    assert 0.1 <= a.low <= np.mean(values) <= a.high <= 0.4


def test_single_value_has_no_interval():
    iv = interval([0.5])
    assert iv.mean == 0.5 and math.isnan(iv.low) and math.isnan(iv.high)


@pytest.mark.parametrize("bad", [[], [1.0, math.nan]])
def test_bad_values_are_refused(bad):
    with pytest.raises(ValueError, match="values"):
        interval(bad)


def test_paired_difference_and_probability_of_improvement():
    x, y = [0.5, 0.6, 0.7], [0.1, 0.2, 0.25]
    cmp = paired(x, y, higher_is_better=True)
    assert cmp.diff.mean == pytest.approx(np.mean([0.4, 0.4, 0.45]))
    assert cmp.prob_improvement == 1.0
    assert verdict(cmp) == "better"
    assert verdict(paired(y, x, higher_is_better=True)) == "worse"
    # lower is better: x larger is worse
    assert verdict(paired(x, y, higher_is_better=False)) == "worse"


def test_noisy_difference_is_indistinguishable():
    cmp = paired([0.5, 0.2, 0.6], [0.4, 0.5, 0.45], higher_is_better=True)
    assert verdict(cmp) == "indistinguishable"
    assert 0.0 < cmp.p_value < 1.0


def test_identical_runs_are_indistinguishable_and_constant_shift_is_decided():
    assert verdict(paired([1.0, 2.0], [1.0, 2.0], higher_is_better=True)) == "indistinguishable"
    assert verdict(paired([1.5, 2.5], [1.0, 2.0], higher_is_better=True)) == "better"


def test_paired_needs_the_same_seeds():
    with pytest.raises(ValueError, match="pair up"):
        paired([1.0, 2.0], [1.0], higher_is_better=True)


def test_search_configs_is_seeded_distinct_and_sized():
    space = {"lr": [1e-4, 2e-4, 5e-4], "beta": [0.1, 0.2]}
    a = search_configs(space, 4, seed=1)
    assert a == search_configs(space, 4, seed=1)
    assert len({tuple(sorted(c.items())) for c in a}) == 4
    assert all(c["lr"] in space["lr"] and c["beta"] in space["beta"] for c in a)
    assert len(search_configs(space, 6, seed=0)) == 6
    with pytest.raises(ValueError, match="fewer than the 7"):
        search_configs(space, 7, seed=0)


def test_first_reaching_returns_the_first_point_meeting_the_target():
    points = [{"passes": 50, "fq": 0.01}, {"passes": 150, "fq": 0.2}, {"passes": 500, "fq": 0.5}]
    assert first_reaching(points, ok=lambda p: p["fq"] >= 0.1)["passes"] == 150
    assert first_reaching(points, ok=lambda p: p["fq"] >= 0.9) is None


def test_a_single_value_keeps_its_level_and_method():
    for method in ("t", "bootstrap"):
        iv = interval([0.5], level=0.9, method=method)
        assert (iv.n, iv.level, iv.method) == (1, 0.9, method)
        assert iv.to_dict()["level"] == 0.9


def test_two_pairs_have_the_paired_t_test_p_value():
    # d = (0.5, -0.2): t = d̄/(s/√2) with 1 degree of freedom, whose CDF is ½ + atan(t)/π (Cauchy)
    cmp = paired([1.0, 2.0], [0.5, 2.2], higher_is_better=True)
    d = np.array([0.5, -0.2])
    t = d.mean() / (d.std(ddof=1) / math.sqrt(2))
    assert cmp.p_value == pytest.approx(1 - 2 * math.atan(abs(t)) / math.pi, rel=1e-12)
