"""Read and write mean-element sets: TLE, and OMM as JSON, CSV, XML and KVN.

One record, :class:`Elements`, shaped like a CCSDS/CelesTrak OMM, is used
everywhere inside jointsat; TLE is only an import and export format.
Every format is read into OMM field names first, and one path turns
those fields into an :class:`Elements`, so that each value is checked
the same way whatever the format it came in.

This module parses strings only: reading files is done elsewhere.
"""

from __future__ import annotations

import csv
import enum
import json
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction

from sgp4.api import WGS72, Satrec

from jointsat.constants import DAY_S, MINUTES_PER_DAY
from jointsat.errors import ElementsError, UnknownFormatError
from jointsat.timelib import from_split_julian

JD_1949_12_31 = 2433281.5  # sgp4init counts epochs in days from 1949 December 31 00:00 UT
_DEG = math.pi / 180.0
_NDOT_UNITS = 1036800.0 / math.pi  # rev/day^2 -> rad/min^2 as sgp4 expects (see SGP4.cpp)
_NDDOT_UNITS = 2985984000.0 / 2.0 / math.pi  # rev/day^3 -> rad/min^3

MAX_CATALOG_NUMBER = 999_999_999  # nine digits, as an OMM's NORAD_CAT_ID may carry
MAX_TLE_CATALOG_NUMBER = 339_999  # "Z9999", the largest Alpha-5 number
TLE_LINE_COLUMNS = 69  # a TLE line's last column is its check digit; later columns are ignored

OMM_FIELDS = (
    "OBJECT_NAME",
    "OBJECT_ID",
    "EPOCH",
    "MEAN_MOTION",
    "ECCENTRICITY",
    "INCLINATION",
    "RA_OF_ASC_NODE",
    "ARG_OF_PERICENTER",
    "MEAN_ANOMALY",
    "EPHEMERIS_TYPE",
    "CLASSIFICATION_TYPE",
    "NORAD_CAT_ID",
    "ELEMENT_SET_NO",
    "REV_AT_EPOCH",
    "BSTAR",
    "MEAN_MOTION_DOT",
    "MEAN_MOTION_DDOT",
)
"""The CelesTrak OMM fields, in CelesTrak's order: what ``to_omm()`` writes."""

_JD_OF_ORDINAL_0 = 1721424.5  # date.fromordinal(n) begins at Julian date n + this
_SECONDS_PER_DAY = int(DAY_S)  # whole, for exact arithmetic with ints and Fractions
_MICROSECONDS_PER_DAY = _SECONDS_PER_DAY * 1_000_000
_TLE_EPOCH_STEPS_PER_DAY = 100_000_000  # a TLE epoch has eight decimals of a day
_ALPHA5_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # A stands for 10, ... Z for 33; I and O are skipped
_TLE_LINE_2_FIELDS = frozenset(
    {
        "INCLINATION",
        "RA_OF_ASC_NODE",
        "ECCENTRICITY",
        "ARG_OF_PERICENTER",
        "MEAN_ANOMALY",
        "MEAN_MOTION",
        "REV_AT_EPOCH",
    }
)


class ElementsFormat(enum.Enum):
    """Name the text formats that element sets are read from."""

    TLE = "TLE"
    OMM_JSON = "OMM JSON"
    OMM_CSV = "OMM CSV"
    OMM_XML = "OMM XML"
    OMM_KVN = "OMM KVN"


