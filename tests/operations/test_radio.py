"""Test the radio links, transponders and link budget against published figures and invariants.

Free-space loss: ITU-R P.525-4, eq. (8), L = 32.45 + 20 log10 f[MHz] + 20 log10 d[km],
recomputed here from astropy's speed of light, and two published figures. Eb/N0: the
primary-user budget of Table 1 of Pérez-Neira et al., "On the feasibility of a
secondary service transmission over an existent satellite infrastructure", EURASIP
J. Wireless Commun. Netw. 2020:66 (doi:10.1186/s13638-020-01674-9): 2200 MHz, EIRP
38.3 dBm, free-space loss 162.2 dB, depointing loss 10 dB, a 5 m antenna of 38.2 dBi
and a system noise temperature of 130 K, 3.4 Mbit/s: C/N0 81.8 dB-Hz, Eb/N0 16.5 dB.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from astropy import constants
from hypothesis import given
from hypothesis import strategies as st

from jointsat.errors import RadioError
from jointsat.operations.radio import (
    BOLTZMANN_DBW_K_HZ,
    Direction,
    Link,
    Transponder,
    closed_seconds,
    contact_budget,
    eb_n0_db,
    find_link,
    free_space_loss_db,
    links_json,
    parse_links,
)

C_M_S = float(constants.c.value)
K_J_K = float(constants.k_B.value)
# Published figures are given to 0.1 dB: they agree with an exact evaluation within
# half of it, plus the rounding of their inputs.
published_db = 0.1


def p525_db(d_km: float, f_mhz: float) -> float:
    """ITU-R P.525-4 eq. (8) with its constant from astropy's c: 20 log10(4 pi 1e9 / c)."""
    constant = 20.0 * math.log10(4.0 * math.pi * 1e3 * 1e6 / C_M_S)
    return constant + 20.0 * math.log10(f_mhz) + 20.0 * math.log10(d_km)


def downlink(**fields: object) -> Link:
    document: dict[str, object] = {
        "name": "uhf",
        "direction": "downlink",
        "frequency_hz": 437e6,
        "eirp_dbw": 0.0,
        "data_rate_bps": 9600.0,
        "required_eb_n0_db": 10.0,
    }
    document.update(fields)
    return Link.from_dict(document)


def test_free_space_loss_is_p525() -> None:
    assert p525_db(1.0, 1.0) == pytest.approx(32.45, abs=0.005)  # P.525's rounded constant
    assert float(free_space_loss_db(2_000e3, 437e6)) == pytest.approx(151.3, abs=published_db)
    # rftools.io's UHF CubeSat walkthrough: 400 km at 437 MHz, 137.3 dB.
    assert float(free_space_loss_db(400e3, 437e6)) == pytest.approx(137.3, abs=published_db)
    ranges = np.array([500e3, 1_234.5e3, 3_000e3])
    for f_hz in (145.9e6, 2.2e9, 8.2e9):
        expected = [p525_db(d / 1e3, f_hz / 1e6) for d in ranges]
        assert free_space_loss_db(ranges, f_hz) == pytest.approx(expected, abs=1e-9)


def test_boltzmann_constant_in_decibels() -> None:
    assert pytest.approx(10 * math.log10(K_J_K), abs=1e-12) == BOLTZMANN_DBW_K_HZ
    assert pytest.approx(-228.6, abs=0.01) == BOLTZMANN_DBW_K_HZ


def test_eb_n0_matches_a_published_budget() -> None:
    f_hz = 2200e6
    # The range at which the loss is the table's 162.2 dB at 2200 MHz.
    d_m = C_M_S / (4 * math.pi * f_hz) * 10 ** (162.2 / 20)
    g_over_t = 38.2 - 10 * math.log10(130.0)
    found = eb_n0_db(
        eirp_dbw=38.3 - 30.0,
        range_m=d_m,
        frequency_hz=f_hz,
        g_over_t_db_k=g_over_t,
        data_rate_bps=3.4e6,
        other_loss_db=10.0,
    )
    assert float(found) == pytest.approx(16.5, abs=published_db)
    c_n0 = float(found) + 10 * math.log10(3.4e6)
    assert c_n0 == pytest.approx(81.8, abs=published_db)


