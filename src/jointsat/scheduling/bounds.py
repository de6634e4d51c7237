"""Bound what a schedule can give without a MIP solver, for problems too large for one.

* Each partner alone with the whole network, and the network's capacity: a weighted
  interval scheduling per satellite (single link) and per station (turnaround).
* The smallest normalized time (the first fair level), by Lagrangian relaxation: for
  any weights lambda on the partners (summing to 1), min_p N_p <= sum_p lambda_p N_p,
  whose maximum over schedules is at most that of the stations' conflicts alone, or of
  the satellites' alone, each a weighted interval scheduling solved exactly. The
  weights are improved by projected subgradient steps (Polyak's step size).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from jointsat.scheduling.network import Network

SUBGRADIENT_STEPS = 20


@dataclass(frozen=True)
class CheapBounds:
    """Bounds that need no solver: each partner alone, the network's capacity, the minimum."""

    normalized: np.ndarray  # per partner, normalized seconds
    total: float
    smallest: float = float("inf")  # on the smallest normalized time (Lagrangian)

    @classmethod
    def of(cls, network: Network, usable: np.ndarray) -> CheapBounds:
        """Return the bounds over the usable passes (a boolean mask)."""
        seconds = network.duration_s.astype(float)
        per_satellite = np.array(
            [
                min(_satellite_seconds(network, usable, s, seconds), float(network.demand_s[s]))
                for s in range(len(network.problem.satellites))
            ]
        )
        per_station = sum(
            best_packing(network, np.flatnonzero(usable & (network.station == g)), seconds)[0]
            for g in range(len(network.problem.stations))
        )
        normalized = (per_satellite @ network.operators) / network.shares
        return cls(normalized=normalized, total=min(float(per_satellite.sum()), per_station))

    def with_smallest(self, network: Network, usable: np.ndarray, reached: float) -> CheapBounds:
        """Return the bounds with the Lagrangian bound on the smallest normalized time.

        ``reached`` is the best smallest normalized time known (Polyak's target).
        """
        bound = smallest_bound(network, usable, reached)
        return CheapBounds(self.normalized, self.total, min(bound, float(self.normalized.min())))


def _satellite_seconds(network: Network, usable: np.ndarray, s: int, seconds: np.ndarray) -> float:
    mine = np.flatnonzero(usable & (network.satellite == s))
    if network.problem.options.satellite_single_link:
        return best_packing(network, mine, seconds, by_station=False)[0]
    return float(seconds[mine].sum())


def best_packing(
    network: Network, passes: np.ndarray, weights: np.ndarray, *, by_station: bool = True
) -> tuple[float, list[int]]:
    """Return the heaviest set of passes that fit one station (or one satellite), and the set.

    Weighted interval scheduling: passes on a station are apart by at least its
    turnaround; a satellite's (``by_station=False``) do not overlap.
    """
    if passes.size == 0:
        return 0.0, []
    gap = network.turnaround_s(int(network.station[passes[0]])) if by_station else 0.0
    order = passes[np.argsort(network.end_s[passes] + gap, kind="stable")]
    ends = network.end_s[order] + gap
    before = np.searchsorted(ends, network.start_s[order], side="right").tolist()
    value = weights[order].tolist()
    best = [0.0] * (len(order) + 1)
    took = [False] * len(order)
    for k in range(len(order)):
        with_it = best[before[k]] + value[k]
        took[k] = with_it > best[k]
        best[k + 1] = with_it if took[k] else best[k]
    chosen: list[int] = []
    k = len(order)
    while k > 0:
        if took[k - 1]:
            chosen.append(int(order[k - 1]))
            k = before[k - 1]
        else:
            k -= 1
    return best[-1], chosen


def smallest_bound(network: Network, usable: np.ndarray, reached: float) -> float:
    """Return an upper bound on the smallest normalized time any schedule gives.

    Demands are left out (uncapped, every partner receives at least as much), so the
    bound stays valid with them.
    """
    passes = np.flatnonzero(usable)
    if passes.size == 0:
        return 0.0
    # a[i, p]: what pass i adds to partner p's normalized time.
    contribution = (network.operators[network.satellite] / network.shares) * network.duration_s[
        :, None
    ]
    groups = [passes[network.station[passes] == g] for g in range(len(network.problem.stations))]
    if network.problem.options.satellite_single_link:
        by_satellite = [
            passes[network.satellite[passes] == s] for s in range(len(network.problem.satellites))
        ]
    else:
        by_satellite = []
    partners = network.shares.size
    weights = np.full(partners, 1.0 / partners)
    best = float("inf")
    for _ in range(SUBGRADIENT_STEPS):
        w = contribution @ weights
        station_value, station_chosen = _relaxed(network, groups, w, by_station=True)
        value, chosen = station_value, station_chosen
        if by_satellite:
            satellite_value, satellite_chosen = _relaxed(network, by_satellite, w, by_station=False)
            if satellite_value < value:
                value, chosen = satellite_value, satellite_chosen
        best = min(best, value)
        gradient = contribution[chosen].sum(axis=0)
        norm = float(gradient @ gradient)
        if norm == 0.0 or best <= reached:
            break
        weights = _onto_simplex(weights - (value - reached) / norm * gradient)
    return best


def _relaxed(
    network: Network, groups: list[np.ndarray], weights: np.ndarray, *, by_station: bool
) -> tuple[float, list[int]]:
    total, chosen = 0.0, []
    for group in groups:
        value, mine = best_packing(network, group, weights, by_station=by_station)
        total += value
        chosen += mine
    return total, chosen


def _onto_simplex(v: np.ndarray) -> np.ndarray:
    """Return the nearest point of {x >= 0, sum x = 1} (sort-based projection)."""
    u = np.sort(v)[::-1]
    cumulative = np.cumsum(u) - 1.0
    rho = np.flatnonzero(u - cumulative / np.arange(1, v.size + 1) > 0)[-1]
    projected: np.ndarray = np.maximum(v - cumulative[rho] / (rho + 1), 0.0)
    return projected
