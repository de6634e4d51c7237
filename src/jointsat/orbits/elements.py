"""Read and write mean-element sets: TLE, and OMM as JSON, CSV, XML and KVN.

One record, :class:`Elements`, shaped like a CCSDS/CelesTrak OMM, is used
everywhere inside jointsat; TLE is only an import and export format.
Every format is read into OMM field names first, and one path turns
those fields into an :class:`Elements`, so that each value is checked
the same way whatever the format it came in.

The TLE columns are read and written in :mod:`jointsat.orbits.tle`, the
OMM texts read in :mod:`jointsat.orbits.omm`. These modules parse strings
only: reading files is done elsewhere.
"""

from __future__ import annotations

import csv
import enum
import json
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sgp4.api import WGS72, Satrec

from jointsat.constants import DAY_S, MINUTES_PER_DAY
from jointsat.errors import ElementsError, UnknownFormatError
from jointsat.orbits.ephemeris import Ephemeris
from jointsat.orbits.oem import read_oem
from jointsat.orbits.omm import (
    OmmRecord,
    RecordOutcome,
    read_csv_text,
    read_json_text,
    read_kvn_text,
    read_xml_text,
)
from jointsat.orbits.tle import (
    MAX_TLE_CATALOG_NUMBER,
    fit_columns,
    read_tle_text,
    tle_angle,
    tle_catalog_number,
    tle_checksum,
    tle_designator,
    tle_exponent,
    tle_fixed_point,
    tle_record,
)
from jointsat.timelib import JD_OF_ORDINAL_0, from_split_julian, split_epoch

JD_1949_12_31 = 2433281.5  # sgp4init counts epochs in days from 1949 December 31 00:00 UT
_DEG = math.pi / 180.0
_NDOT_UNITS = 1036800.0 / math.pi  # rev/day^2 -> rad/min^2 as sgp4 expects (see SGP4.cpp)
_NDDOT_UNITS = 2985984000.0 / 2.0 / math.pi  # rev/day^3 -> rad/min^3

MAX_CATALOG_NUMBER = 999_999_999  # nine digits, as an OMM's NORAD_CAT_ID may carry

_SECONDS_PER_DAY = int(DAY_S)  # whole, for exact arithmetic with ints and Fractions
_MICROSECONDS_PER_DAY = _SECONDS_PER_DAY * 1_000_000
_TLE_EPOCH_STEPS_PER_DAY = 100_000_000  # a TLE epoch has eight decimals of a day


class ElementsFormat(enum.Enum):
    """Name the text formats that element sets are read from."""

    TLE = "TLE"
    OMM_JSON = "OMM JSON"
    OMM_CSV = "OMM CSV"
    OMM_XML = "OMM XML"
    OMM_KVN = "OMM KVN"
    OEM_KVN = "OEM KVN"
    OEM_XML = "OEM XML"


OEM_FORMATS = (ElementsFormat.OEM_KVN, ElementsFormat.OEM_XML)
"""The formats that hold an ephemeris (states) rather than element sets."""


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
        # python-sgp4 refuses a satnum above Alpha-5's last (its issue #169); the number
        # does not affect the motion.
        satnum = self.norad_cat_id if self.norad_cat_id <= MAX_TLE_CATALOG_NUMBER else 0
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
        record = tle_record(
            line1, line2, name, source, (line_number, line_number + 1), verify_checksum
        )
        return _elements_from_fields(record.fields, source, record.locate)

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
            fit = fit_columns
            catalog = tle_catalog_number(self.norad_cat_id)
            line1 = (
                f"1 {catalog}{fit('CLASSIFICATION_TYPE', self.classification_type, 1)} "
                f"{fit('OBJECT_ID', tle_designator(self.object_id), 8)} {self._tle_epoch()} "
                f"{fit('MEAN_MOTION_DOT', tle_fixed_point(self.mean_motion_dot), 10)} "
                f"{fit('MEAN_MOTION_DDOT', tle_exponent(self.mean_motion_ddot), 8)} "
                f"{fit('BSTAR', tle_exponent(self.bstar), 8)} "
                f"{fit('EPHEMERIS_TYPE', str(self.ephemeris_type), 1)} "
                f"{self.element_set_no % 10_000:4d}"
            )
            line2 = (
                f"2 {catalog} {fit('INCLINATION', f'{self.inclination_deg:8.4f}', 8)} "
                f"{tle_angle('RA_OF_ASC_NODE', self.raan_deg)} "
                f"{fit('ECCENTRICITY', f'{self.eccentricity:.7f}'.removeprefix('0.'), 7)} "
                f"{tle_angle('ARG_OF_PERICENTER', self.arg_of_pericenter_deg)} "
                f"{tle_angle('MEAN_ANOMALY', self.mean_anomaly_deg)} "
                f"{fit('MEAN_MOTION', f'{self.mean_motion_rev_per_day:11.8f}', 11)}"
                f"{self.rev_at_epoch % 100_000:5d}"
            )
        except ValueError as error:
            raise ElementsError(
                f"cannot write element set {self.norad_cat_id} as a TLE: {error}", source=""
            ) from None
        return line1 + str(tle_checksum(line1)), line2 + str(tle_checksum(line2))

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
        ordinal = math.floor(self.epoch_jd - JD_OF_ORDINAL_0)
        steps = round((self.epoch_jd - JD_OF_ORDINAL_0 - ordinal + self.epoch_fr) * steps_per_day)
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
    """Hold what a batch parse found: the good element sets and the rejected records.

    An OEM gives no element set but one ephemeris.
    """

    elements: tuple[Elements, ...]
    problems: tuple[ElementsError, ...]
    format: ElementsFormat
    ephemerides: tuple[Ephemeris, ...] = ()


