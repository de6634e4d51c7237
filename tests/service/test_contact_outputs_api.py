"""Test `/contacts/{id}/pointing`, `/doppler` and `/oem`: a contact's outputs and who sees them.

The contact is a real ISS pass over Cebreros (found here by the pass engine); the
station's stored rotator is a flip-over mount, its satellite has a calibrated downlink
and an uplink. The service must agree with the CLI's ``--from-store`` row for row (one
path), with the kernels called here on independently computed samples (the station's
look angles from SGP4, ``plan_pass``, ``doppler_table`` with astropy's UT1 - UTC), and
its OEM, read back with ccsds-ndm, with SGP4 within a metre. A contact on a partner's
private station is a 404 for another partner, as one that does not exist.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import ccsds_ndm
import numpy as np
import pytest
from astropy.time import Time
from astropy.utils import iers
from tests.support.consortium import Consortium
from typer.testing import CliRunner

from jointsat.cli import app
from jointsat.files import DEMO_STATIONS_FILE, bundled_file, read_elements, read_stations
from jointsat.orbits.doppler import doppler_table
from jointsat.orbits.oem import read_oem
from jointsat.orbits.passes import find_passes
from jointsat.orbits.pointing import Rotator, plan_pass
from jointsat.orbits.propagation import build_orbits
from jointsat.orbits.tracks import look_angles
from jointsat.store.tables import ContactRecord, Role, ScheduleRecord, Visibility
from jointsat.timelib import TimeOrigin, parse_iso

ISS = 25544
STATION = "Cebreros CB1D"
START, END = datetime(2024, 5, 10, 3, 0, tzinfo=UTC), datetime(2024, 5, 10, 5, 30, tzinfo=UTC)
ROTATOR = {"elevation_max_deg": 180.0, "azimuth_rate_deg_s": 6.0, "beamwidth_deg": 2.0}
DOWNLINK_HZ, OFFSET_HZ, UPLINK_HZ = 437.8e6, 1234.5, 145.99e6
LINKS = [
    {
        "name": "uhf-down",
        "direction": "downlink",
        "frequency_hz": DOWNLINK_HZ,
        "offset_hz": OFFSET_HZ,
    },
    {"name": "vhf-up", "direction": "uplink", "frequency_hz": UPLINK_HZ, "offset_hz": 0.0},
]

ANGLE_TOL_DEG = 1e-4  # angles are written with 4 decimals
TDM_TOL_DEG = 1e-6  # TDM angles are written unrounded
REL_TOL = 1e-9  # frequencies (written to the mHz: 2e-12 of 437 MHz)
RATE_TOL_M_S = 1e-4  # range rates are written with 4 decimals
OEM_TOL_KM = 1e-3  # 1 m: the OEM's frame round trip, written to the micrometre


@dataclass(frozen=True)
class World:
    contact_id: int
    aos: datetime
    los: datetime


def _orbit_and_station():  # type: ignore[no-untyped-def]
    files = read_elements([bundled_file("stations.tle")])
    (orbit,) = [o for o in build_orbits(files.orbits) if o.norad_id == ISS]
    (station,) = [s for s in read_stations(bundled_file(DEMO_STATIONS_FILE)) if s.name == STATION]
    return files, orbit, station


def build(consortium: Consortium, hidden: str = "station_visibility") -> World:
    """Store the contact: esa's station and satellite, ``hidden`` (its agreement's field;
    "": none) private."""
    files, _, station = _orbit_and_station()
    iss = [e for e in files.elements if e.norad_cat_id == ISS]
    first = find_passes(iss, [station], START, END).rows()[0]  # the pass through north
    private = {hidden: Visibility.PRIVATE} if hidden else {}
    with consortium.session() as session:
        consortium.add_admin(session)
        esa = consortium.add_partner(session, "esa", 0.5, agreement=private)
        other = consortium.add_partner(session, "other", 0.5, agreement={})
        consortium.add_user(session, "esa-ops", Role.OPERATOR, esa)
        consortium.add_user(session, "other-ops", Role.OPERATOR, other)
        satellite = consortium.add_satellite(session, "ISS", ISS, {esa: 1.0}, iss, links=LINKS)
        site = consortium.add_station(
            session,
            STATION,
            esa,
            station.lat_deg,
            station.lon_deg,
            alt_m=station.alt_m,
            min_elevation_deg=station.min_elevation_deg,
            rotator=ROTATOR,
        )
        schedule = ScheduleRecord(
            created_at=consortium.now,
            start=START,
            end_at=END,
            status="OPTIMAL",
            solver="test",
            gap=0.0,
            document={},
            provenance={},
            policy="fair",
            total_seconds=first.duration_s,
        )
        session.add(schedule)
        session.flush()
        contact = ContactRecord(
            schedule_id=schedule.id,
            start=first.aos,
            end_at=first.los,
            satellite_id=satellite.id,
            station_id=site.id,
            max_elevation_deg=first.max_elevation_deg,
        )
        session.add(contact)
        session.flush()
        return World(contact.id, first.aos, first.los)


def rows_of(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def cli(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def test_pointing_is_the_clis_and_the_kernels_for_the_stored_rotator(
    consortium: Consortium,
) -> None:
    world = build(consortium)
    client = consortium.serve()
    headers = consortium.headers("esa-ops")
    url = f"/api/v1/contacts/{world.contact_id}/pointing"
    as_csv = client.get(url, headers=headers)
    assert as_csv.status_code == 200, as_csv.text
    assert as_csv.headers["content-type"].startswith("text/csv")
    as_json = client.get(url, params={"format": "json"}, headers=headers).json()
    from_cli = cli(
        "pointing", "--from-store", str(world.contact_id), "--database-url", consortium.url
    )
    assert as_csv.text == from_cli  # one path: the same rows, byte for byte
    rows = rows_of(as_csv.text)
    (document,) = as_json["passes"]
    assert as_json["contact_id"] == world.contact_id
    # The rotator planned for is the station's stored model, every field of it.
    assert Rotator(**as_json["rotator"]) == Rotator(**ROTATOR)
    assert as_json["rotator"]["beamwidth_deg"] == ROTATOR["beamwidth_deg"]
    local_json = cli(
        "pointing",
        "--from-store",
        str(world.contact_id),
        "--database-url",
        consortium.url,
        "--format",
        "json",
    )
    assert json.loads(local_json)["rotator"] == as_json["rotator"]
    assert [{k: str(v) for k, v in r.items()} for r in document["rows"]] == rows

    # Independently: samples every second from the contact's start and at its end, the
    # station's look angles from SGP4, planned for the stored rotator.
    _, orbit, station = _orbit_and_station()
    duration_s = (world.los - world.aos).total_seconds()
    t_s = np.append(np.arange(0.0, duration_s, 1.0), duration_s)
    assert len(rows) == t_s.size
    assert parse_iso(rows[0]["time"]) == world.aos.replace(
        microsecond=world.aos.microsecond // 1000 * 1000
    )
    jd, fr = TimeOrigin.of(world.aos).julian(t_s)
    _, r, _ = orbit.propagate(jd, fr)
    az, el, _ = look_angles(r, jd, fr, station.lat_deg, station.lon_deg, station.alt_m)
    plan = plan_pass(t_s, az, np.clip(el, -90, 90), Rotator(**ROTATOR))
    for column in ("azimuth_deg", "elevation_deg", "lag_deg"):
        written = np.array([float(r[column]) for r in rows])
        assert np.allclose(written, getattr(plan, column), atol=ANGLE_TOL_DEG, rtol=0.0)
    # The stored flip-over rotator tracks this pass through north; an az-el one lags.
    assert document["mode"] == plan.mode.value != "plain"
    assert document["max_lag_deg"] <= 1.0
    az_el = rows_of(
        cli(
            "pointing",
            "--from-store",
            str(world.contact_id),
            "--database-url",
            consortium.url,
            "--elevation-range",
            "0",
            "90",
        )
    )
    assert max(float(r["lag_deg"]) for r in az_el) > 1.0  # the option overrides the store


def test_pointing_tdm_parses_back_with_the_rows_times(consortium: Consortium) -> None:
    world = build(consortium)
    client = consortium.serve()
    headers = consortium.headers("admin")
    url = f"/api/v1/contacts/{world.contact_id}/pointing"
    rows = rows_of(client.get(url, headers=headers).text)
    answer = client.get(url, params={"format": "tdm"}, headers=headers)
    assert answer.status_code == 200, answer.text
    message = ccsds_ndm.Tdm.from_str(answer.text)
    assert message.header.creation_date.startswith("2024-05-10T12:00:00")
    (segment,) = message.segments
    assert segment.metadata.angle_type == "AZEL"
    assert segment.metadata.participant_1 == STATION
    assert segment.metadata.participant_2 == "ISS"
    observations = segment.data.observations
    azimuths = [o for o in observations if o.keyword == "ANGLE_1"]
    elevations = [o for o in observations if o.keyword == "ANGLE_2"]
    assert [o.epoch for o in azimuths] == [r["time"].removesuffix("Z") for r in rows]
    assert [o.epoch for o in elevations] == [o.epoch for o in azimuths]
    assert all(0.0 <= o.value < 360.0 for o in azimuths)
    assert all(-90.0 <= o.value <= 90.0 for o in elevations)


def _ut1_utc_s(when: datetime) -> float:
    iers.conf.auto_download = False
    return float(iers.earth_orientation_table.get().ut1_utc(Time(when)).to_value("s"))


@pytest.mark.parametrize(
    ("link", "frequency_hz", "uplink"),
    [(None, DOWNLINK_HZ + OFFSET_HZ, False), ("vhf-up", UPLINK_HZ, True)],
    ids=["first downlink, calibrated", "named uplink"],
)
def test_doppler_is_the_clis_and_the_kernels(
    consortium: Consortium, link: str | None, frequency_hz: float, uplink: bool
) -> None:
    world = build(consortium)
    client = consortium.serve()
    headers = consortium.headers("esa-ops")
    url = f"/api/v1/contacts/{world.contact_id}/doppler"
    params = {"step_s": "5"} | ({} if link is None else {"link": link})
    as_csv = client.get(url, params=params, headers=headers)
    assert as_csv.status_code == 200, as_csv.text
    args = ["doppler", "--from-store", str(world.contact_id), "--database-url", consortium.url]
    args += ["--step", "5", *(() if link is None else ("--link", link))]
    assert as_csv.text == cli(*args)
    as_json = client.get(url, params={**params, "format": "json"}, headers=headers).json()
    assert as_json["link"] == (link or "uhf-down")
    assert as_json["uplink"] is uplink
    rows = rows_of(as_csv.text)

    _, orbit, station = _orbit_and_station()
    duration_s = (world.los - world.aos).total_seconds()
    t_s = np.append(np.arange(0.0, duration_s, 5.0), duration_s)
    table = doppler_table(
        orbit, station, world.aos, t_s, frequency_hz, uplink=uplink, ut1_utc_s=_ut1_utc_s(world.aos)
    )
    written = np.array([float(r["frequency_hz"]) for r in rows])
    assert np.allclose(written, table.frequency_hz, rtol=REL_TOL, atol=1e-3)
    rates = np.array([float(r["range_rate_m_s"]) for r in rows])
    assert np.allclose(rates, table.range_rate_m_s, atol=RATE_TOL_M_S, rtol=0.0)


def test_cli_frequency_overrides_the_stored_link(consortium: Consortium) -> None:
    """--frequency-hz replaces the stored link's: the shifts scale with the frequency."""
    world = build(consortium)
    base = ["doppler", "--from-store", str(world.contact_id), "--database-url", consortium.url]
    stored = rows_of(cli(*base, "--step", "30"))
    given = rows_of(cli(*base, "--step", "30", "--frequency-hz", "2.2e9"))
    ratio = np.array([float(r["frequency_hz"]) for r in given]) / 2.2e9
    stored_ratio = np.array([float(r["frequency_hz"]) for r in stored]) / (DOWNLINK_HZ + OFFSET_HZ)
    assert np.allclose(ratio, stored_ratio, rtol=1e-11, atol=0.0)
    assert [r["range_rate_m_s"] for r in given] == [r["range_rate_m_s"] for r in stored]


