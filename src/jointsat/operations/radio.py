"""A satellite's radio links, its transponders, and the link budget of a contact.

Pure numerics: no I/O and no clock. A satellite's links are stored as a JSON list
(``satellites.links``); each entry is read by :meth:`Link.from_dict`, which names
the field it refuses, and written back by :meth:`Link.to_dict` (:func:`links_json`
for the list). A link's entry::

    {"name": "uhf-down",              # unique per satellite
     "direction": "downlink",         # or "uplink"
     "frequency_hz": 437.8e6,         # the nominal centre
     "offset_hz": 0.0,                # this satellite's calibration offset, added
     "transponder": null,             # or {"uplink_low_hz", "uplink_high_hz",
                                      #     "downlink_low_hz", "downlink_high_hz", "inverted"}
     "eirp_dbw": 0.0,                 # the satellite's EIRP (downlink), or null
     "data_rate_bps": 9600.0,         # or null
     "required_eb_n0_db": 10.0,       # what the demodulator needs, or null
     "polarization_loss_db": 3.0}     # optional, default 0

The link budget (downlink), per sample of a pass, in decibels::

    Eb/N0 = EIRP - L_fs - L_atm - L_pol - L_other + G/T - 10 log10(k) - 10 log10(R_b)

with ``L_fs = 20 log10(4 pi d f / c)`` the free-space basic transmission loss of
ITU-R P.525-4 (eq. 8: ``32.45 + 20 log10 f[MHz] + 20 log10 d[km]``), ``k`` Boltzmann's
constant (-228.6 dBW/K/Hz), ``G/T`` the station's figure of merit (dB/K) and ``R_b``
the link's data rate. The atmospheric loss is a number or an array given by the
caller (``jointsat.linkbudget_itur`` evaluates ITU-R P.618 through the ``itur``
package, which reads data files: it is not called from here). The link is closed
where Eb/N0 is at least ``required_eb_n0_db`` plus a margin; the margin is taken as
linear between samples, so the closed time counts the fraction of each interval
between samples where it is positive, and the data volume is ``R_b`` times that.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from jointsat.constants import SPEED_OF_LIGHT_M_S
from jointsat.errors import RadioError
from jointsat.orbits.vectors import FloatArray

__all__ = [
    "BOLTZMANN_DBW_K_HZ",
    "ContactBudget",
    "Direction",
    "Link",
    "Transponder",
    "contact_budget",
    "eb_n0_db",
    "free_space_loss_db",
    "links_json",
    "parse_links",
]

BOLTZMANN_J_K = 1.380649e-23
"""Boltzmann's constant, J/K (exact, by the SI definition of the kelvin)."""

BOLTZMANN_DBW_K_HZ = 10.0 * math.log10(BOLTZMANN_J_K)
"""Boltzmann's constant in decibels: -228.599 dBW/(K Hz)."""

LINK_FIELDS = frozenset(
    {
        "name",
        "direction",
        "frequency_hz",
        "offset_hz",
        "transponder",
        "eirp_dbw",
        "data_rate_bps",
        "required_eb_n0_db",
        "polarization_loss_db",
    }
)
TRANSPONDER_FIELDS = frozenset(
    {"uplink_low_hz", "uplink_high_hz", "downlink_low_hz", "downlink_high_hz", "inverted"}
)
MAX_FREQUENCY_HZ = 3e12
"""The highest frequency a link may have (the top of the radio spectrum, 3 THz)."""


class Direction(enum.StrEnum):
    """Say which way a link carries its signal."""

    DOWNLINK = "downlink"
    UPLINK = "uplink"


def _number(value: Any, where: str, *, optional: bool = False) -> float | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        kind = "a number or null" if optional else "a number"
        raise RadioError(f"{where} must be {kind}, not {value!r}")
    if not math.isfinite(value):
        raise RadioError(f"{where} must be finite, not {value!r}")
    return float(value)


def _frequency(value: Any, where: str) -> float:
    found = _number(value, where)
    assert found is not None
    if not 0.0 < found <= MAX_FREQUENCY_HZ:
        raise RadioError(f"{where} must lie in (0, 3e12] Hz, not {found:g}")
    return found


