"""Test batch propagation against sgp4 itself: values, errors as data, set selection."""

from __future__ import annotations

import dataclasses
from importlib.resources import files

import numpy as np
import pytest
from sgp4.api import Satrec, SatrecArray
from tests.support.data import orbit_file

from jointsat.orbits.elements import Elements, parse_elements
from jointsat.orbits.propagation import (
    Satellite,
    error_message,
    group_satellites,
    propagate,
    propagate_rows,
)

JD_1949_12_31 = 2433281.5
one_microsecond = 1e-6 / 86400.0  # day
# Our satrec and twoline2rv's differ only by the last bits of the epoch (see
# test_vallado.py): under a millimetre in LEO; a centimetre leaves room.
one_centimetre = 1e-5  # km
one_millimetre_per_second = 1e-6  # km/s


def tle_lines(text: str) -> list[tuple[str, str]]:
    """Return each TLE's two lines, found without jointsat's parser."""
    lines = text.splitlines()
    return [(line, lines[n + 1]) for n, line in enumerate(lines) if line.startswith("1 ")]


def vallado(norad_id: int) -> tuple[str, str]:
    text = (files("sgp4") / "SGP4-VER.TLE").read_text(encoding="ascii")
    return next((a, b) for a, b in tle_lines(text) if int(a[2:7]) == norad_id)