@dataclass(frozen=True)
class Elements:
    """Hold one SGP4 mean-element set of one satellite, with OMM's fields.

    The epoch is kept as a split Julian date (``epoch_jd`` at midnight,
    ``epoch_fr`` the fraction of the day, UTC) so that no precision is lost
    between a TLE's day-of-year and the propagator.
    """

    object_name: str
    object_id: str
    norad_cat_id: int
    epoch_jd: float
    epoch_fr: float
    mean_motion_rev_per_day: float
    eccentricity: float
    inclination_deg: float
    raan_deg: float
    arg_of_pericenter_deg: float
    mean_anomaly_deg: float
    bstar: float
    mean_motion_dot: float
    mean_motion_ddot: float
    ephemeris_type: int = 0
    classification_type: str = "U"
    element_set_no: int = 999
    rev_at_epoch: int = 0

    @property
    def epoch(self) -> datetime:
        """Return the epoch as a timezone-aware UTC datetime (to the microsecond)."""
        return from_split_julian(self.epoch_jd, self.epoch_fr)

    @property
    def epoch_days_since_1949(self) -> float:
        """Return the epoch as sgp4init wants it: days since 1949 December 31 00:00 UT."""
        return (self.epoch_jd - JD_1949_12_31) + self.epoch_fr

    def satrec(self) -> Satrec:
        """Build the sgp4 propagator for this element set (WGS-72, improved mode)."""
        sat = Satrec()
        satnum = self.norad_cat_id if self.norad_cat_id <= 339999 else 0
        sat.sgp4init(
            WGS72,
            "i",
            satnum,
            self.epoch_days_since_1949,
            self.bstar,
            self.mean_motion_dot / _NDOT_UNITS,
            self.mean_motion_ddot / _NDDOT_UNITS,
            self.eccentricity,
            self.arg_of_pericenter_deg * _DEG,
            self.inclination_deg * _DEG,
            self.mean_anomaly_deg * _DEG,
            self.mean_motion_rev_per_day * 2.0 * math.pi / MINUTES_PER_DAY,
            self.raan_deg * _DEG,
        )
        # sgp4init splits its one float epoch as epoch - floor(epoch), up to 0.16 microseconds
        # off; give sgp4 the exact split that propagation times are measured from.
        sat.jdsatepoch, sat.jdsatepochF = self.epoch_jd, self.epoch_fr
        return sat

    @classmethod
    def from_tle(
        cls,
        line1: str,
        line2: str,
        name: str = "",
        *,
        source: str = "<string>",
        line_number: int = 1,
        verify_checksum: bool = True,
    ) -> Elements:
        """Read the two lines of a TLE (and the satellite's name, if known).

        ``line_number`` is where ``line1`` sits in ``source`` (``line2``
        follows it), for the error messages. Columns after the 69th are
        ignored. Raise :class:`ElementsError` naming the line and the reason.
        """
        return _elements_from_tle(
            line1, line2, name, source, (line_number, line_number + 1), verify_checksum
        )

    @classmethod
    def from_omm(
        cls, fields: Mapping[str, object], *, source: str = "<string>", location: str = ""
    ) -> Elements:
        """Read one OMM given as CelesTrak field names and values (text or numbers).

        Required: EPOCH, NORAD_CAT_ID, the six mean elements, BSTAR,
        MEAN_MOTION_DOT and MEAN_MOTION_DDOT; the other fields have defaults.
        Raise :class:`ElementsError` naming ``location`` and the field.
        """

        def locate(_name: str) -> str:
            return location

        return _elements_from_fields(fields, source, locate)

    def to_tle(self) -> tuple[str, str]:
        """Write this element set as the two lines of a TLE, with valid check digits.

        Values are rounded to the TLE's columns (the epoch to 1e-8 day,
        angles to 1e-4 degree); the revolution number is written modulo
        100000 and the element set number modulo 10000, as TLEs do. Raise
        :class:`ElementsError` for what a TLE cannot carry: a catalog number
        above 339999, an epoch outside 1957-2056, a value too wide for its columns.
        """
        try:
            catalog = _tle_catalog_number(self.norad_cat_id)
            line1 = (
                f"1 {catalog}{_fit('CLASSIFICATION_TYPE', self.classification_type, 1)} "
                f"{_fit('OBJECT_ID', _tle_designator(self.object_id), 8)} {self._tle_epoch()} "
                f"{_fit('MEAN_MOTION_DOT', _tle_fixed_point(self.mean_motion_dot), 10)} "
                f"{_fit('MEAN_MOTION_DDOT', _tle_exponent(self.mean_motion_ddot), 8)} "
                f"{_fit('BSTAR', _tle_exponent(self.bstar), 8)} "
                f"{_fit('EPHEMERIS_TYPE', str(self.ephemeris_type), 1)} "
                f"{self.element_set_no % 10_000:4d}"
            )
            line2 = (
                f"2 {catalog} {_fit('INCLINATION', f'{self.inclination_deg:8.4f}', 8)} "
                f"{_tle_angle('RA_OF_ASC_NODE', self.raan_deg)} "
                f"{_fit('ECCENTRICITY', f'{self.eccentricity:.7f}'.removeprefix('0.'), 7)} "
                f"{_tle_angle('ARG_OF_PERICENTER', self.arg_of_pericenter_deg)} "
                f"{_tle_angle('MEAN_ANOMALY', self.mean_anomaly_deg)} "
                f"{_fit('MEAN_MOTION', f'{self.mean_motion_rev_per_day:11.8f}', 11)}"
                f"{self.rev_at_epoch % 100_000:5d}"
            )
        except ValueError as error:
            raise ElementsError(
                f"cannot write element set {self.norad_cat_id} as a TLE: {error}", source=""
            ) from None
        return line1 + str(_tle_checksum(line1)), line2 + str(_tle_checksum(line2))

    def to_omm(self) -> dict[str, object]:
        """Return this element set as CelesTrak OMM JSON fields (EPOCH to the microsecond)."""
        day, microseconds = self._epoch_steps(_MICROSECONDS_PER_DAY)
        midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
        epoch = midnight + timedelta(microseconds=microseconds)
        return {
            "OBJECT_NAME": self.object_name,
            "OBJECT_ID": self.object_id,
            "EPOCH": epoch.strftime("%Y-%m-%dT%H:%M:%S.%f"),
            "MEAN_MOTION": self.mean_motion_rev_per_day,
            "ECCENTRICITY": self.eccentricity,
            "INCLINATION": self.inclination_deg,
            "RA_OF_ASC_NODE": self.raan_deg,
            "ARG_OF_PERICENTER": self.arg_of_pericenter_deg,
            "MEAN_ANOMALY": self.mean_anomaly_deg,
            "EPHEMERIS_TYPE": self.ephemeris_type,
            "CLASSIFICATION_TYPE": self.classification_type,
            "NORAD_CAT_ID": self.norad_cat_id,
            "ELEMENT_SET_NO": self.element_set_no,
            "REV_AT_EPOCH": self.rev_at_epoch,
            "BSTAR": self.bstar,
            "MEAN_MOTION_DOT": self.mean_motion_dot,
            "MEAN_MOTION_DDOT": self.mean_motion_ddot,
        }

    def _epoch_steps(self, steps_per_day: int) -> tuple[date, int]:
        """Return the epoch's UTC date and its time of day in whole steps, rounded."""
        ordinal = math.floor(self.epoch_jd - _JD_OF_ORDINAL_0)
        steps = round((self.epoch_jd - _JD_OF_ORDINAL_0 - ordinal + self.epoch_fr) * steps_per_day)
        days, steps = divmod(steps, steps_per_day)
        return date.fromordinal(ordinal + days), steps

    def _tle_epoch(self) -> str:
        """Return the epoch in a TLE's YYDDD.DDDDDDDD form."""
        day, steps = self._epoch_steps(_TLE_EPOCH_STEPS_PER_DAY)
        if not 1957 <= day.year <= 2056:
            raise ValueError(f"epoch year {day.year} is outside 1957-2056, a TLE's years")
        return f"{day.year % 100:02d}{day.timetuple().tm_yday:03d}.{steps:08d}"


