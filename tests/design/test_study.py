"""Test a whole coverage study: figures within 0.5 % of a 1 s brute-force reference.

The reference samples every satellite's view of every point each second
(:mod:`jointsat.design.reference`) and the same figures are computed from its samples;
the brief asks every figure of merit to be within 0.5 % of it. Daylight and bent pipe
are checked against what they mean: the Sun's elevation (``sun_elevation_deg``, not the
daylight module) and the relay stations' view (``topocentric``).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from jointsat.design.access import AccessRule, GroundPoints, find_accesses
from jointsat.design.areas import band, read_geojson
from jointsat.design.constellations import combine, parse_constellation, walker
from jointsat.design.intervals import Intervals, intersect
from jointsat.design.merit import FIGURES, aggregate, point_figures
from jointsat.design.reference import sampled_accesses
from jointsat.design.study import CoverageStudy, _relay_windows, run_coverage
from jointsat.errors import DesignError
from jointsat.orbits.frames import (
    enu_basis,
    geodetic_to_ecef,
    gmst82_rad,
    teme_to_ecef,
    topocentric,
)
from jointsat.orbits.propagation import build_orbits
from jointsat.orbits.stations import Station
from jointsat.orbits.sun import sun_elevation_deg
from jointsat.timelib import TimeOrigin

START = datetime(2026, 12, 1, tzinfo=UTC)
# The brief: every figure of merit within 0.5 % of a 1 s brute-force reference.
figure_fraction = 5e-3
PARTNERS = json.dumps(
    {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"name": "north", "partner": "ESA"},
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [[[-20, 30], [40, 30], [40, 60], [-20, 60], [-20, 30]]],
                },
            },
            {
                "type": "Feature",
                "properties": {"name": "south", "partner": "CNES"},
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [[[100, -45], [160, -45], [160, -10], [100, -10], [100, -45]]],
                },
            },
        ],
    }
)


@pytest.fixture(scope="module")
def study_and_reference() -> tuple[object, dict[str, dict[str, float | int | None]]]:
    areas = (*read_geojson(PARTNERS), band(-60.0, 60.0, name="band"))
    study = CoverageStudy(
        (parse_constellation("walker:6/3/1:550:53", epoch=START),),
        areas,
        START,
        START + timedelta(days=1),
        AccessRule(min_elevation_deg=10.0),
        grid_deg=6.0,
    )
    result = run_coverage(study)
    grid = result.grid
    orbits = build_orbits(combine(study.constellations))
    found = sampled_accesses(
        orbits, GroundPoints.of(grid.lat_deg, grid.lon_deg), START, study.end, study.rule, 1.0
    )
    figures = point_figures(
        [Intervals(a.point, a.start_s, a.end_s) for a in found], len(grid), study.duration_s
    )
    reference = {
        area.name: aggregate(figures, grid.area_km2, rows)
        for area, rows in zip(areas, result.area_rows, strict=True)
    }
    return result, reference


@pytest.mark.slow
@pytest.mark.parametrize("area", ["north", "south", "band"])
def test_every_figure_is_within_half_a_percent_of_one_second_sampling(
    study_and_reference: tuple[object, dict[str, dict[str, dict[str, float | int | None]]]],
    area: str,
) -> None:
    result, reference = study_and_reference
    summary = result.summary()  # type: ignore[attr-defined]
    (mine,) = [a["figures"] for a in summary["areas"] if a["name"] == area]
    compared = 0
    for name in FIGURES:
        for statistic in ("mean", "min", "max", "p10", "p50", "p90"):
            got, want = mine[name][statistic], reference[area][name][statistic]
            if want is None:
                assert got is None, (name, statistic)
                continue
            assert got == pytest.approx(want, rel=figure_fraction, abs=1e-9), (name, statistic)
            compared += 1
    assert compared > 60


def test_the_summary_speaks_per_area_and_per_partner(
    study_and_reference: tuple[object, dict[str, dict[str, float | int | None]]],
) -> None:
    result, _ = study_and_reference
    summary = result.summary()  # type: ignore[attr-defined]
    assert [p["partner"] for p in summary["partners"]] == ["CNES", "ESA"]
    assert [a["name"] for a in summary["areas"]] == ["north", "south", "band"]
    assert summary["grid"]["points"] == len(result.grid)  # type: ignore[attr-defined]
    assert summary["provenance"]["elements"][0]["epoch"] == "2026-12-01T00:00:00Z"
    table = result.table()  # type: ignore[attr-defined]
    assert list(table)[:6] == ["area", "partner", "cell", "lat_deg", "lon_deg", "area_km2"]
    assert tuple(table)[6:] == FIGURES
    rows = sum(a["points"] for a in summary["areas"])
    assert all(len(column) == rows for column in table.values())
    assert np.all((table["coverage_fraction"] >= 0.0) & (table["coverage_fraction"] <= 1.0))


def _small_study(**changes: object) -> CoverageStudy:
    settings: dict[str, object] = {
        "constellations": (walker(3, 3, 1, 600.0, 70.0, epoch=START),),
        "areas": (band(-50.0, 50.0, name="band"),),
        "start": START,
        "end": START + timedelta(hours=8),
        "rule": AccessRule(min_elevation_deg=10.0),
        "grid_deg": 10.0,
    }
    settings.update(changes)
    return CoverageStudy(**settings)  # type: ignore[arg-type]


def test_daylight_keeps_only_coverage_while_the_sun_is_up() -> None:
    night_and_day = run_coverage(_small_study())
    sunny = run_coverage(_small_study(rule=AccessRule(min_elevation_deg=10.0, daylight_deg=5.0)))
    grid = sunny.grid
    duration = sunny.study.duration_s
    # Coverage in daylight, sampled every 30 s with the Sun from the orbits' own series.
    origin = TimeOrigin.of(START)
    t = np.arange(0.0, duration, 30.0)
    jd, fr = origin.julian(t)
    lat, lon, jd_all, fr_all = np.broadcast_arrays(
        grid.lat_deg[:, None], grid.lon_deg[:, None], jd[None, :], fr[None, :]
    )
    sun = sun_elevation_deg(lat, lon, np.zeros(lat.shape), jd_all, fr_all)
    lit_share = (sun >= 5.0).mean(axis=1)
    assert np.all(
        sunny.figures.coverage_fraction <= night_and_day.figures.coverage_fraction + 1e-12
    )
    assert np.all(sunny.figures.coverage_fraction <= lit_share + 0.01)
    assert sunny.figures.coverage_fraction.sum() < night_and_day.figures.coverage_fraction.sum()
    assert sunny.figures.coverage_fraction.sum() > 0.0


def test_bent_pipe_keeps_only_coverage_a_relay_station_sees_too() -> None:
    relay = (
        Station("Kiruna", 67.857, 20.964, 400.0),
        Station("Hartebeesthoek", -25.887, 27.708, 1500.0),
    )
    plain = run_coverage(_small_study())
    study = _small_study(relay_stations=relay, relay_min_elevation_deg=5.0)
    piped = run_coverage(study)
    assert 0.0 < piped.figures.coverage_fraction.sum() < plain.figures.coverage_fraction.sum()
    # At the middle of each piped access of the first satellite, a station sees it.
    orbit = build_orbits(combine(study.constellations))[0]
    points = GroundPoints.of(piped.grid.lat_deg, piped.grid.lon_deg)
    (found,) = find_accesses([orbit], points, START, study.end, study.rule)
    windows = _relay_windows(study, combine(study.constellations))[orbit.norad_id]
    pieces = intersect(Intervals(found.point, found.start_s, found.end_s), windows, common=True)
    assert len(pieces) > 0
    jd, fr = TimeOrigin.of(START).julian(0.5 * (pieces.start_s + pieces.end_s))
    _, r, v = orbit.propagate(jd, fr)
    r, v = teme_to_ecef(r, v, gmst82_rad(jd, fr))
    lat = np.array([s.lat_deg for s in relay])
    lon = np.array([s.lon_deg for s in relay])
    site = geodetic_to_ecef(lat, lon, np.array([s.alt_m for s in relay]))
    _, el, _, _ = topocentric(r[:, None, :], v[:, None, :], site[None], enu_basis(lat, lon)[None])
    assert np.all(el.max(axis=1) >= 5.0 - 1e-6)


def test_a_study_refuses_what_it_cannot_run() -> None:
    with pytest.raises(DesignError, match="end must be after"):
        _small_study(end=START)
    with pytest.raises(DesignError, match="at least one area"):
        _small_study(areas=())
    with pytest.raises(DesignError, match="grid spacing"):
        _small_study(grid_deg=0.0)
    with pytest.raises(DesignError, match="names must differ"):
        _small_study(areas=(band(0, 10, name="a"), band(20, 30, name="a")))
    with pytest.raises(DesignError, match="at most 366 days"):
        _small_study(end=START + timedelta(days=400))
