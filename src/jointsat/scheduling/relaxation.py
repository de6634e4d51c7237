"""Solve the linear relaxation of the scheduling model (OR-Tools' GLOP), level by level.

The relaxation gives each level a proven upper bound, and its solution shows where the
integer search is needed: on a week of 12,000 passes only a few dozen passes are
fractional, all in a few satellites' passes. ``solver.py`` fixes the other satellites'
passes to the relaxation's values and lets CP-SAT finish the rest (a relaxation-induced
neighbourhood); when that schedule is within the level's tolerance of the relaxation's
bound, the level is proven without searching the whole model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from ortools.linear_solver import pywraplp

from jointsat.scheduling.network import Network

FRACTIONAL = 1e-6  # a relaxed pass value further than this from 0 and 1 is fractional


@dataclass(frozen=True)
class RelaxedLevel:
    """The relaxation's optimum for one level, and the satellites whose passes it splits."""

    bound: float  # in the model's integer units
    values: dict[int, float]  # pass index -> relaxed value
    split_satellites: frozenset[int]


class Relaxation:
    """The linear relaxation of the CP-SAT model in solver.py, with the same units.

    ``coefficients[s, p]`` are the integer weights of satellite s's useful seconds in
    partner p's normalized time (``jointsat.fairness.integer_weights``).
    """

    def __init__(
        self,
        network: Network,
        candidates: Sequence[int],
        kept: Sequence[int],
        coefficients: np.ndarray,
    ) -> None:
        solver = pywraplp.Solver.CreateSolver("GLOP")
        if solver is None:  # pragma: no cover - GLOP ships with every OR-Tools wheel
            raise RuntimeError("OR-Tools' GLOP is missing")
        self.solver = solver
        self.network = network
        inf = solver.infinity()
        self.x = {i: solver.NumVar(1.0 if i in set(kept) else 0.0, 1.0, "") for i in candidates}
        for clique in network.cliques(candidates):
            solver.Add(sum(self.x[i] for i in clique) <= 1)
        by_satellite: dict[int, list[int]] = {}
        for i in candidates:
            by_satellite.setdefault(int(network.satellite[i]), []).append(i)
        self.useful: list[pywraplp.LinearExpr] = []
        for s in range(len(network.problem.satellites)):
            mine = by_satellite.get(s, [])
            seconds = solver.Sum([float(network.duration_s[i]) * self.x[i] for i in mine])
            y = solver.NumVar(0.0, float(network.demand_s[s]), "")
            solver.Add(y <= seconds)
            self.useful.append(y)
        self.normalized = [
            solver.Sum(
                [float(coefficients[s, p]) * self.useful[s] for s in range(len(self.useful))]
            )
            for p in range(coefficients.shape[1])
        ]
        self.infinity = inf

    def smallest_sum(self, group: Sequence[int], k: int) -> pywraplp.LinearExpr:
        """Return an expression whose maximum is the sum of the k smallest normalized times."""
        if k == len(group):
            return self.solver.Sum([self.normalized[p] for p in group])
        t = self.solver.NumVar(0.0, self.infinity, "")
        excess = []
        for p in group:
            d = self.solver.NumVar(0.0, self.infinity, "")
            self.solver.Add(d >= t - self.normalized[p])
            excess.append(d)
        return k * t - self.solver.Sum(excess)

    def total(self) -> pywraplp.LinearExpr:
        """Return the total useful seconds."""
        return self.solver.Sum(self.useful)

    def maximize(self, objective: pywraplp.LinearExpr) -> tuple[RelaxedLevel | None, float]:
        """Return the relaxation's optimum of the objective (None if GLOP fails), and its time."""
        self.solver.Maximize(objective)
        before_ms = self.solver.wall_time()
        status = self.solver.Solve()
        wall_s = (self.solver.wall_time() - before_ms) / 1000.0
        if status != pywraplp.Solver.OPTIMAL:
            return None, wall_s
        values = {i: var.solution_value() for i, var in self.x.items()}
        split = frozenset(
            int(self.network.satellite[i])
            for i, v in values.items()
            if FRACTIONAL < v < 1.0 - FRACTIONAL
        )
        return RelaxedLevel(self.solver.Objective().Value(), values, split), wall_s

    def keep_at_least(self, objective: pywraplp.LinearExpr, value: float) -> None:
        """Constrain the objective to the value a level reached."""
        self.solver.Add(objective >= value)