@dataclass(frozen=True)
class ParsedElements:
    """Hold what a batch parse found: the good element sets and the rejected records."""

    elements: tuple[Elements, ...]
    problems: tuple[ElementsError, ...]
    format: ElementsFormat


def detect_format(text: str, *, source: str = "<string>") -> ElementsFormat:
    """Recognise which element format ``text`` holds, from its content alone.

    XML holding an ``<omm>`` element is OMM XML; text opening with ``[`` or
    ``{`` is OMM JSON; a first keyword line ``CCSDS_OMM_VERS`` is OMM KVN; a
    first line naming EPOCH and MEAN_MOTION between commas is OMM CSV; any
    line opening with ``1 `` or ``2 `` makes the text a TLE file. Raise
    :class:`UnknownFormatError` for anything else, including empty text.
    """
    body = text.removeprefix("\ufeff").strip()
    if not body:
        raise UnknownFormatError("empty input: no element sets", source=source)
    if body.startswith("<") and re.search(r"<(\w+:)?omm[\s>]", body):
        return ElementsFormat.OMM_XML
    if body.startswith(("[", "{")):
        return ElementsFormat.OMM_JSON
    lines = [line.strip() for line in body.splitlines() if line.strip()]
    keywords = [line for line in lines if not line.startswith("COMMENT")]
    if keywords and keywords[0].startswith("CCSDS_OMM_VERS"):
        return ElementsFormat.OMM_KVN
    if {"EPOCH", "MEAN_MOTION"} <= {cell.strip() for cell in next(csv.reader(lines[:1]))}:
        return ElementsFormat.OMM_CSV
    if any(line.startswith(("1 ", "2 ")) for line in text.splitlines()):
        return ElementsFormat.TLE
    raise UnknownFormatError(
        "unknown format: not TLE, nor OMM as JSON, CSV, XML or KVN", source=source
    )


