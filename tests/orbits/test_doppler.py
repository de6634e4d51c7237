"""Test the Doppler tables against Skyfield's range rate and an independent light-time solution.

The ISS of the bundled space-station element sets over a station at 52 N 5 E, every
pass of 2024-05-10 sampled every 10 s. Skyfield propagates with its own SGP4 wrapper
and turns TEME into ITRS and GCRS its own way, with the IERS's UT1 - UTC of its
bundled tables (which the table is given, as ``ut1_utc_s``). The geometric range rate
is compared with Skyfield's ``frame_latlon_and_rates``; the light-time one with the
derivative, taken numerically here, of the light-time range solved from Skyfield's
inertial (GCRS) positions: the received frequency is ``f0 * dt_e/dt`` by definition of
the emission time ``t_e``, so this checks the table's closed formula independently.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from tests.support.data import orbit_file

from jointsat.constants import SPEED_OF_LIGHT_M_S
from jointsat.errors import DopplerError
from jointsat.orbits.doppler import doppler_table, range_rate_km_s
from jointsat.orbits.elements import parse_elements
from jointsat.orbits.passes import find_passes
from jointsat.orbits.propagation import Satellite
from jointsat.orbits.stations import Station

skyfield_api = pytest.importorskip("skyfield.api")

START = datetime(2024, 5, 10, tzinfo=UTC)
SITE = Station("NL", 52.0, 5.0, 30.0)
F0_HZ = 437e6
C_KM_S = SPEED_OF_LIGHT_M_S / 1000.0
DAY_S = 86400.0
# The target, 0.1 Hz at 437 MHz, as a range rate.
tenth_hertz_m_s = 0.1 * SPEED_OF_LIGHT_M_S / F0_HZ  # 0.0686 m/s
# Frames agree far better: 0.06 mm/s with UT1 = UTC on both sides; with Skyfield's real UT1
# 1.9 mm/s, as the table takes one DUT1 (-0.0214 s) and Skyfield's drifts by ~1 ms a day.
five_mm_s = 5e-3
# SGP4's velocity is not exactly the derivative of its position (measured: 2.0 cm/s for
# this element set): the table's rate uses the velocity, as Skyfield's range rate does.
sgp4_velocity_m_s = 0.025
one_metre_km = 1e-3
DERIVATIVE_STEP_S = 0.05  # central difference: truncation ~ 2 m/s^3 * h^2 / 6 < 1 micrometre/s


@pytest.fixture(scope="module")
def iss() -> Satellite:
    elements = parse_elements(orbit_file("stations.tle").read_text()).elements
    e = next(e for e in elements if e.norad_cat_id == 25544)
    return Satellite(e.norad_cat_id, e.object_name, (e,))


@pytest.fixture(scope="module")
def samples_s(iss: Satellite) -> np.ndarray:
    """Return every pass of the day over the station, sampled every 10 s (seconds after START)."""
    passes = find_passes([iss.element_sets[0]], [SITE], START, START + timedelta(days=1))
    assert len(passes) >= 4
    assert passes.max_elevation_deg.max() > 80.0
    return np.concatenate(
        [np.arange(a, b, 10.0) for a, b in zip(passes.aos_s, passes.los_s, strict=True)]
    )


@pytest.fixture(scope="module")
def sky(iss: Satellite):  # type: ignore[no-untyped-def]
    ts = skyfield_api.load.timescale()
    sat = skyfield_api.EarthSatellite.from_satrec(iss.element_sets[0].satrec(), ts)
    site = skyfield_api.wgs84.latlon(SITE.lat_deg, SITE.lon_deg, SITE.alt_m)
    t0 = ts.from_datetime(START)

    def at(seconds: np.ndarray):  # type: ignore[no-untyped-def]
        return ts.tt_jd(t0.whole, t0.tt_fraction + np.asarray(seconds) / DAY_S)

    return sat, site, at, float(t0.dut1)


def light_time_range_km(sky, t_s: np.ndarray, uplink: bool) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Solve |R(t) - r(t -+ rho/c)| = rho in Skyfield's GCRS by plain iteration."""
    sat, site, at, _ = sky
    station = site.at(at(t_s)).position.km
    rho = np.zeros(t_s.shape)
    for _ in range(6):
        satellite = sat.at(at(t_s + (rho if uplink else -rho) / C_KM_S)).position.km
        rho = np.linalg.norm(satellite - station, axis=0)
    return rho


