"""Describe an observation plan: its observations, what each partner gained, how sure it is."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from jointsat.fairness import Evidence, Level, Status
from jointsat.timelib import format_iso


class Objective(enum.StrEnum):
    """Say what the planner optimises (docs/planning.md)."""

    FAIR = "fair"  # weighted leximin of gains per partner normalized by share, then total gain
    MAX_GAIN = "max-gain"  # the total gain


class Unserved(enum.StrEnum):
    """Say why a request is not in the plan."""

    NO_OPPORTUNITY = "no opportunity"  # no satellite can observe it in its window
    NOT_SELECTED = "not selected"  # it could be observed, but not with the others chosen


@dataclass(frozen=True)
class Observation:
    """One observation of the plan: which satellite serves which request, when, how."""

    request: str
    partner: str
    satellite: str
    start: datetime
    end: datetime  # the satellite is busy from start to end
    gain: int
    volume_mbit: float
    second_start: datetime | None = None  # a stereo pair's second look
    off_nadir_deg: float | None = None  # Earth targets: the largest over the look(s)


@dataclass(frozen=True)
class PartnerGain:
    """What a partner gained, per unit of share, as a share of the total, and could have."""

    gain: int
    normalized: float
    share_received: float
    share_entitled: float
    reachable_gain: int  # the gain of its requests that some satellite could observe
    requested_gain: int

    @property
    def demand_met(self) -> bool:
        """Return whether every request of the partner that could be observed is."""
        return self.gain >= self.reachable_gain


@dataclass(frozen=True)
class MemoryUse:
    """A satellite's memory under the plan: its capacity, peak and what is left on board."""

    capacity_mbit: float
    peak_mbit: float
    left_mbit: float


@dataclass(frozen=True)
class Plan(Evidence):
    """A feasible plan and the evidence of how good it is."""

    status: Status
    objective: Objective
    observations: tuple[Observation, ...]
    partners: Mapping[str, PartnerGain]
    total_gain: int
    levels: tuple[Level, ...]
    unserved: Mapping[str, Unserved]
    memory: Mapping[str, MemoryUse]
    solver: str
    settings: Mapping[str, Any] = field(default_factory=dict)
    wall_s: float = 0.0

    def _total_level(self) -> Level:
        return Level("total gain", self.total_gain, self.total_gain, True)

    def to_dict(self) -> dict[str, Any]:
        """Return the plan as its JSON document (docs/planning.md)."""
        return {
            "status": self.status.value,
            "objective": self.objective.value,
            "observations": [
                {
                    "request": o.request,
                    "partner": o.partner,
                    "satellite": o.satellite,
                    "start": format_iso(o.start),
                    "end": format_iso(o.end),
                    "second_start": None if o.second_start is None else format_iso(o.second_start),
                    "gain": o.gain,
                    "volume_mbit": o.volume_mbit,
                    "off_nadir_deg": o.off_nadir_deg,
                }
                for o in self.observations
            ],
            "partners": {
                k: {
                    "gain": p.gain,
                    "normalized": p.normalized,
                    "share_received": p.share_received,
                    "share_entitled": p.share_entitled,
                    "reachable_gain": p.reachable_gain,
                    "requested_gain": p.requested_gain,
                }
                for k, p in self.partners.items()
            },
            "total_gain": self.total_gain,
            **self.evidence_dict(),
            "unserved": [
                {"request": r, "reason": why.value} for r, why in sorted(self.unserved.items())
            ],
            "memory": {
                s: {
                    "capacity_mbit": m.capacity_mbit,
                    "peak_mbit": m.peak_mbit,
                    "left_mbit": m.left_mbit,
                }
                for s, m in self.memory.items()
            },
            "solver": self.solver,
            "settings": dict(self.settings),
            "wall_s": self.wall_s,
        }
