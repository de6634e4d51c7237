"""Describe a network-sharing problem: partners, satellites, stations, passes, options.

A problem is read from its JSON format (``Problem.from_json``, documented in
docs/scheduling.md) or built in code; every reference is checked, and a bad
file is refused with an :class:`~jointsat.errors.ProblemInputError` naming the field.
Times are timezone-aware UTC datetimes at the edge; inside, seconds after the
horizon's start.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from jointsat.errors import InputError, ProblemInputError

SHARE_TOLERANCE = 1e-6  # shares and operator fractions must sum to 1 within this


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

    @property
    def duration_s(self) -> float:
        """Return the pass's length in seconds."""
        return (self.end - self.start).total_seconds()


@dataclass(frozen=True)
class Options:
    """Say which passes may be used and whether a satellite talks to one station at a time."""

    min_contact_s: float = 0.0
    satellite_single_link: bool = True


@dataclass(frozen=True)
class Problem:
    """Everything the scheduler needs, with every reference checked."""

    horizon: Window
    partners: tuple[Partner, ...]
    satellites: tuple[Satellite, ...]
    stations: tuple[Station, ...]
    passes: tuple[PassWindow, ...]
    options: Options = field(default_factory=Options)

    def __post_init__(self) -> None:
        _check(self)

    @classmethod
    def from_json(cls, text: str, *, source: str = "<string>") -> Problem:
        """Read a problem from its JSON text, refusing bad input with the field named."""
        return cls.from_dict(Reader(source).json(text), source=source)

    @classmethod
    def from_dict(cls, document: Any, *, source: str = "<string>") -> Problem:
        """Build a problem from a decoded JSON document."""
        read = Reader(source)
        root = read.mapping(document, "the document")
        horizon = read.window(read.key(root, "horizon", "the document"), "horizon")
        partners = tuple(
            Partner(
                id=read.text(read.key(p, "id", f"partners[{i}]"), f"partners[{i}].id"),
                share=read.number(read.key(p, "share", f"partners[{i}]"), f"partners[{i}].share"),
                priority=read.integer(p.get("priority", 0), f"partners[{i}].priority"),
            )
            for i, p in read.items(root, "partners")
        )
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
                    read.window(w, f"stations[{i}].unavailable[{k}]")
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
            )
            for i, p in read.items(root, "passes")
        )
        raw_options = read.mapping(root.get("options", {}), "options")
        unknown = set(raw_options) - {"min_contact_s", "satellite_single_link"}
        if unknown:
            raise read.error(f"unknown option(s) {', '.join(sorted(unknown))}", "options")
        single = raw_options.get("satellite_single_link", True)
        if not isinstance(single, bool):
            raise read.error("must be true or false", "options.satellite_single_link")
        options = Options(
            min_contact_s=read.number(
                raw_options.get("min_contact_s", 0.0), "options.min_contact_s"
            ),
            satellite_single_link=single,
        )
        try:
            return cls(horizon, partners, satellites, stations, passes, options)
        except ProblemInputError as error:
            raise ProblemInputError(error.reason, source=source, location=error.location) from None

    def to_dict(self) -> dict[str, Any]:
        """Return the problem as its JSON document (``from_dict`` reads it back)."""
        return {
            "horizon": _window_json(self.horizon),
            "partners": [
                {"id": p.id, "share": p.share, "priority": p.priority} for p in self.partners
            ],
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
                    "start": format_time(p.start),
                    "end": format_time(p.end),
                    "max_elevation_deg": None
                    if math.isnan(p.max_elevation_deg)
                    else p.max_elevation_deg,
                }
                for p in self.passes
            ],
            "options": {
                "min_contact_s": self.options.min_contact_s,
                "satellite_single_link": self.options.satellite_single_link,
            },
        }


def format_time(moment: datetime) -> str:
    """Return a UTC time as ISO 8601 ending in Z, to the microsecond when it has one."""
    text = moment.astimezone(UTC).isoformat()
    return text.replace("+00:00", "Z")


def _window_json(window: Window) -> dict[str, str]:
    return {"start": format_time(window.start), "end": format_time(window.end)}


