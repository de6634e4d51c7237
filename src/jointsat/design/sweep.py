"""Compare candidate constellations: a grid of designs, each studied, and the Pareto front.

A *design* is one Walker constellation (delta or star) or one sun-synchronous plane.
Each is studied over the same areas and window (:func:`jointsat.design.study.run_coverage`);
its *objective* is the chosen figure of merit, summarised per partner (the area-weighted
mean, a percentile or the worst point of the partner's areas), for the worst-served
partner: fairness by partner, not only over the whole area. The *Pareto front* holds the
designs that no other design beats on both cost (satellites) and the objective.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from jointsat.design.access import AccessRule
from jointsat.design.areas import Area
from jointsat.design.constellations import Constellation, sun_synchronous, walker
from jointsat.design.merit import FIGURES, PERCENTILES
from jointsat.design.study import CoverageStudy, run_coverage, run_tasks
from jointsat.errors import DesignError

HIGHER_IS_BETTER = frozenset(
    {"coverage_fraction", "accesses", "mean_access_s", "mean_in_view", "max_in_view"}
)
"""Figures where more is better; for the others (gaps, response, first access) less is."""

STATISTICS = ("mean", "min", "max", *(f"p{q}" for q in PERCENTILES))
MAX_DESIGNS = 500


@dataclass(frozen=True)
class Design:
    """One candidate: ``kind`` is "walker-delta", "walker-star" or "sso".

    Walker: ``total`` satellites in ``planes`` planes with ``phasing`` F, at
    ``altitude_km`` and ``inclination_deg``. SSO: ``total`` satellites in one
    sun-synchronous plane at ``altitude_km`` crossing the equator northward at
    ``ltan_hours`` local time (the inclination follows from the altitude).
    """

    kind: str
    total: int
    altitude_km: float
    planes: int = 1
    phasing: int = 0
    inclination_deg: float | None = None
    ltan_hours: float | None = None

    @property
    def label(self) -> str:
        if self.kind == "sso":
            ltan = self.ltan_hours or 0.0
            hh, mm = int(ltan), round((ltan - int(ltan)) * 60)
            return f"sso:{self.altitude_km:g}:{hh:02d}:{mm:02d}:{self.total}"
        return (
            f"{self.kind.replace('-delta', '')}:{self.total}/{self.planes}/{self.phasing}:"
            f"{self.altitude_km:g}:{self.inclination_deg:g}"
        )

    def constellation(self, epoch: datetime) -> Constellation:
        """Return the design's satellites, with their epoch at the study's start."""
        if self.kind == "sso":
            return sun_synchronous(
                self.altitude_km, float(self.ltan_hours or 0.0), epoch=epoch, count=self.total
            )
        return walker(
            self.total,
            self.planes,
            self.phasing,
            self.altitude_km,
            float(self.inclination_deg or 0.0),
            epoch=epoch,
            star=self.kind == "walker-star",
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "design": self.label,
            "kind": self.kind,
            "satellites": self.total,
            "planes": self.planes,
            "phasing": self.phasing,
            "altitude_km": self.altitude_km,
            "inclination_deg": self.inclination_deg,
            "ltan_hours": self.ltan_hours,
        }


def walker_designs(
    totals: Iterable[int],
    planes: Iterable[int],
    phasings: Iterable[int],
    altitudes_km: Iterable[float],
    inclinations_deg: Iterable[float],
    *,
    star: bool = False,
) -> list[Design]:
    """Return every valid Walker design of the grid (P divides T, F < P), in grid order."""
    kind = "walker-star" if star else "walker-delta"
    out = []
    for t, p, f, alt, inc in itertools.product(
        totals, planes, phasings, altitudes_km, inclinations_deg
    ):
        if t > 0 and p > 0 and t % p == 0 and 0 <= f < p:
            out.append(Design(kind, t, alt, p, f, inc))
    return out


def sso_designs(
    totals: Iterable[int], altitudes_km: Iterable[float], ltans_hours: Iterable[float]
) -> list[Design]:
    """Return every sun-synchronous design of the grid."""
    return [
        Design("sso", t, alt, ltan_hours=ltan)
        for t, alt, ltan in itertools.product(totals, altitudes_km, ltans_hours)
        if t > 0
    ]


@dataclass(frozen=True)
class SweepSettings:
    """What every design is studied over, and what it is judged by."""

    areas: tuple[Area, ...]
    start: datetime
    end: datetime
    rule: AccessRule = field(default_factory=AccessRule)
    grid_deg: float = 2.0
    figure: str = "max_gap_s"
    statistic: str = "mean"

    def __post_init__(self) -> None:
        if self.figure not in FIGURES:
            raise DesignError(
                f"unknown figure of merit {self.figure!r}: one of {', '.join(FIGURES)}"
            )
        if self.statistic not in STATISTICS:
            raise DesignError(
                f"unknown statistic {self.statistic!r}: one of {', '.join(STATISTICS)}"
            )


@dataclass(frozen=True)
class DesignJob:
    """One design's study, sent to a worker (picklable)."""

    design: Design
    settings: SweepSettings

    def run(self) -> dict[str, Any]:
        """Return the design's row: its parameters, each partner's value, the objective."""
        s = self.settings
        study = CoverageStudy(
            (self.design.constellation(s.start),), s.areas, s.start, s.end, s.rule, s.grid_deg
        )
        summary = run_coverage(study).summary()
        groups = summary["partners"] or [
            {"partner": a["name"], "figures": a["figures"]} for a in summary["areas"]
        ]
        values = {g["partner"]: g["figures"][s.figure][s.statistic] for g in groups}
        known = [v for v in values.values() if v is not None]
        if not known:
            objective = math.nan
            worst = None
        elif s.figure in HIGHER_IS_BETTER:
            worst = min(values, key=lambda k: math.inf if values[k] is None else values[k])
            objective = float(values[worst])
        else:
            worst = max(values, key=lambda k: -math.inf if values[k] is None else values[k])
            objective = float(values[worst])
        return {**self.design.as_dict(), "objective": objective, "worst": worst, "partners": values}


