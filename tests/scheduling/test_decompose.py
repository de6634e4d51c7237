"""Check the decomposition of a network into independent parts (scheduling/decompose.py).

* The components partition the eligible passes; every coupling (a conflict, a shared
  binding demand, for fair and priority a shared partner), checked pair by pair from
  the problem's definitions, stays inside one; and each component is connected by
  those couplings (nothing is merged that need not be).
* Solved in parts or as one model (CP-SAT proving each level exactly), the policy's
  objective vector is the same: each fair group's sorted normalized times, then the
  total. What a naive split loses when a partner spans two networks is shown too.
* A real two-process Dask LocalCluster solving the parts gives the schedule one
  process gives, contact for contact (deterministic search); so does the CLI on it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from distributed import Client, get_task_stream
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.scheduling.instances import DAY_S, T0, random_document
from typer.testing import CliRunner

from jointsat.cli import app
from jointsat.executors import dask_client
from jointsat.scheduling.decompose import components, pack
from jointsat.scheduling.network import Network
from jointsat.scheduling.problem import Problem
from jointsat.scheduling.result import Policy, Schedule, fair_groups
from jointsat.scheduling.solver import SolverSettings, solve

EXACT = SolverSettings(time_limit_s=10, workers=2, relative_gap=0.0)
SPLIT = SolverSettings(time_limit_s=10, workers=2, relative_gap=0.0, min_part_passes=1)
# Some whole models of many partners take CP-SAT seconds to prove (one of 6 passes and
# 7 partners: 18 s unproven with 2 workers, 4 s with 8) where their parts take 30 ms.
WHOLE = SolverSettings(time_limit_s=3, workers=2, relative_gap=0.0, decompose=False)
# One worker, deterministic: the same problem gives the same schedule in any process.
SAME = SolverSettings(time_limit_s=10, workers=1, deterministic=True, min_part_passes=1)
LEVEL_TOLERANCE = 1e-6  # normalized seconds: sums of the same integers, in another order


def federation(seeds: list[int], **sizes: Any) -> dict[str, Any]:
    """Return one problem of several random consortia sharing nothing, equal weights."""
    documents = [random_document(seed, **sizes) for seed in seeds]
    merged: dict[str, Any] = {
        "horizon": documents[0]["horizon"],
        "options": documents[0]["options"],
        "partners": [],
        "satellites": [],
        "stations": [],
        "passes": [],
    }
    weight = 1 / len(documents)
    for k, d in enumerate(documents):

        def named(x: str, k: int = k) -> str:
            return f"c{k}.{x}"

        merged["partners"] += [
            {**p, "id": named(p["id"]), "share": p["share"] * weight} for p in d["partners"]
        ]
        merged["satellites"] += [
            {
                **s,
                "id": named(s["id"]),
                "operators": {named(q): f for q, f in s["operators"].items()},
            }
            for s in d["satellites"]
        ]
        merged["stations"] += [
            {**g, "id": named(g["id"]), "owner": named(g["owner"])} for g in d["stations"]
        ]
        merged["passes"] += [
            {
                **p,
                "id": named(p["id"]),
                "satellite": named(p["satellite"]),
                "station": named(p["station"]),
            }
            for p in d["passes"]
        ]
    return merged


def _couplings(network: Network, policy: Policy) -> dict[int, set[int]]:
    """Return each eligible pass's coupled passes, pair by pair from the definitions."""
    problem = network.problem
    eligible = np.flatnonzero(network.eligible).tolist()
    seconds = {s: 0 for s in range(len(problem.satellites))}
    for i in eligible:
        seconds[int(network.satellite[i])] += int(network.duration_s[i])
    coupled: dict[int, set[int]] = {i: set() for i in eligible}
    for i, j in combinations(eligible, 2):
        a, b = problem.passes[i], problem.passes[j]
        if a.start > b.start:
            a, b = b, a
        turnaround = next(g.turnaround_s for g in problem.stations if g.id == a.station)
        conflict = (a.station == b.station and (b.start - a.end).total_seconds() < turnaround) or (
            problem.options.satellite_single_link and a.satellite == b.satellite and b.start < a.end
        )
        s, t = int(network.satellite[i]), int(network.satellite[j])
        binding = s == t and network.demand_s[s] < seconds[s]
        operators = problem.satellites[s].operators.keys() & problem.satellites[t].operators.keys()
        partner = policy is not Policy.MAX_TOTAL and bool(operators)
        if conflict or binding or partner:
            coupled[i].add(j)
            coupled[j].add(i)
    return coupled


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seeds=st.lists(st.integers(0, 10_000), min_size=1, max_size=3),
    passes=st.integers(1, 14),
    spread=st.booleans(),
    policy=st.sampled_from(list(Policy)),
)
def test_components_are_exactly_the_coupled_sets(
    seeds: list[int], passes: int, spread: bool, policy: Policy
) -> None:
    problem = Problem.from_dict(
        federation(seeds, passes=passes, span_s=DAY_S / 2 if spread else 4 * 3600)
    )
    network = Network.of(problem)
    found = components(network, policy)
    where = {i: k for k, members in enumerate(found) for i in members}
    assert sorted(where) == np.flatnonzero(network.eligible).tolist()  # a partition of them
    assert sum(len(members) for members in found) == len(where)
    coupled = _couplings(network, policy)
    for i, others in coupled.items():
        assert all(where[j] == where[i] for j in others)  # closed under every coupling
    for members in found:  # connected: a walk along couplings reaches every member
        reached, stack = {members[0]}, [members[0]]
        while stack:
            for j in coupled[stack.pop()] - reached:
                reached.add(j)
                stack.append(j)
        assert reached == set(members)
    parts = pack(found, 5)
    assert sorted(i for part in parts for i in part) == sorted(where)
    part_of = {i: k for k, part in enumerate(parts) for i in part}
    assert all(len({part_of[i] for i in members}) == 1 for members in found)  # whole ones
    assert all(len(part) >= 5 for part in parts) or len(parts) == 1