def test_doppler_of_an_unknown_link_is_a_422(consortium: Consortium) -> None:
    world = build(consortium)
    answer = consortium.serve().get(
        f"/api/v1/contacts/{world.contact_id}/doppler",
        params={"link": "s-band"},
        headers=consortium.headers("esa-ops"),
    )
    assert answer.status_code == 422
    assert "uhf-down, vhf-up" in answer.json()["detail"]


def test_oem_reads_back_as_the_sgp4_orbit_within_a_metre(consortium: Consortium) -> None:
    world = build(consortium)
    answer = consortium.serve().get(
        f"/api/v1/contacts/{world.contact_id}/oem",
        params={"step_s": "20", "margin_s": "120"},
        headers=consortium.headers("esa-ops"),
    )
    assert answer.status_code == 200, answer.text
    message = ccsds_ndm.Oem.from_str(answer.text)
    (segment,) = message.segments
    assert segment.metadata.ref_frame == "EME2000"
    assert segment.metadata.object_id == "1998-067A"
    epochs = [parse_iso(e + "Z") for e in segment.data.state_vector_epochs]
    assert epochs[0] == world.aos - timedelta(seconds=120)
    assert abs((epochs[-1] - (world.los + timedelta(seconds=120))).total_seconds()) < 1e-6
    assert np.allclose(np.diff([e.timestamp() for e in epochs])[:-1], 20.0)

    ephemeris = read_oem(answer.text, norad_id=ISS)
    _, orbit, _ = _orbit_and_station()
    # At the states and halfway between them (the antenna's Lagrange interpolation), up
    # to the last state (its epoch is written to the microsecond).
    offsets = np.array([(e - epochs[0]).total_seconds() for e in epochs])
    halfway = (offsets[:-1] + offsets[1:]) / 2.0
    jd, fr = TimeOrigin.of(epochs[0]).julian(np.concatenate([offsets[:-1], halfway]))
    codes, r_oem, _ = ephemeris.propagate(jd, fr)
    _, r_sgp4, _ = orbit.propagate(jd, fr)
    assert (codes == 0).all()
    assert np.abs(r_oem - r_sgp4).max() < OEM_TOL_KM


