"""Read and check a product's metadata: what was acquired, by which satellite, where, when.

A product's metadata is a JSON object (docs/archive.md):

```
{"satellite": 44874, "instrument": "CHEOPS-CCD", "processing_level": "L1",
 "acquired_start": "2024-05-10T10:00:00Z", "acquired_end": "2024-05-10T10:12:00Z",
 "footprint": {"type": "Polygon", "coordinates": [...]},   (or "sky": {"ra_deg", "dec_deg"})
 "contact_id": 17, "owners": ["esa", "cnes"], "properties": {"view:off_nadir": 12.5}}
```

``satellite`` is the catalog number; ``owners`` partner codes (default: the
satellite's operators); ``properties`` extra STAC properties (``view:*``, ``sat:*``
and the like), kept as given. Bad metadata is refused naming the field.
"""

from __future__ import annotations

import hashlib
import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from jointsat.errors import ArchiveInputError
from jointsat.jsonfile import MAX_ROW_ID, storable_json, storable_text
from jointsat.orbits.elements import MAX_CATALOG_NUMBER
from jointsat.timelib import read_iso, to_utc

GEOMETRY_TYPES = ("Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon")
KNOWN_FIELDS = frozenset(
    {
        "satellite",
        "instrument",
        "processing_level",
        "acquired_start",
        "acquired_end",
        "footprint",
        "sky",
        "contact_id",
        "owners",
        "properties",
    }
)
DEFAULT_LEVEL = "L0"
MAX_INSTRUMENT = 100  # the lengths of the store's columns
MAX_LEVEL = 20
MAX_OWNER = 32
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)  # room for a century of embargo after it


@dataclass(frozen=True)
class SkyPosition:
    """Where an astronomy product points: right ascension and declination (ICRS)."""

    ra_deg: float
    dec_deg: float


@dataclass(frozen=True)
class ProductMetadata:
    """A product's checked metadata (times timezone-aware UTC)."""

    satellite: int
    instrument: str
    acquired_start: datetime
    acquired_end: datetime
    processing_level: str = DEFAULT_LEVEL
    footprint: dict[str, Any] | None = None
    sky: SkyPosition | None = None
    contact_id: int | None = None
    owners: tuple[str, ...] = ()  # partner codes; empty: the satellite's operators
    properties: dict[str, Any] = field(default_factory=dict)

    @property
    def bbox(self) -> tuple[float, float, float, float] | None:
        """Return the footprint's (west, south, east, north); west > east across 180."""
        return None if self.footprint is None else geometry_bbox(self.footprint)


def _field(reason: str, name: str) -> ArchiveInputError:
    return ArchiveInputError(f"{name}: {reason}")


def _text(
    document: Mapping[str, Any], name: str, default: str | None = None, *, longest: int = 100
) -> str:
    value = document.get(name, default)
    if not isinstance(value, str) or not value.strip() or len(value.strip()) > longest:
        raise _field(f"a text of 1 to {longest} characters is required", name)
    return _storable(value.strip(), name)


def _storable(value: str, name: str) -> str:
    try:
        return storable_text(value)
    except ValueError as exc:
        raise _field(str(exc), name) from None


def _time(document: Mapping[str, Any], name: str) -> datetime:
    """Return a time given as ISO 8601 text (JSON) or as a datetime, with its zone."""
    value = document.get(name)
    if isinstance(value, datetime):
        moment = value
    elif not isinstance(value, str):
        raise _field("an ISO 8601 time with its zone is required", name)
    else:
        try:
            moment = read_iso(value, verbatim=True)
        except ValueError:
            raise _field(f"{value!r} is not an ISO 8601 time", name) from None
    if moment.tzinfo is None:
        raise _field(f"{value!r} has no time zone; give UTC ('Z')", name)
    try:
        utc = to_utc(moment, name)
    except ValueError as exc:
        raise _field(str(exc).removeprefix(f"{name} "), name) from None
    if not EARLIEST <= utc < LATEST:
        raise _field(f"{value} is not between {EARLIEST.year} and {LATEST.year}", name)
    return moment