def parse_elements(
    text: str,
    *,
    source: str = "<string>",
    strict: bool = False,
    format: ElementsFormat | None = None,
) -> ParsedElements:
    """Read every element set in ``text``, in any format :func:`detect_format` knows.

    A record that cannot be read is reported in ``problems`` and skipped,
    or raised when ``strict`` is true. Text that cannot be read at all
    (an unknown format, broken JSON or XML) raises :class:`ElementsError`.
    ``source`` names the text's origin (a file name) in every error.
    """
    text = text.removeprefix("\ufeff")
    if format is None:
        format = detect_format(text, source=source)
    elements: list[Elements] = []
    problems: list[ElementsError] = []
    for outcome in _READERS[format](text, source):
        if isinstance(outcome, Elements):
            elements.append(outcome)
        elif strict:
            raise outcome
        else:
            problems.append(outcome)
    return ParsedElements(tuple(elements), tuple(problems), format)


# From fields to Elements: the one path that every format goes through.


@dataclass(frozen=True)
class _Interval:
    """Describe the values a field allows; print it in interval notation."""

    low: float
    high: float
    low_open: bool = False
    high_open: bool = False

    def __contains__(self, value: float) -> bool:
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return above and below

    def __str__(self) -> str:
        left = "(" if self.low_open else "["
        right = ")" if self.high_open else "]"
        return f"{left}{self.low}, {self.high}{right}"


_FINITE = _Interval(-math.inf, math.inf, low_open=True, high_open=True)
_POSITIVE = _Interval(0, math.inf, low_open=True, high_open=True)
_ECCENTRICITY = _Interval(0, 1, high_open=True)
_INCLINATION_DEG = _Interval(0, 180)
_ANGLE_DEG = _Interval(0, 360, high_open=True)
_COUNT = _Interval(0, math.inf, high_open=True)

_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_INTEGER = re.compile(r"[+-]?\d+")
_EPOCH = re.compile(
    r"(?P<year>\d{4})-(?:(?P<month>\d\d)-(?P<day>\d\d)|(?P<day_of_year>\d{3}))"
    r"T(?P<hour>\d\d):(?P<minute>\d\d):(?P<second>\d\d(?:\.\d+)?)Z?"
)


def _elements_from_fields(
    fields: Mapping[str, object], source: str, locate: Callable[[str], str]
) -> Elements:
    """Build Elements from OMM-named fields, checking each; ``locate`` names a field's place."""
    read = _FieldReader(fields, source, locate)
    # SGP4 takes TEME mean elements at a UTC epoch; SGP4-XP elements would propagate wrongly.
    read.text("REF_FRAME", "TEME", allowed="TEME")
    read.text("TIME_SYSTEM", "UTC", allowed="UTC")
    read.text("MEAN_ELEMENT_THEORY", "SGP4", allowed="SGP4|SGP/SGP4")
    epoch_jd, epoch_fr = read.epoch("EPOCH")
    return Elements(
        object_name=read.text("OBJECT_NAME", ""),
        object_id=read.text("OBJECT_ID", ""),
        norad_cat_id=read.integer("NORAD_CAT_ID", _Interval(0, MAX_CATALOG_NUMBER)),
        epoch_jd=epoch_jd,
        epoch_fr=epoch_fr,
        mean_motion_rev_per_day=read.number("MEAN_MOTION", _POSITIVE),
        eccentricity=read.number("ECCENTRICITY", _ECCENTRICITY),
        inclination_deg=read.number("INCLINATION", _INCLINATION_DEG),
        raan_deg=read.number("RA_OF_ASC_NODE", _ANGLE_DEG),
        arg_of_pericenter_deg=read.number("ARG_OF_PERICENTER", _ANGLE_DEG),
        mean_anomaly_deg=read.number("MEAN_ANOMALY", _ANGLE_DEG),
        bstar=read.number("BSTAR"),
        mean_motion_dot=read.number("MEAN_MOTION_DOT"),
        mean_motion_ddot=read.number("MEAN_MOTION_DDOT"),
        ephemeris_type=read.integer("EPHEMERIS_TYPE", _Interval(0, 9), default=0),
        classification_type=read.text("CLASSIFICATION_TYPE", "U", allowed="[A-Z]"),
        element_set_no=read.integer("ELEMENT_SET_NO", _COUNT, default=999),
        rev_at_epoch=read.integer("REV_AT_EPOCH", _COUNT, default=0),
    )


