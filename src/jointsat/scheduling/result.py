"""Describe a schedule: its contacts, what each partner received, how sure the solver is."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from jointsat.errors import ProblemInputError
from jointsat.scheduling.network import Network
from jointsat.scheduling.problem import Partner, format_time


class Policy(enum.StrEnum):
    """Say how the network is shared (docs/scheduling.md)."""

    FAIR = "fair"
    MAX_TOTAL = "max-total"
    PRIORITY = "priority"


def fair_groups(partners: Sequence[Partner], policy: Policy) -> list[list[int]]:
    """Return the groups of partner indices whose leximin the policy asks for, in order.

    ``fair``: all partners; ``priority``: each priority class, smaller first;
    ``max-total``: none.
    """
    if policy is Policy.FAIR:
        return [list(range(len(partners)))]
    if policy is Policy.MAX_TOTAL:
        return []
    return [
        [k for k, p in enumerate(partners) if p.priority == priority]
        for priority in sorted({p.priority for p in partners})
    ]


class Status(enum.StrEnum):
    """Say whether every objective level was proven optimal."""

    OPTIMAL = "optimal"
    FEASIBLE = "feasible"


@dataclass(frozen=True)
class Contact:
    """A pass booked as a contact between a satellite and a station."""

    pass_id: str
    satellite: str
    station: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class PartnerResult:
    """What a partner received: seconds, seconds per unit of share, share of the total."""

    seconds: float
    normalized: float
    share_received: float
    share_entitled: float
    demand_s: float

    @property
    def demand_met(self) -> bool:
        """Return whether the partner received all the time its satellites could use."""
        return self.seconds >= self.demand_s - 1e-9


@dataclass(frozen=True)
class Level:
    """One objective of the lexicographic sequence: the value reached and its proven bound."""

    name: str
    value: float
    bound: float
    optimal: bool
    maximize: bool = True
    tolerance: float = 0.0  # optimal means: proven within this fraction of the bound
    wall_s: float = 0.0  # the solver's time on this level

    @property
    def gap(self) -> float:
        """Return how far the value may be from the optimum, relative to the larger of the two."""
        worst = max(abs(self.bound), abs(self.value))
        return 0.0 if worst == 0 else abs(self.bound - self.value) / worst

    def to_dict(self) -> dict[str, Any]:
        """Return the level as its JSON object (docs/scheduling.md)."""
        return {
            "name": self.name,
            "sense": "maximize" if self.maximize else "minimize",
            "value": self.value,
            "bound": self.bound,
            "optimal": self.optimal,
            "tolerance": self.tolerance,
            "wall_s": self.wall_s,
        }


@dataclass(frozen=True)
class Schedule:
    """A feasible schedule and the evidence of how good it is."""

    status: Status
    policy: Policy
    contacts: tuple[Contact, ...]
    partners: Mapping[str, PartnerResult]
    total_seconds: float
    levels: tuple[Level, ...]
    solver: str
    settings: Mapping[str, Any] = field(default_factory=dict)
    wall_s: float = 0.0

    @property
    def bound(self) -> float:
        """Return the proven bound of the first level not proven optimal (else the last's)."""
        return self._deciding().bound

    @property
    def gap(self) -> float:
        """Return |bound - value| / max(|bound|, |value|) at the deciding level."""
        return self._deciding().gap

    def _deciding(self) -> Level:
        if not self.levels:
            return Level("total seconds", self.total_seconds, self.total_seconds, True)
        return next((lv for lv in self.levels if not lv.optimal), self.levels[-1])

    @property
    def fairness_gap(self) -> float:
        """Return the largest |received - entitled share| among partners whose demand is unmet."""
        return fairness_gap(self.partners)

    def to_dict(self) -> dict[str, Any]:
        """Return the schedule as its JSON document (docs/scheduling.md)."""
        deciding = self._deciding()
        return {
            "status": self.status.value,
            "policy": self.policy.value,
            "contacts": [
                {
                    "pass": c.pass_id,
                    "satellite": c.satellite,
                    "station": c.station,
                    "start": format_time(c.start),
                    "end": format_time(c.end),
                }
                for c in self.contacts
            ],
            "partners": {
                p: {
                    "seconds": r.seconds,
                    "normalized": r.normalized,
                    "share_received": r.share_received,
                    "share_entitled": r.share_entitled,
                    "demand_s": r.demand_s,
                }
                for p, r in self.partners.items()
            },
            "total_seconds": self.total_seconds,
            "bound": self.bound,
            "bound_level": deciding.name,
            "gap": self.gap,
            "fairness_gap": self.fairness_gap,
            "levels": [lv.to_dict() for lv in self.levels],
            "solver": self.solver,
            "settings": dict(self.settings),
            "wall_s": self.wall_s,
        }


def evaluate(network: Network, contacts: Sequence[int]) -> tuple[dict[str, PartnerResult], float]:
    """Return what each partner receives from a set of contacts, and the total."""
    problem = network.problem
    useful, received = network.received_s(contacts)
    total = float(useful.sum())
    demand = network.demand_s @ network.operators
    partners = {
        p.id: PartnerResult(
            seconds=float(received[k]),
            normalized=float(received[k] / p.share),
            share_received=float(received[k] / total) if total > 0 else 0.0,
            share_entitled=p.share,
            demand_s=float(demand[k]),
        )
        for k, p in enumerate(problem.partners)
    }
    return partners, total


def fairness_gap(partners: Mapping[str, PartnerResult]) -> float:
    """Return the largest |received - entitled share| among partners whose demand is unmet.

    Partners that got all they could use are left out: they asked for less than
    their share.
    """
    gaps = [abs(r.share_received - r.share_entitled) for r in partners.values() if not r.demand_met]
    return max(gaps, default=0.0)


def contacts_of(network: Network, chosen: Sequence[int]) -> tuple[Contact, ...]:
    """Return the contacts for pass indices, by start time then pass id."""
    passes = network.problem.passes
    order = sorted(chosen, key=lambda i: (passes[i].start, passes[i].id))
    return tuple(
        Contact(
            passes[i].id, passes[i].satellite, passes[i].station, passes[i].start, passes[i].end
        )
        for i in order
    )


def contact_pass_ids(document: Any, *, source: str = "<string>") -> list[str]:
    """Return the pass ids of a schedule document's contacts (``pass`` of each contact)."""
    if not isinstance(document, dict) or not isinstance(document.get("contacts"), list):
        raise ProblemInputError("a schedule needs a 'contacts' list", source=source)
    ids: list[str] = []
    for k, contact in enumerate(document["contacts"]):
        pass_id = contact.get("pass") if isinstance(contact, dict) else None
        if not isinstance(pass_id, str | int) or isinstance(pass_id, bool):
            raise ProblemInputError("missing 'pass'", source=source, location=f"contacts[{k}]")
        ids.append(str(pass_id))
    return ids
