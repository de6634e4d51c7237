"""Index a problem for the solvers: eligible passes, conflicts, what partners receive.

Contacts are whole passes. Two contacts on one station conflict when the later
starts less than the station's turnaround after the earlier ends; with single
link, two contacts of one satellite conflict when they overlap. Both relations
are interval graphs, so every conflict lies in one of the maximal cliques found
by a sweep, and "at most one contact per clique" states them exactly.
Durations are counted in whole seconds (rounded), as the received times are.

With the data-volume measure (``options.measure``) a pass is worth its
``volume_bytes`` instead, counted in whole kilobytes (``VOLUME_UNIT_BYTES``, rounded):
``duration_s`` then holds those values, and every solver shares them out as it
would seconds. ``contact_s`` always holds the passes' whole seconds.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import numpy.typing as npt

from jointsat.scheduling.problem import Problem, ShareMeasure

VOLUME_UNIT_BYTES = 1000.0
"""The data-volume measure's whole unit: a kilobyte (a pass of 1 Mbit/s for 10 minutes is
75,000 of them: CP-SAT's integers stay small, rounding costs 5e-4 bytes in a byte)."""

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


class Ineligible(enum.StrEnum):
    """Say why a pass cannot become a contact."""

    SHORT = "shorter than options.min_contact_s"
    UNAVAILABLE = "overlaps an unavailable window of its station"
    OUTSIDE = "not inside the horizon"


