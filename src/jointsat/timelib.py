"""Time: one home for parsing, formatting and Julian dates.

Boundaries speak aware UTC datetimes; the numeric core speaks split Julian dates
``(jd, fr)`` (``jd`` at a midnight, ``fr`` the fraction of the day since), as
python-sgp4 does, so that a day's seconds keep their precision. Nothing here reads
the clock: ``now`` is handed in from the edge.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction

import numpy as np
from numpy.typing import ArrayLike, NDArray

from jointsat.constants import DAY_S

__all__ = [
    "JD_J2000",
    "JD_UNIX_EPOCH",
    "UNIX_EPOCH",
    "UTC",
    "TimeOrigin",
    "format_iso",
    "format_iso_ms",
    "format_readable",
    "from_split_julian",
    "parse_iso",
    "read_iso",
    "split_epoch",
    "split_julian",
    "to_utc",
]

UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
JD_UNIX_EPOCH = 2440587.5
"""The Julian date of 1970-01-01T00:00:00 UTC."""
JD_J2000 = 2451545.0
"""The Julian date of J2000.0 (2000-01-01T12:00:00 TT)."""
JD_OF_ORDINAL_0 = 1721424.5
"""``date.fromordinal(n)`` begins at Julian date n + this."""
_EPOCH_TEXT = re.compile(
    r"(?P<year>\d{4})-(?:(?P<month>\d\d)-(?P<day>\d\d)|(?P<day_of_year>\d{3}))"
    r"T(?P<hour>\d\d):(?P<minute>\d\d):(?P<second>\d\d(?:\.\d+)?)Z?"
)


def to_utc(moment: datetime, label: str = "time") -> datetime:
    """Return an aware datetime in UTC; refuse a naive one (``ValueError`` naming ``label``).

    A time whose zone takes it outside the years 1 to 9999 once turned to UTC is refused
    too, rather than raising ``OverflowError`` from deep inside.
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{label} {moment.isoformat()} has no time zone; give UTC (a trailing Z)")
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ValueError(
            f"{label} {moment.isoformat()} is out of range once turned to UTC"
        ) from None


def read_iso(text: str, *, label: str = "time", verbatim: bool = False) -> datetime:
    """Read an ISO 8601 / RFC 3339 time as written: its own zone kept, or none (naive).

    Blanks around it are ignored and ``t`` and ``z`` may be lower case, as RFC 3339
    allows, unless ``verbatim``: then the text must be exactly a time (the file readers
    that always refused those keep doing so). For readers with their own word on a time
    without zone; :func:`parse_iso` is the usual way in. Raises ``ValueError``.
    """
    try:
        return datetime.fromisoformat(text if verbatim else text.strip().upper())
    except ValueError:
        raise ValueError(
            f"{label} {text!r} is not an ISO 8601 time such as 2024-05-09T00:00:00Z"
        ) from None


def parse_iso(text: str, *, label: str = "time", naive_is_utc: bool = False) -> datetime:
    """Parse an ISO 8601 / RFC 3339 time into an aware UTC datetime.

    ``Z`` or an offset gives the zone (``t`` and ``z`` may be lower case, as RFC 3339
    allows); a time without one is refused unless ``naive_is_utc``. Raises ``ValueError``
    with a message a user can act on; callers turn it into their own error type.
    """
    moment = read_iso(text, label=label)
    if moment.tzinfo is None and naive_is_utc:
        return moment.replace(tzinfo=UTC)
    return to_utc(moment, label)


