"""Test daylight windows against Skyfield's Sun (JPL DE421) seen from each point.

The authority: Skyfield's geometric altitude of the Sun above the point's WGS-84
horizon, without refraction. The module uses the Astronomical Almanac's low-precision
Sun (0.01 degree), GMST for the Earth's rotation and leaves out the parallax (8.8
arcseconds) and aberration (20 arcseconds): together well within
:data:`two_hundredths_degree`, the tolerance at every boundary (the refinement to half a
second adds at most 0.002 degree, the Sun moving 0.25 degree a minute).
"""

from __future__ import annotations

import warnings
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from jointsat.design.access import GroundPoints
from jointsat.design.daylight import daylight
from jointsat.design.intervals import Intervals
from jointsat.timelib import TimeOrigin

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # skyfield-data warns that its IERS file is old
    import skyfield_data
    from skyfield.api import Loader, wgs84

two_hundredths_degree = 0.02

# Points from the equator to 70 degrees, both hemispheres and both sides of the
# antimeridian; none where the Sun grazes the thresholds during the windows.
LAT_DEG = np.array([0.0, 45.0, -33.9, 60.0, -50.0, 23.0, 10.0])
LON_DEG = np.array([0.0, 10.0, 18.4, -150.0, 100.0, 179.5, -179.5])


@pytest.fixture(scope="module")
def sky() -> tuple[Any, Any, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        load = Loader(skyfield_data.get_skyfield_data_path())
        ephemeris = load("de421.bsp")
        return load.timescale(builtin=True), ephemeris["earth"], ephemeris["sun"]


def sun_altitude_deg(
    sky: tuple[Any, Any, Any], lat: float, lon: float, start: datetime, t_s: np.ndarray
) -> np.ndarray:
    """Return Skyfield's geometric altitude of the Sun at a point, at offsets from start."""
    ts, earth, sun = sky
    t = ts.utc(start.year, start.month, start.day, start.hour, start.minute, t_s)
    site = earth + wgs84.latlon(lat, lon)
    return np.atleast_1d((sun - site).at(t).altaz()[0].degrees)


def windows(lat: np.ndarray, lon: np.ndarray, start: datetime, days: float, deg: float) -> Any:
    points = GroundPoints.of(lat, lon)
    return daylight(points.up, TimeOrigin.of(start), days * 86_400.0, deg)


def of_point(found: Intervals, point: int) -> tuple[np.ndarray, np.ndarray]:
    rows = found.group == point
    return found.start_s[rows], found.end_s[rows]


@pytest.mark.parametrize(
    ("start", "threshold_deg"),
    [
        (datetime(2026, 3, 20, tzinfo=UTC), 0.0),
        (datetime(2026, 6, 1, 6, tzinfo=UTC), -6.0),
        (datetime(2026, 11, 5, tzinfo=UTC), 10.0),
    ],
)
def test_daylight_windows_agree_with_skyfields_sun(
    sky: tuple[Any, Any, Any], start: datetime, threshold_deg: float
) -> None:
    days = 2.0
    duration = days * 86_400.0
    found = windows(LAT_DEG, LON_DEG, start, days, threshold_deg)
    assert np.all(found.end_s > found.start_s)
    assert np.all((found.start_s >= 0.0) & (found.end_s <= duration))
    for p, (lat, lon) in enumerate(zip(LAT_DEG, LON_DEG, strict=True)):
        starts, ends = of_point(found, p)
        assert 2 <= starts.size <= 3, (lat, lon, starts)  # a day and a night each day
        assert np.all(starts[1:] > ends[:-1]), "ordered and apart"
        # Every boundary inside the window is a crossing of the threshold.
        edges = np.concatenate([starts, ends])
        edges = edges[(edges > 0.0) & (edges < duration)]
        error = sun_altitude_deg(sky, lat, lon, start, edges) - threshold_deg
        assert np.max(np.abs(error)) <= two_hundredths_degree, (lat, lon, error)
        # Inside every window the Sun is above the threshold; between them, below.
        fractions = np.linspace(0.0, 1.0, 9)[1:-1]
        inside = (starts[:, None] + fractions * (ends - starts)[:, None]).ravel()
        gap_from = np.concatenate([[0.0], ends])
        gap_to = np.concatenate([starts, [duration]])
        gaps = gap_to > gap_from
        outside = (gap_from[gaps, None] + fractions * (gap_to - gap_from)[gaps, None]).ravel()
        assert np.all(sun_altitude_deg(sky, lat, lon, start, inside) >= threshold_deg), (lat, lon)
        assert np.all(sun_altitude_deg(sky, lat, lon, start, outside) < threshold_deg), (lat, lon)


@pytest.mark.parametrize(("month", "north_lit"), [(6, True), (12, False)], ids=["june", "december"])
def test_polar_day_and_night(sky: tuple[Any, Any, Any], month: int, north_lit: bool) -> None:
    """At 80 degrees the Sun stays 13 degrees or more from the horizon at the solstices."""
    start = datetime(2026, month, 21, tzinfo=UTC)
    duration = 86_400.0
    lat = np.array([80.0, -80.0, 0.0])
    lon = np.array([30.0, -60.0, 0.0])
    found = windows(lat, lon, start, 1.0, 0.0)
    hours = np.arange(0.0, duration + 1.0, 3_600.0)
    for p, lit in ((0, north_lit), (1, not north_lit)):
        altitude = sun_altitude_deg(sky, lat[p], lon[p], start, hours)
        assert np.all(altitude > 0.0) if lit else np.all(altitude < 0.0)  # the premise
        starts, ends = of_point(found, p)
        if lit:
            assert starts.tolist() == [0.0]
            assert ends.tolist() == [duration]
        else:
            assert starts.size == 0
    starts, _ = of_point(found, 2)
    assert starts.size in (1, 2)  # the equator has its day


def test_a_window_shorter_than_a_sample_step(sky: tuple[Any, Any, Any]) -> None:
    """A quarter-hour window at sunrise: the crossing is found between its two samples."""
    start = datetime(2026, 3, 20, tzinfo=UTC)
    lat, lon = np.array([0.0]), np.array([0.0])
    # Find sunrise from Skyfield to the minute, then study 15 minutes around it.
    minutes = np.arange(0.0, 86_400.0, 60.0)
    altitude = sun_altitude_deg(sky, 0.0, 0.0, start, minutes)
    rise = minutes[np.flatnonzero((altitude[:-1] < 0.0) & (altitude[1:] >= 0.0))[0]]
    window_start = start + timedelta(seconds=float(rise) - 420.0)
    found = windows(lat, lon, window_start, 900.0 / 86_400.0, 0.0)
    assert len(found) == 1
    assert found.end_s[0] == 900.0
    error = sun_altitude_deg(sky, 0.0, 0.0, window_start, found.start_s)[0]
    assert abs(error) <= two_hundredths_degree
