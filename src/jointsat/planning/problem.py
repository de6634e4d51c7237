"""Describe an observation-planning problem: partners, satellites' payloads, requests, downlinks.

A problem is read from its JSON format (``PlanningProblem.from_json``, documented in
docs/planning.md) or built in code; every reference is checked, and a bad file is
refused with a :class:`~jointsat.errors.PlanningInputError` naming the field. The
satellites' orbits come apart, as element sets (``jointsat.orbits``), matched by id
(the catalog number). Downlinks are the contacts of the network schedule: each one
empties the on-board memory at the satellite's downlink rate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from itertools import pairwise
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from jointsat.errors import PlanningInputError
from jointsat.jsonfile import Reader
from jointsat.planning.requests import Kind, Request, request_to_dict, requests_from_list
from jointsat.scheduling.problem import (
    FairShareProblem,
    Window,
    check_partners,
    read_horizon_and_partners,
    unique_ids,
)
from jointsat.timelib import format_iso


@dataclass(frozen=True)
class Agility:
    """Say how fast a satellite turns from one pointing to another.

    A rest-to-rest slew accelerates at ``max_accel_deg_s2`` up to ``max_rate_deg_s``,
    coasts, brakes, then settles for ``settle_s`` before the next observation.
    """

    max_rate_deg_s: float = 2.0
    max_accel_deg_s2: float = 0.5
    settle_s: float = 5.0

    def __post_init__(self) -> None:
        _positive(self.max_rate_deg_s, "max_rate_deg_s")
        _positive(self.max_accel_deg_s2, "max_accel_deg_s2")
        _not_negative(self.settle_s, "settle_s")

    def slew_s(self, angle_deg: ArrayLike) -> NDArray[np.float64]:
        """Return the seconds needed to turn through the angles and settle."""
        angle = np.abs(np.asarray(angle_deg, dtype=float))
        rate, accel = self.max_rate_deg_s, self.max_accel_deg_s2
        ramp_deg = rate * rate / accel  # turned while reaching full rate and braking
        triangle = 2.0 * np.sqrt(angle / accel)
        trapezoid = angle / rate + rate / accel
        return np.asarray(np.where(angle <= ramp_deg, triangle, trapezoid) + self.settle_s)


@dataclass(frozen=True)
class Imager:
    """A satellite's observing payload: what it observes, its memory, data rates, agility.

    ``id`` is the satellite's catalog number as its element sets give it. Each second
    of observation writes ``imaging_rate_mbps`` megabits to a memory of
    ``memory_mbit``; each second of downlink contact reads ``downlink_rate_mbps`` off.
    """

    id: str
    memory_mbit: float
    imaging_rate_mbps: float
    downlink_rate_mbps: float
    agility: Agility = field(default_factory=Agility)
    observes: frozenset[Kind] = frozenset({Kind.EARTH, Kind.SKY})
    initial_memory_mbit: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise PlanningInputError("must be a non-empty string", location="id")
        _positive(self.memory_mbit, "memory_mbit")
        _positive(self.imaging_rate_mbps, "imaging_rate_mbps")
        _not_negative(self.downlink_rate_mbps, "downlink_rate_mbps")
        _not_negative(self.initial_memory_mbit, "initial_memory_mbit")
        if self.initial_memory_mbit > self.memory_mbit:
            raise PlanningInputError("cannot exceed memory_mbit", location="initial_memory_mbit")
        if not self.observes or not all(isinstance(k, Kind) for k in self.observes):
            raise PlanningInputError("must list 'earth', 'sky' or both", location="observes")


@dataclass(frozen=True)
class Downlink:
    """A contact of the network schedule during which a satellite empties its memory."""

    satellite: str
    start: datetime
    end: datetime

    @property
    def duration_s(self) -> float:
        """Return the contact's length in seconds."""
        return (self.end - self.start).total_seconds()


DEFAULT_START_STEP_S = 10.0
DEFAULT_MAX_STARTS = 12


@dataclass(frozen=True)
class PlanningOptions:
    """Say how finely observation start times are tried within each opportunity.

    Starts are ``start_step_s`` apart, coarser in a window long enough to offer more
    than ``max_starts_per_window`` (a sky target seen for hours).
    """

    start_step_s: float = DEFAULT_START_STEP_S
    max_starts_per_window: int = DEFAULT_MAX_STARTS

    def __post_init__(self) -> None:
        _within_open(self.start_step_s, 0.0, 3_600.0, "start_step_s")
        most = self.max_starts_per_window
        if isinstance(most, bool) or not isinstance(most, int) or not 2 <= most <= 1_000:
            raise PlanningInputError(
                f"must be an integer from 2 to 1000, got {most!r}",
                location="max_starts_per_window",
            )