class _FieldReader:
    """Read OMM fields as checked values, or raise ElementsError naming field and place."""

    def __init__(
        self, fields: Mapping[str, object], source: str, locate: Callable[[str], str]
    ) -> None:
        self.fields = fields
        self.source = source
        self.locate = locate

    def error(self, name: str, reason: str) -> ElementsError:
        """Return the error that rejects field ``name`` for ``reason``."""
        return ElementsError(reason, source=self.source, location=self.locate(name))

    def raw(self, name: str) -> str | None:
        """Return a field's value as stripped text, or None when it is absent or blank."""
        value = self.fields.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise self.error(name, f"{name}: cannot read {value!r}")
        return str(value).strip()

    def required(self, name: str) -> str:
        """Return a field's value as text, or raise if it is missing."""
        text = self.raw(name)
        if text is None:
            raise self.error(name, f"missing required field {name}")
        return text

    def text(self, name: str, default: str, allowed: str = ".*") -> str:
        """Return a text field, or ``default``; reject text that ``allowed`` does not match."""
        text = self.raw(name)
        if text is None:
            return default
        if not re.fullmatch(allowed, text):
            raise self.error(name, f"{name} {text!r} is not allowed (expected {allowed})")
        return text

    def number(self, name: str, allowed: _Interval = _FINITE) -> float:
        """Return a required decimal number, checked against ``allowed``."""
        text = self.required(name)
        if not _NUMBER.fullmatch(text):
            raise self.error(name, f"{name}: cannot read {text!r} as a number")
        value = float(text)
        self.check(name, value, allowed)
        return value

    def integer(self, name: str, allowed: _Interval, default: int | None = None) -> int:
        """Return an integer field checked against ``allowed``; None ``default``: required."""
        text = self.raw(name)
        if text is None:
            if default is None:
                raise self.error(name, f"missing required field {name}")
            return default
        if not _INTEGER.fullmatch(text):
            raise self.error(name, f"{name}: cannot read {text!r} as an integer")
        integer = int(text)
        self.check(name, integer, allowed)
        return integer

    def check(self, name: str, value: float, allowed: _Interval) -> None:
        """Raise an out-of-range error unless ``allowed`` holds ``value``."""
        if value not in allowed:
            raise self.error(name, f"{name} {value} is out of range {allowed}")

    def epoch(self, name: str) -> tuple[float, float]:
        """Return a required UTC epoch as (Julian date of its midnight, exact fraction of day)."""
        text = self.required(name)
        try:
            return _split_epoch(text)
        except ValueError as error:
            raise self.error(name, f"{name}: {error}") from None


def _split_epoch(text: str) -> tuple[float, float]:
    """Split ``YYYY-MM-DDThh:mm:ss[.f][Z]`` (or ``YYYY-DDD...``) into midnight JD and fraction."""
    match = _EPOCH.fullmatch(text)
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
    fraction_of_day = (hour * 3600 + minute * 60 + second) / _SECONDS_PER_DAY
    return day.toordinal() + _JD_OF_ORDINAL_0, float(fraction_of_day)


# TLE columns: read into OMM fields, and written back.