def format_iso(moment: datetime) -> str:
    """Return a time as ISO 8601 UTC ending in ``Z``, to the microsecond when it has one."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def format_iso_ms(moment: datetime) -> str:
    """Return a time as ISO 8601 UTC to the millisecond (truncated), ending in ``Z``."""
    utc = moment.astimezone(UTC).replace(tzinfo=None)
    return utc.isoformat(timespec="milliseconds") + "Z"


def format_iso_ms_after(start: datetime, seconds: ArrayLike) -> list[str]:
    """Return ``format_iso_ms(start + t)`` for each ``t`` of ``seconds``, vectorised.

    Each offset is rounded to the microsecond as ``timedelta`` rounds it, then the time
    truncated to the millisecond, so each string is the one ``format_iso_ms`` gives.
    """
    base = np.datetime64(start.astimezone(UTC).replace(tzinfo=None), "us")
    offsets = np.round(np.asarray(seconds, dtype=float) * 1e6).astype(np.int64)
    moments = base + offsets.astype("timedelta64[us]")
    return [text + "Z" for text in np.datetime_as_string(moments, unit="ms").tolist()]


def format_readable(moment: datetime) -> str:
    """Return a UTC time for people to read, to the second: ``2024-05-10 00:00:00``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def split_julian(moment: datetime) -> tuple[float, float]:
    """Return an aware datetime as a split Julian date (jd at midnight UTC, fraction of day)."""
    utc = moment.astimezone(UTC)
    midnight = utc.replace(hour=0, minute=0, second=0, microsecond=0)
    days = (midnight - UNIX_EPOCH).days
    return JD_UNIX_EPOCH + days, (utc - midnight).total_seconds() / DAY_S


def from_split_julian(jd: float, fr: float) -> datetime:
    """Return the aware UTC datetime of a split Julian date (to the microsecond)."""
    return UNIX_EPOCH + timedelta(days=(jd - JD_UNIX_EPOCH) + fr)


@dataclass(frozen=True)
class TimeOrigin:
    """A moment from which the numeric core counts seconds, and its split Julian date.

    Kernels sample ``t_s`` seconds after ``start``; :meth:`julian` gives the split Julian
    dates SGP4 and the Sun's series want for any array of such offsets.
    """

    start: datetime
    jd0: float
    fr0: float

    @classmethod
    def of(cls, start: datetime) -> TimeOrigin:
        """Return the origin at ``start`` (an aware datetime, kept in UTC)."""
        utc = start.astimezone(UTC)
        return cls(utc, *split_julian(utc))

    def julian(self, t_s: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Return the split Julian dates of offsets ``t_s`` (seconds after the origin)."""
        t = np.asarray(t_s, dtype=float)
        return np.full(t.shape, self.jd0), self.fr0 + t / DAY_S

    def seconds(self, moment: datetime) -> float:
        """Return how many seconds ``moment`` is after the origin."""
        return (moment - self.start).total_seconds()

    def at(self, t_s: float) -> datetime:
        """Return the aware UTC datetime ``t_s`` seconds after the origin."""
        return self.start + timedelta(seconds=float(t_s))


def split_epoch(text: str) -> tuple[float, float]:
    """Split ``YYYY-MM-DDThh:mm:ss[.f][Z]`` (or ``YYYY-DDD...``) into midnight JD and fraction."""
    match = _EPOCH_TEXT.fullmatch(text)
    if match is None:
        raise ValueError(f"cannot read {text!r} as a UTC epoch YYYY-MM-DDThh:mm:ss.ffffff")
    year = int(match["year"])
    try:
        if match["day_of_year"]:
            day = date(year, 1, 1) + timedelta(days=int(match["day_of_year"]) - 1)
            if day.year != year:
                raise ValueError(f"day of year {match['day_of_year']} is not in {year}")
        else:
            day = date(year, int(match["month"]), int(match["day"]))
    except (ValueError, OverflowError) as error:
        raise ValueError(f"cannot read {text!r} as a UTC epoch: {error}") from None
    hour, minute, second = int(match["hour"]), int(match["minute"]), Fraction(match["second"])
    if hour > 23 or minute > 59 or second >= 60:
        raise ValueError(f"cannot read {text!r} as a UTC epoch: time of day out of range")
    fraction_of_day = (hour * 3600 + minute * 60 + second) / int(DAY_S)
    return day.toordinal() + JD_OF_ORDINAL_0, float(fraction_of_day)
