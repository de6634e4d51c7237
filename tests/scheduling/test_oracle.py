"""Check CP-SAT's schedules against an independent MILP of the same problem (HiGHS).

The oracle shares nothing with jointsat.scheduling but the Problem dataclasses: it
finds eligible passes and pairwise conflicts itself, and computes the weighted
leximin with Bouveret and Lemaitre's "at least n-k+1 values reach y_k" formulation
(binaries and big-M), a different method from the solver's sums of k smallest.
"""

from __future__ import annotations

from itertools import combinations

import highspy
import numpy as np
import pytest
from tests.scheduling.instances import random_problem

from jointsat.fairness import integer_weights
from jointsat.scheduling.problem import Problem
from jointsat.scheduling.result import Policy
from jointsat.scheduling.solver import SolverSettings, solve

LEVEL_TOLERANCE_S = 1e-3  # normalized seconds; CP-SAT rounds f/w to 1e-6 relative
MILP_SLACK = 1e-5  # how far below a fixed level HiGHS may land (feasibility tolerance)
EXACT = SolverSettings(time_limit_s=20, workers=2, relative_gap=0.0)


def _eligible(problem: Problem) -> list[int]:
    keep = []
    stations = {g.id: g for g in problem.stations}
    for i, p in enumerate(problem.passes):
        if p.start < problem.horizon.start or p.end > problem.horizon.end:
            continue
        if (p.end - p.start).total_seconds() < problem.options.min_contact_s:
            continue
        if any(w.start < p.end and p.start < w.end for w in stations[p.station].unavailable):
            continue
        keep.append(i)
    return keep


def _conflict(problem: Problem, i: int, j: int) -> bool:
    a, b = problem.passes[i], problem.passes[j]
    if a.start > b.start:
        a, b = b, a
    if a.station == b.station:
        turnaround = next(g.turnaround_s for g in problem.stations if g.id == a.station)
        if (b.start - a.end).total_seconds() < turnaround:
            return True
    return problem.options.satellite_single_link and a.satellite == b.satellite and b.start < a.end


