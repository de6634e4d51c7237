"""Check the problem JSON format: it round-trips, and bad files name the bad field."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from tests.scheduling.instances import random_document

from jointsat.errors import ProblemInputError
from jointsat.scheduling.network import Ineligible, Network
from jointsat.scheduling.problem import Problem


def test_a_problem_round_trips_through_json() -> None:
    document = random_document(7)
    problem = Problem.from_dict(document)
    again = Problem.from_json(json.dumps(problem.to_dict()))
    assert again == problem


def test_passes_may_use_the_field_names_of_jointsat_passes() -> None:
    document = random_document(3)
    for p in document["passes"]:
        p["aos"], p["los"] = p.pop("start"), p.pop("end")
        del p["id"]
    problem = Problem.from_dict(document)
    assert [p.id for p in problem.passes] == [f"p{i}" for i in range(len(problem.passes))]


def _broken(change: Any) -> dict[str, Any]:
    document = copy.deepcopy(random_document(1))
    change(document)
    return document


CASES = [
    (lambda d: d["passes"][2].update(satellite="NOPE"), "passes[2].satellite", "unknown satellite"),
    (lambda d: d["passes"][0].update(station="X"), "passes[0].station", "unknown station"),
    (lambda d: d["partners"][0].update(share=0.9), "partners", "sum to 1"),
    (lambda d: d["partners"][1].update(share=-0.1), "partners[1].share", "positive"),
    (
        lambda d: d["passes"][4].update(end=d["passes"][4]["start"]),
        "passes[4]",
        "end must be after start",
    ),
    (
        lambda d: d["horizon"].update(end=d["horizon"]["start"]),
        "horizon",
        "end must be after start",
    ),
    (lambda d: d["passes"][1].update(start="2024-05-10T01:00:00"), "passes[1].start", "zone"),
    (lambda d: d["passes"][1].update(start="soon"), "passes[1].start", "ISO 8601"),
    (lambda d: d["satellites"][0].update(operators={"P0": 0.5}), "satellites[0].operators", "sum"),
    (lambda d: d["satellites"][0].update(operators={"ZZ": 1.0}), "operators.ZZ", "unknown partner"),
    (lambda d: d["satellites"][1].update(demand_s=-5), "satellites[1].demand_s", ">= 0"),
    (lambda d: d["satellites"][1].update(demand_s="lots"), "satellites[1].demand_s", "number"),
    (lambda d: d["stations"][0].update(owner="ZZ"), "stations[0].owner", "unknown partner"),
    (lambda d: d["stations"][0].update(turnaround_s=-1), "stations[0].turnaround_s", ">= 0"),
    (lambda d: d["partners"].append(dict(d["partners"][0])), "partners[", "duplicate id"),
    (lambda d: d["passes"][3].pop("satellite"), "passes[3]", "missing 'satellite'"),
    (lambda d: d.pop("horizon"), "the document", "missing 'horizon'"),
    (lambda d: d.update(passes={}), "passes", "must be a list"),
    (lambda d: d["options"].update(speed=3), "options", "unknown option"),
    (lambda d: d["options"].update(satellite_single_link="yes"), "satellite_single_link", "true"),
]


@pytest.mark.parametrize(("change", "where", "why"), CASES)
def test_bad_problems_name_the_field(change: Any, where: str, why: str) -> None:
    with pytest.raises(ProblemInputError) as caught:
        Problem.from_json(json.dumps(_broken(change)), source="week.json")
    message = str(caught.value)
    assert message.startswith("week.json ")
    assert where in message
    assert why in message


def test_not_json_names_the_line() -> None:
    with pytest.raises(ProblemInputError, match=r"week.json line 2: not valid JSON"):
        Problem.from_json('{"horizon":\n ,}', source="week.json")


def test_eligibility_follows_the_options_and_outages() -> None:
    document = random_document(11, passes=40)
    document["options"]["min_contact_s"] = 400.0
    network = Network.of(Problem.from_dict(document))
    problem = network.problem
    for i, p in enumerate(problem.passes):
        station = next(g for g in problem.stations if g.id == p.station)
        blocked = any(w.start < p.end and p.start < w.end for w in station.unavailable)
        if p.duration_s < 400.0:
            assert network.why_not[i] is Ineligible.SHORT
        elif blocked:
            assert network.why_not[i] is Ineligible.UNAVAILABLE
        else:
            assert network.why_not[i] is None
