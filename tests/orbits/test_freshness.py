"""Check the elements' age and staleness against epochs read straight from the TLE columns."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from jointsat.constants import STALE_ABOVE_LEO_DAYS, STALE_LEO_DAYS
from jointsat.files import read_demo_elements, read_demo_stations
from jointsat.orbits.elements import Elements
from jointsat.orbits.freshness import StaleRule, window_freshness
from jointsat.orbits.passes import find_passes
from jointsat.orbits.propagation import Satellite, group_satellites
from jointsat.timelib import TimeOrigin

DAY_S = 86_400.0
CHEOPS = 44874


def tle_epochs(text: str) -> dict[int, list[datetime]]:
    """Return each catalog number's epochs, read from line 1's columns 19-32 (YYDDD.DDDDDDDD)."""
    epochs: dict[int, list[datetime]] = {}
    for line in text.splitlines():
        if line.startswith("1 "):
            year, day = int(line[18:20]), float(line[20:32])
            start = datetime(2000 + year if year < 57 else 1900 + year, 1, 1, tzinfo=UTC)
            epochs.setdefault(int(line[2:7]), []).append(start + timedelta(days=day - 1.0))
    return epochs


def oracle_age_days(epochs: list[datetime], moment: datetime) -> float:
    """Return the distance (days) from a moment to the nearest of the epochs."""
    return min(abs((moment - e).total_seconds()) for e in epochs) / DAY_S


def cheops_satellite() -> tuple[Satellite, ...]:
    return group_satellites(e for e in read_demo_elements().elements if e.norad_cat_id == CHEOPS)


@pytest.fixture(scope="module")
def demo_text() -> str:
    from importlib.resources import files

    folder = files("jointsat") / "data"
    return "".join((folder / n).read_text(encoding="utf-8") for n in ("stations.tle", "cheops.tle"))


def test_pass_ages_are_the_distance_to_the_nearest_epoch(demo_text: str) -> None:
    epochs = tle_epochs(demo_text)
    # CHEOPS has a 2020 and a 2024 set: this window lies between them, nearer the newer.
    start = datetime(2024, 5, 10, tzinfo=UTC)
    passes = find_passes(
        read_demo_elements().elements, read_demo_stations(), start, start + timedelta(days=2)
    )
    assert len(passes) > 100
    for row in passes.rows():
        expected = oracle_age_days(epochs[row.satellite.norad_id], row.tca)
        assert row.elements_age_days == pytest.approx(expected, abs=1e-7)  # 10 ms
    cheops = [r for r in passes.rows() if r.satellite.norad_id == 44874]
    assert cheops
    assert all(r.stale for r in cheops)  # 2024-09-16 is months away


def test_the_age_switches_set_halfway_between_epochs() -> None:
    (cheops,) = cheops_satellite()
    first, second = (e.epoch for e in cheops.element_sets)
    halfway = first + (second - first) / 2
    half_days = (second - first).total_seconds() / 2 / DAY_S
    origin = TimeOrigin.of(halfway)
    ages = cheops.elements_age_days(*origin.julian(np.array([-60.0, 0.0, 60.0])))
    assert ages == pytest.approx([half_days - 60 / DAY_S, half_days, half_days - 60 / DAY_S])


def orbit(mean_motion: float, eccentricity: float = 0.001) -> Satellite:
    """Return a one-set satellite of this mean motion (rev/day), epoch 2024-05-10 00:00 UTC."""
    (iss,) = (e for e in read_demo_elements().elements if e.norad_cat_id == 25544)
    origin = TimeOrigin.of(datetime(2024, 5, 10, tzinfo=UTC))
    e: Elements = dataclasses.replace(
        iss,
        epoch_jd=origin.jd0,
        epoch_fr=origin.fr0,
        mean_motion_rev_per_day=mean_motion,
        eccentricity=eccentricity,
    )
    return Satellite(e.norad_cat_id, e.object_name, (e,))


@pytest.mark.parametrize(
    ("mean_motion", "eccentricity", "threshold"),
    [
        (11.26, 0.001, STALE_LEO_DAYS),  # period just under 128 minutes: LEO
        (11.24, 0.001, STALE_ABOVE_LEO_DAYS),  # just over: above LEO
        (14.0, 0.3, STALE_ABOVE_LEO_DAYS),  # fast but eccentric (a Molniya-like apogee)
        (1.0027, 0.0002, STALE_ABOVE_LEO_DAYS),  # geostationary
    ],
)
def test_the_threshold_depends_on_the_orbit(
    mean_motion: float, eccentricity: float, threshold: float
) -> None:
    satellite = orbit(mean_motion, eccentricity)
    assert StaleRule().threshold_days(satellite) == threshold
    epoch = satellite.element_sets[0].epoch
    just_in = window_freshness(satellite, epoch, epoch + timedelta(days=threshold), StaleRule())
    assert just_in.elements_age_days == pytest.approx(threshold)
    assert not just_in.stale
    past = window_freshness(
        satellite, epoch, epoch + timedelta(days=threshold, minutes=1), StaleRule()
    )
    assert past.stale


def test_the_rule_is_configurable_and_checked() -> None:
    satellite = orbit(15.5)
    epoch = satellite.element_sets[0].epoch
    found = window_freshness(satellite, epoch - timedelta(days=3), epoch, StaleRule(leo_days=2.0))
    assert found.elements_age_days == pytest.approx(3.0)
    assert found.stale
    assert found.stale_after_days == 2.0
    with pytest.raises(ValueError, match="leo_days"):
        StaleRule(leo_days=0.0)


def test_window_age_is_the_worst_moment(demo_text: str) -> None:
    """Between two epochs the oldest moment is halfway; outside them, the far end."""
    (cheops,) = cheops_satellite()
    epochs = tle_epochs(demo_text)[44874]
    start, end = epochs[0] - timedelta(days=1), epochs[1] + timedelta(days=2)
    found = window_freshness(cheops, start, end, StaleRule())
    moments = [start, end, epochs[0] + (epochs[1] - epochs[0]) / 2]
    expected = max(oracle_age_days(epochs, m) for m in moments)
    assert found.elements_age_days == pytest.approx(expected, abs=31 / DAY_S)