@dataclass(frozen=True)
class PlanningProblem(FairShareProblem):
    """Everything the planner needs but the orbits, with every reference checked."""

    input_error = PlanningInputError

    satellites: tuple[Imager, ...]
    requests: tuple[Request, ...]
    downlinks: tuple[Downlink, ...] = ()
    options: PlanningOptions = field(default_factory=PlanningOptions)

    def __post_init__(self) -> None:
        _check(self)

    def window_of(self, request: Request) -> Window:
        """Return the request's window clipped to the horizon (it may be empty)."""
        if request.window is None:
            return self.horizon
        return Window(
            max(request.window.start, self.horizon.start),
            min(request.window.end, self.horizon.end),
        )

    def downlink_spans_s(self, satellite: str) -> list[tuple[float, float]]:
        """Return a satellite's downlinks as (start, end) seconds after the horizon's start."""
        origin = self.horizon.start
        return sorted(
            ((d.start - origin).total_seconds(), (d.end - origin).total_seconds())
            for d in self.downlinks
            if d.satellite == satellite
        )

    def serves(self, satellite: Imager, request: Request) -> bool:
        """Return whether the satellite may observe the request."""
        if request.kind not in satellite.observes:
            return False
        return not request.satellites or satellite.id in request.satellites

    @classmethod
    def from_dict(cls, document: Any, *, source: str = "<string>") -> PlanningProblem:
        """Build a problem from a decoded JSON document."""
        read = Reader(source, PlanningInputError)
        root = read.mapping(document, "the document")
        unknown = set(root) - {
            "horizon",
            "partners",
            "satellites",
            "requests",
            "downlinks",
            "options",
        }
        if unknown:
            raise read.error(f"unknown field(s) {', '.join(sorted(unknown))}", "the document")
        horizon, partners = read_horizon_and_partners(read, root)
        satellites = tuple(
            _imager(read, s, f"satellites[{i}]") for i, s in read.items(root, "satellites")
        )
        requests = requests_from_list(
            read.key(root, "requests", "the document"), source=source, where="requests"
        )
        downlinks = tuple(
            Downlink(
                satellite=read.text(
                    read.key(d, "satellite", f"downlinks[{i}]"), f"downlinks[{i}].satellite"
                ),
                start=read.time(read.key(d, "start", f"downlinks[{i}]"), f"downlinks[{i}].start"),
                end=read.time(read.key(d, "end", f"downlinks[{i}]"), f"downlinks[{i}].end"),
            )
            for i, d in read.items({"downlinks": root.get("downlinks", [])}, "downlinks")
        )
        raw_options = read.mapping(root.get("options", {}), "options")
        extra = set(raw_options) - {"start_step_s", "max_starts_per_window"}
        if extra:
            raise read.error(f"unknown option(s) {', '.join(sorted(extra))}", "options")
        step = raw_options.get("start_step_s", DEFAULT_START_STEP_S)
        most = raw_options.get("max_starts_per_window", DEFAULT_MAX_STARTS)
        try:
            options = PlanningOptions(
                start_step_s=read.number(step, "options.start_step_s"),
                max_starts_per_window=read.integer(most, "options.max_starts_per_window"),
            )
        except PlanningInputError as error:
            raise read.error(error.reason, f"options.{error.location}") from None
        try:
            return cls(horizon, partners, satellites, requests, downlinks, options)
        except PlanningInputError as error:
            raise read.error(error.reason, error.location) from None

    def to_dict(self) -> dict[str, Any]:
        """Return the problem as its JSON document (``from_dict`` reads it back)."""
        return {
            **self.horizon_and_partners_dict(),
            "satellites": [
                {
                    "id": s.id,
                    "observes": sorted(k.value for k in s.observes),
                    "memory_mbit": s.memory_mbit,
                    "initial_memory_mbit": s.initial_memory_mbit,
                    "imaging_rate_mbps": s.imaging_rate_mbps,
                    "downlink_rate_mbps": s.downlink_rate_mbps,
                    "agility": {
                        "max_rate_deg_s": s.agility.max_rate_deg_s,
                        "max_accel_deg_s2": s.agility.max_accel_deg_s2,
                        "settle_s": s.agility.settle_s,
                    },
                }
                for s in self.satellites
            ],
            "requests": [request_to_dict(r) for r in self.requests],
            "downlinks": [
                {"satellite": d.satellite, "start": format_iso(d.start), "end": format_iso(d.end)}
                for d in self.downlinks
            ],
            "options": {
                "start_step_s": self.options.start_step_s,
                "max_starts_per_window": self.options.max_starts_per_window,
            },
        }