def _number(value: Any, name: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _field("a number is required", name)
    if not low <= value <= high:
        raise _field(f"{value} is outside [{low}, {high}]", name)
    return float(value)


def _positions(coordinates: Any, depth: int, name: str) -> Iterable[tuple[float, float]]:
    """Yield the (lon, lat) of nested coordinate lists ``depth`` levels above positions."""
    if not isinstance(coordinates, list) or (depth == 0 and len(coordinates) < 2):
        raise _field("coordinates do not match the geometry type", name)
    if depth == 0:
        yield (
            _number(coordinates[0], f"{name} longitude", -180.0, 180.0),
            _number(coordinates[1], f"{name} latitude", -90.0, 90.0),
        )
        return
    for item in coordinates:
        yield from _positions(item, depth - 1, name)


_DEPTH = {
    "Point": 0,
    "MultiPoint": 1,
    "LineString": 1,
    "MultiLineString": 2,
    "Polygon": 2,
    "MultiPolygon": 3,
}


def check_geometry(geometry: Any, name: str = "footprint") -> dict[str, Any]:
    """Return a GeoJSON geometry (WGS 84 longitude, latitude) after checking its shape."""
    if not isinstance(geometry, dict) or geometry.get("type") not in GEOMETRY_TYPES:
        raise _field(f"a GeoJSON geometry of type {', '.join(GEOMETRY_TYPES)} is required", name)
    points = list(_positions(geometry.get("coordinates"), _DEPTH[geometry["type"]], name))
    if not points:
        raise _field("the geometry has no coordinates", name)
    return {"type": geometry["type"], "coordinates": geometry["coordinates"]}


def _parts(geometry: Mapping[str, Any]) -> list[list[tuple[float, float]]]:
    """Return the positions of each part of a geometry (a point, a line, a polygon)."""
    kind, coordinates = geometry["type"], geometry["coordinates"]
    if kind.startswith("Multi"):
        single = kind.removeprefix("Multi")
        return [list(_positions(c, _DEPTH[single], "footprint")) for c in coordinates]
    return [list(_positions(coordinates, _DEPTH[kind], "footprint"))]


def geometry_bbox(geometry: Mapping[str, Any]) -> tuple[float, float, float, float]:
    """Return (west, south, east, north) of a geometry; west > east when it crosses 180.

    Coordinates are read as written (RFC 7946): a part's edges never wrap around, so
    a geometry that crosses the antimeridian comes cut in two (a MultiPolygon). The
    box covers the parts' longitudes the short way round the globe: across 180
    (west > east) when the widest gap between the parts is elsewhere than at 180.
    """
    parts = _parts(geometry)
    lats = [lat for part in parts for _, lat in part]
    spans = sorted((min(lon for lon, _ in p), max(lon for lon, _ in p)) for p in parts)
    merged = [list(spans[0])]
    for west, east in spans[1:]:
        if west <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], east)
        else:
            merged.append([west, east])
    west, east = merged[0][0], merged[-1][1]
    widest = merged[0][0] + 360.0 - merged[-1][1]  # the gap across 180
    for before, after in itertools.pairwise(merged):
        if after[0] - before[1] > widest:
            widest, west, east = after[0] - before[1], after[0], before[1]
    return (west, min(lats), east, max(lats))


def metadata_from_dict(document: Any) -> ProductMetadata:
    """Return the metadata read from a JSON object, or refuse it naming the field.

    Times are ISO 8601 text, or aware datetimes where the document was built in Python.
    """
    if not isinstance(document, Mapping):
        raise ArchiveInputError("the metadata must be a JSON object")
    if unknown := ", ".join(sorted(set(document) - KNOWN_FIELDS)):
        known = ", ".join(sorted(KNOWN_FIELDS))
        raise ArchiveInputError(f"unknown metadata field(s): {unknown} (known: {known})")
    return _checked(document)