@pytest.fixture(scope="module")
def stations_tle() -> list[tuple[str, str]]:
    return tle_lines(orbit_file("stations.tle").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def cheops() -> tuple[Satellite, list[tuple[str, str]]]:
    text = orbit_file("cheops.tle").read_text(encoding="utf-8")
    (satellite,) = group_satellites(parse_elements(text).elements)
    return satellite, tle_lines(text)


def hours_after(jd0: float, fr0: float, hours: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.full(hours.shape, jd0), fr0 + hours / 24.0


def test_single_sets_propagate_like_satrec_array(stations_tle) -> None:
    elements = [Elements.from_tle(a, b) for a, b in stations_tle]
    satellites = group_satellites(elements)
    assert all(len(s.element_sets) == 1 for s in satellites)
    newest = max(elements, key=lambda e: e.epoch_days_since_1949)
    jd, fr = hours_after(newest.epoch_jd, newest.epoch_fr, np.linspace(-12.0, 36.0, 97))
    err, r, v = propagate(satellites, jd, fr)

    # The same satrecs through sgp4's SatrecArray: the batch plumbing adds nothing.
    e1, r1, v1 = SatrecArray([s.element_sets[0].satrec() for s in satellites]).sgp4(jd, fr)
    np.testing.assert_array_equal(err, e1)
    ok = e1 == 0
    np.testing.assert_array_equal(r[ok], r1[ok])
    np.testing.assert_array_equal(v[ok], v1[ok])

    # sgp4's own TLE reader, independent of our ingest.
    by_id = {int(a[2:7]): Satrec.twoline2rv(a, b) for a, b in stations_tle}
    e2, r2, v2 = SatrecArray([by_id[s.norad_id] for s in satellites]).sgp4(jd, fr)
    np.testing.assert_array_equal(err, e2)
    assert ok.sum() > 0.9 * ok.size
    np.testing.assert_allclose(r[ok], r2[ok], rtol=0, atol=one_centimetre)
    np.testing.assert_allclose(v[ok], v2[ok], rtol=0, atol=one_millimetre_per_second)


def test_broken_satellite_gives_nan_rows_and_codes_without_aborting_the_batch() -> None:
    # Vallado's 28872 (MINOTAUR R/B) decays within the hour: sgp4 error 6.
    # 28057 (CBERS 2) and 28129 (GPS) are healthy at the same times.
    lines = {n: vallado(n) for n in (28057, 28872, 28129)}
    elements = {n: Elements.from_tle(*lines[n]) for n in lines}
    decaying = elements[28872]
    jd, fr = hours_after(decaying.epoch_jd, decaying.epoch_fr, np.linspace(0.0, 3.0, 37))

    batch = group_satellites([elements[28057], decaying, elements[28129]])
    err, r, v = propagate(batch, jd, fr)
    assert [s.norad_id for s in batch] == [28057, 28872, 28129]

    codes, _, _ = Satrec.twoline2rv(*lines[28872]).sgp4_array(jd, fr)
    np.testing.assert_array_equal(err[1], codes)
    assert err[1, 0] == 0
    assert 6 in err[1]
    assert "decayed" in error_message(6)
    assert np.isnan(r[1][err[1] != 0]).all()
    assert np.isnan(v[1][err[1] != 0]).all()
    assert np.isfinite(r[1][err[1] == 0]).all()

    # The others are exactly what they are without the broken one.
    alone_err, alone_r, alone_v = propagate([batch[0], batch[2]], jd, fr)
    assert not alone_err.any()
    np.testing.assert_array_equal(err[[0, 2]], alone_err)
    np.testing.assert_array_equal(r[[0, 2]], alone_r)
    np.testing.assert_array_equal(v[[0, 2]], alone_v)
    for row, n in ((0, 28057), (2, 28129)):
        _, r2, _ = Satrec.twoline2rv(*lines[n]).sgp4_array(jd, fr)
        np.testing.assert_allclose(r[row], r2, rtol=0, atol=one_centimetre)


def test_broken_multi_set_satellite_gives_nan_rows(cheops) -> None:
    # A satellite of two sets whose older one dips into the Earth at each
    # perigee (sgp4 error 6 there, good values between): the multi-set path
    # reports those rows as NaN with sgp4's code, and the newer set is unharmed.
    satellite, _ = cheops
    old, new = satellite.element_sets
    broken = dataclasses.replace(old, eccentricity=0.6, mean_motion_rev_per_day=14.0)
    (pair,) = group_satellites([broken, new])
    near_old = old.epoch_days_since_1949 + np.linspace(0.0, 0.2, 21)
    near_new = new.epoch_days_since_1949 + np.linspace(0.0, 0.2, 21)
    days = np.concatenate([near_old, near_new])
    jd = np.full(days.shape, JD_1949_12_31)
    err, r, v = propagate([pair], jd, days)

    codes, _, _ = broken.satrec().sgp4_array(jd[:21], near_old)
    assert 0 < np.count_nonzero(codes) < codes.size
    np.testing.assert_array_equal(err[0, :21], codes)
    assert np.isnan(r[0, :21][codes != 0]).all()
    assert np.isnan(v[0, :21][codes != 0]).all()
    assert np.isfinite(r[0, :21][codes == 0]).all()
    _, r_new, _ = new.satrec().sgp4_array(jd[21:], near_new)
    assert not err[0, 21:].any()
    np.testing.assert_array_equal(r[0, 21:], r_new)


def test_nearest_epoch_set_is_used(cheops) -> None:
    satellite, lines = cheops
    old, new = satellite.element_sets
    assert old.epoch < new.epoch
    reference = [Satrec.twoline2rv(a, b) for a, b in lines]  # in file order: old, new
    d_old, d_new = old.epoch_days_since_1949, new.epoch_days_since_1949
    halfway = 0.5 * (d_old + d_new)
    days = np.array(
        [
            d_old - 3.0,
            d_old,
            d_old + 100.0,
            halfway - 1e3 * one_microsecond,
            halfway,
            halfway + 1e3 * one_microsecond,
            d_new - 100.0,
            d_new,
            d_new + 3.0,
        ]
    )
    chosen = ["old", "old", "old", "old", "new", "new", "new", "new", "new"]
    jd = np.full(days.shape, JD_1949_12_31)
    err, r, v = propagate([satellite], jd, days)
    assert not err.any()
    for k, which in enumerate(chosen):
        expected = reference[0] if which == "old" else reference[1]
        other = reference[1] if which == "old" else reference[0]
        _, r_expected, v_expected = expected.sgp4(jd[k], days[k])
        _, r_other, _ = other.sgp4(jd[k], days[k])
        assert np.abs(np.subtract(r_other, r_expected)).max() > 100.0  # the sets differ
        np.testing.assert_allclose(r[0, k], r_expected, rtol=0, atol=one_centimetre)
        np.testing.assert_allclose(v[0, k], v_expected, rtol=0, atol=one_millimetre_per_second)
    # Exactly halfway, the newer set wins; the set index says so too.
    index = satellite.set_index(jd, days)
    np.testing.assert_array_equal(index, [0 if c == "old" else 1 for c in chosen])


def test_set_choice_is_the_same_through_every_path(cheops) -> None:
    satellite, _ = cheops
    old, new = satellite.element_sets
    days = np.linspace(old.epoch_days_since_1949 - 10, new.epoch_days_since_1949 + 10, 41)
    jd = np.full(days.shape, JD_1949_12_31)
    err, r, v = propagate([satellite], jd, days)
    e1, r1, v1 = satellite.propagate(jd, days)
    e2, r2, v2 = propagate_rows([satellite], np.zeros(days.size, dtype=np.int64), jd, days)
    for codes, rr, vv in ((e1, r1, v1), (e2, r2, v2)):
        np.testing.assert_array_equal(err[0], codes)
        np.testing.assert_array_equal(r[0], rr)
        np.testing.assert_array_equal(v[0], vv)


def test_propagate_rows_matches_propagate(stations_tle, cheops) -> None:
    satellites = (
        *group_satellites(Elements.from_tle(a, b) for a, b in stations_tle[:5]),
        cheops[0],
    )
    newest = satellites[0].element_sets[-1]
    jd, fr = hours_after(newest.epoch_jd, newest.epoch_fr, np.linspace(0.0, 24.0, 13))
    err, r, v = propagate(satellites, jd, fr)
    rng = np.random.default_rng(7)
    which = rng.integers(0, len(satellites), 50)
    when = rng.integers(0, jd.size, 50)
    e2, r2, v2 = propagate_rows(satellites, which, jd[when], fr[when])
    np.testing.assert_array_equal(e2, err[which, when])
    np.testing.assert_array_equal(r2, r[which, when])
    np.testing.assert_array_equal(v2, v[which, when])


def test_group_satellites_names_orders_and_deduplicates(cheops, stations_tle) -> None:
    satellite, _ = cheops
    old, new = satellite.element_sets
    iss = Elements.from_tle(*stations_tle[0])
    old = dataclasses.replace(old, object_name="CHEOPS OLD NAME")
    new = dataclasses.replace(new, object_name="CHEOPS")
    duplicate = dataclasses.replace(new, object_name="CHEOPS READ LAST", bstar=1e-4)

    grouped = group_satellites([new, iss, old])
    assert [s.norad_id for s in grouped] == [44874, iss.norad_cat_id]  # first appearance
    assert grouped[0].element_sets == (old, new)  # sorted by epoch
    assert grouped[0].name == "CHEOPS"  # the newest set's name, whatever the reading order
    assert grouped[1].name == iss.object_name

    deduplicated = group_satellites([old, new, duplicate])
    assert deduplicated[0].element_sets == (old, duplicate)  # same epoch: the last read
    assert deduplicated[0].name == "CHEOPS READ LAST"
    assert group_satellites([]) == ()