def _objective(problem: Problem, schedule: Schedule, policy: Policy) -> list[float]:
    """Return the policy's objective vector: each fair group's sorted times, the total."""
    normalized = [schedule.partners[p.id].normalized for p in problem.partners]
    groups = fair_groups(problem.partners, policy)
    return [x for group in groups for x in sorted(normalized[k] for k in group)] + [
        schedule.total_seconds
    ]


def _feasible(problem: Problem, schedule: Schedule) -> bool:
    network = Network.of(problem)
    index = {p.id: i for i, p in enumerate(problem.passes)}
    return network.violations([index[c.pass_id] for c in schedule.contacts]) == []


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seeds=st.lists(st.integers(0, 10_000), min_size=2, max_size=3),
    passes=st.integers(2, 16),
    spread=st.booleans(),
    policy=st.sampled_from(list(Policy)),
)
def test_solving_in_parts_reaches_the_whole_optimum(
    seeds: list[int], passes: int, spread: bool, policy: Policy
) -> None:
    problem = Problem.from_dict(
        federation(seeds, passes=passes, span_s=DAY_S / 2 if spread else 4 * 3600)
    )
    split, whole = solve(problem, policy, SPLIT), solve(problem, policy, WHOLE)
    found = components(Network.of(problem), policy)
    assert split.settings["decomposition"]["parts"] == max(len(found), 1)
    assert "decomposition" not in whole.settings
    assert split.status.value == "optimal"
    assert _feasible(problem, split)
    got, wanted = _objective(problem, split, policy), _objective(problem, whole, policy)
    if whole.status.value == "optimal":
        assert got == pytest.approx(wanted, abs=LEVEL_TOLERANCE)
    else:  # the whole model ran out of time: the parts do at least as well
        differ = [(a, b) for a, b in zip(got, wanted, strict=True) if abs(a - b) > LEVEL_TOLERANCE]
        assert not differ or differ[0][0] > differ[0][1]


def test_a_federation_of_consortia_is_solved_in_parts_with_their_proofs() -> None:
    problem = Problem.from_dict(federation([3, 8, 11], passes=25))
    found = solve(problem, Policy.FAIR, WHOLE)
    assert "decomposition" not in found.settings
    split = solve(problem, Policy.FAIR, SPLIT)
    record = split.settings["decomposition"]
    assert record["parts"] == record["components"] >= 3
    assert record["parts_proven"] == record["parts"]
    assert record["part_status"] == ["optimal"] * record["parts"]
    assert sum(record["part_passes"]) == int(Network.of(problem).eligible.sum())
    # Every level is a part's own, proven, in the whole problem's units.
    assert all(lv.optimal and lv.name.startswith("part ") for lv in split.levels)
    assert _objective(problem, split, Policy.FAIR) == pytest.approx(
        _objective(problem, found, Policy.FAIR)
    )


def _at(hours: float) -> str:
    return (T0 + timedelta(hours=hours)).isoformat().replace("+00:00", "Z")


def _pass(name: str, satellite: str, station: str, start_h: float, end_h: float) -> dict[str, Any]:
    return {
        "id": name,
        "satellite": satellite,
        "station": station,
        "start": _at(start_h),
        "end": _at(end_h),
    }


