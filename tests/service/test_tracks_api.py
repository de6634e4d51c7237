"""Check /satellites/positions, /satellites/{id}/track and /satellites/{id}/look.

Against Skyfield (the sub-satellite point and the look angles), against each other
(a position is the track's point at the same time), against /passes (a pass's
look angles start and end on the station's threshold), and the access rules: a
satellite or station another partner keeps private is a 404 (left out of the
positions), as on /satellites and /stations.
"""

from __future__ import annotations

import dataclasses
import itertools
import warnings
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import typer
from fastapi.testclient import TestClient
from skyfield.api import EarthSatellite, Loader, load, wgs84
from tests.support.consortium import Consortium

from jointsat.cli.common import parse_utc
from jointsat.orbits.elements import Elements, parse_elements
from jointsat.orbits.tracks import horizon_radius_km
from jointsat.store.tables import Partner, Role, Visibility

NOW = datetime(2024, 5, 10, 12, 0, tzinfo=UTC)  # 1.1 days after the ISS's epoch
TLE = parse_elements((files("jointsat.data") / "stations.tle").read_text()).elements
ISS, CSS, THIRD = TLE[0], TLE[1], TLE[2]
OLD_ISS = dataclasses.replace(ISS, epoch_jd=ISS.epoch_jd - 30.0, mean_anomaly_deg=0.0)
DECAYED = dataclasses.replace(ISS, norad_cat_id=99_001, object_name="DECAYED", bstar=1.0)
DECAYING = dataclasses.replace(ISS, norad_cat_id=99_002, object_name="DECAYING", bstar=0.2)
WEILHEIM = (47.881, 11.079, 600.0)
fifty_metres_km = 0.05
one_metre_km = 1e-3
one_centimetre_km = 1e-5
one_hundredth_degree = 0.01
one_thousandth_degree = 0.001

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # skyfield-data warns that its IERS file is old
    import skyfield_data

World = tuple[TestClient, dict[str, dict[str, str]], dict[str, int]]


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory, new_sqlite_store: Callable[[Path], str]
) -> Iterator[World]:
    """Partners "own", "other" (consortium) and "private" (hides its satellites, stations)."""
    made = Consortium(new_sqlite_store(tmp_path_factory.mktemp("tracks")), now=NOW)
    ids: dict[str, int] = {}
    with made.session() as session:
        made.add_admin(session)
        partners = {}
        for code, visibility in (
            ("own", Visibility.CONSORTIUM),
            ("other", Visibility.CONSORTIUM),
            ("private", Visibility.PRIVATE),
        ):
            agreement = {"satellite_visibility": visibility, "station_visibility": visibility}
            partners[code] = made.add_partner(
                session, code, 1 / 3, name=code.title(), agreement=agreement
            )
        satellites = {  # name: (operator, element sets)
            "iss": ("own", [OLD_ISS, ISS]),  # the nearer set in time must be used
            "css": ("other", [CSS]),
            "hidden": ("private", [THIRD]),
            "decayed": ("own", [DECAYED]),
            "decaying": ("own", [DECAYING]),
            "bare": ("own", []),
        }
        for name, (owner, sets) in satellites.items():
            norad = sets[0].norad_cat_id if sets else 99_999
            operators: dict[Partner | int, float] = {partners[owner]: 1.0}
            ids[name] = made.add_satellite(session, name.upper(), norad, operators, sets).id
        lat, lon, alt = WEILHEIM
        weilheim = made.add_station(
            session, "Weilheim", partners["own"], lat, lon, alt_m=alt, min_elevation_deg=5.0
        )
        ids["weilheim"] = weilheim.id
        ids["secret"] = made.add_station(session, "Secret", partners["private"], 37.9, -75.5).id
        made.add_user(session, "own-view", Role.VIEWER, partners["own"], key="viewer")
    with made.serve() as client:
        yield client, {k: made.headers(k) for k in made.tokens}, ids
    made.close()


