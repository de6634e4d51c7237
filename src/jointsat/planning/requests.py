"""Describe what partners ask the satellites to observe: Earth targets and sky targets.

A request belongs to one partner and is worth a gain (a positive integer on the
consortium's agreed scale) when served once. Earth targets are imaged from
orbit (off-nadir and sun-elevation limits, mono or stereo); sky targets are
pointed at for a continuous duration (Sun and Earth-limb exclusion angles, and the
satellite's own eclipse when asked). Every field is checked when a request is
built; a bad one raises :class:`~jointsat.errors.PlanningInputError` naming it.

Angles are degrees, durations seconds; times are timezone-aware UTC datetimes.
RA and Dec are taken in the equator and equinox of date (the TEME frame's), which
J2000 coordinates match to within precession (0.36 degree by 2026).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from jointsat.constants import DAY_S
from jointsat.errors import PlanningInputError
from jointsat.jsonfile import Reader
from jointsat.scheduling.problem import Window
from jointsat.timelib import format_iso

MAX_GAIN = 1_000_000
MAX_OFF_NADIR_DEG = 80.0  # beyond this a low orbit looks at the limb, not the ground
MAX_DURATION_S = DAY_S


class Kind(enum.StrEnum):
    """Say what a request points at."""

    EARTH = "earth"
    SKY = "sky"


class Mode(enum.StrEnum):
    """Say whether an Earth target needs one look (mono) or two from different angles (stereo).

    A stereo pair is two looks in one pass, the first looking ahead and the
    second back, their lines of sight at least ``stereo_angle_deg`` apart.
    """

    MONO = "mono"
    STEREO = "stereo"


@dataclass(frozen=True)
class EarthTarget:
    """A point on the Earth a partner wants imaged."""

    id: str
    partner: str
    lat_deg: float
    lon_deg: float
    gain: int
    window: Window | None = None  # None: the whole planning horizon
    alt_m: float = 0.0
    max_off_nadir_deg: float = 30.0
    min_sun_elevation_deg: float | None = None  # None: no lighting needed (radar)
    mode: Mode = Mode.MONO
    min_duration_s: float = 10.0  # of each look
    stereo_angle_deg: float = 15.0  # stereo only: the least angle between the two looks
    satellites: tuple[str, ...] = ()  # () : any satellite that observes the Earth
    kind: Kind = field(default=Kind.EARTH, init=False)

    def __post_init__(self) -> None:
        _common(self)
        _within(self.lat_deg, -90.0, 90.0, "lat_deg")
        _within(self.lon_deg, -180.0, 360.0, "lon_deg")
        _within(self.alt_m, -500.0, 9_000.0, "alt_m")
        _within(self.max_off_nadir_deg, 0.0, MAX_OFF_NADIR_DEG, "max_off_nadir_deg", open_low=True)
        if self.min_sun_elevation_deg is not None:
            _within(self.min_sun_elevation_deg, -90.0, 90.0, "min_sun_elevation_deg")
        if not isinstance(self.mode, Mode):
            raise PlanningInputError(f"must be mono or stereo, got {self.mode!r}", location="mode")
        _within(self.min_duration_s, 0.0, 3_600.0, "min_duration_s", open_low=True)
        _within(self.stereo_angle_deg, 0.0, 60.0, "stereo_angle_deg", open_low=True)


@dataclass(frozen=True)
class SkyTarget:
    """A direction on the sky a partner wants observed without a break for a duration."""

    id: str
    partner: str
    ra_deg: float
    dec_deg: float
    gain: int
    duration_s: float
    window: Window | None = None
    min_sun_angle_deg: float = 90.0
    min_earth_limb_angle_deg: float = 20.0
    eclipse_only: bool = False  # observe only while the satellite is in the Earth's shadow
    satellites: tuple[str, ...] = ()
    kind: Kind = field(default=Kind.SKY, init=False)

    def __post_init__(self) -> None:
        _common(self)
        _within(self.ra_deg, 0.0, 360.0, "ra_deg")
        _within(self.dec_deg, -90.0, 90.0, "dec_deg")
        _within(self.duration_s, 0.0, MAX_DURATION_S, "duration_s", open_low=True)
        _within(self.min_sun_angle_deg, 0.0, 180.0, "min_sun_angle_deg")
        _within(self.min_earth_limb_angle_deg, -90.0, 90.0, "min_earth_limb_angle_deg")
        if not isinstance(self.eclipse_only, bool):
            raise PlanningInputError("must be true or false", location="eclipse_only")


Request = EarthTarget | SkyTarget


def _common(request: Request) -> None:
    for name in ("id", "partner"):
        value = getattr(request, name)
        if not isinstance(value, str) or not value.strip():
            raise PlanningInputError("must be a non-empty string", location=name)
    gain = request.gain
    if isinstance(gain, bool) or not isinstance(gain, int) or not 1 <= gain <= MAX_GAIN:
        raise PlanningInputError(
            f"must be an integer from 1 to {MAX_GAIN}, got {gain!r}", location="gain"
        )
    window = request.window
    if window is not None:
        if window.start.tzinfo is None or window.end.tzinfo is None:
            raise PlanningInputError("times must be timezone-aware (UTC)", location="window")
        if window.end <= window.start:
            raise PlanningInputError("end must be after start", location="window")
    if not isinstance(request.satellites, tuple) or not all(
        isinstance(s, str) and s for s in request.satellites
    ):
        raise PlanningInputError("must be a list of satellite ids", location="satellites")


def _within(value: Any, low: float, high: float, name: str, *, open_low: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise PlanningInputError(f"must be a finite number, got {value!r}", location=name)
    if value < low or value > high or (open_low and value == low):
        lower = "(" if open_low else "["
        raise PlanningInputError(
            f"must be in {lower}{low:g}, {high:g}], got {value:g}", location=name
        )


EARTH_FIELDS = frozenset(
    {
        "id",
        "partner",
        "kind",
        "lat_deg",
        "lon_deg",
        "alt_m",
        "gain",
        "window",
        "max_off_nadir_deg",
        "min_sun_elevation_deg",
        "mode",
        "min_duration_s",
        "stereo_angle_deg",
        "satellites",
    }
)
SKY_FIELDS = frozenset(
    {
        "id",
        "partner",
        "kind",
        "ra_deg",
        "dec_deg",
        "gain",
        "window",
        "duration_s",
        "min_sun_angle_deg",
        "min_earth_limb_angle_deg",
        "eclipse_only",
        "satellites",
    }
)


def request_from_dict(document: Any, *, source: str = "<string>", where: str = "") -> Request:
    """Build a request from its JSON object (``kind`` earth or sky), naming a bad field."""
    read = Reader(source, PlanningInputError)

    def at(name: str) -> str:
        return f"{where}.{name}" if where else name

    found = read.mapping(document, where or "the request")
    kind_text = found.get("kind", Kind.EARTH.value)
    try:
        kind = Kind(kind_text)
    except ValueError:
        raise read.error(f"must be 'earth' or 'sky', got {kind_text!r}", at("kind")) from None
    allowed = EARTH_FIELDS if kind is Kind.EARTH else SKY_FIELDS
    unknown = sorted(set(found) - allowed)
    if unknown:
        raise read.error(f"unknown field(s) {', '.join(unknown)} for a {kind} target", where)

    def number(name: str, default: float | None = None) -> Any:
        if name not in found:
            if default is None:
                raise read.error(f"missing {name!r}", where or "the request")
            return default
        return read.number(found[name], at(name))

    common: dict[str, Any] = {
        "id": read.text(read.key(found, "id", where or "the request"), at("id")),
        "partner": read.text(read.key(found, "partner", where or "the request"), at("partner")),
        "gain": read.integer(read.key(found, "gain", where or "the request"), at("gain")),
        "window": Window(*read.span(found["window"], at("window")))
        if found.get("window")
        else None,
        "satellites": tuple(
            read.text(s, f"{at('satellites')}[{k}]")
            for k, s in enumerate(read.sequence(found.get("satellites", []), at("satellites")))
        ),
    }
    try:
        if kind is Kind.EARTH:
            sun = found.get("min_sun_elevation_deg")
            mode_text = found.get("mode", Mode.MONO.value)
            try:
                mode = Mode(mode_text)
            except ValueError:
                raise read.error(
                    f"must be 'mono' or 'stereo', got {mode_text!r}", at("mode")
                ) from None
            return EarthTarget(
                **common,
                lat_deg=number("lat_deg"),
                lon_deg=number("lon_deg"),
                alt_m=number("alt_m", 0.0),
                max_off_nadir_deg=number("max_off_nadir_deg", 30.0),
                min_sun_elevation_deg=None
                if sun is None
                else read.number(sun, at("min_sun_elevation_deg")),
                mode=mode,
                min_duration_s=number("min_duration_s", 10.0),
                stereo_angle_deg=number("stereo_angle_deg", 15.0),
            )
        eclipse = found.get("eclipse_only", False)
        if not isinstance(eclipse, bool):
            raise read.error("must be true or false", at("eclipse_only"))
        return SkyTarget(
            **common,
            ra_deg=number("ra_deg"),
            dec_deg=number("dec_deg"),
            duration_s=number("duration_s"),
            min_sun_angle_deg=number("min_sun_angle_deg", 90.0),
            min_earth_limb_angle_deg=number("min_earth_limb_angle_deg", 20.0),
            eclipse_only=eclipse,
        )
    except PlanningInputError as error:
        if error.source != "<string>":
            raise
        raise PlanningInputError(error.reason, source=source, location=at(error.location)) from None


def request_to_dict(request: Request) -> dict[str, Any]:
    """Return a request as its JSON object (``request_from_dict`` reads it back)."""
    document: dict[str, Any] = {
        "id": request.id,
        "partner": request.partner,
        "kind": request.kind.value,
        "gain": request.gain,
    }
    if request.window is not None:
        document["window"] = {
            "start": format_iso(request.window.start),
            "end": format_iso(request.window.end),
        }
    if request.satellites:
        document["satellites"] = list(request.satellites)
    for name in _TARGET_FIELDS[request.kind]:
        value = getattr(request, name)
        document[name] = value.value if isinstance(value, enum.Enum) else value
    if isinstance(request, EarthTarget) and request.mode is Mode.STEREO:
        document["stereo_angle_deg"] = request.stereo_angle_deg
    return document


_TARGET_FIELDS = {
    Kind.EARTH: (
        "lat_deg",
        "lon_deg",
        "alt_m",
        "max_off_nadir_deg",
        "min_sun_elevation_deg",
        "mode",
        "min_duration_s",
    ),
    Kind.SKY: (
        "ra_deg",
        "dec_deg",
        "duration_s",
        "min_sun_angle_deg",
        "min_earth_limb_angle_deg",
        "eclipse_only",
    ),
}
"""What a request's JSON object holds after the common fields, per kind, in order."""


def requests_from_list(
    documents: Any, *, source: str = "<string>", where: str = "requests"
) -> tuple[Request, ...]:
    """Read a JSON list of requests; ids must be unique."""
    read = Reader(source, PlanningInputError)
    found = tuple(
        request_from_dict(d, source=source, where=f"{where}[{i}]")
        for i, d in enumerate(read.sequence(documents, where))
    )
    _unique_ids(found, source, where)
    return found


def _unique_ids(requests: Sequence[Request], source: str, where: str) -> None:
    seen: set[str] = set()
    for i, r in enumerate(requests):
        if r.id in seen:
            raise PlanningInputError(
                f"duplicate id {r.id!r}", source=source, location=f"{where}[{i}].id"
            )
        seen.add(r.id)
