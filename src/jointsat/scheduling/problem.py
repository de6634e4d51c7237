"""Describe a network-sharing problem: partners, satellites, stations, passes, options.

A problem is read from its JSON format (``Problem.from_json``, documented in
docs/scheduling.md) or built in code; every reference is checked, and a bad
file is refused with an :class:`~jointsat.errors.ProblemInputError` naming the field.
Times are timezone-aware UTC datetimes at the edge; inside, seconds after the
horizon's start.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from jointsat.errors import InputError, ProblemInputError
from jointsat.jsonfile import JsonDocument, Reader
from jointsat.timelib import format_iso

SHARE_TOLERANCE = 1e-6  # shares and operator fractions must sum to 1 within this


class ShareMeasure(enum.StrEnum):
    """Say what partners' shares are shares of: contact seconds, or data brought down.

    ``data-volume``: each pass is worth the bytes its downlink's budget brings down
    (``PassWindow.volume_bytes``; 0 where the link cannot close), and the policies
    share those out instead of seconds (docs/scheduling.md).
    """

    SECONDS = "seconds"
    DATA_VOLUME = "data-volume"


@dataclass(frozen=True)
class Partner:
    """A consortium member: its share of the pooled network and its priority class.

    A smaller ``priority`` is served first under the ``priority`` policy.
    """

    id: str
    share: float
    priority: int = 0


@dataclass(frozen=True)
class Satellite:
    """A satellite, the partners operating it (fractions summing to 1) and its demand.

    ``demand_s`` is the most contact seconds in the horizon that are useful to it;
    None means every second is.
    """

    id: str
    operators: Mapping[str, float]
    demand_s: float | None = None


@dataclass(frozen=True)
class Window:
    """A stretch of time, start before end, both UTC."""

    start: datetime
    end: datetime


@dataclass(frozen=True)
class Station:
    """A pooled ground station, its owner, the gap it needs between contacts and its outages."""

    id: str
    owner: str
    turnaround_s: float = 0.0
    unavailable: tuple[Window, ...] = ()


@dataclass(frozen=True)
class PassWindow:
    """A pass of a satellite over a station that a contact could use whole."""

    id: str
    satellite: str
    station: str
    start: datetime
    end: datetime
    max_elevation_deg: float = math.nan
    volume_bytes: float | None = None  # what its downlink brings down (the data-volume measure)

    @property
    def duration_s(self) -> float:
        """Return the pass's length in seconds."""
        return (self.end - self.start).total_seconds()


@dataclass(frozen=True)
class Options:
    """Say which passes may be used and whether a satellite talks to one station at a time."""

    min_contact_s: float = 0.0
    satellite_single_link: bool = True
    measure: ShareMeasure = ShareMeasure.SECONDS


@dataclass(frozen=True)
class FairShareProblem(JsonDocument):
    """What every fair-share problem holds first: the horizon and the partners sharing it.

    The scheduler's :class:`Problem` and the planner's problem add what is shared.
    """

    horizon: Window
    partners: tuple[Partner, ...]

    def horizon_and_partners_dict(self) -> dict[str, Any]:
        """Return the horizon and partners of the problem's document."""
        return {
            "horizon": _window_json(self.horizon),
            "partners": [
                {"id": p.id, "share": p.share, "priority": p.priority} for p in self.partners
            ],
        }