@pytest.mark.parametrize(
    ("hidden", "who", "status"),
    [
        ("station_visibility", "esa-ops", 200),
        ("station_visibility", "admin", 200),
        ("station_visibility", "other-ops", 404),
        ("satellite_visibility", "other-ops", 404),
        ("", "other-ops", 200),  # the consortium's assets: every member sees the contact
    ],
)
def test_a_private_assets_contact_is_hidden_from_other_partners(
    consortium: Consortium, hidden: str, who: str, status: int
) -> None:
    world = build(consortium, hidden)
    client = consortium.serve()
    for output in ("pointing", "doppler", "oem"):
        answer = client.get(
            f"/api/v1/contacts/{world.contact_id}/{output}", headers=consortium.headers(who)
        )
        assert answer.status_code == status, (output, answer.text)
    missing = client.get(
        f"/api/v1/contacts/{world.contact_id + 1}/pointing", headers=consortium.headers(who)
    )
    assert missing.status_code == 404
    if status == 404:  # hidden reads exactly as absent
        hidden = client.get(
            f"/api/v1/contacts/{world.contact_id}/pointing", headers=consortium.headers(who)
        )
        assert hidden.json()["detail"] == f"no contact with id {world.contact_id}"
    assert client.get(f"/api/v1/contacts/{world.contact_id}/pointing").status_code == 401