def _elements_from_tle(
    line1: str,
    line2: str,
    name: str,
    source: str,
    line_numbers: tuple[int, int],
    verify_checksum: bool,
) -> Elements:
    """Check a TLE's two lines, then read their columns as OMM fields into Elements."""

    def error(line_number: int, reason: str) -> ElementsError:
        return ElementsError(reason, source=source, location=f"line {line_number}")

    for label, line, number in zip("12", (line1, line2), line_numbers, strict=True):
        if not line.startswith(f"{label} "):
            raise error(number, f"expected line {label} of a TLE, found {line.strip()[:24]!r}")
        if len(line) < TLE_LINE_COLUMNS:
            raise error(
                number, f"truncated line: {len(line)} columns, a TLE line has {TLE_LINE_COLUMNS}"
            )
        expected, found = str(_tle_checksum(line)), line[TLE_LINE_COLUMNS - 1]
        if verify_checksum and found != expected:
            found = found if found.isdigit() else repr(found)
            raise error(number, f"bad checksum: expected {expected}, found {found}")
    catalog_numbers = []
    for line, number in zip((line1, line2), line_numbers, strict=True):
        catalog_number = _read_tle_catalog_number(line[2:7])
        if catalog_number is None:
            raise error(number, f"NORAD_CAT_ID: cannot read catalog number {line[2:7]!r}")
        catalog_numbers.append(catalog_number)
    if catalog_numbers[0] != catalog_numbers[1]:
        raise error(
            line_numbers[1],
            f"catalog number {catalog_numbers[1]} does not match line 1's {catalog_numbers[0]}",
        )

    def locate(field: str) -> str:
        return f"line {line_numbers[1] if field in _TLE_LINE_2_FIELDS else line_numbers[0]}"

    fields = {
        "OBJECT_NAME": name.strip().removeprefix("0 ").strip(),
        "OBJECT_ID": _read_tle_designator(line1[9:17]),
        "EPOCH": _read_tle_epoch(line1[18:32]),
        "MEAN_MOTION": line2[52:63],
        "ECCENTRICITY": _read_tle_implied_point(line2[26:33]),
        "INCLINATION": line2[8:16],
        "RA_OF_ASC_NODE": line2[17:25],
        "ARG_OF_PERICENTER": line2[34:42],
        "MEAN_ANOMALY": line2[43:51],
        "EPHEMERIS_TYPE": line1[62],  # blank reads as the default, 0
        "CLASSIFICATION_TYPE": line1[7],
        "NORAD_CAT_ID": str(catalog_numbers[0]),
        "ELEMENT_SET_NO": line1[64:68],
        "REV_AT_EPOCH": line2[63:68],
        "BSTAR": _read_tle_exponent(line1[53:61]),
        "MEAN_MOTION_DOT": line1[33:43],
        "MEAN_MOTION_DDOT": _read_tle_exponent(line1[44:52]),
    }
    return _elements_from_fields(fields, source, locate)


def _tle_checksum(line: str) -> int:
    """Return a TLE line's check digit: its first 68 columns' digits summed, '-' as 1, mod 10."""
    return sum(int(c) if c in "0123456789" else c == "-" for c in line[:68]) % 10


def _full_year(two_digits: int) -> int:
    """Return the year that a TLE's two-digit year means (57-99: 1900s, 00-56: 2000s)."""
    return two_digits + (2000 if two_digits < 57 else 1900)


def _read_tle_catalog_number(text: str) -> int | None:
    """Read a catalog number written as up to five digits or in Alpha-5 (T0000 is 270000)."""
    text = text.strip()
    if re.fullmatch(r"\d{1,5}", text):
        return int(text)
    if re.fullmatch(r"[A-HJ-NP-Z]\d{4}", text):
        return (_ALPHA5_LETTERS.index(text[0]) + 10) * 10_000 + int(text[1:])
    return None


def _tle_catalog_number(number: int) -> str:
    """Write a catalog number in a TLE's five columns, in Alpha-5 from 100000 on."""
    if not 0 <= number <= MAX_TLE_CATALOG_NUMBER:
        raise ValueError(
            f"a TLE cannot carry a catalog number above {MAX_TLE_CATALOG_NUMBER} (Alpha-5 Z9999)"
        )
    if number < 100_000:
        return f"{number:05d}"
    letter, rest = divmod(number, 10_000)
    return f"{_ALPHA5_LETTERS[letter - 10]}{rest:04d}"


def _read_tle_designator(text: str) -> str:
    """Rewrite an international designator (98067A) as an OMM OBJECT_ID (1998-067A)."""
    match = re.fullmatch(r"(\d\d)(\d{3})([A-Z]{1,3})", text.strip())
    if match is None:
        return text.strip()
    year, launch, piece = match.groups()
    return f"{_full_year(int(year))}-{launch}{piece}"


def _tle_designator(object_id: str) -> str:
    """Write an OBJECT_ID (1998-067A) as a TLE's international designator (98067A)."""
    match = re.fullmatch(r"\d\d(\d\d)-(\d{3})([A-Z]{1,3})", object_id)
    return f"{''.join(match.groups()):8}" if match else f"{object_id:8}"


def _read_tle_epoch(text: str) -> str:
    """Rewrite a TLE epoch (YYDDD.DDDDDDDD) as the same instant in OMM form, exactly.

    A day fraction of k decimals is a whole number of 10**-k seconds, so
    the OMM text ``YYYY-DDDThh:mm:ss.f`` with k decimals holds it exactly.
    """
    match = re.fullmatch(r"(\d\d) *(\d{1,3})\.(\d+) *", text)
    if match is None:
        return text  # left for the epoch reader to reject, with the field's name
    year, day, decimals = match.groups()
    seconds, part = divmod(int(decimals) * _SECONDS_PER_DAY, 10 ** len(decimals))
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    return (
        f"{_full_year(int(year))}-{int(day):03d}"
        f"T{hours:02d}:{minutes:02d}:{seconds:02d}.{part:0{len(decimals)}d}"
    )


