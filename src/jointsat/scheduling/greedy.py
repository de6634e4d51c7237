"""Build a feasible schedule fast, without proof: the fallback and the solver's first hint.

Fair greedy: the partner with the least normalized time so far (received / share)
books its longest pass that still fits and is still useful to it; a partner with
nothing left to book drops out. ``priority`` runs it class by class; ``max-total``
books the longest useful passes first. Every booking keeps the schedule feasible,
so stopping at any point leaves a valid schedule.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from jointsat.scheduling.network import Network
from jointsat.scheduling.result import Policy, fair_groups


class _Bookings:
    """Booked intervals of one resource, kept sorted and pairwise clear of each other."""

    def __init__(self, gap_s: float) -> None:
        self.gap_s = gap_s
        self.starts: list[float] = []
        self.ends: list[float] = []

    def fits(self, start: float, end: float) -> bool:
        k = bisect_left(self.starts, start)
        if k > 0 and self.ends[k - 1] + self.gap_s > start:
            return False
        return not (k < len(self.starts) and self.starts[k] < end + self.gap_s)

    def add(self, start: float, end: float) -> None:
        k = bisect_left(self.starts, start)
        self.starts.insert(k, start)
        self.ends.insert(k, end)


class _State:
    """A growing feasible schedule: bookings per station and satellite, useful seconds."""

    def __init__(self, network: Network, kept: Iterable[int]) -> None:
        self.network = network
        problem = network.problem
        self.stations = [_Bookings(g.turnaround_s) for g in problem.stations]
        single = problem.options.satellite_single_link
        self.satellites = [_Bookings(0.0) if single else None for _ in problem.satellites]
        self.got_s = np.zeros(len(problem.satellites), dtype=np.int64)
        self.chosen: list[int] = []
        for i in kept:
            self.book(i)

    def useful_s(self, i: int) -> int:
        s = int(self.network.satellite[i])
        return int(min(self.network.duration_s[i], self.network.demand_s[s] - self.got_s[s]))

    def fits(self, i: int) -> bool:
        n = self.network
        start, end = float(n.start_s[i]), float(n.end_s[i])
        booked = self.satellites[int(n.satellite[i])]
        return self.stations[int(n.station[i])].fits(start, end) and (
            booked is None or booked.fits(start, end)
        )

    def book(self, i: int) -> None:
        n = self.network
        start, end = float(n.start_s[i]), float(n.end_s[i])
        self.stations[int(n.station[i])].add(start, end)
        booked = self.satellites[int(n.satellite[i])]
        if booked is not None:
            booked.add(start, end)
        self.got_s[int(n.satellite[i])] += int(n.duration_s[i])
        self.chosen.append(i)


def greedy(
    network: Network,
    policy: Policy = Policy.FAIR,
    *,
    kept: Iterable[int] = (),
    allowed: np.ndarray | None = None,
) -> list[int]:
    """Return the pass indices of a feasible schedule built greedily for the policy.

    ``kept`` passes are booked first whatever they are; only eligible passes that
    ``allowed`` (a boolean mask, default all) permits are added to them.
    """
    state = _State(network, kept)
    free = network.eligible.copy()
    if allowed is not None:
        free &= allowed
    free[state.chosen] = False
    candidates = _longest_first(network, free)
    for group in fair_groups(network.problem.partners, policy):
        _fair(state, candidates, group)
    _fill(state, candidates)  # whatever is still useful to anyone
    return state.chosen


def fill(network: Network, chosen: Sequence[int], *, allowed: np.ndarray) -> list[int]:
    """Return the schedule with every allowed pass that still fits and is useful booked.

    Longest passes first. Adding a useful contact never lowers what a partner receives.
    """
    state = _State(network, chosen)
    _fill(state, _longest_first(network, allowed & network.eligible))
    return state.chosen


def _longest_first(network: Network, mask: np.ndarray) -> np.ndarray:
    candidates = np.flatnonzero(mask)
    return candidates[np.argsort(-network.duration_s[candidates], kind="stable")]


def rounded(network: Network, values: Mapping[int, float], *, whole: float = 1e-6) -> list[int]:
    """Return a feasible schedule near a relaxed one: its whole passes, then the rest.

    Passes at 1 (within ``whole``) are booked as they are (they are feasible together);
    then the fractional ones by decreasing value, where they fit and are still useful.
    """
    state = _State(network, [i for i, v in values.items() if v >= 1.0 - whole])
    for i in sorted(
        (i for i, v in values.items() if whole < v < 1.0 - whole),
        key=lambda i: (-values[i], -int(network.duration_s[i]), i),
    ):
        if state.useful_s(i) > 0 and state.fits(i):
            state.book(i)
    return state.chosen


def _fill(state: _State, candidates: np.ndarray) -> None:
    for i in candidates:
        if state.useful_s(int(i)) > 0 and state.fits(int(i)):
            state.book(int(i))


def _fair(state: _State, candidates: np.ndarray, group: list[int]) -> None:
    """Let the poorest partner of the group (by normalized time) book, until none can."""
    n = state.network
    operated = n.operators[n.satellite[candidates]] > 0  # candidates x partners
    queues = {k: list(candidates[operated[:, k]]) for k in group}
    position = dict.fromkeys(group, 0)
    received = (np.minimum(state.got_s, n.demand_s) @ n.operators) / n.shares
    heap = [(float(received[k]), k) for k in group]
    heapq.heapify(heap)
    while heap:
        key, k = heapq.heappop(heap)
        if key < received[k]:  # a joint satellite's booking raised it meanwhile
            heapq.heappush(heap, (float(received[k]), k))
            continue
        queue = queues[k]
        while position[k] < len(queue):
            i = int(queue[position[k]])
            position[k] += 1
            if state.useful_s(i) > 0 and state.fits(i):
                state.book(i)
                received = (np.minimum(state.got_s, n.demand_s) @ n.operators) / n.shares
                heapq.heappush(heap, (float(received[k]), k))
                break