def product_metadata(
    *,
    satellite: int,
    instrument: str,
    acquired_start: datetime,
    acquired_end: datetime,
    processing_level: str = DEFAULT_LEVEL,
    footprint: dict[str, Any] | None = None,
    sky: SkyPosition | None = None,
    contact_id: int | None = None,
    owners: Sequence[str] = (),
    properties: Mapping[str, Any] | None = None,
) -> ProductMetadata:
    """Return checked metadata from its fields (times aware), or refuse it naming the field.

    The checks are those of ``metadata_from_dict``, for metadata built in Python.
    """
    return _checked(
        {
            "satellite": satellite,
            "instrument": instrument,
            "acquired_start": acquired_start,
            "acquired_end": acquired_end,
            "processing_level": processing_level,
            "footprint": footprint,
            "sky": None if sky is None else {"ra_deg": sky.ra_deg, "dec_deg": sky.dec_deg},
            "contact_id": contact_id,
            "owners": list(owners),
            "properties": {} if properties is None else dict(properties),
        }
    )


def _checked(document: Mapping[str, Any]) -> ProductMetadata:
    """Return the metadata of known fields, JSON values or times as datetimes, checked."""
    satellite = document.get("satellite")
    if (
        isinstance(satellite, bool)
        or not isinstance(satellite, int)
        or not 0 < satellite <= MAX_CATALOG_NUMBER
    ):
        raise _field(
            f"the satellite's catalog number (an integer, 1 to {MAX_CATALOG_NUMBER}) is required",
            "satellite",
        )
    start = _time(document, "acquired_start")
    end = _time(document, "acquired_end")
    if end < start:
        raise _field("ends before acquired_start", "acquired_end")
    footprint = document.get("footprint")
    sky = document.get("sky")
    if footprint is not None and sky is not None:
        raise ArchiveInputError("give footprint (an Earth product) or sky, not both")
    position = None
    if sky is not None:
        if not isinstance(sky, Mapping):
            raise _field("an object {ra_deg, dec_deg} is required", "sky")
        ra = _number(sky.get("ra_deg"), "sky.ra_deg", 0.0, 360.0) % 360.0
        position = SkyPosition(ra, _number(sky.get("dec_deg"), "sky.dec_deg", -90.0, 90.0))
    contact = document.get("contact_id")
    if contact is not None and (
        isinstance(contact, bool) or not isinstance(contact, int) or not 0 < contact <= MAX_ROW_ID
    ):
        raise _field(f"a contact's id (an integer, 1 to {MAX_ROW_ID}) is required", "contact_id")
    owners = document.get("owners", [])
    if not isinstance(owners, list) or not all(
        isinstance(o, str) and 0 < len(o) <= MAX_OWNER for o in owners
    ):
        raise _field("a list of partner codes is required", "owners")
    for owner in owners:
        _storable(owner, "owners")
    properties = document.get("properties", {})
    if not isinstance(properties, dict):
        raise _field("a JSON object is required", "properties")
    for name, value in (("properties", properties), ("footprint", footprint)):
        try:
            storable_json(value, name)
        except ValueError as exc:
            raise ArchiveInputError(str(exc)) from None
    return ProductMetadata(
        satellite=satellite,
        instrument=_text(document, "instrument", longest=MAX_INSTRUMENT),
        acquired_start=start,
        acquired_end=end,
        processing_level=_text(document, "processing_level", DEFAULT_LEVEL, longest=MAX_LEVEL),
        footprint=None if footprint is None else check_geometry(footprint),
        sky=position,
        contact_id=contact,
        owners=tuple(dict.fromkeys(owners)),
        properties=dict(properties),
    )


def product_id(satellite: int, sha256s: Sequence[str]) -> str:
    """Return a product's id: the satellite and its files' SHA-256, hashed (32 hex digits).

    The same bytes from the same satellite always give the same id, which makes
    ingest idempotent.
    """
    key = f"{satellite}:" + ",".join(sorted(sha256s))
    return hashlib.sha256(key.encode()).hexdigest()[:32]
