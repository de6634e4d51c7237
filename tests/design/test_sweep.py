"""Test design sweeps: the grid of Walker designs, the Pareto front, and each row's objective.

The oracles: Walker's rule for a valid T/P/F (P divides T, 0 <= F < P), checked design
by design in a plain loop; a brute-force domination check over every pair of designs
(a design is dominated when another is no worse on both cost and objective and better
on one; both minimised, or the objective maximised for figures where more is better);
and each design's study run directly with :func:`run_coverage`, whose summary per
partner gives the worst-served partner's figure by hand.
"""

from __future__ import annotations

import itertools
import json
import math
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jointsat.design.access import AccessRule
from jointsat.design.areas import Area, band, read_geojson
from jointsat.design.study import CoverageStudy, run_coverage
from jointsat.design.sweep import (
    HIGHER_IS_BETTER,
    MAX_DESIGNS,
    Design,
    SweepResult,
    SweepSettings,
    pareto_front,
    run_sweep,
    sso_designs,
    walker_designs,
)
from jointsat.errors import DesignError

START = datetime(2026, 6, 1, tzinfo=UTC)
END = START + timedelta(hours=3)


def box(lon0: float, lat0: float, lon1: float, lat1: float) -> list[list[float]]:
    return [[lon0, lat0], [lon1, lat0], [lon1, lat1], [lon0, lat1], [lon0, lat0]]


def partner_areas() -> tuple[Area, ...]:
    """Two partners' areas (Europe, North America) in one GeoJSON, and a band of no partner."""
    features = [
        {
            "type": "Feature",
            "properties": {"name": name, "partner": partner},
            "geometry": {"type": "Polygon", "coordinates": [ring]},
        }
        for name, partner, ring in (
            ("europe", "esa", box(-10.0, 35.0, 30.0, 60.0)),
            ("america", "nasa", box(-120.0, 25.0, -70.0, 50.0)),
        )
    ]
    document = json.dumps({"type": "FeatureCollection", "features": features})
    return (band(-30.0, 30.0, name="tropics"), *read_geojson(document))


def settings_for(figure: str = "max_gap_s", statistic: str = "mean") -> SweepSettings:
    return SweepSettings(partner_areas(), START, END, AccessRule(10.0), 10.0, figure, statistic)


# walker_designs and sso_designs: which designs the grid holds.

small = st.lists(st.integers(-2, 13), min_size=0, max_size=4)


@settings(max_examples=100, deadline=None)
@given(small, small, small, st.booleans())
def test_walker_designs_keep_exactly_the_valid_patterns(
    totals: list[int], planes: list[int], phasings: list[int], star: bool
) -> None:
    altitudes, inclinations = [550.0, 700.0], [53.0]
    found = walker_designs(totals, planes, phasings, altitudes, inclinations, star=star)
    expected = []
    for t, p, f, alt, inc in itertools.product(totals, planes, phasings, altitudes, inclinations):
        if t >= 1 and p >= 1 and t % p == 0 and 0 <= f <= p - 1:
            expected.append((t, p, f, alt, inc))
    assert [(d.total, d.planes, d.phasing, d.altitude_km, d.inclination_deg) for d in found] == (
        expected
    )
    assert {d.kind for d in found} <= {"walker-star" if star else "walker-delta"}


def test_sso_designs_cover_the_grid() -> None:
    found = sso_designs([0, 1, 2], [500.0], [10.5, 22.0])
    assert [(d.total, d.ltan_hours) for d in found] == [(1, 10.5), (1, 22.0), (2, 10.5), (2, 22.0)]
    assert found[0].label == "sso:500:10:30:1"


# pareto_front: against every pair.


def dominated(k: int, cost: np.ndarray, value: np.ndarray) -> bool:
    return any(
        cost[j] <= cost[k] and value[j] <= value[k] and (cost[j] < cost[k] or value[j] < value[k])
        for j in range(cost.size)
        if j != k and math.isfinite(cost[j]) and math.isfinite(value[j])
    )


def brute_front(cost: np.ndarray, value: np.ndarray) -> list[int]:
    ok = [k for k in range(cost.size) if math.isfinite(cost[k]) and math.isfinite(value[k])]
    front = [k for k in ok if not dominated(k, cost, value)]
    return sorted(front, key=lambda k: (cost[k], value[k], k))


designs_strategy = st.lists(
    st.tuples(
        st.integers(1, 6).map(float),
        st.one_of(st.just(math.nan), st.integers(0, 6).map(float)),
    ),
    max_size=14,
)


@settings(max_examples=300, deadline=None)
@given(designs_strategy)
def test_pareto_front_holds_exactly_the_undominated_designs(
    pairs: list[tuple[float, float]],
) -> None:
    cost = np.array([c for c, _ in pairs], dtype=float)
    value = np.array([v for _, v in pairs], dtype=float)
    assert pareto_front(cost, value) == brute_front(cost, value)


