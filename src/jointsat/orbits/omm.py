"""Read CCSDS/CelesTrak OMM texts (JSON, CSV, XML, KVN) into records of OMM fields.

Each reader yields, record by record, the record's OMM-named fields or the
error that rejects it; :mod:`jointsat.orbits.elements` turns the fields
into an element set, the same way for every format. A text that cannot be
read at all (broken JSON or XML) raises :class:`ElementsError`.
"""

from __future__ import annotations

import csv
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass

from jointsat.errors import ElementsError
from jointsat.jsonfile import load_json

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
"""The CelesTrak OMM fields, in CelesTrak's order: what ``Elements.to_omm()`` writes."""


@dataclass(frozen=True)
class OmmRecord:
    """Hold one record as OMM-named fields, and where each field sits in its text."""

    fields: Mapping[str, object]
    locate: Callable[[str], str]


RecordOutcome = OmmRecord | ElementsError
"""What a reader yields for one record: its fields, or the error that rejects it."""


def read_json_text(text: str, source: str) -> Iterator[RecordOutcome]:
    """Read CelesTrak OMM JSON: a list of objects, or a single object."""
    document = load_json(text, ElementsError, source, "invalid JSON")
    records = [document] if isinstance(document, dict) else document
    if not isinstance(records, list):
        raise ElementsError("expected a JSON list of OMM objects, or one object", source=source)
    for number, record in enumerate(records, 1):
        if isinstance(record, dict):
            yield _record(record.items(), source, number)
        else:
            yield _record_error(
                f"expected an object of OMM fields, found {type(record).__name__}", source, number
            )


def read_csv_text(text: str, source: str) -> Iterator[RecordOutcome]:
    """Read CelesTrak OMM CSV: a header row of field names, then one row per record."""
    rows = [row for row in csv.reader(text.splitlines()) if any(cell.strip() for cell in row)]
    if not rows:
        raise ElementsError("empty CSV: no header row", source=source)
    header = [cell.strip() for cell in rows[0]]
    for number, row in enumerate(rows[1:], 1):
        if len(row) == len(header):
            yield _record(zip(header, row, strict=True), source, number)
        else:
            yield _record_error(
                f"{len(row)} values for the header's {len(header)} fields", source, number
            )


def read_xml_text(text: str, source: str) -> Iterator[RecordOutcome]:
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
        yield _record(leaves, source, number)


def _local_name(tag: object) -> str:
    """Return an XML tag's name without its namespace."""
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def read_kvn_text(text: str, source: str) -> Iterator[RecordOutcome]:
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
            yield _record_error(str(error), source, number)
        else:
            yield _record((pair for pair in pairs if pair is not None), source, number)


def _kvn_pair(line_number: int, line: str) -> tuple[str, str] | None:
    """Split ``KEYWORD = value [units]`` into keyword and value; None for a block marker."""
    keyword, equals, value = line.partition("=")
    if equals:
        return keyword.strip(), re.sub(r"\[[^\]]*\]$", "", value.strip())
    if re.fullmatch(r"\w+_(START|STOP)", line):
        return None
    raise ValueError(f"line {line_number} is not 'KEYWORD = value': {line[:40]!r}")


def _record(pairs: Iterable[tuple[str, object]], source: str, number: int) -> RecordOutcome:
    """Gather record ``number``, given as (field, value) pairs; an OMM field twice rejects it."""
    fields: dict[str, object] = {}
    for name, value in pairs:
        if name in fields and name in OMM_FIELDS:
            return _record_error(f"field {name} appears twice", source, number)
        fields[name] = value
    location = f"record {number}"
    return OmmRecord(fields, lambda _name: location)


def _record_error(reason: str, source: str, number: int) -> ElementsError:
    """Return the error that rejects record ``number`` of ``source`` for ``reason``."""
    return ElementsError(reason, source=source, location=f"record {number}")
