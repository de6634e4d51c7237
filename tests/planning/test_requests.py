"""Check requests and planning problems: round trips, defaults, and errors naming the field."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from itertools import pairwise

import pytest

from jointsat.errors import PlanningInputError
from jointsat.planning.problem import Agility, PlanningProblem
from jointsat.planning.requests import (
    EarthTarget,
    Mode,
    SkyTarget,
    request_from_dict,
    request_to_dict,
)
from jointsat.scheduling.problem import Window

HORIZON = {"start": "2024-05-10T00:00:00Z", "end": "2024-05-11T00:00:00Z"}


def problem_document() -> dict:
    return {
        "horizon": dict(HORIZON),
        "partners": [{"id": "esa", "share": 0.6}, {"id": "cnes", "share": 0.4}],
        "satellites": [
            {
                "id": "25544",
                "observes": ["earth"],
                "memory_mbit": 64000,
                "imaging_rate_mbps": 400,
                "downlink_rate_mbps": 150,
                "agility": {"max_rate_deg_s": 1.0},
            },
            {"id": "44874", "memory_mbit": 8000, "imaging_rate_mbps": 2, "downlink_rate_mbps": 2},
        ],
        "requests": [
            {"id": "toulouse", "partner": "cnes", "lat_deg": 43.6, "lon_deg": 1.44, "gain": 8,
             "min_sun_elevation_deg": 10, "mode": "stereo"},
            {"id": "hd", "partner": "esa", "kind": "sky", "ra_deg": 152.5, "dec_deg": -33.4,
             "gain": 5, "duration_s": 600, "satellites": ["44874"]},
        ],
        "downlinks": [
            {"satellite": "25544", "start": "2024-05-10T01:00:00Z", "end": "2024-05-10T01:08:00Z"}
        ],
        "options": {"start_step_s": 15},
    }  # fmt: skip


def test_a_problem_reads_with_its_defaults_and_round_trips() -> None:
    problem = PlanningProblem.from_dict(problem_document(), source="day.json")
    earth, sky = problem.requests
    assert isinstance(earth, EarthTarget)
    assert isinstance(sky, SkyTarget)
    assert (earth.mode, earth.max_off_nadir_deg, earth.stereo_angle_deg) == (Mode.STEREO, 30, 15)
    assert earth.window is None
    assert (sky.min_sun_angle_deg, sky.min_earth_limb_angle_deg) == (90.0, 20.0)
    assert problem.satellites[0].agility == Agility(1.0, 0.5, 5.0)
    assert problem.options.start_step_s == 15.0
    assert not problem.serves(problem.satellites[0], sky)  # an Earth imager
    assert problem.serves(problem.satellites[1], sky)
    again = PlanningProblem.from_json(json.dumps(problem.to_dict()))
    assert again == problem
    for request in problem.requests:
        assert request_from_dict(request_to_dict(request)) == request


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda d: d["requests"][0].update(lat_deg=95), "requests[0].lat_deg"),
        (lambda d: d["requests"][0].update(gain=0), "requests[0].gain"),
        (lambda d: d["requests"][0].update(gain=2.5), "requests[0].gain"),
        (lambda d: d["requests"][0].update(mode="tri"), "requests[0].mode"),
        (lambda d: d["requests"][0].update(max_off_nadir_deg=0), "requests[0].max_off_nadir_deg"),
        (lambda d: d["requests"][0].update(colour="red"), "requests[0]"),
        (lambda d: d["requests"][0].pop("lon_deg"), "requests[0]"),
        (lambda d: d["requests"][1].update(kind="moon"), "requests[1].kind"),
        (lambda d: d["requests"][1].update(duration_s=-1), "requests[1].duration_s"),
        (lambda d: d["requests"][1].update(ra_deg=400), "requests[1].ra_deg"),
        (lambda d: d["requests"][1].update(satellites=["1"]), "requests[1].satellites[0]"),
        (lambda d: d["requests"][1].update(partner="nasa"), "requests[1].partner"),
        (lambda d: d["requests"][1].update(id="toulouse"), "requests[1].id"),
        (
            lambda d: d["requests"][0].update(
                window={"start": "2024-05-10T02:00:00Z", "end": "2024-05-10T01:00:00Z"}
            ),
            "requests[0].window",
        ),
        (lambda d: d["partners"][0].update(share=0.7), "partners"),
        (lambda d: d["satellites"][0].update(memory_mbit=0), "satellites[0].memory_mbit"),
        (
            lambda d: d["satellites"][0]["agility"].update(settle_s=-1),
            "satellites[0].agility.settle_s",
        ),
        (lambda d: d["satellites"][0].update(observes=["radio"]), "satellites[0].observes[0]"),
        (lambda d: d["downlinks"][0].update(satellite="7"), "downlinks[0].satellite"),
        (lambda d: d["downlinks"].append(dict(d["downlinks"][0])), "downlinks[1]"),
        (lambda d: d["options"].update(start_step_s=0), "options.start_step_s"),
        (lambda d: d["options"].update(speed=1), "options"),
        (lambda d: d["horizon"].update(end="2024-05-10"), "horizon.end"),
    ],
)
def test_a_bad_problem_is_refused_naming_the_field(change, where: str) -> None:
    document = problem_document()
    change(document)
    with pytest.raises(PlanningInputError) as caught:
        PlanningProblem.from_dict(document, source="day.json")
    assert caught.value.source == "day.json"
    assert caught.value.location == where, str(caught.value)


def test_requests_built_in_code_are_checked_too() -> None:
    with pytest.raises(PlanningInputError, match="lat_deg"):
        EarthTarget(id="a", partner="esa", lat_deg=91.0, lon_deg=0.0, gain=1)
    naive = datetime(2024, 5, 10)  # noqa: DTZ001 - the point of the test
    with pytest.raises(PlanningInputError, match="window"):
        SkyTarget("s", "esa", 0.0, 0.0, 1, 60.0, window=Window(naive, naive.replace(day=11)))
    aware = datetime(2024, 5, 10, tzinfo=UTC)
    with pytest.raises(PlanningInputError, match="end must be after start"):
        SkyTarget("s", "esa", 0.0, 0.0, 1, 60.0, window=Window(aware, aware))


def test_the_slew_is_a_rest_to_rest_turn_then_settling() -> None:
    agility = Agility(max_rate_deg_s=2.0, max_accel_deg_s2=0.5, settle_s=5.0)
    # 8 degrees reach full rate exactly: 2 * sqrt(8 / 0.5) = 8 s = 8 / 2 + 2 / 0.5.
    assert agility.slew_s(8.0) == pytest.approx(13.0)
    assert agility.slew_s(2.0) == pytest.approx(5.0 + 2 * (2.0 / 0.5) ** 0.5)
    assert agility.slew_s(90.0) == pytest.approx(5.0 + 90 / 2 + 2 / 0.5)
    assert agility.slew_s(0.0) == pytest.approx(5.0)
    angles = [0.5 * k for k in range(400)]
    times = agility.slew_s(angles)
    assert all(b >= a for a, b in pairwise(times))  # never faster further
    # subadditive: two turns never beat one (the planner relies on it)
    for a in angles[::37]:
        for b in angles[::41]:
            assert agility.slew_s(a + b) <= agility.slew_s(a) + agility.slew_s(b) + 1e-9