def detect_format(text: str, *, source: str = "<string>") -> ElementsFormat:
    """Recognise which element format ``text`` holds, from its content alone.

    XML holding an ``<omm>`` element is OMM XML, an ``<oem>`` element OEM XML;
    text opening with ``[`` or ``{`` is OMM JSON; a first keyword line
    ``CCSDS_OMM_VERS`` is OMM KVN, ``CCSDS_OEM_VERS`` OEM KVN; a
    first line naming EPOCH and MEAN_MOTION between commas is OMM CSV; any
    line opening with ``1 `` or ``2 `` makes the text a TLE file. Raise
    :class:`UnknownFormatError` for anything else, including empty text.
    """
    body = text.removeprefix("\ufeff").strip()
    if not body:
        raise UnknownFormatError("empty input: no element sets", source=source)
    if body.startswith("<") and re.search(r"<(\w+:)?omm[\s>]", body):
        return ElementsFormat.OMM_XML
    if body.startswith("<") and re.search(r"<(\w+:)?oem[\s>]", body):
        return ElementsFormat.OEM_XML
    if body.startswith(("[", "{")):
        return ElementsFormat.OMM_JSON
    lines = [line.strip() for line in body.splitlines() if line.strip()]
    keywords = [line for line in lines if not line.startswith("COMMENT")]
    if keywords and keywords[0].startswith("CCSDS_OMM_VERS"):
        return ElementsFormat.OMM_KVN
    if keywords and keywords[0].startswith("CCSDS_OEM_VERS"):
        return ElementsFormat.OEM_KVN
    if {"EPOCH", "MEAN_MOTION"} <= {cell.strip() for cell in next(csv.reader(lines[:1]))}:
        return ElementsFormat.OMM_CSV
    if any(line.startswith(("1 ", "2 ")) for line in text.splitlines()):
        return ElementsFormat.TLE
    raise UnknownFormatError(
        "unknown format: not TLE, OMM (JSON, CSV, XML, KVN) nor OEM (KVN, XML)", source=source
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
    ``source`` names the text's origin (a file name) in every error. An OEM
    is read whole (:func:`jointsat.orbits.oem.read_oem`) or raises.
    """
    text = text.removeprefix("\ufeff")
    if format is None:
        format = detect_format(text, source=source)
    if format in OEM_FORMATS:
        return ParsedElements((), (), format, (read_oem(text, source=source),))
    elements: list[Elements] = []
    problems: list[ElementsError] = []
    for outcome in _elements_outcomes(_READERS[format](text, source), source):
        if isinstance(outcome, Elements):
            elements.append(outcome)
        elif strict:
            raise outcome
        else:
            problems.append(outcome)
    return ParsedElements(tuple(elements), tuple(problems), format)


def write_elements(elements: Iterable[Elements], format: ElementsFormat) -> str:
    """Write element sets as text that :func:`parse_elements` reads back: TLE or OMM JSON.

    TLE gives each set as three lines (its name, then the TLE); OMM JSON a list of
    CelesTrak records. A set a TLE cannot carry (a catalog number above 339999 has
    no valid TLE; see :meth:`Elements.to_tle`) raises :class:`ElementsError` naming
    it and the reason, before anything is written; so does a format not written here.
    """
    sets = list(elements)
    if format is ElementsFormat.OMM_JSON:
        return json.dumps([e.to_omm() for e in sets], indent=2) + "\n"
    if format is not ElementsFormat.TLE:
        raise ElementsError(f"cannot write {format.value}: write TLE or OMM JSON", source="")
    lines = [line for e in sets for line in (e.object_name, *e.to_tle())]
    return "".join(f"{line}\n" for line in lines)


_READERS: dict[ElementsFormat, Callable[[str, str], Iterator[RecordOutcome]]] = {  # not OEM
    ElementsFormat.TLE: read_tle_text,
    ElementsFormat.OMM_JSON: read_json_text,
    ElementsFormat.OMM_CSV: read_csv_text,
    ElementsFormat.OMM_XML: read_xml_text,
    ElementsFormat.OMM_KVN: read_kvn_text,
}


def _elements_outcomes(
    outcomes: Iterator[RecordOutcome], source: str
) -> Iterator[Elements | ElementsError]:
    """Turn each record a reader found into Elements, or into the error that rejects it."""
    for outcome in outcomes:
        if isinstance(outcome, OmmRecord):
            try:
                yield _elements_from_fields(outcome.fields, source, outcome.locate)
            except ElementsError as error:
                yield error
        else:
            yield outcome


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
            return split_epoch(text)
        except ValueError as error:
            raise self.error(name, f"{name}: {error}") from None
