"""Check that every schedule is feasible, for every policy, re-plans and the greedy."""

from __future__ import annotations

from datetime import timedelta
from itertools import combinations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.scheduling.instances import T0, random_problem

from jointsat.scheduling.greedy import greedy
from jointsat.scheduling.network import Network
from jointsat.scheduling.result import Policy
from jointsat.scheduling.solver import SolverSettings, replan, solve

FAST = SolverSettings(time_limit_s=5, workers=1)
seeds = st.integers(0, 10_000)
sizes = st.integers(2, 30)


def _indices(network: Network, pass_ids: list[str]) -> list[int]:
    index = {p.id: i for i, p in enumerate(network.problem.passes)}
    return [index[p] for p in pass_ids]


def _pairwise_conflicts(network: Network, chosen: list[int]) -> list[tuple[int, int]]:
    """Check the rules the slow way: every pair, straight from the problem's definition."""
    problem = network.problem
    bad = []
    for i, j in combinations(chosen, 2):
        a, b = problem.passes[i], problem.passes[j]
        if a.start > b.start:
            a, b = b, a
        turnaround = next(g.turnaround_s for g in problem.stations if g.id == a.station)
        same_station = a.station == b.station
        single = problem.options.satellite_single_link and a.satellite == b.satellite
        if (same_station and (b.start - a.end).total_seconds() < turnaround) or (
            single and b.start < a.end
        ):
            bad.append((i, j))
    return bad


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=seeds, passes=sizes, policy=st.sampled_from(list(Policy)))
def test_every_schedule_is_feasible(seed: int, passes: int, policy: Policy) -> None:
    problem = random_problem(seed, passes=passes)
    network = Network.of(problem)
    schedule = solve(problem, policy, FAST)
    chosen = _indices(network, [c.pass_id for c in schedule.contacts])
    assert network.violations(chosen) == []
    assert _pairwise_conflicts(network, chosen) == []
    assert all(network.eligible[i] for i in chosen)
    # What the schedule reports is what its contacts give.
    useful, received = network.received_s(chosen)
    assert schedule.total_seconds == float(useful.sum())
    for k, p in enumerate(problem.partners):
        assert schedule.partners[p.id].seconds == received[k]
    assert all(lv.bound >= lv.value - 1e-6 for lv in schedule.levels if lv.maximize)


@settings(max_examples=40, deadline=None)
@given(seed=seeds, passes=sizes, policy=st.sampled_from(list(Policy)))
def test_the_greedy_is_feasible_and_maximal(seed: int, passes: int, policy: Policy) -> None:
    network = Network.of(random_problem(seed, passes=passes))
    chosen = greedy(network, policy)
    assert network.violations(chosen) == []
    # Maximal: no left-out eligible pass fits and still adds useful time.
    useful, _ = network.received_s(chosen)
    for i in np.flatnonzero(network.eligible):
        if i in chosen or useful[network.satellite[i]] >= network.demand_s[network.satellite[i]]:
            continue
        assert network.violations([*chosen, int(i)]) != []


@settings(max_examples=30, deadline=None)
@given(
    seed=seeds,
    passes=sizes,
    policy=st.sampled_from(list(Policy)),
    now_h=st.floats(0, 5),
    outage_h=st.floats(0, 5),
    outage_len_h=st.floats(0.1, 3),
)
def test_replans_are_feasible_and_keep_the_past(
    seed: int, passes: int, policy: Policy, now_h: float, outage_h: float, outage_len_h: float
) -> None:
    problem = random_problem(seed, passes=passes)
    first = solve(problem, policy, FAST)
    now = T0 + timedelta(hours=now_h)
    station = problem.stations[seed % len(problem.stations)].id
    start = T0 + timedelta(hours=outage_h)
    end = start + timedelta(hours=outage_len_h)
    again = replan(
        problem,
        [c.pass_id for c in first.contacts],
        now=now,
        outage=(station, start, end),
        policy=policy,
        settings=FAST,
    )
    network = Network.of(problem)
    before = {c.pass_id for c in first.contacts}
    after = {c.pass_id for c in again.contacts}
    started = {p.id for p in problem.passes if p.start < now}
    assert before & started == after & started  # the past is kept, and nothing new in it
    kept = _indices(network, sorted(before & started))
    chosen = _indices(network, sorted(after))
    assert network.violations(chosen, kept=kept) == []
    for c in again.contacts:
        if c.pass_id not in started and c.station == station:
            assert not (start < c.end and c.start < end), "a new contact during the outage"


def test_a_replan_without_news_changes_nothing() -> None:
    for seed in range(5):
        problem = random_problem(seed, passes=20)
        first = solve(problem, Policy.FAIR, FAST)
        again = replan(
            problem, [c.pass_id for c in first.contacts], now=T0, policy=Policy.FAIR, settings=FAST
        )
        assert {c.pass_id for c in again.contacts} == {c.pass_id for c in first.contacts}
        assert again.levels[-1].name == "contacts changed"
        assert again.levels[-1].value == 0


def test_the_cliques_state_exactly_the_pairwise_conflicts() -> None:
    for seed in range(30):
        network = Network.of(random_problem(seed, passes=25))
        eligible = [int(i) for i in np.flatnonzero(network.eligible)]
        from_cliques = {
            (min(a, b), max(a, b)) for c in network.cliques() for a, b in combinations(c, 2)
        }
        pairwise = {
            (a, b) for a, b in combinations(eligible, 2) if _pairwise_conflicts(network, [a, b])
        }
        assert from_cliques == pairwise