@dataclass(frozen=True)
class Transponder:
    """A linear transponder: what it receives in one passband it sends in the other.

    Normal: the passbands map low to low (``up - uplink_low`` above ``downlink_low``);
    inverted: low to high, so that a signal rising on the uplink falls on the downlink
    (and the Doppler shifts of the two legs partly cancel). The map is the linear one
    between the passbands' edges, a translation where they are equally wide.
    """

    uplink_low_hz: float
    uplink_high_hz: float
    downlink_low_hz: float
    downlink_high_hz: float
    inverted: bool = False

    def __post_init__(self) -> None:
        for name in ("uplink_low_hz", "uplink_high_hz", "downlink_low_hz", "downlink_high_hz"):
            _frequency(getattr(self, name), f"transponder.{name}")
        if not isinstance(self.inverted, bool):
            raise RadioError(f"transponder.inverted must be true or false, not {self.inverted!r}")
        for leg in ("uplink", "downlink"):
            low, high = getattr(self, f"{leg}_low_hz"), getattr(self, f"{leg}_high_hz")
            if not low < high:
                raise RadioError(
                    f"transponder.{leg}_low_hz ({low:g}) must be below {leg}_high_hz ({high:g})"
                )

    @classmethod
    def from_dict(cls, document: Any, where: str = "transponder") -> Transponder:
        """Return the transponder a JSON object describes (RadioError names a bad field)."""
        if not isinstance(document, Mapping):
            raise RadioError(f"{where} must be an object or null, not {document!r}")
        unknown = sorted(set(document) - TRANSPONDER_FIELDS)
        if unknown:
            raise RadioError(f"{where} has unknown field(s) {', '.join(map(str, unknown))}")
        values: dict[str, Any] = {}
        for name in ("uplink_low_hz", "uplink_high_hz", "downlink_low_hz", "downlink_high_hz"):
            if name not in document:
                raise RadioError(f"{where}.{name} is missing")
            values[name] = _frequency(document[name], f"{where}.{name}")
        inverted = document.get("inverted", False)
        if not isinstance(inverted, bool):
            raise RadioError(f"{where}.inverted must be true or false, not {inverted!r}")
        return cls(**values, inverted=inverted)

    def to_dict(self) -> dict[str, Any]:
        """Return the transponder as its JSON object."""
        return {
            "uplink_low_hz": self.uplink_low_hz,
            "uplink_high_hz": self.uplink_high_hz,
            "downlink_low_hz": self.downlink_low_hz,
            "downlink_high_hz": self.downlink_high_hz,
            "inverted": self.inverted,
        }

    def _fraction(self, value_hz: float, leg: str) -> float:
        low: float = getattr(self, f"{leg}_low_hz")
        high: float = getattr(self, f"{leg}_high_hz")
        if not low <= value_hz <= high:
            raise RadioError(
                f"{value_hz:.0f} Hz lies outside the transponder's {leg} passband "
                f"{low:.0f}..{high:.0f} Hz"
            )
        return (value_hz - low) / (high - low)

    def downlink_hz(self, uplink_hz: float) -> float:
        """Return the frequency the transponder sends what it receives at ``uplink_hz``."""
        x = self._fraction(uplink_hz, "uplink")
        if self.inverted:
            x = 1.0 - x
        return self.downlink_low_hz + x * (self.downlink_high_hz - self.downlink_low_hz)

    def uplink_hz(self, downlink_hz: float) -> float:
        """Return the frequency to send at for the transponder to send at ``downlink_hz``."""
        x = self._fraction(downlink_hz, "downlink")
        if self.inverted:
            x = 1.0 - x
        return self.uplink_low_hz + x * (self.uplink_high_hz - self.uplink_low_hz)