@dataclass(frozen=True)
class Network:
    """A problem as arrays: pass i belongs to ``satellite[i]`` and ``station[i]``.

    ``start_s`` and ``end_s`` are seconds after the horizon's start;
    ``duration_s`` whole seconds; ``operators[s, p]`` the fraction of satellite s
    operated by partner p; ``demand_s[s]`` whole seconds (the sum of the
    satellite's passes when it has no demand of its own).
    """

    problem: Problem
    satellite: IntArray
    station: IntArray
    start_s: FloatArray
    end_s: FloatArray
    duration_s: IntArray
    eligible: npt.NDArray[np.bool_]
    why_not: tuple[Ineligible | None, ...]
    operators: FloatArray
    shares: FloatArray
    demand_s: IntArray
    contact_s: IntArray | None = None  # whole seconds of each pass (None: ``duration_s``)
    unit: float = 1.0  # what one of ``duration_s``'s units is worth: 1 s, or a kilobyte

    @property
    def measure(self) -> ShareMeasure:
        """Return what the passes' values measure (the problem's option)."""
        return self.problem.options.measure

    @property
    def seconds(self) -> IntArray:
        """Return each pass's whole seconds, whatever the measure."""
        return self.duration_s if self.contact_s is None else self.contact_s

    @classmethod
    def of(cls, problem: Problem) -> Network:
        """Index a problem's passes, satellites, stations and partners."""
        t0 = problem.horizon.start
        partner_index = {p.id: k for k, p in enumerate(problem.partners)}
        satellite_index = {s.id: k for k, s in enumerate(problem.satellites)}
        station_index = {g.id: k for k, g in enumerate(problem.stations)}
        passes = problem.passes
        start = np.array([(p.start - t0).total_seconds() for p in passes], dtype=float)
        end = np.array([(p.end - t0).total_seconds() for p in passes], dtype=float)
        satellite = np.array([satellite_index[p.satellite] for p in passes], dtype=np.int64)
        station = np.array([station_index[p.station] for p in passes], dtype=np.int64)
        duration = np.rint(end - start).astype(np.int64)
        seconds, unit = duration, 1.0
        if problem.options.measure is ShareMeasure.DATA_VOLUME:
            volume = np.array([p.volume_bytes or 0.0 for p in passes], dtype=float)
            duration, unit = np.rint(volume / VOLUME_UNIT_BYTES).astype(np.int64), VOLUME_UNIT_BYTES
        horizon_s = (problem.horizon.end - t0).total_seconds()
        outages = [
            [((w.start - t0).total_seconds(), (w.end - t0).total_seconds()) for w in g.unavailable]
            for g in problem.stations
        ]
        why_not: list[Ineligible | None] = []
        for i in range(len(passes)):
            if start[i] < 0 or end[i] > horizon_s:
                why_not.append(Ineligible.OUTSIDE)
            elif end[i] - start[i] < problem.options.min_contact_s:
                why_not.append(Ineligible.SHORT)
            elif any(a < end[i] and start[i] < b for a, b in outages[station[i]]):
                why_not.append(Ineligible.UNAVAILABLE)
            else:
                why_not.append(None)
        operators = np.zeros((len(problem.satellites), len(problem.partners)))
        for s, sat in enumerate(problem.satellites):
            for partner, fraction in sat.operators.items():
                operators[s, partner_index[partner]] = fraction
        usable = np.bincount(satellite, weights=duration, minlength=len(problem.satellites)).astype(
            np.int64
        )
        demand = np.array(
            [
                usable[s] if sat.demand_s is None else math.floor(sat.demand_s)
                for s, sat in enumerate(problem.satellites)
            ],
            dtype=np.int64,
        )
        return cls(
            problem=problem,
            satellite=satellite,
            station=station,
            start_s=start,
            end_s=end,
            duration_s=duration,
            eligible=np.array([w is None for w in why_not], dtype=bool),
            why_not=tuple(why_not),
            operators=operators,
            shares=np.array([p.share for p in problem.partners]),
            demand_s=demand,
            contact_s=None if unit == 1.0 else seconds,
            unit=unit,
        )

    def __len__(self) -> int:
        return int(self.start_s.size)

    def turnaround_s(self, station: int) -> float:
        """Return a station's turnaround in seconds."""
        return self.problem.stations[station].turnaround_s

    def cliques(self, candidates: Iterable[int] | None = None) -> list[list[int]]:
        """Return the maximal sets of mutually conflicting passes among the candidates.

        Candidates default to the eligible passes. Sets of one pass are left out.
        """
        chosen = (
            np.flatnonzero(self.eligible)
            if candidates is None
            else np.array(list(candidates), dtype=np.int64)
        )
        found: list[list[int]] = []
        for g in range(len(self.problem.stations)):
            mine = chosen[self.station[chosen] == g]
            found += _interval_cliques(
                mine, self.start_s[mine], self.end_s[mine] + self.turnaround_s(g)
            )
        if self.problem.options.satellite_single_link:
            for s in range(len(self.problem.satellites)):
                mine = chosen[self.satellite[chosen] == s]
                found += _interval_cliques(mine, self.start_s[mine], self.end_s[mine])
        return found

    def dominated(self, candidates: Iterable[int]) -> set[int]:
        """Return candidates that some other candidate can always replace at no loss.

        Pass p is dominated by q when both are of one satellite, conflict with each
        other, q is at least as long and everything q conflicts with (but p) also
        conflicts with p: swapping p for q in any schedule keeps it feasible and gives
        every partner at least as much. Ties keep the first pass by index.
        """
        chosen = sorted(set(candidates))
        neighbours: dict[int, set[int]] = {i: set() for i in chosen}
        for clique in self.cliques(chosen):
            for i in clique:
                neighbours[i].update(clique)
        for i in chosen:
            neighbours[i].discard(i)
        out: set[int] = set()
        for p in chosen:
            for q in neighbours[p]:
                if (
                    q in out
                    or self.satellite[q] != self.satellite[p]
                    or self.duration_s[q] < self.duration_s[p]
                ):
                    continue
                rest_q, rest_p = neighbours[q] - {p}, neighbours[p] - {q}
                if not rest_q <= rest_p:
                    continue
                if self.duration_s[q] == self.duration_s[p] and rest_q == rest_p and q > p:
                    continue  # twins: the first by index stays
                out.add(p)
                break
        return out

    def received_s(self, contacts: Sequence[int]) -> tuple[IntArray, FloatArray]:
        """Return each satellite's useful seconds and each partner's received seconds."""
        chosen = np.asarray(contacts, dtype=np.int64)
        got = np.bincount(
            self.satellite[chosen],
            weights=self.duration_s[chosen],
            minlength=len(self.problem.satellites),
        ).astype(np.int64)
        useful = np.minimum(got, self.demand_s)
        return useful, useful @ self.operators

    def violations(self, contacts: Sequence[int], *, kept: Iterable[int] = ()) -> list[str]:
        """Return every rule a set of contacts breaks (none for a feasible schedule).

        ``kept`` contacts (those a re-plan keeps from before ``now``) may be
        ineligible; they must still respect the conflict rules.
        """
        problems: list[str] = []
        passes = self.problem.passes
        kept_set = set(kept)
        if len(set(contacts)) != len(contacts):
            problems.append("a pass is used twice")
        for i in contacts:
            if not (0 <= i < len(self)):
                problems.append(f"unknown pass index {i}")
            elif not self.eligible[i] and i not in kept_set:
                problems.append(f"pass {passes[i].id}: {self.why_not[i]}")
        valid = sorted({i for i in contacts if 0 <= i < len(self)})
        for g in range(len(self.problem.stations)):
            mine = sorted((i for i in valid if self.station[i] == g), key=lambda i: self.start_s[i])
            for a, b in pairwise(mine):
                gap = self.start_s[b] - self.end_s[a]
                if gap < self.turnaround_s(g):
                    problems.append(
                        f"station {self.problem.stations[g].id}: passes {passes[a].id} and "
                        f"{passes[b].id} are {gap:.3f} s apart, turnaround {self.turnaround_s(g)} s"
                    )
        if self.problem.options.satellite_single_link:
            for s in range(len(self.problem.satellites)):
                mine = sorted(
                    (i for i in valid if self.satellite[i] == s), key=lambda i: self.start_s[i]
                )
                for a, b in pairwise(mine):
                    if self.start_s[b] < self.end_s[a]:
                        problems.append(
                            f"satellite {self.problem.satellites[s].id}: passes {passes[a].id} "
                            f"and {passes[b].id} overlap"
                        )
        return problems


def _interval_cliques(ids: IntArray, start: FloatArray, end: FloatArray) -> list[list[int]]:
    """Return the maximal cliques (of two or more) of half-open intervals [start, end)."""
    if ids.size < 2:
        return []
    # Events sorted by time, ends before starts at equal times (touching is no conflict).
    times = np.concatenate([end, start])
    kinds = np.concatenate([np.zeros(ids.size, int), np.ones(ids.size, int)])
    which = np.concatenate([np.arange(ids.size), np.arange(ids.size)])
    order = np.lexsort((kinds, times))
    active: dict[int, None] = {}
    found: list[list[int]] = []
    grew = False
    for k in order:
        if kinds[k] == 1:
            active[int(which[k])] = None
            grew = True
        else:
            if grew and len(active) > 1:
                found.append([int(ids[j]) for j in active])
            grew = False
            del active[int(which[k])]
    return found