def test_link_json_round_trips_and_defaults() -> None:
    document = [
        {
            "name": "v-u",
            "direction": "uplink",
            "frequency_hz": 145.9e6,
            "offset_hz": -1200.0,
            "transponder": {
                "uplink_low_hz": 145.85e6,
                "uplink_high_hz": 145.95e6,
                "downlink_low_hz": 435.15e6,
                "downlink_high_hz": 435.25e6,
                "inverted": True,
            },
            "eirp_dbw": None,
            "data_rate_bps": None,
            "required_eb_n0_db": None,
        },
        {"name": "tlm", "direction": "downlink", "frequency_hz": 437.8e6},
    ]
    links = parse_links(document)
    assert links[0].tuned_hz == 145.9e6 - 1200.0
    assert links[1].offset_hz == 0.0
    assert links[1].transponder is None
    assert links[1].polarization_loss_db == 0.0
    assert parse_links(links_json(links)) == links
    assert parse_links(None) == ()


@pytest.mark.parametrize(
    ("entry", "names"),
    [
        ({"direction": "downlink", "frequency_hz": 1e9}, "links[0].name is missing"),
        ({"name": "a", "direction": "sideways", "frequency_hz": 1e9}, "links[0].direction"),
        ({"name": "a", "direction": "uplink", "frequency_hz": -5}, "links[0].frequency_hz"),
        ({"name": "a", "direction": "uplink", "frequency_hz": "1e9"}, "links[0].frequency_hz"),
        ({"name": "a", "direction": "uplink", "frequency_hz": 1e9, "eirp": 3}, "eirp"),
        (
            {"name": "a", "direction": "uplink", "frequency_hz": 1e9, "data_rate_bps": 0},
            "data_rate_bps must be positive",
        ),
        (
            {
                "name": "a",
                "direction": "downlink",
                "frequency_hz": 1e9,
                "transponder": {
                    "uplink_low_hz": 1,
                    "uplink_high_hz": 2,
                    "downlink_low_hz": 3,
                    "downlink_high_hz": 4,
                },
            },
            "outside its transponder's downlink passband",
        ),
        (
            {
                "name": "a",
                "direction": "uplink",
                "frequency_hz": 1e9,
                "transponder": {"uplink_low_hz": 1, "uplink_high_hz": 2},
            },
            "links[0].transponder.downlink_low_hz is missing",
        ),
    ],
)
def test_a_bad_link_is_refused_naming_its_field(entry: dict[str, object], names: str) -> None:
    with pytest.raises(RadioError, match=re.escape(names)):
        parse_links([entry])


def test_link_names_are_unique_and_found() -> None:
    with pytest.raises(RadioError, match=r"links\[1\].name 'a' repeats"):
        parse_links([downlink(name="a").to_dict(), downlink(name="a").to_dict()])
    links = (downlink(name="a"), downlink(name="b"))
    assert find_link(links, "b", Direction.DOWNLINK).name == "b"
    assert find_link(links, None, Direction.DOWNLINK).name == "a"  # the first is the main one
    with pytest.raises(RadioError, match="no uplink link"):
        find_link(links, None, Direction.UPLINK)
    with pytest.raises(RadioError, match="'b' is a downlink, not a uplink"):
        find_link(links, "b", Direction.UPLINK)
    with pytest.raises(RadioError, match="no link 'c'"):
        find_link(links, "c", Direction.DOWNLINK)


passband_low = st.floats(min_value=1e6, max_value=10e9)
passband_width = st.floats(min_value=1e3, max_value=10e6)


@given(passband_low, passband_width, passband_low, st.booleans(), st.floats(0.0, 1.0))
def test_transponder_maps_back_and_forth(
    up_low: float, width: float, down_low: float, inverted: bool, x: float
) -> None:
    t = Transponder(up_low, up_low + width, down_low, down_low + width, inverted)
    up = up_low + x * width
    down = t.downlink_hz(up)
    assert down_low - 1e-6 <= down <= down_low + width + 1e-6
    assert t.uplink_hz(min(max(down, down_low), down_low + width)) == pytest.approx(up, abs=1e-3)
    # A translation: 1 kHz more on the uplink is 1 kHz more (normal) or less (inverted) down.
    if x <= 0.5:
        step = t.downlink_hz(min(up + 0.25 * width, up_low + width)) - down
        assert step == pytest.approx((-1 if inverted else 1) * 0.25 * width, rel=1e-6, abs=1e-3)