def test_two_identical_designs_are_both_on_the_front() -> None:
    """Neither beats the other on anything, so neither is dominated (the docstring's rule)."""
    cost = np.array([12.0, 12.0, 24.0])
    value = np.array([600.0, 600.0, 600.0])
    assert pareto_front(cost, value) == [0, 1]


def result_with(figure: str, rows: list[tuple[int, float]]) -> SweepResult:
    settings_ = SweepSettings((band(-10.0, 10.0),), START, END, AccessRule(), 10.0, figure)
    return SweepResult(
        settings_,
        tuple({"satellites": t, "objective": v, "partners": {}} for t, v in rows),
    )


@pytest.mark.parametrize("figure", ["coverage_fraction", "max_gap_s", "mean_in_view", "accesses"])
def test_sweep_result_pareto_minimises_or_maximises_by_the_figure(figure: str) -> None:
    rows = [(12, 0.4), (12, 0.6), (24, 0.5), (24, 0.9), (36, 0.95), (36, 0.1), (48, math.nan)]
    front = result_with(figure, rows).pareto
    cost = np.array([t for t, _ in rows], dtype=float)
    value = np.array([v for _, v in rows])
    better_high = figure in HIGHER_IS_BETTER
    assert better_high == (figure != "max_gap_s")
    assert list(front) == brute_front(cost, -value if better_high else value)
    # By hand: more is better keeps 12 (0.6), 24 (0.9), 36 (0.95); less is better, 12 (0.4)
    # and 36 (0.1).
    assert front == ((1, 3, 4) if better_high else (0, 5))


def test_sweep_table_flattens_partners_and_marks_the_front() -> None:
    result = SweepResult(
        settings_for(),
        (
            {"satellites": 6, "objective": 900.0, "partners": {"esa": 900.0, "nasa": 300.0}},
            {"satellites": 8, "objective": 950.0, "partners": {"esa": 950.0, "nasa": None}},
        ),
    )
    table = result.table()
    assert [row["pareto"] for row in table] == [True, False]
    assert table[1]["partner:nasa"] is None
    assert "partners" not in table[0]


# run_sweep on a tiny real case.

DESIGNS = [
    *walker_designs([6, 8], [2], [1], [550.0], [53.0]),
    *sso_designs([2], [600.0], [10.5]),
]


def worst_partner(design: Design, figure: str, statistic: str) -> tuple[str, float]:
    """Study the design directly and take the worst partner's figure from the summary."""
    areas = partner_areas()
    study = CoverageStudy((design.constellation(START),), areas, START, END, AccessRule(10.0), 10.0)
    partners = run_coverage(study).summary()["partners"]
    assert [p["partner"] for p in partners] == ["esa", "nasa"]
    values = {p["partner"]: p["figures"][figure][statistic] for p in partners}
    pick = min if figure in HIGHER_IS_BETTER else max
    name = pick(values, key=lambda k: values[k])
    return name, values[name]


@pytest.fixture(scope="module")
def sweep_rows() -> tuple[dict[str, Any], ...]:
    return run_sweep(DESIGNS, settings_for()).rows


def test_each_rows_objective_is_the_worst_partners_figure(
    sweep_rows: tuple[dict[str, Any], ...],
) -> None:
    assert [row["design"] for row in sweep_rows] == [d.label for d in DESIGNS]
    for design, row in zip(DESIGNS, sweep_rows, strict=True):
        name, value = worst_partner(design, "max_gap_s", "mean")
        assert row["worst"] == name
        assert row["objective"] == value
        assert set(row["partners"]) == {"esa", "nasa"}  # the band has no partner: not judged
        assert row["satellites"] == design.total


def test_a_figure_where_more_is_better_takes_the_least_served_partner() -> None:
    design = DESIGNS[1]
    (row,) = run_sweep([design], settings_for("coverage_fraction", "p10")).rows
    name, value = worst_partner(design, "coverage_fraction", "p10")
    assert (row["worst"], row["objective"]) == (name, value)


def test_an_executor_gives_the_same_rows(sweep_rows: tuple[dict[str, Any], ...]) -> None:
    with ThreadPoolExecutor(max_workers=2) as executor:
        seen: list[tuple[int, int]] = []
        rows = run_sweep(
            DESIGNS, settings_for(), executor=executor, progress=lambda d, n: seen.append((d, n))
        ).rows
    assert rows == sweep_rows
    assert seen == [(1, 3), (2, 3), (3, 3)]


def test_sweep_errors() -> None:
    with pytest.raises(DesignError, match="no valid design"):
        run_sweep([], settings_for())
    too_many = walker_designs(range(1, MAX_DESIGNS + 2), [1], [0], [550.0], [53.0])
    with pytest.raises(DesignError, match=f"at most {MAX_DESIGNS}"):
        run_sweep(too_many, settings_for())
    with pytest.raises(DesignError, match="unknown figure of merit 'revisit'"):
        settings_for(figure="revisit")
    with pytest.raises(DesignError, match="unknown statistic 'p95'"):
        settings_for(statistic="p95")
