"""Constellations to study: Walker patterns, sun-synchronous orbits, or given element sets.

A :class:`Constellation` is a named set of SGP4 mean-element sets
(:class:`~jointsat.orbits.elements.Elements`) that the coverage analysis propagates, with
the parameters that made it. Designed orbits are circular: eccentricity 0 (SGP4 accepts
it), argument of perigee 0, so the mean anomaly is the argument of latitude (the angle
from the ascending node); no drag (``bstar``, ``mean_motion_dot`` and
``mean_motion_ddot`` are 0). Their epoch is the study's start, and their mean motion is
Kepler's, ``n = sqrt(mu / a^3)``, with ``a = 6378.137 km + altitude`` (the altitude above
the WGS-84 equator) and SGP4's WGS-72 ``mu = 398600.8 km^3/s^2``. SGP4 reads that mean
motion as its own (Kozai's) mean element, so the orbit's mean radius comes out within a
few kilometres of ``a``.

Specs (:func:`parse_constellation`), as the CLI takes them:

* ``walker:T/P/F:ALT_KM:INC_DEG[:RAAN_DEG]``: a Walker delta pattern (:func:`walker`);
* ``walker-star:T/P/F:ALT_KM:INC_DEG[:RAAN_DEG]``: a Walker star pattern;
* ``sso:ALT_KM:HH:MM[:COUNT]``: ``COUNT`` satellites (default 1) in one sun-synchronous
  plane whose ascending node is at local mean solar time ``HH:MM``
  (:func:`sun_synchronous`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jointsat.constants import (
    DAY_S,
    TROPICAL_YEAR_DAYS,
    WGS72_J2,
    WGS72_MU_KM3_S2,
    WGS72_RADIUS_KM,
    WGS84_A_KM,
)
from jointsat.errors import DesignError
from jointsat.orbits.elements import MAX_CATALOG_NUMBER, Elements
from jointsat.timelib import JD_J2000, format_iso, split_julian, to_utc

CONSTELLATION_KINDS = ("walker-delta", "walker-star", "sso", "elements")
"""The kinds of :class:`Constellation`: Walker delta or star, sun-synchronous, given sets."""

FIRST_DESIGN_NORAD_ID = 90001
"""The catalogue number of a designed constellation's first satellite, by default.

Designed satellites' numbers only tell them apart within a study; pass another first
number where one clashes with element sets studied alongside (:func:`combine` renumbers
clashes anyway).
"""

PARAMETER = str | int | float | bool
"""A constellation parameter's value: what JSON carries."""

_SPEC_FORMS = {
    "walker": "walker:T/P/F:ALT_KM:INC_DEG[:RAAN_DEG], e.g. walker:24/6/1:550:53",
    "walker-star": "walker-star:T/P/F:ALT_KM:INC_DEG[:RAAN_DEG], e.g. walker-star:66/6/2:780:86.4",
    "sso": "sso:ALT_KM:HH:MM[:COUNT], e.g. sso:700:10:30 or sso:700:22:30:4",
}


@dataclass(frozen=True)
class Constellation:
    """A named set of satellites to study: their element sets and what made them.

    ``kind`` is one of :data:`CONSTELLATION_KINDS`; ``parameters`` the pairs (name,
    value) that made it, in order (``total``, ``planes``, ... for a Walker pattern;
    none for given element sets), kept as a tuple so that a constellation hashes.
    """

    name: str
    kind: str
    parameters: tuple[tuple[str, PARAMETER], ...]
    elements: tuple[Elements, ...]

    @property
    def satellites(self) -> int:
        """Return how many satellites the constellation has."""
        return len(self.elements)

    def as_dict(self) -> dict[str, Any]:
        """Return the constellation's summary for JSON: name, kind, satellites, parameters.

        The element sets are not included (each has :meth:`Elements.to_omm`).
        """
        return {
            "name": self.name,
            "kind": self.kind,
            "satellites": self.satellites,
            "parameters": dict(self.parameters),
        }


