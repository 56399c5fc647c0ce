"""The per-seed strip in the figures table (issue 24, 'nothing shows the spread over seeds')."""

import re

from cvprimer.lab.report.html import seed_strip


def _xs(svg: str) -> list[float]:
    return [float(x) for x in re.findall(r'cx="([-0-9.]+)"', svg)]


def test_agreeing_seeds_cluster_in_the_middle_and_a_wide_spread_fills_the_strip():
    tight = _xs(seed_strip([10.0, 10.1, 9.9], "t"))
    assert len(tight) == 3 and all(abs(x - 30) < 2.5 for x in tight)  # 1% spread: within 2.2 px of the centre
    wide = _xs(seed_strip([0.0, 10.0, 20.0], "t"))
    assert min(wide) == 4.0 and max(wide) == 56.0 and wide[1] == 30.0  # R = largest deviation: the ends


def test_threshold_of_the_scale_is_a_quarter_of_the_mean():
    # deviation exactly 25% of |mean|: R = 0.25 |mean| = deviation, so the dots reach the ends
    assert _xs(seed_strip([75.0, 125.0], "t")) == [4.0, 56.0]
    # just under: still the ends (R is the deviation); a smaller deviation stays inside
    inner = _xs(seed_strip([90.0, 110.0], "t"))
    assert 4.0 < inner[0] < 30.0 < inner[1] < 56.0


def test_empty_for_fewer_than_two_finite_values_and_the_title_is_escaped():
    assert seed_strip([1.0], "t") == "" and seed_strip([1.0, None, float("nan")], "t") == ""
    assert seed_strip(None, "t") == ""
    svg = seed_strip([0.0, 0.0], "<b>&")
    assert 'title="&lt;b&gt;&amp;"' in svg and _xs(svg) == [30.0, 30.0]