@dataclass(frozen=True)
class Problem(FairShareProblem):
    """Everything the scheduler needs, with every reference checked."""

    input_error = ProblemInputError

    satellites: tuple[Satellite, ...]
    stations: tuple[Station, ...]
    passes: tuple[PassWindow, ...]
    options: Options = field(default_factory=Options)

    def __post_init__(self) -> None:
        _check(self)

    @classmethod
    def from_dict(cls, document: Any, *, source: str = "<string>") -> Problem:
        """Build a problem from a decoded JSON document."""
        read = Reader(source, ProblemInputError)
        root = read.mapping(document, "the document")
        horizon, partners = read_horizon_and_partners(read, root)
        satellites = tuple(
            Satellite(
                id=read.text(read.key(s, "id", f"satellites[{i}]"), f"satellites[{i}].id"),
                operators=read.fractions(
                    read.key(s, "operators", f"satellites[{i}]"), f"satellites[{i}].operators"
                ),
                demand_s=(
                    None
                    if s.get("demand_s") is None
                    else read.number(s["demand_s"], f"satellites[{i}].demand_s")
                ),
            )
            for i, s in read.items(root, "satellites")
        )
        stations = tuple(
            Station(
                id=read.text(read.key(g, "id", f"stations[{i}]"), f"stations[{i}].id"),
                owner=read.text(read.key(g, "owner", f"stations[{i}]"), f"stations[{i}].owner"),
                turnaround_s=read.number(g.get("turnaround_s", 0.0), f"stations[{i}].turnaround_s"),
                unavailable=tuple(
                    Window(*read.span(w, f"stations[{i}].unavailable[{k}]"))
                    for k, w in enumerate(read.sequence(g.get("unavailable", []), f"stations[{i}]"))
                ),
            )
            for i, g in read.items(root, "stations")
        )
        passes = tuple(
            PassWindow(
                id=read.text(p.get("id", f"p{i}"), f"passes[{i}].id"),
                satellite=read.text(
                    read.key(p, "satellite", f"passes[{i}]"), f"passes[{i}].satellite"
                ),
                station=read.text(read.key(p, "station", f"passes[{i}]"), f"passes[{i}].station"),
                start=read.time(
                    read.key(p, "start", f"passes[{i}]", alias="aos"), f"passes[{i}].start"
                ),
                end=read.time(read.key(p, "end", f"passes[{i}]", alias="los"), f"passes[{i}].end"),
                max_elevation_deg=read.number(
                    p.get("max_elevation_deg", math.nan), f"passes[{i}].max_elevation_deg"
                ),
                volume_bytes=(
                    None
                    if p.get("volume_bytes") is None
                    else read.number(p["volume_bytes"], f"passes[{i}].volume_bytes")
                ),
            )
            for i, p in read.items(root, "passes")
        )
        raw_options = read.mapping(root.get("options", {}), "options")
        unknown = set(raw_options) - {"min_contact_s", "satellite_single_link", "measure"}
        if unknown:
            raise read.error(f"unknown option(s) {', '.join(sorted(unknown))}", "options")
        single = raw_options.get("satellite_single_link", True)
        if not isinstance(single, bool):
            raise read.error("must be true or false", "options.satellite_single_link")
        try:
            measure = ShareMeasure(raw_options.get("measure", ShareMeasure.SECONDS.value))
        except ValueError:
            known = " or ".join(repr(m.value) for m in ShareMeasure)
            raise read.error(f"must be {known}", "options.measure") from None
        options = Options(
            min_contact_s=read.number(
                raw_options.get("min_contact_s", 0.0), "options.min_contact_s"
            ),
            satellite_single_link=single,
            measure=measure,
        )
        try:
            return cls(horizon, partners, satellites, stations, passes, options)
        except ProblemInputError as error:
            raise ProblemInputError(error.reason, source=source, location=error.location) from None

    def to_dict(self) -> dict[str, Any]:
        """Return the problem as its JSON document (``from_dict`` reads it back)."""
        return {
            **self.horizon_and_partners_dict(),
            "satellites": [
                {"id": s.id, "operators": dict(s.operators), "demand_s": s.demand_s}
                for s in self.satellites
            ],
            "stations": [
                {
                    "id": g.id,
                    "owner": g.owner,
                    "turnaround_s": g.turnaround_s,
                    "unavailable": [_window_json(w) for w in g.unavailable],
                }
                for g in self.stations
            ],
            "passes": [
                {
                    "id": p.id,
                    "satellite": p.satellite,
                    "station": p.station,
                    "start": format_iso(p.start),
                    "end": format_iso(p.end),
                    "max_elevation_deg": None
                    if math.isnan(p.max_elevation_deg)
                    else p.max_elevation_deg,
                    **({} if p.volume_bytes is None else {"volume_bytes": p.volume_bytes}),
                }
                for p in self.passes
            ],
            "options": {
                "min_contact_s": self.options.min_contact_s,
                "satellite_single_link": self.options.satellite_single_link,
                **(
                    {}
                    if self.options.measure is ShareMeasure.SECONDS
                    else {"measure": self.options.measure.value}
                ),
            },
        }


def _window_json(window: Window) -> dict[str, str]:
    return {"start": format_iso(window.start), "end": format_iso(window.end)}


