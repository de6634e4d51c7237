"""Describe a schedule: its contacts, what each partner received, how sure the solver is.

``Level``, ``Status`` and ``fairness_gap`` live in ``jointsat.fairness``; they are
imported here because a schedule is made of them.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from jointsat.errors import ProblemInputError
from jointsat.fairness import Evidence, Level, Status, fairness_gap
from jointsat.scheduling.network import Network
from jointsat.scheduling.problem import Partner, ShareMeasure
from jointsat.timelib import format_iso


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
    """What a partner received: seconds, seconds per unit of share, share of the total.

    With the data-volume measure, ``volume_bytes`` is what it received of the data
    brought down and ``normalized`` and ``share_received`` are of it, in bytes;
    ``seconds`` and ``demand_s`` stay contact seconds.
    """

    seconds: float
    normalized: float
    share_received: float
    share_entitled: float
    demand_s: float
    volume_bytes: float | None = None

    @property
    def demand_met(self) -> bool:
        """Return whether the partner received all the time its satellites could use."""
        return self.seconds >= self.demand_s - 1e-9


@dataclass(frozen=True)
class Schedule(Evidence):
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
    measure: ShareMeasure = ShareMeasure.SECONDS
    total_volume_bytes: float | None = None

    def _total_level(self) -> Level:
        return Level("total seconds", self.total_seconds, self.total_seconds, True)

    def to_dict(self) -> dict[str, Any]:
        """Return the schedule as its JSON document (docs/scheduling.md)."""
        return {
            "status": self.status.value,
            "policy": self.policy.value,
            "contacts": [
                {
                    "pass": c.pass_id,
                    "satellite": c.satellite,
                    "station": c.station,
                    "start": format_iso(c.start),
                    "end": format_iso(c.end),
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
                    **({} if r.volume_bytes is None else {"volume_bytes": r.volume_bytes}),
                }
                for p, r in self.partners.items()
            },
            "total_seconds": self.total_seconds,
            **(
                {}
                if self.measure is ShareMeasure.SECONDS
                else {"measure": self.measure.value, "total_volume_bytes": self.total_volume_bytes}
            ),
            **self.evidence_dict(),
            "solver": self.solver,
            "settings": dict(self.settings),
            "wall_s": self.wall_s,
        }


def evaluate(network: Network, contacts: Sequence[int]) -> tuple[dict[str, PartnerResult], float]:
    """Return what each partner receives from a set of contacts, and the total (seconds).

    With the data-volume measure, each partner's ``volume_bytes`` too (see
    :class:`PartnerResult`); :func:`total_volume_bytes` gives their total.
    """
    problem = network.problem
    if network.measure is ShareMeasure.DATA_VOLUME:
        return _by_volume(network, contacts)
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


def _by_volume(network: Network, contacts: Sequence[int]) -> tuple[dict[str, PartnerResult], float]:
    problem = network.problem
    useful, received = network.received_s(contacts)
    volume = received * network.unit
    total = float(useful.sum()) * network.unit
    chosen = np.asarray(contacts, dtype=np.int64)
    per_satellite = np.bincount(
        network.satellite[chosen],
        weights=network.seconds[chosen],
        minlength=len(problem.satellites),
    )
    seconds = per_satellite @ network.operators
    usable = np.bincount(
        network.satellite[network.eligible],
        weights=network.seconds[network.eligible],
        minlength=len(problem.satellites),
    )
    demand = usable @ network.operators
    partners = {
        p.id: PartnerResult(
            seconds=float(seconds[k]),
            normalized=float(volume[k] / p.share),
            share_received=float(volume[k] / total) if total > 0 else 0.0,
            share_entitled=p.share,
            demand_s=float(demand[k]),
            volume_bytes=float(volume[k]),
        )
        for k, p in enumerate(problem.partners)
    }
    return partners, float(seconds.sum())


def total_volume_bytes(network: Network, contacts: Sequence[int]) -> float | None:
    """Return the bytes a set of contacts brings down (None: the measure is seconds)."""
    if network.measure is not ShareMeasure.DATA_VOLUME:
        return None
    useful, _ = network.received_s(contacts)
    return float(useful.sum()) * network.unit


__all__ = [
    "Contact",
    "Level",
    "PartnerResult",
    "Policy",
    "Schedule",
    "Status",
    "contact_pass_ids",
    "contacts_of",
    "evaluate",
    "fair_groups",
    "fairness_gap",
]


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