def _iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def _skyfield(e: Elements, moments: list[datetime]) -> tuple[Any, Any]:
    ts = load.timescale(builtin=True)  # shipped with Skyfield: nothing is downloaded
    return EarthSatellite.from_satrec(e.satrec(), ts), ts.from_datetimes(moments)


# Positions.


def test_positions_agree_with_skyfield_and_leave_out_what_the_caller_may_not_see(
    world: World,
) -> None:
    client, auth, ids = world
    answer = client.get("/api/v1/satellites/positions", headers=auth["viewer"])
    assert answer.status_code == 200, answer.text
    rows = {r["satellite_id"]: r for r in answer.json()}
    # No element sets ("bare") or private to another partner ("hidden"): left out.
    assert sorted(rows) == sorted(ids[k] for k in ("iss", "css", "decayed", "decaying"))
    everything = client.get("/api/v1/satellites/positions", headers=auth["admin"]).json()
    assert ids["hidden"] in {r["satellite_id"] for r in everything}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ephemeris = Loader(skyfield_data.get_skyfield_data_path())("de421.bsp")  # bundled
    for name, elements in (("iss", ISS), ("css", CSS)):
        row = rows[ids[name]]
        assert set(row) == {
            "satellite_id", "norad_id", "name", "lat_deg", "lon_deg", "alt_km",
            "footprint_radius_km", "sunlit", "error", "elements_age_days", "stale",
        }  # fmt: skip
        assert row["error"] is None
        # The ISS's nearer set is the one used: its age is |NOW - its epoch|.
        assert row["elements_age_days"] == pytest.approx(
            abs((NOW - elements.epoch).total_seconds()) / 86_400, abs=1e-6
        )
        assert row["stale"] is (row["elements_age_days"] > 7.0)
        assert row["norad_id"] == elements.norad_cat_id
        satellite, t = _skyfield(elements, [NOW])  # at the app's clock: no `at` given
        theirs = wgs84.geographic_position_of(satellite.at(t))
        # Measured: 10 m apart on the ground (Skyfield turns the Earth by UT1).
        assert row["lat_deg"] == pytest.approx(theirs.latitude.degrees[0], abs=5e-4)
        assert row["lon_deg"] == pytest.approx(theirs.longitude.degrees[0], abs=5e-4)
        assert row["alt_km"] == pytest.approx(theirs.elevation.km[0], abs=one_metre_km)
        assert row["footprint_radius_km"] == pytest.approx(
            float(horizon_radius_km(row["alt_km"])), abs=one_centimetre_km
        )
        assert 2000.0 < row["footprint_radius_km"] < 2400.0
        assert row["sunlit"] == bool(satellite.at(t).is_sunlit(ephemeris)[0])


def test_positions_at_a_given_time_with_a_footprint_mask(world: World) -> None:
    client, auth, ids = world
    at = NOW + timedelta(minutes=17)
    answer = client.get(
        "/api/v1/satellites/positions",
        params={"at": _iso(at), "min_elevation_deg": 10.0},
        headers=auth["viewer"],
    )
    assert answer.status_code == 200, answer.text
    iss = next(r for r in answer.json() if r["satellite_id"] == ids["iss"])
    satellite, t = _skyfield(ISS, [at])
    assert iss["lat_deg"] == pytest.approx(
        wgs84.geographic_position_of(satellite.at(t)).latitude.degrees[0], abs=5e-4
    )
    assert iss["footprint_radius_km"] == pytest.approx(
        float(horizon_radius_km(iss["alt_km"], 10.0)), abs=one_centimetre_km
    )
    assert 1300.0 < iss["footprint_radius_km"] < 1500.0