def walker(
    total: int,
    planes: int,
    phasing: int,
    altitude_km: float,
    inclination_deg: float,
    raan0_deg: float = 0.0,
    *,
    epoch: datetime,
    star: bool = False,
    first_norad_id: int = FIRST_DESIGN_NORAD_ID,
    name: str | None = None,
) -> Constellation:
    """Return a Walker constellation T/P/F: ``total`` satellites in ``planes`` planes.

    The pattern (Walker 1984, "Satellite constellations", JBIS 37) with T = ``total``,
    P = ``planes``, F = ``phasing`` and S = T/P satellites per plane:

    * plane p (p = 0 .. P-1) has right ascension of the ascending node
      RAAN = RAAN0 + p * 360/P degrees (delta pattern), or RAAN0 + p * 180/P (``star``:
      the planes share one hemisphere of nodes, as polar constellations do);
    * satellite s (s = 0 .. S-1) of plane p is at argument of latitude
      u = s * 360/S + p * F * 360/T degrees at the epoch;
    * every orbit is circular at ``altitude_km`` (above the WGS-84 equator) and
      ``inclination_deg``, as the module says.

    Satellite k = p * S + s is named ``"<name> P<p+1>S<s+1>"`` (``name`` defaults to
    ``WALKER-T/P/F``, or ``WALKER-STAR-T/P/F``), has catalogue number
    ``first_norad_id + k`` and object id ``DSGN<k+1>`` (four digits). ``epoch`` is an
    aware datetime (the study's start). Raise :class:`DesignError` unless T and P are
    positive, T is a multiple of P, 0 <= F < P, the altitude is positive, the
    inclination in [0, 180] degrees and the epoch aware.
    """
    for label, value in (("total", total), ("planes", planes), ("phasing", phasing)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise DesignError(f"a Walker pattern's {label} must be a whole number, not {value!r}")
    if total < 1 or planes < 1:
        raise DesignError(f"a Walker pattern needs T >= 1 and P >= 1, not {total}/{planes}")
    if total % planes:
        raise DesignError(
            f"Walker {total}/{planes}/{phasing}: {total} satellites cannot be shared equally "
            f"among {planes} planes (T must be a multiple of P)"
        )
    if not 0 <= phasing < planes:
        raise DesignError(
            f"Walker {total}/{planes}/{phasing}: the phasing F must be 0 to P-1 = {planes - 1}"
        )
    _check_orbit(altitude_km, inclination_deg)
    _check_finite("RAAN0", raan0_deg)
    per_plane = total // planes
    spread_deg = 180.0 if star else 360.0
    label = name or f"WALKER-{'STAR-' if star else ''}{total}/{planes}/{phasing}"
    jd, fr = _epoch(epoch)
    _check_norad_ids(first_norad_id, total)
    mean_motion = kepler_mean_motion_rev_per_day(altitude_km)
    elements = []
    for p in range(planes):
        for s in range(per_plane):
            k = p * per_plane + s
            elements.append(
                _circular(
                    name=f"{label} P{p + 1}S{s + 1}",
                    index=k,
                    norad_id=first_norad_id + k,
                    epoch=(jd, fr),
                    mean_motion=mean_motion,
                    inclination_deg=inclination_deg,
                    raan_deg=raan0_deg + p * spread_deg / planes,
                    u_deg=s * 360.0 / per_plane + p * phasing * 360.0 / total,
                )
            )
    parameters: tuple[tuple[str, PARAMETER], ...] = (
        ("total", total),
        ("planes", planes),
        ("phasing", phasing),
        ("altitude_km", float(altitude_km)),
        ("inclination_deg", float(inclination_deg)),
        ("raan0_deg", float(raan0_deg)),
        ("epoch", format_iso(to_utc(epoch))),
    )
    kind = "walker-star" if star else "walker-delta"
    return Constellation(label, kind, parameters, tuple(elements))


def sso_inclination_deg(altitude_km: float) -> float:
    """Return the inclination (degrees) of the circular sun-synchronous orbit at an altitude.

    Its node must turn eastwards with the mean Sun, 360 degrees a tropical year
    (365.2422 days): dΩ/dt = -3/2 J2 (Re/a)^2 n cos i for a circular orbit, so
    cos i = -2 a^(7/2) dΩ/dt / (3 J2 Re^2 sqrt(mu)), with a = 6378.137 km + altitude.
    J2 = 0.001082616, Re = 6378.135 km and mu = 398600.8 km^3/s^2 are WGS-72's, SGP4's
    own: the node of an orbit propagated with SGP4 then turns at the Sun's rate (to the
    0.1 % that SGP4's J2^2 and J4 terms add). 800 km gives 98.60 degrees, as tabulated
    (Wertz, Space Mission Analysis and Design). Raise :class:`DesignError` above
    about 5,970 km, where no orbit is sun-synchronous.
    """
    _check_orbit(altitude_km, 90.0)
    a_km = WGS84_A_KM + altitude_km
    node_rate_rad_s = 2.0 * math.pi / (TROPICAL_YEAR_DAYS * DAY_S)
    cos_i = (
        -2.0
        * a_km**3.5
        * node_rate_rad_s
        / (3.0 * WGS72_J2 * WGS72_RADIUS_KM**2 * math.sqrt(WGS72_MU_KM3_S2))
    )
    if cos_i < -1.0:
        raise DesignError(
            f"no circular orbit at {altitude_km:g} km is sun-synchronous (J2 turns the node "
            "too slowly above about 5,970 km)"
        )
    return math.degrees(math.acos(cos_i))


def mean_sun_right_ascension_deg(epoch: datetime) -> float:
    """Return the mean Sun's right ascension at an instant, degrees in [0, 360).

    The mean Sun moves along the equator at the Sun's mean rate; its right ascension is
    the Sun's mean longitude L = 280.460 + 0.9856474 d degrees, d days from J2000.0
    (Astronomical Almanac's low-precision formula; UTC is taken for the time scale,
    70 s off, 0.0008 degree). Local mean solar time at a longitude is 12 h plus the
    hour angle of the mean Sun there.
    """
    jd, fr = _epoch(epoch)
    days = (jd - JD_J2000) + fr
    return (280.460 + 0.9856474 * days) % 360.0


def sun_synchronous(
    altitude_km: float,
    ltan_hours: float,
    *,
    epoch: datetime,
    count: int = 1,
    first_norad_id: int = FIRST_DESIGN_NORAD_ID,
    name: str | None = None,
) -> Constellation:
    """Return ``count`` satellites in one circular sun-synchronous plane.

    The inclination is :func:`sso_inclination_deg`; the ascending node is at local
    mean solar time ``ltan_hours`` (the LTAN, 0 to 24, e.g. 10.5 for 10:30) at the
    epoch: RAAN = α_mean_sun(epoch) + (LTAN - 12 h) x 15 degrees per hour
    (:func:`mean_sun_right_ascension_deg`). Satellite k (k = 0 .. count-1) is at
    argument of latitude k * 360/count degrees, named ``"<name> S<k+1>"`` (``name``
    defaults to ``SSO-<altitude>-<HHMM>``), numbered and identified as in
    :func:`walker`. Raise :class:`DesignError` for an LTAN outside [0, 24), a count
    below 1, or an altitude with no sun-synchronous orbit.
    """
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise DesignError(f"a sun-synchronous plane needs a count of 1 or more, not {count!r}")
    _check_finite("LTAN", ltan_hours)
    if not 0.0 <= ltan_hours < 24.0:
        raise DesignError(f"the LTAN must be in [0, 24) hours, not {ltan_hours:g}")
    inclination_deg = sso_inclination_deg(altitude_km)
    jd, fr = _epoch(epoch)
    _check_norad_ids(first_norad_id, count)
    raan_deg = (mean_sun_right_ascension_deg(epoch) + (ltan_hours - 12.0) * 15.0) % 360.0
    minutes = round(ltan_hours * 60.0) % 1440
    label = name or f"SSO-{altitude_km:g}-{minutes // 60:02d}{minutes % 60:02d}"
    mean_motion = kepler_mean_motion_rev_per_day(altitude_km)
    elements = tuple(
        _circular(
            name=f"{label} S{k + 1}",
            index=k,
            norad_id=first_norad_id + k,
            epoch=(jd, fr),
            mean_motion=mean_motion,
            inclination_deg=inclination_deg,
            raan_deg=raan_deg,
            u_deg=k * 360.0 / count,
        )
        for k in range(count)
    )
    parameters: tuple[tuple[str, PARAMETER], ...] = (
        ("altitude_km", float(altitude_km)),
        ("ltan_hours", float(ltan_hours)),
        ("count", count),
        ("inclination_deg", inclination_deg),
        ("raan_deg", raan_deg),
        ("epoch", format_iso(to_utc(epoch))),
    )
    return Constellation(label, "sso", parameters, elements)


def kepler_mean_motion_rev_per_day(altitude_km: float) -> float:
    """Return Kepler's mean motion of a circular orbit at an altitude, revolutions a day.

    n = sqrt(mu / a^3), a = 6378.137 km + altitude, mu = 398600.8 km^3/s^2 (WGS-72).
    """
    a_km = WGS84_A_KM + altitude_km
    return math.sqrt(WGS72_MU_KM3_S2 / a_km**3) * DAY_S / (2.0 * math.pi)


def is_constellation_spec(spec: str) -> bool:
    """Return whether text names a constellation (``walker:``, ``walker-star:``, ``sso:``).

    Only the prefix is looked at: a spec that starts like one but is malformed is still
    a spec, for :func:`parse_constellation` to reject; anything else (an element file's
    name) is not.
    """
    kind, colon, _ = spec.strip().partition(":")
    return bool(colon) and kind.lower() in _SPEC_FORMS


def parse_constellation(
    spec: str, *, epoch: datetime, first_norad_id: int = FIRST_DESIGN_NORAD_ID
) -> Constellation:
    """Return the constellation a spec describes (the forms are in the module's notes).

    ``walker:24/6/1:550:53`` is :func:`walker` (24, 6, 1, 550, 53); ``walker-star:...``
    the same with ``star``; ``sso:700:10:30:4`` is :func:`sun_synchronous` (700, 10.5,
    count=4). Raise :class:`DesignError` naming the spec and the expected form.
    """
    kind, colon, rest = spec.strip().partition(":")
    kind = kind.lower()
    if not colon or kind not in _SPEC_FORMS:
        raise DesignError(
            f"constellation {spec!r} is not one of: " + "; ".join(_SPEC_FORMS.values())
        )
    where = f"constellation {spec!r}"
    parts = rest.split(":")
    try:
        if kind == "sso":
            return _parse_sso(parts, epoch, first_norad_id)
        return _parse_walker(parts, epoch, first_norad_id, star=kind == "walker-star")
    except _SpecError as error:
        raise DesignError(f"{where}: {error}; expected {_SPEC_FORMS[kind]}") from None
    except DesignError as error:
        raise DesignError(f"{where}: {error.reason}") from None


class _SpecError(Exception):
    """A spec's text does not have its kind's form."""


def _parse_walker(
    parts: list[str], epoch: datetime, first_norad_id: int, *, star: bool
) -> Constellation:
    if len(parts) not in (3, 4):
        raise _SpecError(f"{len(parts)} fields after the kind, not 3 or 4")
    pattern = parts[0].split("/")
    if len(pattern) != 3 or not all(p.strip().isdigit() for p in pattern):
        raise _SpecError(f"cannot read {parts[0]!r} as T/P/F (three whole numbers)")
    total, planes, phasing = (int(p) for p in pattern)
    altitude_km = _number(parts[1], "the altitude")
    inclination_deg = _number(parts[2], "the inclination")
    raan0_deg = _number(parts[3], "the RAAN") if len(parts) == 4 else 0.0
    return walker(
        total,
        planes,
        phasing,
        altitude_km,
        inclination_deg,
        raan0_deg,
        epoch=epoch,
        star=star,
        first_norad_id=first_norad_id,
    )


def _parse_sso(parts: list[str], epoch: datetime, first_norad_id: int) -> Constellation:
    if len(parts) not in (3, 4):
        raise _SpecError(f"{len(parts)} fields after the kind, not 3 or 4")
    altitude_km = _number(parts[0], "the altitude")
    hours, minutes = parts[1].strip(), parts[2].strip()
    if not (hours.isdigit() and minutes.isdigit() and len(minutes) == 2):
        raise _SpecError(f"cannot read {parts[1]}:{parts[2]!s} as a local time HH:MM")
    if int(hours) > 23 or int(minutes) > 59:
        raise _SpecError(f"{parts[1]}:{parts[2]} is not a time of day")
    count = 1
    if len(parts) == 4:
        if not parts[3].strip().isdigit():
            raise _SpecError(f"cannot read {parts[3]!r} as a count of satellites")
        count = int(parts[3])
    return sun_synchronous(
        altitude_km,
        int(hours) + int(minutes) / 60.0,
        epoch=epoch,
        count=count,
        first_norad_id=first_norad_id,
    )


def _number(text: str, label: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise _SpecError(f"cannot read {text!r} as {label} (a number)") from None
    if not math.isfinite(value):
        raise _SpecError(f"{label} must be finite, not {text!r}")
    return value


def from_elements(name: str, elements: Iterable[Elements]) -> Constellation:
    """Return given element sets (read from an element file) as a constellation.

    Raise :class:`DesignError` when there are none.
    """
    sets = tuple(elements)
    if not sets:
        raise DesignError(f"constellation {name!r} has no element sets")
    return Constellation(name, "elements", (), sets)


def combine(constellations: Sequence[Constellation]) -> tuple[Elements, ...]:
    """Return every constellation's element sets, in order, each with its own catalogue number.

    The sets keep their order: constellation after constellation, so the first
    ``constellations[0].satellites`` belong to the first, and so on. A set whose
    catalogue number an earlier set has already taken is given the next number above
    every number of the constellations (its name and object id are kept).
    """
    sets = [e for constellation in constellations for e in constellation.elements]
    taken: set[int] = set()
    next_free = max((e.norad_cat_id for e in sets), default=0) + 1
    combined = []
    for e in sets:
        if e.norad_cat_id in taken:
            e = dataclasses.replace(e, norad_cat_id=next_free)
            next_free += 1
        taken.add(e.norad_cat_id)
        combined.append(e)
    return tuple(combined)


def _circular(
    *,
    name: str,
    index: int,
    norad_id: int,
    epoch: tuple[float, float],
    mean_motion: float,
    inclination_deg: float,
    raan_deg: float,
    u_deg: float,
) -> Elements:
    """Return the element set of a designed circular orbit (see the module's notes)."""
    return Elements(
        object_name=name,
        object_id=f"DSGN{index + 1:04d}",
        norad_cat_id=norad_id,
        epoch_jd=epoch[0],
        epoch_fr=epoch[1],
        mean_motion_rev_per_day=mean_motion,
        eccentricity=0.0,
        inclination_deg=float(inclination_deg),
        raan_deg=float(raan_deg) % 360.0,
        arg_of_pericenter_deg=0.0,
        mean_anomaly_deg=float(u_deg) % 360.0,
        bstar=0.0,
        mean_motion_dot=0.0,
        mean_motion_ddot=0.0,
    )


def _epoch(epoch: datetime) -> tuple[float, float]:
    if not isinstance(epoch, datetime):
        raise DesignError(f"the epoch must be a datetime, not {epoch!r}")
    try:
        return split_julian(to_utc(epoch, "the epoch"))
    except ValueError as error:
        raise DesignError(str(error)) from None


def _check_finite(label: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise DesignError(f"{label} must be a finite number, not {value!r}")


def _check_orbit(altitude_km: float, inclination_deg: float) -> None:
    _check_finite("the altitude", altitude_km)
    _check_finite("the inclination", inclination_deg)
    if altitude_km <= 0.0:
        raise DesignError(f"the altitude must be above 0 km, not {altitude_km:g}")
    if not 0.0 <= inclination_deg <= 180.0:
        raise DesignError(f"the inclination must be in [0, 180] degrees, not {inclination_deg:g}")


def _check_norad_ids(first_norad_id: int, count: int) -> None:
    last = first_norad_id + count - 1
    if first_norad_id < 1 or last > MAX_CATALOG_NUMBER:
        raise DesignError(
            f"catalogue numbers {first_norad_id}-{last} are outside 1-{MAX_CATALOG_NUMBER}"
        )