def test_inverted_transponder_reverses_the_passband() -> None:
    # AO-7's mode B: uplink 432.125-432.175 MHz, downlink 145.975-145.925 MHz, inverted.
    t = Transponder(432.125e6, 432.175e6, 145.925e6, 145.975e6, inverted=True)
    assert t.downlink_hz(432.125e6) == pytest.approx(145.975e6, abs=1e-3)
    assert t.downlink_hz(432.175e6) == pytest.approx(145.925e6, abs=1e-3)
    assert t.downlink_hz(432.150e6) == pytest.approx(145.950e6, abs=1e-3)
    with pytest.raises(RadioError, match="outside the transponder's uplink passband"):
        t.downlink_hz(432.2e6)
    with pytest.raises(RadioError, match="below uplink_high_hz"):
        Transponder(2e6, 1e6, 3e6, 4e6)


def test_closed_seconds_interpolate_the_margin() -> None:
    t = np.array([0.0, 10.0, 20.0, 30.0])
    assert closed_seconds(t, [1.0, 1.0, 1.0, 1.0]) == 30.0
    assert closed_seconds(t, [-1.0, -1.0, -2.0, -1.0]) == 0.0
    # Crosses zero a quarter into the first interval and halfway through the last.
    assert closed_seconds(t, [-1.0, 3.0, 2.0, -2.0]) == pytest.approx(7.5 + 10.0 + 5.0)


def test_contact_budget_sums_the_volume_where_the_link_closes() -> None:
    link = downlink(eirp_dbw=-3.0, polarization_loss_db=3.0)
    t = np.arange(0.0, 601.0, 10.0)
    # A pass-like range: 2500 km at the edges, 500 km at the middle.
    range_m = 500e3 + 2000e3 * ((t - 300.0) / 300.0) ** 2
    elevation = 90.0 - 80.0 * np.abs(t - 300.0) / 300.0
    budget = contact_budget(
        link,
        g_over_t_db_k=-15.0,
        time_s=t,
        range_m=range_m,
        elevation_deg=elevation,
        atmospheric_loss_db=lambda el: 0.5 / np.sin(np.radians(el)),
        margin_db=3.0,
    )
    expected = (
        -3.0
        - free_space_loss_db(range_m, 437e6)
        - 0.5 / np.sin(np.radians(elevation))
        - 3.0
        - 15.0
        + 228.599
        - 10 * math.log10(9600.0)
    )
    assert budget.eb_n0_db == pytest.approx(expected, abs=1e-3)
    assert budget.margin_db == pytest.approx(expected - 13.0, abs=1e-3)
    assert budget.closed[30]
    assert not budget.closed[0]
    assert 0.0 < budget.closed_s < 600.0
    assert budget.volume_bits == pytest.approx(9600.0 * budget.closed_s)
    assert budget.volume_bytes == budget.volume_bits / 8


def test_a_budget_needs_eirp_rate_and_threshold_and_a_downlink() -> None:
    args = {"g_over_t_db_k": 0.0, "time_s": [0.0], "range_m": [1e6], "elevation_deg": [10.0]}
    with pytest.raises(RadioError, match="has no eirp_dbw"):
        contact_budget(downlink(eirp_dbw=None), **args)  # type: ignore[arg-type]
    with pytest.raises(RadioError, match="is an uplink"):
        contact_budget(downlink(direction="uplink"), **args)  # type: ignore[arg-type]


def test_a_link_built_in_code_is_checked_too() -> None:
    with pytest.raises(RadioError, match="direction must be a Direction"):
        Link("x", "downlink", 1e9)  # type: ignore[arg-type]
    with pytest.raises(RadioError, match="frequency_hz"):
        Link("x", Direction.DOWNLINK, 0.0)
    assert Link("x", Direction.UPLINK, 145.9e6, offset_hz=500.0).tuned_hz == 145.9e6 + 500.0
