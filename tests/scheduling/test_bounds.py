"""Check the solver-free bounds: exact packings, and bounds never below the optimum."""

from __future__ import annotations

from itertools import combinations, pairwise

import numpy as np
import pytest
from tests.scheduling.instances import random_problem

from jointsat.scheduling.bounds import CheapBounds, _onto_simplex, best_packing, smallest_bound
from jointsat.scheduling.network import Network
from jointsat.scheduling.result import Policy
from jointsat.scheduling.solver import SolverSettings, solve

EXACT = SolverSettings(time_limit_s=20, workers=2, relative_gap=0.0)


@pytest.mark.parametrize("seed", range(10))
def test_best_packing_is_the_heaviest_feasible_set(seed: int) -> None:
    network = Network.of(random_problem(seed, passes=14, stations=1, satellites=3))
    passes = np.flatnonzero(network.eligible)
    weights = np.random.default_rng(seed).uniform(1, 100, len(network))
    value, chosen = best_packing(network, passes, weights)
    brute = 0.0
    turnaround = network.turnaround_s(0)
    for size in range(len(passes) + 1):
        for subset in combinations(passes, size):
            spans = sorted((network.start_s[i], network.end_s[i]) for i in subset)
            if all(b[0] - a[1] >= turnaround for a, b in pairwise(spans)):
                brute = max(brute, float(weights[list(subset)].sum()))
    assert value == pytest.approx(brute)
    assert float(weights[chosen].sum()) == pytest.approx(value)


@pytest.mark.parametrize("seed", range(12))
def test_bounds_are_never_below_the_exact_optimum(seed: int) -> None:
    problem = random_problem(500 + seed, passes=22)
    network = Network.of(problem)
    exact = solve(problem, Policy.FAIR, EXACT)
    assert exact.status.value == "optimal"
    smallest = min(r.normalized for r in exact.partners.values())
    cheap = CheapBounds.of(network, network.eligible)
    assert cheap.total >= exact.total_seconds - 1e-6
    assert min(cheap.normalized) >= smallest - 1e-6
    bound = smallest_bound(network, network.eligible, reached=0.0)
    assert bound >= smallest - 1e-6
    assert bound <= float(np.sum(network.duration_s) / network.shares.min())


def test_projection_onto_the_simplex() -> None:
    rng = np.random.default_rng(1)
    for _ in range(50):
        v = rng.normal(size=5)
        x = _onto_simplex(v)
        assert x.min() >= 0
        assert x.sum() == pytest.approx(1.0)
        np.testing.assert_allclose(_onto_simplex(x), x, atol=1e-12)