@dataclass(frozen=True)
class SweepResult:
    """Every design's row (in the order given) and which lie on the Pareto front."""

    settings: SweepSettings
    rows: tuple[dict[str, Any], ...]

    @property
    def pareto(self) -> tuple[int, ...]:
        """Return the rows on the front of (satellites, objective), fewest satellites first."""
        cost = np.array([r["satellites"] for r in self.rows], dtype=float)
        value = np.array([r["objective"] for r in self.rows], dtype=float)
        if self.settings.figure in HIGHER_IS_BETTER:
            value = -value
        return tuple(int(k) for k in pareto_front(cost, value))

    def table(self) -> list[dict[str, Any]]:
        """Return the rows, each with ``pareto`` and one column per partner (``partner:NAME``)."""
        front = set(self.pareto)
        out = []
        for k, row in enumerate(self.rows):
            flat = {key: value for key, value in row.items() if key != "partners"}
            flat["pareto"] = k in front
            for partner, value in row["partners"].items():
                flat[f"partner:{partner}"] = value
            out.append(flat)
        return out


def pareto_front(cost: np.ndarray, value: np.ndarray) -> list[int]:
    """Return the indices not dominated when both ``cost`` and ``value`` are minimised.

    A design is dominated when another is no worse on both and better on one; NaN
    values are never on the front. Sorted by cost, then value.
    """
    ok = np.flatnonzero(np.isfinite(cost) & np.isfinite(value))
    order = ok[np.lexsort((value[ok], cost[ok]))]
    front: list[int] = []
    best = math.inf
    for k in order:
        # A design equal on both to the last one kept is not dominated by it either.
        twin = bool(front) and cost[k] == cost[front[-1]] and value[k] == best
        if value[k] < best or twin:
            front.append(int(k))
            best = float(value[k])
    return front


def run_sweep(
    designs: Sequence[Design],
    settings: SweepSettings,
    *,
    executor: Executor | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SweepResult:
    """Study every design (each a task on ``executor`` if given) and return the table."""
    if not designs:
        raise DesignError("the sweep has no valid design (P must divide T, and F < P)")
    if len(designs) > MAX_DESIGNS:
        raise DesignError(f"a sweep studies at most {MAX_DESIGNS} designs, not {len(designs)}")
    rows = run_tasks([DesignJob(d, settings).run for d in designs], executor, progress)
    return SweepResult(settings, tuple(rows))