class Oracle:
    """The problem as a HiGHS MILP, solved level by level."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        h = highspy.Highs()
        h.silent()
        h.setOptionValue("mip_rel_gap", 0.0)
        h.setOptionValue("mip_abs_gap", 0.0)
        self.h = h
        passes = _eligible(problem)
        self.x = {i: h.addBinary() for i in passes}
        for i, j in combinations(passes, 2):
            if _conflict(problem, i, j):
                h.addConstr(self.x[i] + self.x[j] <= 1)
        self.useful = {}
        for s in problem.satellites:
            mine = [i for i in passes if problem.passes[i].satellite == s.id]
            seconds = {i: round(problem.passes[i].duration_s) for i in mine}
            cap = sum(seconds.values()) if s.demand_s is None else int(s.demand_s)
            y = h.addIntegral(lb=0, ub=cap)
            h.addConstr(y - sum(seconds[i] * self.x[i] for i in mine) <= 0)
            self.useful[s.id] = y
        self.normalized = {
            p.id: sum(
                (s.operators.get(p.id, 0.0) / p.share) * self.useful[s.id]
                for s in problem.satellites
                if p.id in s.operators
            )
            for p in problem.partners
        }
        self.big_m = 1.0 + sum(
            (1.0 / min(p.share for p in problem.partners))
            * (
                sum(round(q.duration_s) for q in problem.passes)
                if s.demand_s is None
                else s.demand_s
            )
            for s in problem.satellites
        )

    def leximin(self, partners: list[str]) -> list[float]:
        """Return the sorted normalized times, maximised level by level."""
        levels: list[float] = []
        n = len(partners)
        for k in range(1, n + 1):
            y = self.h.addVariable(lb=0, ub=self.big_m)
            reach = {p: self.h.addBinary() for p in partners}
            for p in partners:
                expr = self.normalized[p]
                if isinstance(expr, int | float):  # a partner operating nothing
                    self.h.addConstr(y - self.big_m * (1 - reach[p]) <= expr)
                else:
                    self.h.addConstr(expr - y + self.big_m * (1 - reach[p]) >= 0)
            self.h.addConstr(sum(reach.values()) >= n - k + 1)
            self.h.maximize(y)
            assert self.h.getModelStatus() == highspy.HighsModelStatus.kOptimal
            best = self.h.getInfo().objective_function_value
            levels.append(best)
            self.h.changeColBounds(y.index, best - MILP_SLACK, self.big_m)
        return levels

    def total(self) -> float:
        self.h.maximize(sum(self.useful.values()))
        assert self.h.getModelStatus() == highspy.HighsModelStatus.kOptimal
        return float(self.h.getInfo().objective_function_value)


def _vector(problem: Problem, schedule_partners: dict[str, float], ids: list[str]) -> list[float]:
    return sorted(schedule_partners[p] for p in ids)


SEEDS = range(24)


@pytest.mark.parametrize("seed", SEEDS)
def test_fair_schedules_equal_the_milp_leximin_and_total(seed: int) -> None:
    problem = random_problem(seed, passes=18 + seed % 8)
    schedule = solve(problem, Policy.FAIR, EXACT)
    assert schedule.status.value == "optimal"
    oracle = Oracle(problem)
    ids = [p.id for p in problem.partners]
    want = oracle.leximin(ids)
    got = _vector(problem, {p: r.normalized for p, r in schedule.partners.items()}, ids)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=LEVEL_TOLERANCE_S)
    assert schedule.total_seconds == pytest.approx(oracle.total(), abs=0.5)


@pytest.mark.parametrize("seed", SEEDS[:12])
def test_priority_schedules_equal_the_milp_class_by_class(seed: int) -> None:
    problem = random_problem(100 + seed, passes=20)
    schedule = solve(problem, Policy.PRIORITY, EXACT)
    assert schedule.status.value == "optimal"
    oracle = Oracle(problem)
    for priority in sorted({p.priority for p in problem.partners}):
        ids = [p.id for p in problem.partners if p.priority == priority]
        want = oracle.leximin(ids)
        got = _vector(problem, {p: r.normalized for p, r in schedule.partners.items()}, ids)
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=LEVEL_TOLERANCE_S)
    assert schedule.total_seconds == pytest.approx(oracle.total(), abs=0.5)


@pytest.mark.parametrize("seed", SEEDS[:12])
def test_max_total_equals_the_milp(seed: int) -> None:
    problem = random_problem(200 + seed, passes=24)
    schedule = solve(problem, Policy.MAX_TOTAL, EXACT)
    assert schedule.status.value == "optimal"
    assert schedule.total_seconds == pytest.approx(Oracle(problem).total(), abs=0.5)


@pytest.mark.parametrize("seed", SEEDS[:12])
def test_levels_within_the_default_gap_are_within_it_of_the_exact_optimum(seed: int) -> None:
    problem = random_problem(400 + seed, passes=24)
    near = solve(problem, Policy.FAIR, SolverSettings(time_limit_s=20, workers=2))
    assert near.status.value == "optimal"
    gap = near.settings["relative_gap"]
    assert gap == 1e-4
    for level in near.levels:
        assert level.bound - level.value <= gap * abs(level.bound) + 1e-6
    exact = Oracle(problem).leximin([p.id for p in problem.partners])
    smallest = min(r.normalized for r in near.partners.values())
    assert smallest >= exact[0] * (1 - gap) - LEVEL_TOLERANCE_S
    assert smallest <= exact[0] + LEVEL_TOLERANCE_S


def test_fair_is_fairer_than_max_total_and_max_total_carries_more() -> None:
    """An invariant across policies: each is best at its own objective."""
    for seed in range(6):
        problem = random_problem(300 + seed, passes=24)
        fair = solve(problem, Policy.FAIR, EXACT)
        most = solve(problem, Policy.MAX_TOTAL, EXACT)
        assert most.total_seconds >= fair.total_seconds
        f = sorted(r.normalized for r in fair.partners.values())
        m = sorted(r.normalized for r in most.partners.values())
        assert [round(v, 3) for v in f] >= [round(v, 3) for v in m]


def test_integer_weights_are_exact_for_decimal_shares_and_close_otherwise() -> None:
    operators = np.array([[1.0, 0.0, 0.0], [0.6, 0.4, 0.0], [0.0, 0.35, 0.65]])
    shares = np.array([0.45, 0.3, 0.25])
    weights, scale = integer_weights(operators, shares)
    assert weights.dtype == np.int64
    assert np.all(weights == np.rint(weights))
    np.testing.assert_allclose(weights / scale, operators / shares, rtol=1e-14)  # exact
    odd = np.array([1 / 3 + 1e-7, 1 / 3 - 2e-7, 1 / 3 + 1e-7])
    weights, scale = integer_weights(operators, odd)
    np.testing.assert_allclose(weights / scale, operators / odd, rtol=1e-4)
    tiny = np.array([1 - 2e-9, 1e-9, 1e-9])  # shares no 4-decimal fraction can write
    weights, scale = integer_weights(operators, tiny)
    assert np.isclose(weights.max() / scale, (operators / tiny).max(), rtol=1e-4)