def _check(problem: Problem) -> None:
    """Refuse a problem whose references, shares or times do not hold together."""
    partners = check_partners(problem.horizon, problem.partners, ProblemInputError)
    satellites = unique_ids((x.id for x in problem.satellites), "satellites", ProblemInputError)
    for i, s in enumerate(problem.satellites):
        where = f"satellites[{i}]"
        if not s.operators:
            raise ProblemInputError("needs at least one operator", location=f"{where}.operators")
        for partner, fraction in s.operators.items():
            if partner not in partners:
                raise ProblemInputError(
                    f"unknown partner {partner!r}", location=f"{where}.operators.{partner}"
                )
            if not (0 < fraction <= 1):
                raise ProblemInputError(
                    f"must be in (0, 1], got {fraction}", location=f"{where}.operators.{partner}"
                )
        fractions = math.fsum(s.operators.values())
        if abs(fractions - 1.0) > SHARE_TOLERANCE:
            raise ProblemInputError(
                f"operator fractions must sum to 1, they sum to {fractions:.6g}",
                location=f"{where}.operators",
            )
        if s.demand_s is not None and not (s.demand_s >= 0 and math.isfinite(s.demand_s)):
            raise ProblemInputError(
                f"must be a finite number >= 0 (or null), got {s.demand_s}",
                location=f"{where}.demand_s",
            )
    stations = unique_ids((x.id for x in problem.stations), "stations", ProblemInputError)
    for i, g in enumerate(problem.stations):
        if g.owner not in partners:
            raise ProblemInputError(f"unknown partner {g.owner!r}", location=f"stations[{i}].owner")
        if not (g.turnaround_s >= 0 and math.isfinite(g.turnaround_s)):
            raise ProblemInputError(
                f"must be >= 0, got {g.turnaround_s}", location=f"stations[{i}].turnaround_s"
            )
        for k, w in enumerate(g.unavailable):
            if w.end <= w.start:
                raise ProblemInputError(
                    "end must be after start", location=f"stations[{i}].unavailable[{k}]"
                )
    unique_ids((x.id for x in problem.passes), "passes", ProblemInputError)
    by_volume = problem.options.measure is ShareMeasure.DATA_VOLUME
    if by_volume:
        for i, s in enumerate(problem.satellites):
            if s.demand_s is not None:
                raise ProblemInputError(
                    "a demand in seconds does not apply with options.measure 'data-volume' "
                    "(null: every byte is useful)",
                    location=f"satellites[{i}].demand_s",
                )
    for i, q in enumerate(problem.passes):
        if q.satellite not in satellites:
            raise ProblemInputError(
                f"unknown satellite {q.satellite!r}", location=f"passes[{i}].satellite"
            )
        if q.station not in stations:
            raise ProblemInputError(
                f"unknown station {q.station!r}", location=f"passes[{i}].station"
            )
        if q.end <= q.start:
            raise ProblemInputError("end must be after start", location=f"passes[{i}]")
        if by_volume and q.volume_bytes is None:
            raise ProblemInputError(
                "needed with options.measure 'data-volume' (0: its link cannot close)",
                location=f"passes[{i}].volume_bytes",
            )
        if q.volume_bytes is not None and not (
            q.volume_bytes >= 0 and math.isfinite(q.volume_bytes)
        ):
            raise ProblemInputError(
                f"must be a finite number >= 0, got {q.volume_bytes}",
                location=f"passes[{i}].volume_bytes",
            )
    if not (problem.options.min_contact_s >= 0 and math.isfinite(problem.options.min_contact_s)):
        raise ProblemInputError(
            f"must be >= 0, got {problem.options.min_contact_s}", location="options.min_contact_s"
        )


def read_horizon_and_partners(
    read: Reader, root: dict[str, Any]
) -> tuple[Window, tuple[Partner, ...]]:
    """Return a problem document's horizon and its partners (id, share and priority class)."""
    horizon = Window(*read.span(read.key(root, "horizon", "the document"), "horizon"))
    partners = tuple(
        Partner(
            id=read.text(read.key(p, "id", f"partners[{i}]"), f"partners[{i}].id"),
            share=read.number(read.key(p, "share", f"partners[{i}]"), f"partners[{i}].share"),
            priority=read.integer(p.get("priority", 0), f"partners[{i}].priority"),
        )
        for i, p in read.items(root, "partners")
    )
    return horizon, partners


def check_partners(
    horizon: Window, partners: Sequence[Partner], error: type[InputError]
) -> set[str]:
    """Refuse a horizon ending before it starts, or partners whose shares are not a split of 1.

    Return the partners' ids.
    """
    if horizon.end <= horizon.start:
        raise error("end must be after start", location="horizon")
    if not partners:
        raise error("a problem needs at least one partner", location="partners")
    ids = unique_ids((p.id for p in partners), "partners", error)
    for i, p in enumerate(partners):
        if not (p.share > 0 and math.isfinite(p.share)):
            raise error(f"must be positive, got {p.share}", location=f"partners[{i}].share")
    total = math.fsum(p.share for p in partners)
    if abs(total - 1.0) > SHARE_TOLERANCE:
        raise error(f"partners' shares must sum to 1, they sum to {total:.6g}", location="partners")
    return ids


def unique_ids(ids: Iterable[str], name: str, error: type[InputError]) -> set[str]:
    """Return the ids, refusing the first that repeats one before it."""
    seen: set[str] = set()
    for i, item in enumerate(ids):
        if item in seen:
            raise error(f"duplicate id {item!r}", location=f"{name}[{i}].id")
        seen.add(item)
    return seen