def test_cli_reads_a_contact_from_a_server_as_its_token_may(consortium: Consortium) -> None:
    """--url/--token: the server's plan and table, written or streamed by the CLI as from
    the store; a partner that may not see the contact gets the server's 404."""
    from tests.cli.test_pointing_cli import mock_rotctld
    from tests.support.server import in_thread

    from jointsat.service.app import create_app
    from jointsat.settings import Settings

    world = build(consortium)
    local = ["--from-store", str(world.contact_id), "--database-url", consortium.url]
    app_ = create_app(Settings(database_url=consortium.url), clock=lambda: consortium.now)
    with in_thread(app_) as base:
        token = consortium.tokens["esa-ops"]
        remote = ["--from-store", str(world.contact_id), "--url", base, "--token", token]
        assert cli("pointing", *remote) == cli("pointing", *local)
        assert cli("doppler", *remote, "--link", "vhf-up", "--step", "10") == cli(
            "doppler", *local, "--link", "vhf-up", "--step", "10"
        )
        tdm = ccsds_ndm.Tdm.from_str(cli("pointing", *remote, "--format", "tdm"))
        assert tdm.header.creation_date.startswith("2024-05-10T12:00:00")  # the server's clock
        planned = rows_of(cli("pointing", *local))
        with mock_rotctld(b"RPRT 0\n") as rotator:
            host, port = rotator.server_address[:2]
            streamed = CliRunner().invoke(
                app, ["pointing", *remote, "--rotctld", f"{host}:{port}", "--no-wait"]
            )
            received = list(rotator.received)  # type: ignore[attr-defined]
        assert streamed.exit_code == 0, streamed.output
        assert received == [(float(r["azimuth_deg"]), float(r["elevation_deg"])) for r in planned]

        other = ["--from-store", str(world.contact_id), "--url", base]
        refused = CliRunner().invoke(
            app, ["pointing", *other, "--token", consortium.tokens["other-ops"]]
        )
        assert refused.exit_code == 1
        assert "HTTP 404" in refused.stderr
        assert f"no contact with id {world.contact_id}" in refused.stderr
        overridden = CliRunner().invoke(app, ["pointing", *remote, "--beamwidth", "3"])
        assert overridden.exit_code == 2