def _read_tle_implied_point(text: str) -> str:
    """Rewrite a TLE number with an implied leading decimal point (0003466 -> 0.0003466)."""
    return f"0.{text}" if re.fullmatch(r"\d+", text) else text


def _read_tle_exponent(text: str) -> str:
    """Rewrite a TLE exponent field as a number (" 11606-4" -> "0.11606e-4")."""
    match = re.fullmatch(r" *([+-]?)(\d{5})([+-]\d)", text)
    if match is None:
        return text  # left for the number reader to reject, with the field's name
    sign, digits, exponent = match.groups()
    return f"{sign}0.{digits}e{exponent}"


def _tle_exponent(value: float) -> str:
    """Write a value in a TLE exponent field (-0.11606e-4 -> "-11606-4")."""
    if not math.isfinite(value):
        raise ValueError(f"{value} cannot be written in a TLE")
    mantissa, exponent = f"{abs(value):.4e}".split("e")
    digits, power = mantissa.replace(".", ""), int(exponent) + 1
    if power < -9:  # smaller than the columns can write normalised: round to their last digit
        digits, power = f"{round(abs(value) * 1e14):05d}", -9
    if digits == "00000":
        return " 00000+0"
    if power > 9:
        raise ValueError(f"{value} is too large for a TLE exponent field")
    return f"{'-' if value < 0 else ' '}{digits}{power:+d}"


def _tle_fixed_point(value: float) -> str:
    """Write a value below 1 as a TLE does, with no leading zero (-0.00000084 -> "-.00000084")."""
    return f"{'-' if value < 0 else ' '}{f'{abs(value):.8f}'.removeprefix('0')}"


def _tle_angle(name: str, value_deg: float) -> str:
    """Write an angle in [0, 360) in eight columns, four decimals (359.99999 -> "  0.0000")."""
    text = f"{value_deg:8.4f}"
    return "  0.0000" if text == "360.0000" else _fit(name, text, 8)


def _fit(name: str, text: str, width: int) -> str:
    """Return ``text`` if it fills exactly ``width`` TLE columns, else raise ValueError."""
    if len(text) != width:
        raise ValueError(f"{name} {text.strip()!r} does not fit the TLE's {width} columns")
    return text


# Whole texts: each reader yields, record by record, Elements or the error that rejects one.


def _read_tle_text(text: str, source: str) -> Iterator[Elements | ElementsError]:
    """Read 2-line and 3-line TLE text; skip blank lines and lines starting with '#'."""
    lines = [
        (number, line)
        for number, line in enumerate(text.splitlines(), 1)
        if line.strip() and not line.startswith("#")
    ]
    name: tuple[int, str] | None = None  # the name line waiting for its TLE
    index = 0
    while index < len(lines):
        number, line = lines[index]
        next_number, next_line = lines[index + 1] if index + 1 < len(lines) else (0, "")
        if not line.startswith(("1 ", "2 ")):
            if name is not None:
                yield _orphan_name(name, source)
            name = (number, line)
            index += 1
            continue
        if line.startswith("1 ") and next_line.startswith("2 "):
            try:
                yield _elements_from_tle(
                    line, next_line, name[1] if name else "", source, (number, next_number), True
                )
            except ElementsError as error:
                yield error
            index += 2
        else:
            reason = "not followed by line 2" if line[0] == "1" else "not preceded by line 1"
            yield ElementsError(
                f"TLE line {line[0]} {reason}", source=source, location=f"line {number}"
            )
            index += 1
        name = None
    if name is not None:
        yield _orphan_name(name, source)


def _orphan_name(name: tuple[int, str], source: str) -> ElementsError:
    """Return the error for a name line (or stray text) that no TLE follows."""
    number, line = name
    return ElementsError(
        f"name line {line.strip()[:40]!r} is not followed by a TLE",
        source=source,
        location=f"line {number}",
    )