def _check(problem: Problem) -> None:
    """Refuse a problem whose references, shares or times do not hold together."""
    if problem.horizon.end <= problem.horizon.start:
        raise ProblemInputError("end must be after start", location="horizon")
    if not problem.partners:
        raise ProblemInputError("a problem needs at least one partner", location="partners")
    partners = _unique((x.id for x in problem.partners), "partners")
    for i, p in enumerate(problem.partners):
        if not (p.share > 0):
            raise ProblemInputError(
                f"must be positive, got {p.share}", location=f"partners[{i}].share"
            )
    total = math.fsum(p.share for p in problem.partners)
    if abs(total - 1.0) > SHARE_TOLERANCE:
        raise ProblemInputError(
            f"partners' shares must sum to 1, they sum to {total:.6g}", location="partners"
        )
    satellites = _unique((x.id for x in problem.satellites), "satellites")
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
    stations = _unique((x.id for x in problem.stations), "stations")
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
    _unique((x.id for x in problem.passes), "passes")
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
    if not (problem.options.min_contact_s >= 0 and math.isfinite(problem.options.min_contact_s)):
        raise ProblemInputError(
            f"must be >= 0, got {problem.options.min_contact_s}", location="options.min_contact_s"
        )


def _unique(ids: Iterable[str], name: str) -> set[str]:
    seen: set[str] = set()
    for i, item in enumerate(ids):
        if item in seen:
            raise ProblemInputError(f"duplicate id {item!r}", location=f"{name}[{i}].id")
        seen.add(item)
    return seen


class Reader:
    """Read typed values out of a decoded JSON document, naming the field on error."""

    def __init__(self, source: str, error: type[InputError] = ProblemInputError) -> None:
        self.source = source
        self.kind = error

    def json(self, text: str) -> Any:
        """Return the decoded JSON text, or raise naming the line that is not JSON."""
        try:
            return json.loads(text)
        except json.JSONDecodeError as error:
            raise self.error(f"not valid JSON: {error.msg}", f"line {error.lineno}") from None

    def error(self, reason: str, where: str) -> InputError:
        """Return the error to raise for a field: its source, location and reason."""
        return self.kind(reason, source=self.source, location=where)

    def mapping(self, value: Any, where: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.error("must be an object", where)
        return value

    def sequence(self, value: Any, where: str) -> list[Any]:
        if not isinstance(value, list):
            raise self.error("must be a list", where)
        return value

    def items(self, root: dict[str, Any], name: str) -> list[tuple[int, dict[str, Any]]]:
        values = self.sequence(self.key(root, name, "the document"), name)
        return [(i, self.mapping(v, f"{name}[{i}]")) for i, v in enumerate(values)]

    def key(self, value: dict[str, Any], name: str, where: str, *, alias: str = "") -> Any:
        if name in value:
            return value[name]
        if alias and alias in value:
            return value[alias]
        also = f" (or {alias!r})" if alias else ""
        raise self.error(f"missing {name!r}{also}", where)

    def text(self, value: Any, where: str) -> str:
        if isinstance(value, bool) or not isinstance(value, str | int) or str(value) == "":
            raise self.error("must be a non-empty string", where)
        return str(value)

    def number(self, value: Any, where: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(f"must be a number, got {value!r}", where)
        if isinstance(value, float) and math.isinf(value):
            raise self.error("must be finite", where)
        return float(value)

    def integer(self, value: Any, where: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(f"must be an integer, got {value!r}", where)
        return value

    def fractions(self, value: Any, where: str) -> dict[str, float]:
        found = self.mapping(value, where)
        return {str(k): self.number(v, f"{where}.{k}") for k, v in found.items()}

    def time(self, value: Any, where: str) -> datetime:
        if not isinstance(value, str):
            raise self.error(
                "must be an ISO 8601 time with a zone, such as 2024-05-10T00:00:00Z", where
            )
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise self.error(f"not an ISO 8601 time: {value!r}", where) from None
        if moment.tzinfo is None:
            raise self.error(f"{value!r} has no time zone; add Z for UTC", where)
        return moment.astimezone(UTC)

    def window(self, value: Any, where: str) -> Window:
        found = self.mapping(value, where)
        start = self.time(self.key(found, "start", where), f"{where}.start")
        end = self.time(self.key(found, "end", where), f"{where}.end")
        if end <= start:
            raise self.error("end must be after start", where)
        return Window(start, end)
