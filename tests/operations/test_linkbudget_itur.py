"""Test the atmosphere's loss from ITU-R P.618 (through itur) and a contact's budget end to end.

The loss is evaluated once on an elevation grid and interpolated in the cosecant of
the elevation; it is checked against itur evaluated directly, against the cosecant
law a slant path through a flat layered atmosphere obeys (where rain and gases
dominate, at 8.2 GHz), and for growing as the elevation falls.
"""

from __future__ import annotations

import warnings
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from tests.support.data import orbit_file

from jointsat.linkbudget import atmospheric_loss, link_budget, sample_contact
from jointsat.operations.radio import Link, free_space_loss_db
from jointsat.orbits.elements import parse_elements
from jointsat.orbits.passes import find_passes
from jointsat.orbits.propagation import Satellite
from jointsat.orbits.stations import Station

itur = pytest.importorskip("itur")

SITE = Station("NL", 52.0, 5.0, 30.0)
# The interpolation in the cosecant between grid points, against itur itself.
interpolation_db = 0.02
# A slant path's loss against the cosecant law, 20 to 90 degrees (P.618 section 2.2's
# rain and P.676's gases both scale so; scintillation and clouds slightly otherwise).
cosecant_law = 0.10


def direct_db(f_hz: float, el_deg: float) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found = itur.atmospheric_attenuation_slant_path(
            SITE.lat_deg, SITE.lon_deg, f_hz / 1e9, el_deg, 1.0, 1.0, hs=SITE.alt_m / 1000.0
        )
    return float(found.value)


def test_loss_interpolates_itur_and_follows_the_cosecant_law() -> None:
    loss = atmospheric_loss(SITE.lat_deg, SITE.lon_deg, SITE.alt_m, 8.2e9)
    for el in (8.0, 17.0, 35.0, 72.0):
        assert float(loss(np.array(el))) == pytest.approx(
            direct_db(8.2e9, el), abs=interpolation_db
        )
    el = np.array([2.0, 5.0, 10.0, 20.0, 45.0, 90.0])
    values = loss(el)
    assert np.all(np.diff(values) < 0.0)  # more air at lower elevations
    ratio = float(loss(np.array(20.0)) / loss(np.array(90.0)))
    assert ratio == pytest.approx(1.0 / np.sin(np.radians(20.0)), rel=cosecant_law)
    # More loss at a higher frequency (X band against S band), here at 30 degrees.
    s_band = atmospheric_loss(SITE.lat_deg, SITE.lon_deg, SITE.alt_m, 2.2e9)
    assert float(s_band(np.array(30.0))) < float(loss(np.array(30.0)))


def test_a_contact_budget_uses_the_pass_geometry() -> None:
    text = orbit_file("stations.tle").read_text()
    iss = next(e for e in parse_elements(text).elements if e.norad_cat_id == 25544)
    orbit = Satellite(iss.norad_cat_id, iss.object_name, (iss,))
    start = datetime(2024, 5, 10, tzinfo=UTC)
    found = max(
        find_passes([iss], [SITE], start, start + timedelta(days=1)).rows(),
        key=lambda p: p.max_elevation_deg,
    )
    link = Link.from_dict(
        {
            "name": "x",
            "direction": "downlink",
            "frequency_hz": 8.2e9,
            "eirp_dbw": 10.0,
            "data_rate_bps": 1e6,
            "required_eb_n0_db": 5.0,
        }
    )
    budget = link_budget(orbit, SITE, found.aos, found.los, link, g_over_t_db_k=15.0, step_s=5.0)
    _t, range_m, el = sample_contact(orbit, SITE, found.aos, found.los, 5.0)
    assert budget.time_s[-1] == pytest.approx(found.duration_s)
    assert budget.free_space_loss_db == pytest.approx(free_space_loss_db(range_m, 8.2e9))
    # The loss is highest at the ends of the pass (low elevation), lowest at culmination.
    k = int(np.argmax(el))
    assert budget.atmospheric_loss_db[k] < budget.atmospheric_loss_db[0]
    assert budget.eb_n0_db[k] == pytest.approx(np.max(budget.eb_n0_db), abs=0.5)
    assert 0.0 < budget.closed_s <= found.duration_s
    assert budget.volume_bytes == pytest.approx(1e6 * budget.closed_s / 8)