def _two_networks() -> dict[str, Any]:
    """Return partner A with a satellite on each of two station networks, B on one.

    Network 1 (G1): A's S1 and B's S3 want each of two hours of G1. Network 2 (G2):
    A's S2 has two hours of G2 alone.
    """
    return {
        "horizon": {"start": _at(0), "end": _at(24)},
        "partners": [{"id": "A", "share": 0.5}, {"id": "B", "share": 0.5}],
        "satellites": [
            {"id": "S1", "operators": {"A": 1.0}},
            {"id": "S2", "operators": {"A": 1.0}},
            {"id": "S3", "operators": {"B": 1.0}},
        ],
        "stations": [{"id": "G1", "owner": "A"}, {"id": "G2", "owner": "B"}],
        "passes": [
            _pass("a1", "S1", "G1", 1, 2),
            _pass("b1", "S3", "G1", 1.5, 2.5),
            _pass("a3", "S1", "G1", 4, 5),
            _pass("b3", "S3", "G1", 4.5, 5.5),
            _pass("a2", "S2", "G2", 8, 10),
        ],
    }


def test_a_partner_spanning_two_networks_keeps_them_one_component() -> None:
    """What splitting by stations alone would lose, and why jointsat does not split so."""
    document = _two_networks()
    problem = Problem.from_dict(document)
    network = Network.of(problem)
    assert len(components(network, Policy.FAIR)) == 1  # A's time is a sum over both
    assert len(components(network, Policy.MAX_TOTAL)) == 3  # a sum of sums splits
    whole = solve(problem, Policy.FAIR, SPLIT)
    assert whole.settings["decomposition"]["parts"] == 1
    # The fair optimum: A has network 2's two hours, so network 1's go to B (2 h each).
    assert {c.pass_id for c in whole.contacts} == {"a2", "b1", "b3"}
    # Each network's own leximin: network 1 gives A and B an hour each (its unique
    # optimum), network 2 gives A its two hours; together A 3 h, B 1 h: less fair.
    naive = set()
    for station in ("G1", "G2"):
        alone = {**document, "passes": [p for p in document["passes"] if p["station"] == station]}
        naive |= {c.pass_id for c in solve(Problem.from_dict(alone), Policy.FAIR, WHOLE).contacts}
    index = {p.id: i for i, p in enumerate(problem.passes)}
    _, received = network.received_s(sorted(index[i] for i in naive))
    assert sorted(received) == [3600, 3 * 3600]
    assert min(received) < min(r.seconds for r in whole.partners.values()) == 2 * 3600


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    with dask_client("local", 2) as found:
        assert found is not None
        yield found


def _comparable(schedule: Schedule) -> dict[str, Any]:
    document = schedule.to_dict()
    for level in document["levels"]:
        del level["wall_s"]
    del document["wall_s"]
    return document


def test_a_two_process_dask_cluster_gives_what_one_process_gives(client: Client) -> None:
    assert len(client.scheduler_info()["workers"]) == 2
    problem = Problem.from_dict(federation([3, 8, 11], passes=25))
    for policy in Policy:
        here = solve(problem, policy, SAME)
        with get_task_stream(client) as stream:
            there = solve(problem, policy, SAME, executor=client.get_executor())
        parts = there.settings["decomposition"]["parts"]
        assert parts > 1
        assert _comparable(there) == _comparable(here)
        ran = [t for t in stream.data if "solve_part" in str(t["key"])]
        assert len(ran) == parts  # each part a task of the cluster
        assert all(t["worker"] in client.scheduler_info()["workers"] for t in ran)


def test_the_cli_solves_on_a_running_dask_scheduler(client: Client, tmp_path: Path) -> None:
    path = tmp_path / "federation.json"
    path.write_text(json.dumps(federation([3, 8, 11], passes=60)))
    out = tmp_path / "schedule.json"
    address = client.scheduler.address
    with get_task_stream(client) as stream:
        result = CliRunner().invoke(
            app, ["schedule", "--problem", str(path), "--cluster", address, "-o", str(out)]
        )
    assert result.exit_code == 0, result.output
    document = json.loads(out.read_text())
    assert document["status"] == "optimal"
    parts = document["settings"]["decomposition"]["parts"]
    assert parts > 1
    assert len([t for t in stream.data if "solve_part" in str(t["key"])]) == parts
    problem = Problem.from_dict(json.loads(path.read_text()))
    here = solve(problem, Policy.FAIR, EXACT)
    assert document["total_seconds"] == pytest.approx(here.total_seconds, rel=1e-4)
    normalized = sorted(r["normalized"] for r in document["partners"].values())
    assert normalized == pytest.approx(_objective(problem, here, Policy.FAIR)[:-1], rel=1e-4)
    bad = CliRunner().invoke(app, ["schedule", "--problem", str(path), "--cluster", "nowhere"])
    assert bad.exit_code == 1
    assert "tcp://HOST:PORT" in bad.output
