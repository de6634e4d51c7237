"""Read and write the columns of two-line element sets (TLE).

TLE is only an import and export format: its two lines are read into OMM
field names (:class:`OmmRecord`), which :mod:`jointsat.orbits.elements`
turns into an element set like any other format's; the column writers
here serve ``Elements.to_tle()``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator

from jointsat.constants import DAY_S
from jointsat.errors import ElementsError
from jointsat.orbits.omm import OmmRecord, RecordOutcome

MAX_TLE_CATALOG_NUMBER = 339_999  # "Z9999", the largest Alpha-5 number
TLE_LINE_COLUMNS = 69  # a TLE line's last column is its check digit; later columns are ignored

_SECONDS_PER_DAY = int(DAY_S)  # whole, for exact arithmetic with ints
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


def read_tle_text(text: str, source: str) -> Iterator[RecordOutcome]:
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
                yield tle_record(
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


def tle_record(
    line1: str,
    line2: str,
    name: str,
    source: str,
    line_numbers: tuple[int, int],
    verify_checksum: bool,
) -> OmmRecord:
    """Check a TLE's two lines, then read their columns as OMM fields, each located by line."""

    def error(line_number: int, reason: str) -> ElementsError:
        return ElementsError(reason, source=source, location=f"line {line_number}")

    for label, line, number in zip("12", (line1, line2), line_numbers, strict=True):
        if not line.startswith(f"{label} "):
            raise error(number, f"expected line {label} of a TLE, found {line.strip()[:24]!r}")
        if len(line) < TLE_LINE_COLUMNS:
            raise error(
                number, f"truncated line: {len(line)} columns, a TLE line has {TLE_LINE_COLUMNS}"
            )
        expected, found = str(tle_checksum(line)), line[TLE_LINE_COLUMNS - 1]
        if verify_checksum and found != expected:
            found = found if found.isdigit() else repr(found)
            raise error(number, f"bad checksum: expected {expected}, found {found}")
    catalog_numbers = []
    for line, number in zip((line1, line2), line_numbers, strict=True):
        catalog_number = _read_catalog_number(line[2:7])
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
        "OBJECT_ID": _read_designator(line1[9:17]),
        "EPOCH": _read_epoch(line1[18:32]),
        "MEAN_MOTION": line2[52:63],
        "ECCENTRICITY": _read_implied_point(line2[26:33]),
        "INCLINATION": line2[8:16],
        "RA_OF_ASC_NODE": line2[17:25],
        "ARG_OF_PERICENTER": line2[34:42],
        "MEAN_ANOMALY": line2[43:51],
        "EPHEMERIS_TYPE": line1[62],  # blank reads as the default, 0
        "CLASSIFICATION_TYPE": line1[7],
        "NORAD_CAT_ID": str(catalog_numbers[0]),
        "ELEMENT_SET_NO": line1[64:68],
        "REV_AT_EPOCH": line2[63:68],
        "BSTAR": _read_exponent(line1[53:61]),
        "MEAN_MOTION_DOT": line1[33:43],
        "MEAN_MOTION_DDOT": _read_exponent(line1[44:52]),
    }
    return OmmRecord(fields, locate)


def tle_checksum(line: str) -> int:
    """Return a TLE line's check digit: its first 68 columns' digits summed, '-' as 1, mod 10."""
    return sum(int(c) if c in "0123456789" else c == "-" for c in line[:68]) % 10


def _full_year(two_digits: int) -> int:
    """Return the year that a TLE's two-digit year means (57-99: 1900s, 00-56: 2000s)."""
    return two_digits + (2000 if two_digits < 57 else 1900)


def _read_catalog_number(text: str) -> int | None:
    """Read a catalog number written as up to five digits or in Alpha-5 (T0000 is 270000)."""
    text = text.strip()
    if re.fullmatch(r"\d{1,5}", text):
        return int(text)
    if re.fullmatch(r"[A-HJ-NP-Z]\d{4}", text):
        return (_ALPHA5_LETTERS.index(text[0]) + 10) * 10_000 + int(text[1:])
    return None


def tle_catalog_number(number: int) -> str:
    """Write a catalog number in a TLE's five columns, in Alpha-5 from 100000 on."""
    if not 0 <= number <= MAX_TLE_CATALOG_NUMBER:
        raise ValueError(
            f"a TLE's five columns carry catalog numbers up to {MAX_TLE_CATALOG_NUMBER} "
            "(Alpha-5 Z9999), so no valid TLE exists for it; write OMM instead"
        )
    if number < 100_000:
        return f"{number:05d}"
    letter, rest = divmod(number, 10_000)
    return f"{_ALPHA5_LETTERS[letter - 10]}{rest:04d}"


def _read_designator(text: str) -> str:
    """Rewrite an international designator (98067A) as an OMM OBJECT_ID (1998-067A)."""
    match = re.fullmatch(r"(\d\d)(\d{3})([A-Z]{1,3})", text.strip())
    if match is None:
        return text.strip()
    year, launch, piece = match.groups()
    return f"{_full_year(int(year))}-{launch}{piece}"


def tle_designator(object_id: str) -> str:
    """Write an OBJECT_ID (1998-067A) as a TLE's international designator (98067A)."""
    match = re.fullmatch(r"\d\d(\d\d)-(\d{3})([A-Z]{1,3})", object_id)
    return f"{''.join(match.groups()):8}" if match else f"{object_id:8}"


def _read_epoch(text: str) -> str:
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


def _read_implied_point(text: str) -> str:
    """Rewrite a TLE number with an implied leading decimal point (0003466 -> 0.0003466)."""
    return f"0.{text}" if re.fullmatch(r"\d+", text) else text


def _read_exponent(text: str) -> str:
    """Rewrite a TLE exponent field as a number (" 11606-4" -> "0.11606e-4")."""
    match = re.fullmatch(r" *([+-]?)(\d{5})([+-]\d)", text)
    if match is None:
        return text  # left for the number reader to reject, with the field's name
    sign, digits, exponent = match.groups()
    return f"{sign}0.{digits}e{exponent}"


def tle_exponent(value: float) -> str:
    """Write a value in a TLE exponent field (-0.11606e-4 -> "-11606-4")."""
    if not math.isfinite(value):
        raise ValueError(f"{value} cannot be written in a TLE")
    mantissa, exponent = f"{abs(value):.4e}".split("e")
    digits, power = mantissa.replace(".", ""), int(exponent) + 1
    if power < -9:  # smaller than the columns can write normalized: round to their last digit
        digits, power = f"{round(abs(value) * 1e14):05d}", -9
    if digits == "00000":
        return " 00000+0"
    if power > 9:
        raise ValueError(f"{value} is too large for a TLE exponent field")
    return f"{'-' if value < 0 else ' '}{digits}{power:+d}"


def tle_fixed_point(value: float) -> str:
    """Write a value below 1 as a TLE does, with no leading zero (-0.00000084 -> "-.00000084")."""
    return f"{'-' if value < 0 else ' '}{f'{abs(value):.8f}'.removeprefix('0')}"


def tle_angle(name: str, value_deg: float) -> str:
    """Write an angle in [0, 360) in eight columns, four decimals (359.99999 -> "  0.0000")."""
    text = f"{value_deg:8.4f}"
    return "  0.0000" if text == "360.0000" else fit_columns(name, text, 8)


def fit_columns(name: str, text: str, width: int) -> str:
    """Return ``text`` if it fills exactly ``width`` TLE columns, else raise ValueError."""
    if len(text) != width:
        raise ValueError(f"{name} {text.strip()!r} does not fit the TLE's {width} columns")
    return text