def test_a_decayed_satellite_is_a_row_with_its_error(world: World) -> None:
    client, auth, ids = world
    rows = client.get("/api/v1/satellites/positions", headers=auth["viewer"]).json()
    decayed = next(r for r in rows if r["satellite_id"] == ids["decayed"])
    assert decayed["error"] is not None
    assert "decayed" in decayed["error"] or "SGP4" in decayed["error"]
    for field in ("lat_deg", "lon_deg", "alt_km", "footprint_radius_km", "sunlit"):
        assert decayed[field] is None
    healthy = next(r for r in rows if r["satellite_id"] == ids["decaying"])
    assert healthy["error"] is None  # still flying at NOW, decays within a day


@pytest.mark.parametrize(
    "params",
    [
        {"at": "2024-05-10T12:00:00 UTC"},  # not ISO 8601
        {"at": "yesterday"},
        {"min_elevation_deg": -1.0},
        {"min_elevation_deg": 91.0},
    ],
)
def test_positions_refuse_bad_queries(world: World, params: dict[str, Any]) -> None:
    client, auth, _ = world
    answer = client.get("/api/v1/satellites/positions", params=params, headers=auth["viewer"])
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"


# Tracks.


def test_track_default_window_is_an_orbit_and_a_half_split_at_the_antimeridian(
    world: World,
) -> None:
    client, auth, ids = world
    answer = client.get(f"/api/v1/satellites/{ids['iss']}/track", headers=auth["viewer"])
    assert answer.status_code == 200, answer.text
    track = answer.json()
    assert datetime.fromisoformat(track["start"]) == NOW - timedelta(minutes=45)
    assert datetime.fromisoformat(track["end"]) == NOW + timedelta(minutes=90)
    assert track["step_s"] == 60
    assert track["error"] is None
    assert (track["satellite_id"], track["norad_id"], track["name"]) == (ids["iss"], 25544, "ISS")
    segments = [np.array(s) for s in track["segments"]]
    assert len(segments) >= 2  # 1.5 revolutions cross the antimeridian at least once
    for s in segments:
        assert (np.abs(np.diff(s[:, 1])) <= 180.0).all()
    for before, after in itertools.pairwise(segments):
        assert before[-1].tolist() == [after[0][0], 180.0]
        assert after[0][1] == -180.0
    # 135 minutes at 60 s: 136 samples, and one crossing point each side of each jump.
    assert sum(len(s) for s in segments) == 136 + 2 * (len(segments) - 1)


def test_positions_are_on_the_track(world: World) -> None:
    client, auth, ids = world
    start = NOW + timedelta(hours=2)
    track = client.get(
        f"/api/v1/satellites/{ids['iss']}/track",
        params={"start": _iso(start), "end": _iso(start + timedelta(hours=3)), "step_s": 600},
        headers=auth["viewer"],
    ).json()
    points = [p for s in track["segments"] for p in s if abs(p[1]) != 180.0]
    assert len(points) == 19  # 3 hours at 10 minutes, both ends included
    for k in (0, 7, 18):
        at = start + timedelta(seconds=600 * k)
        rows = client.get(
            "/api/v1/satellites/positions", params={"at": _iso(at)}, headers=auth["viewer"]
        ).json()
        iss = next(r for r in rows if r["satellite_id"] == ids["iss"])
        assert [iss["lat_deg"], iss["lon_deg"]] == pytest.approx(points[k], abs=1e-9)


def test_track_with_only_a_start_or_an_end_and_an_uneven_step(world: World) -> None:
    client, auth, ids = world
    path = f"/api/v1/satellites/{ids['css']}/track"
    only_start = client.get(path, params={"start": _iso(NOW)}, headers=auth["viewer"]).json()
    assert datetime.fromisoformat(only_start["end"]) == NOW + timedelta(minutes=135)
    only_end = client.get(path, params={"end": _iso(NOW)}, headers=auth["viewer"]).json()
    assert datetime.fromisoformat(only_end["start"]) == NOW - timedelta(minutes=135)
    uneven = client.get(
        path,
        params={"start": _iso(NOW), "end": _iso(NOW + timedelta(seconds=250)), "step_s": 100},
        headers=auth["viewer"],
    ).json()
    points = [p for s in uneven["segments"] for p in s if abs(p[1]) != 180.0]
    assert len(points) == 4  # 0, 100, 200 and the end, 250 s