def _read_json_text(text: str, source: str) -> Iterator[Elements | ElementsError]:
    """Read CelesTrak OMM JSON: a list of objects, or a single object."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise ElementsError(
            f"invalid JSON: {error.msg} (column {error.colno})",
            source=source,
            location=f"line {error.lineno}",
        ) from None
    records = [document] if isinstance(document, dict) else document
    if not isinstance(records, list):
        raise ElementsError("expected a JSON list of OMM objects, or one object", source=source)
    for number, record in enumerate(records, 1):
        if isinstance(record, dict):
            yield _fields_outcome(record.items(), source, number)
        else:
            yield ElementsError(
                f"expected an object of OMM fields, found {type(record).__name__}",
                source=source,
                location=f"record {number}",
            )


def _read_csv_text(text: str, source: str) -> Iterator[Elements | ElementsError]:
    """Read CelesTrak OMM CSV: a header row of field names, then one row per record."""
    rows = [row for row in csv.reader(text.splitlines()) if any(cell.strip() for cell in row)]
    if not rows:
        raise ElementsError("empty CSV: no header row", source=source)
    header = [cell.strip() for cell in rows[0]]
    for number, row in enumerate(rows[1:], 1):
        if len(row) == len(header):
            yield _fields_outcome(zip(header, row, strict=True), source, number)
        else:
            yield ElementsError(
                f"{len(row)} values for the header's {len(header)} fields",
                source=source,
                location=f"record {number}",
            )


def _read_xml_text(text: str, source: str) -> Iterator[Elements | ElementsError]:
    """Read CCSDS OMM XML: one ``<omm>``, or an ``<ndm>`` holding several."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError as error:
        line, column = error.position
        reason = str(error).split(": line")[0]
        raise ElementsError(
            f"invalid XML: {reason} (column {column})", source=source, location=f"line {line}"
        ) from None
    messages = [element for element in root.iter() if _local_name(element.tag) == "omm"]
    if not messages:
        raise ElementsError("no <omm> element in the XML document", source=source)
    for number, message in enumerate(messages, 1):
        leaves = (
            (_local_name(leaf.tag), (leaf.text or "").strip())
            for leaf in message.iter()
            if len(leaf) == 0
        )
        yield _fields_outcome(leaves, source, number)


def _local_name(tag: object) -> str:
    """Return an XML tag's name without its namespace."""
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def _read_kvn_text(text: str, source: str) -> Iterator[Elements | ElementsError]:
    """Read CCSDS OMM KVN: ``KEYWORD = value [units]`` lines, each OMM from CCSDS_OMM_VERS."""
    records: list[list[tuple[int, str]]] = []
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("COMMENT"):
            continue
        if stripped.startswith("CCSDS_OMM_VERS"):
            records.append([])
        elif not records:
            raise ElementsError(
                "expected CCSDS_OMM_VERS first", source=source, location=f"line {number}"
            )
        records[-1].append((number, stripped))
    for number, lines in enumerate(records, 1):
        try:
            pairs = [_kvn_pair(line_number, line) for line_number, line in lines]
        except ValueError as error:
            yield ElementsError(str(error), source=source, location=f"record {number}")
        else:
            yield _fields_outcome((pair for pair in pairs if pair is not None), source, number)


def _kvn_pair(line_number: int, line: str) -> tuple[str, str] | None:
    """Split ``KEYWORD = value [units]`` into keyword and value; None for a block marker."""
    keyword, equals, value = line.partition("=")
    if equals:
        return keyword.strip(), re.sub(r"\[[^\]]*\]$", "", value.strip())
    if re.fullmatch(r"\w+_(START|STOP)", line):
        return None
    raise ValueError(f"line {line_number} is not 'KEYWORD = value': {line[:40]!r}")


def _fields_outcome(
    pairs: Iterable[tuple[str, object]], source: str, number: int
) -> Elements | ElementsError:
    """Read record ``number``, given as (field, value) pairs, as Elements or as its error."""
    location = f"record {number}"
    fields: dict[str, object] = {}
    for name, value in pairs:
        if name in fields and name in OMM_FIELDS:
            return ElementsError(f"field {name} appears twice", source=source, location=location)
        fields[name] = value
    try:
        return Elements.from_omm(fields, source=source, location=location)
    except ElementsError as error:
        return error


_READERS: dict[ElementsFormat, Callable[[str, str], Iterator[Elements | ElementsError]]] = {
    ElementsFormat.TLE: _read_tle_text,
    ElementsFormat.OMM_JSON: _read_json_text,
    ElementsFormat.OMM_CSV: _read_csv_text,
    ElementsFormat.OMM_XML: _read_xml_text,
    ElementsFormat.OMM_KVN: _read_kvn_text,
}