@dataclass(frozen=True)
class Link:
    """One radio link of a satellite: its frequency, calibration, transponder and budget."""

    name: str
    direction: Direction
    frequency_hz: float
    offset_hz: float = 0.0
    transponder: Transponder | None = None
    eirp_dbw: float | None = None
    data_rate_bps: float | None = None
    required_eb_n0_db: float | None = None
    polarization_loss_db: float = 0.0

    def __post_init__(self) -> None:
        where = f"link {self.name!r}"
        if not isinstance(self.name, str) or not self.name.strip():
            raise RadioError(f"a link's name must be a non-empty text, not {self.name!r}")
        if len(self.name) > 100:
            raise RadioError(f"{where}: name must be at most 100 characters")
        if not isinstance(self.direction, Direction):
            raise RadioError(f"{where}: direction must be a Direction, not {self.direction!r}")
        _frequency(self.frequency_hz, f"{where}: frequency_hz")
        _number(self.offset_hz, f"{where}: offset_hz")
        if not self.tuned_hz > 0.0:
            raise RadioError(f"{where}: frequency_hz + offset_hz must be positive")
        _number(self.eirp_dbw, f"{where}: eirp_dbw", optional=True)
        rate = _number(self.data_rate_bps, f"{where}: data_rate_bps", optional=True)
        if rate is not None and rate <= 0.0:
            raise RadioError(f"{where}: data_rate_bps must be positive, not {rate:g}")
        _number(self.required_eb_n0_db, f"{where}: required_eb_n0_db", optional=True)
        loss = _number(self.polarization_loss_db, f"{where}: polarization_loss_db")
        assert loss is not None
        if loss < 0.0:
            raise RadioError(f"{where}: polarization_loss_db must be >= 0, not {loss:g}")
        if self.transponder is not None:
            leg = self.direction.value
            low = getattr(self.transponder, f"{leg}_low_hz")
            high = getattr(self.transponder, f"{leg}_high_hz")
            if not low <= self.frequency_hz <= high:
                raise RadioError(
                    f"{where}: frequency_hz {self.frequency_hz:.0f} lies outside its "
                    f"transponder's {leg} passband {low:.0f}..{high:.0f} Hz"
                )

    @property
    def tuned_hz(self) -> float:
        """Return the frequency the satellite actually uses: the nominal one plus its offset."""
        return self.frequency_hz + self.offset_hz

    @classmethod
    def from_dict(cls, document: Any, where: str = "link") -> Link:
        """Return the link a JSON object describes (RadioError names a bad field)."""
        if not isinstance(document, Mapping):
            raise RadioError(f"{where} must be an object, not {document!r}")
        unknown = sorted(set(document) - LINK_FIELDS)
        if unknown:
            raise RadioError(f"{where} has unknown field(s) {', '.join(map(str, unknown))}")
        for name in ("name", "direction", "frequency_hz"):
            if name not in document:
                raise RadioError(f"{where}.{name} is missing")
        name = document["name"]
        if not isinstance(name, str) or not name.strip():
            raise RadioError(f"{where}.name must be a non-empty text, not {name!r}")
        try:
            direction = Direction(document["direction"])
        except ValueError:
            raise RadioError(
                f"{where}.direction must be 'downlink' or 'uplink', not {document['direction']!r}"
            ) from None
        raw = document.get("transponder")
        transponder = None if raw is None else Transponder.from_dict(raw, f"{where}.transponder")
        offset = _number(document.get("offset_hz", 0.0), f"{where}.offset_hz")
        polarization = _number(
            document.get("polarization_loss_db", 0.0), f"{where}.polarization_loss_db"
        )
        assert offset is not None
        assert polarization is not None
        frequency = _frequency(document["frequency_hz"], f"{where}.frequency_hz")
        return cls(
            name=name,
            direction=direction,
            frequency_hz=frequency,
            offset_hz=offset,
            transponder=transponder,
            eirp_dbw=_number(document.get("eirp_dbw"), f"{where}.eirp_dbw", optional=True),
            data_rate_bps=_number(
                document.get("data_rate_bps"), f"{where}.data_rate_bps", optional=True
            ),
            required_eb_n0_db=_number(
                document.get("required_eb_n0_db"), f"{where}.required_eb_n0_db", optional=True
            ),
            polarization_loss_db=polarization,
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the link as its JSON object (``from_dict`` reads it back)."""
        return {
            "name": self.name,
            "direction": self.direction.value,
            "frequency_hz": self.frequency_hz,
            "offset_hz": self.offset_hz,
            "transponder": None if self.transponder is None else self.transponder.to_dict(),
            "eirp_dbw": self.eirp_dbw,
            "data_rate_bps": self.data_rate_bps,
            "required_eb_n0_db": self.required_eb_n0_db,
            "polarization_loss_db": self.polarization_loss_db,
        }

    def needed(self, *names: str) -> tuple[float, ...]:
        """Return the fields named, refusing one the link leaves null."""
        missing = [n for n in names if getattr(self, n) is None]
        if missing:
            raise RadioError(
                f"link {self.name!r} has no {', '.join(missing)}: a link budget needs "
                f"{'them' if len(missing) > 1 else 'it'}"
            )
        return tuple(float(getattr(self, n)) for n in names)


def parse_links(document: Any, where: str = "links") -> tuple[Link, ...]:
    """Return the links of a JSON list (None: none), refusing a bad entry or a repeated name."""
    if document is None:
        return ()
    if not isinstance(document, Sequence) or isinstance(document, str):
        raise RadioError(f"{where} must be a list of links, not {document!r}")
    links = tuple(Link.from_dict(entry, f"{where}[{i}]") for i, entry in enumerate(document))
    seen: set[str] = set()
    for i, link in enumerate(links):
        if link.name in seen:
            raise RadioError(f"{where}[{i}].name {link.name!r} repeats an earlier link's name")
        seen.add(link.name)
    return links


def links_json(links: Sequence[Link]) -> list[dict[str, Any]]:
    """Return the links as their JSON list (``parse_links`` reads it back)."""
    return [link.to_dict() for link in links]


def find_link(links: Sequence[Link], name: str | None, direction: Direction | None) -> Link:
    """Return the link named ``name``, or (None) the first link going ``direction``.

    The first in the satellite's list is its main link that way: Doppler tables, link
    budgets and the data-volume measure all take it unless told a name. A named link
    going the other way than ``direction`` (None: either way) is refused.
    """
    known = ", ".join(link.name for link in links) or "none"
    if name is not None:
        found = next((link for link in links if link.name == name), None)
        if found is None:
            raise RadioError(f"no link {name!r} (links: {known})")
        if direction is not None and found.direction is not direction:
            raise RadioError(f"link {name!r} is a {found.direction.value}, not a {direction.value}")
        return found
    if direction is None:
        direction = Direction.DOWNLINK
    found = next((link for link in links if link.direction is direction), None)
    if found is None:
        raise RadioError(f"no {direction.value} link (links: {known})")
    return found


def free_space_loss_db(range_m: ArrayLike, frequency_hz: float) -> FloatArray:
    """Return the free-space basic transmission loss, 20 log10(4 pi d f / c) (ITU-R P.525)."""
    d = np.asarray(range_m, dtype=float)
    if np.any(d <= 0.0) or not frequency_hz > 0.0:
        raise RadioError("free-space loss needs a positive range and frequency")
    return np.asarray(20.0 * np.log10(4.0 * np.pi * d * frequency_hz / SPEED_OF_LIGHT_M_S))


def eb_n0_db(
    *,
    eirp_dbw: float,
    range_m: ArrayLike,
    frequency_hz: float,
    g_over_t_db_k: float,
    data_rate_bps: float,
    atmospheric_loss_db: ArrayLike = 0.0,
    other_loss_db: ArrayLike = 0.0,
) -> FloatArray:
    """Return the energy per bit over the noise density at the receiver, dB (see the module)."""
    if not data_rate_bps > 0.0:
        raise RadioError(f"data_rate_bps must be positive, not {data_rate_bps!r}")
    c_n0 = (
        eirp_dbw
        - free_space_loss_db(range_m, frequency_hz)
        - np.asarray(atmospheric_loss_db, dtype=float)
        - np.asarray(other_loss_db, dtype=float)
        + g_over_t_db_k
        - BOLTZMANN_DBW_K_HZ
    )
    return np.asarray(c_n0 - 10.0 * math.log10(data_rate_bps))


AtmosphericLoss = float | ArrayLike | Callable[[FloatArray], FloatArray]
"""The atmospheric loss (dB): a number, one per sample, or a function of elevation (deg)."""


@dataclass(frozen=True)
class ContactBudget:
    """A downlink's budget through one contact, per sample and in total.

    ``time_s`` are the samples' times (seconds from the contact's start), the other
    arrays one value per sample. ``margin_db`` is Eb/N0 less the required Eb/N0 and
    the margin asked for; ``closed`` where it is >= 0.
    """

    link: Link
    g_over_t_db_k: float
    margin_asked_db: float
    time_s: FloatArray
    range_m: FloatArray
    elevation_deg: FloatArray
    free_space_loss_db: FloatArray
    atmospheric_loss_db: FloatArray
    eb_n0_db: FloatArray
    margin_db: FloatArray

    @property
    def closed(self) -> np.ndarray[Any, np.dtype[np.bool_]]:
        """Return where the link closes (margin >= 0)."""
        return np.asarray(self.margin_db >= 0.0)

    @property
    def closed_s(self) -> float:
        """Return the seconds the link is closed, the margin linear between samples."""
        return closed_seconds(self.time_s, self.margin_db)

    @property
    def volume_bits(self) -> float:
        """Return the bits the contact brings down: the data rate times the closed seconds."""
        (rate,) = self.link.needed("data_rate_bps")
        return rate * self.closed_s

    @property
    def volume_bytes(self) -> float:
        """Return the bytes the contact brings down (8 bits each)."""
        return self.volume_bits / 8.0


def closed_seconds(time_s: ArrayLike, margin_db: ArrayLike) -> float:
    """Return the seconds where the margin is >= 0, taking it as linear between samples."""
    t = np.asarray(time_s, dtype=float)
    m = np.asarray(margin_db, dtype=float)
    if t.size < 2:
        return 0.0
    dt = np.diff(t)
    m0, m1 = m[:-1], m[1:]
    both = (m0 >= 0.0) & (m1 >= 0.0)
    one = (m0 >= 0.0) != (m1 >= 0.0)
    high = np.maximum(m0, m1)
    span = np.abs(m1 - m0)
    fraction = np.where(one, high / np.where(span > 0.0, span, 1.0), 0.0)
    return float(np.sum(dt[both]) + np.sum(dt * fraction))


def contact_budget(
    link: Link,
    *,
    g_over_t_db_k: float,
    time_s: ArrayLike,
    range_m: ArrayLike,
    elevation_deg: ArrayLike,
    atmospheric_loss_db: AtmosphericLoss = 0.0,
    margin_db: float = 0.0,
    other_loss_db: float = 0.0,
) -> ContactBudget:
    """Return a downlink's budget through a contact sampled at ``time_s``.

    ``range_m`` and ``elevation_deg`` are the satellite's from the station at each
    sample; ``atmospheric_loss_db`` a number, an array (one per sample) or a function
    of the elevations. The link needs its EIRP, data rate and required Eb/N0
    (:class:`RadioError` names what it lacks); an uplink is refused (its budget needs
    the station's EIRP and the satellite's G/T, which are not stored).
    """
    if link.direction is not Direction.DOWNLINK:
        raise RadioError(
            f"link {link.name!r} is an uplink: only a downlink's budget is computed "
            "(an uplink's needs the station's EIRP and the satellite's G/T)"
        )
    eirp, rate, required = link.needed("eirp_dbw", "data_rate_bps", "required_eb_n0_db")
    if not math.isfinite(g_over_t_db_k):
        raise RadioError(f"the station's G/T must be finite, not {g_over_t_db_k!r}")
    t = np.asarray(time_s, dtype=float)
    rng = np.asarray(range_m, dtype=float)
    el = np.asarray(elevation_deg, dtype=float)
    if not t.shape == rng.shape == el.shape or t.ndim != 1:
        raise RadioError("time_s, range_m and elevation_deg must be 1-D arrays of one length")
    if t.size > 1 and np.any(np.diff(t) <= 0.0):
        raise RadioError("time_s must increase")
    if callable(atmospheric_loss_db):
        atmosphere = np.asarray(atmospheric_loss_db(el), dtype=float)
    else:
        atmosphere = np.asarray(atmospheric_loss_db, dtype=float)
    atmosphere = np.broadcast_to(atmosphere, t.shape).astype(float)
    fspl = free_space_loss_db(rng, link.tuned_hz)
    ebn0 = eb_n0_db(
        eirp_dbw=eirp,
        range_m=rng,
        frequency_hz=link.tuned_hz,
        g_over_t_db_k=g_over_t_db_k,
        data_rate_bps=rate,
        atmospheric_loss_db=atmosphere,
        other_loss_db=link.polarization_loss_db + other_loss_db,
    )
    return ContactBudget(
        link=link,
        g_over_t_db_k=g_over_t_db_k,
        margin_asked_db=margin_db,
        time_s=t,
        range_m=rng,
        elevation_deg=el,
        free_space_loss_db=fspl,
        atmospheric_loss_db=atmosphere,
        eb_n0_db=ebn0,
        margin_db=ebn0 - required - margin_db,
    )