def test_a_satellite_decaying_in_the_window_keeps_its_track_up_to_the_failure(
    world: World,
) -> None:
    client, auth, ids = world
    track = client.get(
        f"/api/v1/satellites/{ids['decaying']}/track",
        params={"start": _iso(NOW), "end": _iso(NOW + timedelta(days=2)), "step_s": 600},
        headers=auth["viewer"],
    ).json()
    assert track["error"] is not None
    assert track["error"].startswith("SGP4 failed from 2024-05-1")
    points = [p for s in track["segments"] for p in s if abs(p[1]) != 180.0]
    assert 0 < len(points) < 2 * 144 + 1


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"start": "2024-05-10T12:00:00Z", "end": "2024-05-10T12:00:00Z"}, "after"),
        ({"start": "2024-05-10T12:00:00Z", "end": "2024-05-10T11:00:00Z"}, "after"),
        ({"start": "2024-05-10T00:00:00Z", "end": "2024-05-13T00:00:01Z"}, "3 day"),
        ({"start": "2024-05-10T00:00:00Z", "end": "2024-05-11T00:00:00Z", "step_s": 4}, "20000"),
        ({"step_s": 0}, "step_s"),
        ({"step_s": 3601}, "step_s"),
        ({"start": "2024-05-10 12:00 UTC"}, "an ISO 8601 time is needed"),
        ({"start": "9999-12-31T23:00:00Z"}, "calendar"),
    ],
)
def test_track_limits(world: World, params: dict[str, Any], says: str) -> None:
    client, auth, ids = world
    answer = client.get(
        f"/api/v1/satellites/{ids['iss']}/track", params=params, headers=auth["viewer"]
    )
    assert answer.status_code == 422, answer.text
    assert says in answer.json()["detail"]


def test_three_days_at_the_sample_limit_are_served(world: World) -> None:
    client, auth, ids = world
    answer = client.get(
        f"/api/v1/satellites/{ids['iss']}/track",
        params={"start": _iso(NOW), "end": _iso(NOW + timedelta(days=3)), "step_s": 13},
        headers=auth["viewer"],
    )
    assert answer.status_code == 200, answer.text  # 19,939 samples


# Look angles.