def downlinks_from_schedule(document: Any, *, source: str = "<string>") -> tuple[Downlink, ...]:
    """Return the contacts of a network schedule document (``jointsat schedule``) as downlinks."""
    read = Reader(source, PlanningInputError)
    root = read.mapping(document, "the schedule")
    return tuple(
        Downlink(
            satellite=read.text(
                read.key(c, "satellite", f"contacts[{i}]"), f"contacts[{i}].satellite"
            ),
            start=read.time(read.key(c, "start", f"contacts[{i}]"), f"contacts[{i}].start"),
            end=read.time(read.key(c, "end", f"contacts[{i}]"), f"contacts[{i}].end"),
        )
        for i, c in read.items(root, "contacts")
    )


def _imager(read: Reader, s: dict[str, Any], where: str) -> Imager:
    unknown = set(s) - {
        "id",
        "observes",
        "memory_mbit",
        "initial_memory_mbit",
        "imaging_rate_mbps",
        "downlink_rate_mbps",
        "agility",
    }
    if unknown:
        raise read.error(f"unknown field(s) {', '.join(sorted(unknown))}", where)
    kinds = []
    for k, kind in enumerate(
        read.sequence(s.get("observes", ["earth", "sky"]), f"{where}.observes")
    ):
        try:
            kinds.append(Kind(kind))
        except ValueError:
            raise read.error(
                f"must be 'earth' or 'sky', got {kind!r}", f"{where}.observes[{k}]"
            ) from None
    agility = read.mapping(s.get("agility", {}), f"{where}.agility")
    extra = set(agility) - {"max_rate_deg_s", "max_accel_deg_s2", "settle_s"}
    if extra:
        raise read.error(f"unknown field(s) {', '.join(sorted(extra))}", f"{where}.agility")
    defaults = Agility()
    try:
        return Imager(
            id=read.text(read.key(s, "id", where), f"{where}.id"),
            memory_mbit=read.number(read.key(s, "memory_mbit", where), f"{where}.memory_mbit"),
            imaging_rate_mbps=read.number(
                read.key(s, "imaging_rate_mbps", where), f"{where}.imaging_rate_mbps"
            ),
            downlink_rate_mbps=read.number(
                read.key(s, "downlink_rate_mbps", where), f"{where}.downlink_rate_mbps"
            ),
            agility=Agility(
                **{
                    name: read.number(
                        agility.get(name, getattr(defaults, name)), f"{where}.agility.{name}"
                    )
                    for name in ("max_rate_deg_s", "max_accel_deg_s2", "settle_s")
                }
            ),
            observes=frozenset(kinds),
            initial_memory_mbit=read.number(
                s.get("initial_memory_mbit", 0.0), f"{where}.initial_memory_mbit"
            ),
        )
    except PlanningInputError as error:
        if error.source != "<string>":
            raise
        prefix = (
            f"{where}.agility"
            if error.location in {"max_rate_deg_s", "max_accel_deg_s2", "settle_s"}
            else where
        )
        raise PlanningInputError(
            error.reason, source=read.source, location=f"{prefix}.{error.location}"
        ) from None


def _check(problem: PlanningProblem) -> None:
    """Refuse a problem whose references, shares or times do not hold together."""
    partners = check_partners(problem.horizon, problem.partners, PlanningInputError)
    satellites = unique_ids((s.id for s in problem.satellites), "satellites", PlanningInputError)
    unique_ids((r.id for r in problem.requests), "requests", PlanningInputError)
    for i, r in enumerate(problem.requests):
        if r.partner not in partners:
            raise PlanningInputError(
                f"unknown partner {r.partner!r}", location=f"requests[{i}].partner"
            )
        for k, s in enumerate(r.satellites):
            if s not in satellites:
                raise PlanningInputError(
                    f"unknown satellite {s!r}", location=f"requests[{i}].satellites[{k}]"
                )
    by_satellite: dict[str, list[tuple[int, Downlink]]] = {}
    for i, d in enumerate(problem.downlinks):
        if d.satellite not in satellites:
            raise PlanningInputError(
                f"unknown satellite {d.satellite!r}", location=f"downlinks[{i}].satellite"
            )
        if d.end <= d.start:
            raise PlanningInputError("end must be after start", location=f"downlinks[{i}]")
        by_satellite.setdefault(d.satellite, []).append((i, d))
    for found in by_satellite.values():
        found.sort(key=lambda item: item[1].start)
        for (_, a), (i, b) in pairwise(found):
            if b.start < a.end:
                raise PlanningInputError(
                    "overlaps another downlink of the same satellite", location=f"downlinks[{i}]"
                )


def _positive(value: Any, name: str) -> None:
    _within_open(value, 0.0, math.inf, name)


def _within_open(value: Any, low: float, high: float, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise PlanningInputError(f"must be a finite number, got {value!r}", location=name)
    if not low < value <= high:
        raise PlanningInputError(f"must be in ({low:g}, {high:g}], got {value:g}", location=name)


def _not_negative(value: Any, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise PlanningInputError(f"must be a finite number, got {value!r}", location=name)
    if value < 0:
        raise PlanningInputError(f"must be >= 0, got {value:g}", location=name)
