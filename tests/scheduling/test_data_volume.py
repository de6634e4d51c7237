"""Check the data-volume measure: partners' shares of the bytes contacts bring down.

The oracle enumerates every feasible set of contacts of small random problems (its
own eligibility and conflict rules, tests/scheduling/test_oracle.py's) and finds the
weighted leximin of the bytes each partner receives per unit of share; the solver's
reported volumes must be the contacts' own (recomputed here from the passes), and
their sorted normalized vector the oracle's.
"""

from __future__ import annotations

import random
from itertools import combinations

import pytest
from tests.scheduling.instances import random_document
from tests.scheduling.test_oracle import _conflict, _eligible

from jointsat.errors import ProblemInputError
from jointsat.scheduling.problem import Problem, ShareMeasure
from jointsat.scheduling.result import Policy
from jointsat.scheduling.solver import SolverSettings, solve

EXACT = SolverSettings(time_limit_s=20, workers=2, relative_gap=0.0)
# Volumes are whole kilobytes here, so the solver's unit loses nothing: what is left is
# floating-point summation, relative.
relative = 1e-9


def volume_problem(seed: int) -> Problem:
    document = random_document(seed, passes=11, satellites=3, stations=2)
    rng = random.Random(seed)
    for s in document["satellites"]:
        s["demand_s"] = None
    for p in document["passes"]:
        p["volume_bytes"] = 1000.0 * rng.choice([0, 5, 40, 120, 300, 900])
    document["options"]["measure"] = "data-volume"
    return Problem.from_dict(document)


def received(problem: Problem, chosen: list[int]) -> dict[str, float]:
    sats = {s.id: s for s in problem.satellites}
    got = {p.id: 0.0 for p in problem.partners}
    for i in chosen:
        q = problem.passes[i]
        assert q.volume_bytes is not None
        for partner, fraction in sats[q.satellite].operators.items():
            got[partner] += fraction * q.volume_bytes
    return got


def leximin_oracle(problem: Problem) -> list[float]:
    """Return the best sorted vector of bytes per unit share over all feasible sets."""
    usable = _eligible(problem)
    shares = {p.id: p.share for p in problem.partners}
    best: list[float] | None = None
    for k in range(len(usable) + 1):
        for subset in combinations(usable, k):
            if any(_conflict(problem, a, b) for a, b in combinations(subset, 2)):
                continue
            got = received(problem, list(subset))
            vector = sorted(got[p] / shares[p] for p in got)
            if best is None or vector > best:
                best = vector
    assert best is not None
    return best


@pytest.mark.parametrize("seed", range(6))
def test_fair_shares_of_data_volume_are_the_leximin_of_the_bytes(seed: int) -> None:
    problem = volume_problem(seed)
    found = solve(problem, Policy.FAIR, EXACT)
    index = {p.id: i for i, p in enumerate(problem.passes)}
    chosen = [index[c.pass_id] for c in found.contacts]
    got = received(problem, chosen)
    for partner, result in found.partners.items():
        assert result.volume_bytes == pytest.approx(got[partner], rel=relative, abs=1e-6)
    shares = {p.id: p.share for p in problem.partners}
    vector = sorted(got[p] / shares[p] for p in got)
    assert vector == pytest.approx(leximin_oracle(problem), rel=relative, abs=1e-6)
    assert found.total_volume_bytes == pytest.approx(sum(got.values()), rel=relative)
    document = found.to_dict()
    assert document["measure"] == "data-volume"
    assert document["partners"][problem.partners[0].id]["volume_bytes"] == pytest.approx(
        got[problem.partners[0].id]
    )
    # The contact seconds are still reported, as seconds.
    seconds = sum(round((c.end - c.start).total_seconds()) for c in found.contacts)
    assert found.total_seconds == pytest.approx(seconds, abs=1e-6)


def test_the_measure_changes_the_schedule() -> None:
    """One station, two partners' satellites whose passes overlap: a long pass that
    brings little and a short one that brings much. By seconds the long pass wins a
    tie-breaking total; by volume the short one."""
    document = {
        "horizon": {"start": "2024-05-10T00:00:00Z", "end": "2024-05-11T00:00:00Z"},
        "partners": [{"id": "A", "share": 0.5}, {"id": "B", "share": 0.5}],
        "satellites": [
            {"id": "SA", "operators": {"A": 1.0}},
            {"id": "SB", "operators": {"B": 1.0}},
        ],
        "stations": [{"id": "G", "owner": "A"}],
        "passes": [
            {"id": "a1", "satellite": "SA", "station": "G", "start": "2024-05-10T01:00:00Z",
             "end": "2024-05-10T01:10:00Z", "volume_bytes": 100_000},
            {"id": "a2", "satellite": "SA", "station": "G", "start": "2024-05-10T01:05:00Z",
             "end": "2024-05-10T01:08:00Z", "volume_bytes": 900_000},
            {"id": "b1", "satellite": "SB", "station": "G", "start": "2024-05-10T02:00:00Z",
             "end": "2024-05-10T02:05:00Z", "volume_bytes": 500_000},
        ],
    }  # fmt: skip
    by_seconds = solve(Problem.from_dict(document), Policy.FAIR, EXACT)
    document["options"] = {"measure": "data-volume"}
    by_volume = solve(Problem.from_dict(document), Policy.FAIR, EXACT)
    assert sorted(c.pass_id for c in by_seconds.contacts) == ["a1", "b1"]
    assert sorted(c.pass_id for c in by_volume.contacts) == ["a2", "b1"]
    assert by_volume.partners["A"].volume_bytes == 900_000
    assert by_seconds.measure is ShareMeasure.SECONDS
    assert "measure" not in by_seconds.to_dict()  # the seconds document is as before


def test_a_volume_problem_needs_volumes_and_no_demand_in_seconds() -> None:
    document = random_document(1, passes=4)
    document["options"]["measure"] = "data-volume"
    for s in document["satellites"]:
        s["demand_s"] = None
    with pytest.raises(ProblemInputError, match=r"passes\[0\].volume_bytes"):
        Problem.from_dict(document)
    for p in document["passes"]:
        p["volume_bytes"] = 1e6
    document["satellites"][0]["demand_s"] = 600.0
    with pytest.raises(ProblemInputError, match=r"satellites\[0\].demand_s"):
        Problem.from_dict(document)
    document["satellites"][0]["demand_s"] = None
    document["passes"][1]["volume_bytes"] = -1
    with pytest.raises(ProblemInputError, match=r"passes\[1\].volume_bytes"):
        Problem.from_dict(document)
    document["passes"][1]["volume_bytes"] = 0
    problem = Problem.from_dict(document)
    assert Problem.from_dict(problem.to_dict()) == problem
    document["options"]["measure"] = "bytes"
    with pytest.raises(ProblemInputError, match=r"options\.measure"):
        Problem.from_dict(document)