def test_look_angles_of_a_pass_agree_with_skyfield_and_the_pass(world: World) -> None:
    client, auth, ids = world
    passes = client.get(
        "/api/v1/passes",
        params={
            "start": _iso(NOW),
            "end": _iso(NOW + timedelta(hours=12)),
            "satellite_id": ids["iss"],
            "station_id": ids["weilheim"],
        },
        headers=auth["viewer"],
    ).json()
    complete = [p for p in passes if not p["truncated"]]
    assert complete
    p = max(complete, key=lambda p: p["max_elevation_deg"])
    answer = client.get(
        f"/api/v1/satellites/{ids['iss']}/look",
        params={"station_id": ids["weilheim"], "start": p["aos"], "end": p["los"], "step_s": 5},
        headers=auth["viewer"],
    )
    assert answer.status_code == 200, answer.text
    look = answer.json()
    assert (look["satellite_id"], look["station_id"], look["error"]) == (
        ids["iss"],
        ids["weilheim"],
        None,
    )
    samples = look["samples"]
    times = [datetime.fromisoformat(s["time"]) for s in samples]
    assert times[0] == datetime.fromisoformat(p["aos"])
    assert times[-1] == datetime.fromisoformat(p["los"])
    assert all(b - a <= timedelta(seconds=5) for a, b in itertools.pairwise(times))
    el = np.array([s["elevation_deg"] for s in samples])
    az = np.array([s["azimuth_deg"] for s in samples])
    rng = np.array([s["range_km"] for s in samples])
    # The pass starts and ends on Weilheim's 5-degree threshold and peaks as /passes says.
    assert el[0] == pytest.approx(5.0, abs=one_hundredth_degree)
    assert el[-1] == pytest.approx(5.0, abs=one_hundredth_degree)
    assert el.max() <= p["max_elevation_deg"] + 1e-6
    assert el.max() == pytest.approx(p["max_elevation_deg"], abs=0.05)  # a 5 s grid
    assert az[0] == pytest.approx(p["aos_azimuth_deg"], abs=one_hundredth_degree)
    assert az[-1] == pytest.approx(p["los_azimuth_deg"], abs=one_hundredth_degree)
    satellite, t = _skyfield(ISS, times)
    alt_, az_, distance = (satellite - wgs84.latlon(*WEILHEIM)).at(t).altaz()
    # Measured: within 0.001 degree and 7 m (Skyfield turns the Earth by UT1).
    np.testing.assert_allclose(el, alt_.degrees, rtol=0, atol=one_hundredth_degree)
    d_az = (az - az_.degrees + 180.0) % 360.0 - 180.0
    assert np.abs(d_az[el < 85.0]).max() < one_hundredth_degree
    np.testing.assert_allclose(rng, distance.km, rtol=0, atol=fifty_metres_km)


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"end": "2024-05-10T12:00:00Z"}, "start"),
        ({"start": "2024-05-10T12:00:00Z", "end": "2024-05-10T11:00:00Z"}, "after"),
        ({"start": "2024-05-10T00:00:00Z", "end": "2024-05-11T00:00:01Z"}, "1 day"),
        ({"start": "2024-05-10T12:00:00Z", "end": "2024-05-10T13:00:00Z", "step_s": 0}, "step_s"),
        ({"start": "2024-05-10T12:00:00Z", "end": "2024-05-10T13:00:00Z", "step_s": 601}, "step"),
    ],
)
def test_look_limits(world: World, params: dict[str, Any], says: str) -> None:
    client, auth, ids = world
    answer = client.get(
        f"/api/v1/satellites/{ids['iss']}/look",
        params={"station_id": ids["weilheim"], **params},
        headers=auth["viewer"],
    )
    assert answer.status_code == 422, answer.text
    assert says in answer.json()["detail"]


def test_look_angles_are_bounded_in_samples_naming_the_limit(world: World) -> None:
    """A day every second (86,401 samples, 5 s of CPU) is refused; a day every 18 s is not."""
    client, auth, ids = world
    day = {"station_id": ids["weilheim"], "start": _iso(NOW), "end": _iso(NOW + timedelta(days=1))}
    url = f"/api/v1/satellites/{ids['iss']}/look"
    answer = client.get(url, params={**day, "step_s": 1}, headers=auth["viewer"])
    assert answer.status_code == 422
    assert "86401 samples asked; at most 5000" in answer.json()["detail"]
    served = client.get(url, params={**day, "step_s": 18}, headers=auth["viewer"])
    assert served.status_code == 200
    assert len(served.json()["samples"]) == 4_801


# Rights.


def test_what_another_partner_keeps_private_is_not_found(world: World) -> None:
    client, auth, ids = world
    window = {"start": _iso(NOW), "end": _iso(NOW + timedelta(hours=1))}
    hidden, secret, iss, kiruna = ids["hidden"], ids["secret"], ids["iss"], ids["weilheim"]
    calls = {
        "track": (f"/api/v1/satellites/{hidden}/track", window),
        "look": (f"/api/v1/satellites/{hidden}/look", {**window, "station_id": kiruna}),
        "look from a private station": (
            f"/api/v1/satellites/{iss}/look",
            {**window, "station_id": secret},
        ),
        "no such satellite": ("/api/v1/satellites/999999/track", window),
        "no element sets": (f"/api/v1/satellites/{ids['bare']}/track", window),
    }
    for what, (path, params) in calls.items():
        assert client.get(path, params=params, headers=auth["viewer"]).status_code == 404, what
        if what not in ("no such satellite", "no element sets"):
            assert client.get(path, params=params, headers=auth["admin"]).status_code == 200, what
    rows = client.get("/api/v1/satellites/positions", headers=auth["viewer"]).json()
    assert hidden not in {r["satellite_id"] for r in rows}


