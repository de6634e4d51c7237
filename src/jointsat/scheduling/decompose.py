"""Split a network into parts that can be solved alone, and combine their schedules.

Two eligible passes are *coupled* when a solution of one can change what the other
may or should do:

* they conflict (one station within its turnaround, or one satellite under single
  link: a maximal clique of ``Network.cliques``);
* they are of one satellite whose demand can bind (its useful seconds are
  min(demand, seconds booked): the passes share that cap);
* for ``fair`` and ``priority``, they are of satellites operated by one partner
  (that partner's time is a sum over them, and the leximin compares sums).

The components of this relation (union-find) are independent in the constraints and
each partner's time comes from one component only, so the feasible schedules are the
product of the components' and the vector of partners' normalized times is the union
of the components' vectors. Then the leximin of the whole is the union of the
components' leximins, exactly (docs/scheduling.md, "Decomposition", proves it from the
leximin's separability), and so is the total after it; ``max-total`` needs only the
first two couplings (a sum of independent sums), so its components also split in
time wherever no contacts can interact. Partners, satellites and passes outside every
component (no eligible pass) receive nothing whatever is chosen.

Components are packed into parts of at least ``min_part_passes`` passes (a part of
several components is still independent of the others); each part is an ordinary
problem, solved on its own with its own proofs; ``combine`` merges their schedules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from jointsat.fairness import Level, Status
from jointsat.scheduling.network import Network
from jointsat.scheduling.problem import Problem
from jointsat.scheduling.result import (
    Policy,
    Schedule,
    contacts_of,
    evaluate,
    total_volume_bytes,
)

TOTAL_LEVEL = "total received seconds"


def components(network: Network, policy: Policy) -> list[list[int]]:
    """Return the components of coupled eligible passes, each sorted, by first pass.

    Two passes are in one component when a chain of couplings (conflict, a shared
    binding demand, for ``fair`` and ``priority`` a shared partner) joins them.
    """
    candidates = np.flatnonzero(network.eligible)
    parent = list(range(len(network)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def join(group: Sequence[int]) -> None:
        if len(group) < 2:
            return
        first = root(int(group[0]))
        for j in group[1:]:
            other = root(int(j))
            if other != first:
                parent[other] = first

    for clique in network.cliques(candidates):
        join(clique)
    by_partner = policy is not Policy.MAX_TOTAL
    satellites = network.satellite[candidates]
    for s in np.unique(satellites):
        mine = candidates[satellites == s]
        if by_partner or int(network.demand_s[s]) < int(network.duration_s[mine].sum()):
            join(mine.tolist())
    if by_partner:
        for p in range(network.operators.shape[1]):
            operated = np.flatnonzero(network.operators[:, p] > 0)
            join(candidates[np.isin(satellites, operated)].tolist())
    found: dict[int, list[int]] = {}
    for i in candidates.tolist():
        found.setdefault(root(i), []).append(i)
    return sorted(found.values(), key=lambda members: members[0])


def pack(found: Sequence[list[int]], min_part_passes: int) -> list[list[int]]:
    """Return the components gathered into parts of at least ``min_part_passes`` passes.

    Components are taken in order; the last part may be smaller, and is then merged
    into the one before it. Small components cost more to solve alone than together.
    """
    parts: list[list[int]] = []
    current: list[int] = []
    for members in found:
        current += members
        if len(current) >= min_part_passes:
            parts.append(sorted(current))
            current = []
    if current:
        if parts:
            parts[-1] = sorted(parts[-1] + current)
        else:
            parts.append(sorted(current))
    return parts


def sub_network(network: Network, passes: Sequence[int]) -> Network:
    """Return the network of a part: its passes, their satellites, stations and partners.

    The part's partners are those operating its satellites. Their shares are scaled to
    sum to 1 for the problem's checks, but the network keeps the original shares, so
    the part's normalized times and levels are in the whole problem's units. A station
    owned by a partner outside the part is attributed to one inside (owners play no
    part in solving).
    """
    problem = network.problem
    chosen = sorted(int(i) for i in passes)
    satellite_ids = sorted({int(network.satellite[i]) for i in chosen})
    station_ids = sorted({int(network.station[i]) for i in chosen})
    partner_ids = np.flatnonzero((network.operators[satellite_ids] > 0).any(axis=0)).tolist()
    total = float(network.shares[partner_ids].sum())
    partners = tuple(
        replace(problem.partners[p], share=problem.partners[p].share / total) for p in partner_ids
    )
    inside = {p.id for p in partners}
    part = Problem(
        horizon=problem.horizon,
        partners=partners,
        satellites=tuple(problem.satellites[s] for s in satellite_ids),
        stations=tuple(
            g if g.owner in inside else replace(g, owner=partners[0].id)
            for g in (problem.stations[k] for k in station_ids)
        ),
        passes=tuple(problem.passes[i] for i in chosen),
        options=problem.options,
    )
    return replace(Network.of(part), shares=network.shares[partner_ids])


def combine(
    network: Network,
    policy: Policy,
    found: Sequence[Schedule],
    settings: dict[str, Any],
) -> Schedule:
    """Return the whole problem's schedule from its parts' schedules.

    Contacts are the union of the parts'; what partners receive is evaluated on the
    whole network. The levels are the parts' own, each named for its part (for
    ``max-total``, one level: the totals summed, their bounds summed), so every level
    keeps the proof CP-SAT gave it; the schedule is optimal when every part's is.
    """
    index = {p.id: i for i, p in enumerate(network.problem.passes)}
    chosen = sorted(index[c.pass_id] for part in found for c in part.contacts)
    partners, total = evaluate(network, chosen)
    levels: list[Level]
    if policy is Policy.MAX_TOTAL:
        totals = [part.levels[-1] for part in found]
        levels = [
            Level(
                TOTAL_LEVEL,
                value=sum(lv.value for lv in totals),
                bound=sum(lv.bound for lv in totals),
                optimal=all(lv.optimal for lv in totals),
                tolerance=max(lv.tolerance for lv in totals),
                wall_s=sum(lv.wall_s for lv in totals),
            )
        ]
    else:
        levels = [
            replace(lv, name=f"part {k} of {len(found)}: {lv.name}")
            for k, part in enumerate(found, 1)
            for lv in part.levels
        ]
    return Schedule(
        status=Status.OPTIMAL if all(lv.optimal for lv in levels) else Status.FEASIBLE,
        policy=policy,
        contacts=contacts_of(network, chosen),
        partners=partners,
        total_seconds=total,
        levels=tuple(levels),
        solver=" + ".join(dict.fromkeys(part.solver for part in found)),
        settings=settings,
        wall_s=sum(part.wall_s for part in found),
        measure=network.measure,
        total_volume_bytes=total_volume_bytes(network, chosen),
    )