def test_geometric_range_rate_matches_skyfield(iss, samples_s, sky) -> None:  # type: ignore[no-untyped-def]
    sat, site, at, dut1 = sky
    skyfield_m_s = (sat - site).at(at(samples_s)).frame_latlon_and_rates(site)[5].km_per_s * 1e3
    table = doppler_table(iss, SITE, START, samples_s, F0_HZ, light_time=False, ut1_utc_s=dut1)
    difference = np.abs(table.range_rate_m_s - skyfield_m_s)
    assert difference.max() < five_mm_s < tenth_hertz_m_s
    expected_hz = F0_HZ * (1.0 - skyfield_m_s / SPEED_OF_LIGHT_M_S)
    assert np.abs(table.frequency_hz - expected_hz).max() < 0.1
    assert np.abs(skyfield_m_s).max() > 6000.0  # the samples reach the fast part of passes


def test_range_rate_km_s_is_the_table_s_geometric_rate(iss, samples_s) -> None:  # type: ignore[no-untyped-def]
    t = samples_s[:50]
    jd, fr = np.full(t.size, 2460440.5), t / DAY_S  # START as a split Julian date
    _, r, v = iss.propagate(jd, fr)
    rate = range_rate_km_s(r, v, jd, fr, SITE.lat_deg, SITE.lon_deg, SITE.alt_m)
    table = doppler_table(iss, SITE, START, t, F0_HZ, light_time=False)
    np.testing.assert_allclose(rate * 1e3, table.range_rate_m_s, rtol=0, atol=1e-9)


@pytest.mark.parametrize("uplink", [False, True], ids=["downlink", "uplink"])
def test_light_time_rate_is_the_derivative_of_the_light_time_range(
    iss, samples_s, sky, uplink: bool
) -> None:  # type: ignore[no-untyped-def]
    dut1 = sky[3]
    h = DERIVATIVE_STEP_S
    ahead = light_time_range_km(sky, samples_s + h, uplink)
    behind = light_time_range_km(sky, samples_s - h, uplink)
    derivative_m_s = (ahead - behind) / (2.0 * h) * 1e3
    table = doppler_table(iss, SITE, START, samples_s, F0_HZ, uplink=uplink, ut1_utc_s=dut1)
    assert np.abs(table.range_rate_m_s - derivative_m_s).max() < sgp4_velocity_m_s < tenth_hertz_m_s
    # Ranges: to 0.2 micrometres with UT1 = UTC; Skyfield's DUT1 drift moves the site ~0.5 m.
    np.testing.assert_allclose(
        table.range_km, light_time_range_km(sky, samples_s, uplink), rtol=0, atol=one_metre_km
    )
    # The frequency by definition: the phase received is the phase sent (f0 * dt_e/dt).
    sign = 1.0 if uplink else -1.0
    by_definition_hz = F0_HZ * (1.0 + sign * derivative_m_s / SPEED_OF_LIGHT_M_S)
    assert np.abs(table.frequency_hz - by_definition_hz).max() < 0.1  # Hz, the target
    # The light time matters at the target's level: the geometric table differs.
    geometric = doppler_table(
        iss, SITE, START, samples_s, F0_HZ, uplink=uplink, light_time=False, ut1_utc_s=dut1
    )
    effect_hz = np.abs(table.frequency_hz - geometric.frequency_hz).max()
    assert effect_hz > 0.1


def test_uplink_and_downlink_shifts_mirror_each_other(iss, samples_s) -> None:  # type: ignore[no-untyped-def]
    down = doppler_table(iss, SITE, START, samples_s, F0_HZ)
    up = doppler_table(iss, SITE, START, samples_s, F0_HZ, uplink=True)
    # Opposite signs, equal to first order (they differ by ~ rdot/c * v/c and the light time).
    assert np.all(np.sign(down.shift_hz) == -np.sign(up.shift_hz))
    assert np.abs(down.shift_hz + up.shift_hz).max() < 1.0
    assert np.abs(down.shift_hz).max() > 8000.0  # about +-10 kHz at 437 MHz for the ISS


def test_bad_inputs_are_refused(iss) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(DopplerError, match="frequency_hz"):
        doppler_table(iss, SITE, START, [0.0], -1.0)
    with pytest.raises(DopplerError, match="time zone"):
        doppler_table(iss, SITE, START.replace(tzinfo=None), [0.0], F0_HZ)
    with pytest.raises(DopplerError, match="times_s"):
        doppler_table(iss, SITE, START, [[0.0]], F0_HZ)
    with pytest.raises(DopplerError, match="ut1_utc_s"):
        doppler_table(iss, SITE, START, [0.0], F0_HZ, ut1_utc_s=3.0)
    with pytest.raises(DopplerError, match="geodetic"):
        doppler_table(iss, (95.0, 0.0, 0.0), START, [0.0], F0_HZ)


def test_elements_and_a_tuple_station_are_accepted(iss) -> None:  # type: ignore[no-untyped-def]
    a = doppler_table(iss.element_sets[0], (52.0, 5.0, 30.0), START, [100.0], F0_HZ)
    b = doppler_table(iss, SITE, START, [100.0], F0_HZ)
    np.testing.assert_array_equal(a.frequency_hz, b.frequency_hz)