@pytest.mark.parametrize(
    "path",
    ["/api/v1/satellites/positions", "/api/v1/satellites/1/track", "/api/v1/satellites/1/look"],
)
def test_a_token_is_required(world: World, path: str) -> None:
    client, _, _ = world
    assert client.get(path).status_code == 401


def test_positions_is_not_taken_for_a_satellite_id(world: World) -> None:
    client, auth, ids = world
    # /satellites/positions is routed before /satellites/{satellite_id}; the latter works.
    assert isinstance(
        client.get("/api/v1/satellites/positions", headers=auth["admin"]).json(), list
    )
    one = client.get(f"/api/v1/satellites/{ids['iss']}", headers=auth["admin"])
    assert one.status_code == 200
    assert one.json()["norad_id"] == 25544


# The times `jointsat` reads on its command line (tests/cli), each the same moment.
CLI_TIMES = (
    "2024-05-10T12:05:00Z",
    "2024-05-10T12:05:00",  # no offset: UTC
    "2024-05-10 12:05:00Z",
    "2024-05-10 12:05:00",
    "2024-05-10t12:05:00z",
    "2024-05-10T14:05:00+02:00",
    "2024-05-10T07:05:00-05:00",
)


def test_the_api_takes_the_times_the_cli_takes(world: World) -> None:
    """Each of the CLI's spellings of a moment is that moment to the API too (a query
    and a body), and the CLI's parser reads each as that moment."""
    client, auth, ids = world
    moment = datetime(2024, 5, 10, 12, 5, tzinfo=UTC)
    answers = []
    for text in CLI_TIMES:
        assert parse_utc(text) == moment, text
        answer = client.get(
            "/api/v1/satellites/positions", params={"at": text}, headers=auth["viewer"]
        )
        assert answer.status_code == 200, (text, answer.text)
        answers.append(answer.json())
        track = client.get(
            f"/api/v1/satellites/{ids['iss']}/track",
            params={"start": text, "end": "2024-05-10T12:35:00Z", "step_s": 60},
            headers=auth["viewer"],
        )
        assert track.status_code == 200, (text, track.text)
        assert track.json()["start"] == "2024-05-10T12:05:00Z"
    assert all(a == answers[0] for a in answers)


@pytest.mark.parametrize("text", ["yesterday", "2024-05-10T12:05:00 UTC", "12:05", "2024-13-10"])
def test_a_time_neither_reads_says_what_is_needed_like_the_cli(world: World, text: str) -> None:
    """The API's 422 says what it needs, without pydantic's 'Value error,' prefix; the
    command line refuses the same text."""
    client, auth, _ = world
    answer = client.get("/api/v1/satellites/positions", params={"at": text}, headers=auth["viewer"])
    assert answer.status_code == 422
    problem = answer.json()
    assert problem["detail"] == (
        f"query.at: {text!r}: an ISO 8601 time is needed, e.g. 2024-05-10T06:00:00Z "
        "(UTC if no offset)"
    )
    assert "Value error" not in answer.text
    with pytest.raises(typer.BadParameter):
        parse_utc(text)


def test_a_time_in_another_zone_is_the_same_moment(world: World) -> None:
    client, auth, _ = world
    at = NOW + timedelta(minutes=5)
    utc, paris = (
        client.get(
            "/api/v1/satellites/positions", params={"at": moment}, headers=auth["viewer"]
        ).json()
        for moment in (_iso(at), (at + timedelta(hours=2)).isoformat().replace("+00:00", "+02:00"))
    )
    assert utc == paris
