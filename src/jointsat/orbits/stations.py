"""Describe ground stations: WGS-84 position, minimum elevation, horizon mask.

Stations are read from CSV or JSON text by :func:`parse_stations`; the files
themselves are opened at the edge, in :mod:`jointsat.files`.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from jointsat.errors import StationsError
from jointsat.jsonfile import load_json


@dataclass(frozen=True)
class HorizonMask:
    """Give the lowest usable elevation as a function of azimuth.

    The mask is piecewise linear between the given azimuths (degrees from
    north through east) and wraps around at 360 degrees.
    """

    azimuth_deg: tuple[float, ...]
    elevation_deg: tuple[float, ...]

    def __post_init__(self) -> None:
        az, el = self.azimuth_deg, self.elevation_deg
        if len(az) == 0 or len(az) != len(el):
            raise StationsError("horizon mask needs as many elevations as azimuths, at least one")
        if any(not 0.0 <= a < 360.0 for a in az) or list(az) != sorted(set(az)):
            raise StationsError("horizon mask azimuths must increase strictly within [0, 360)")
        if any(not -90.0 <= e <= 90.0 for e in el):
            raise StationsError("horizon mask elevations must lie within [-90, 90] degrees")

    def elevation_at(self, azimuth_deg: NDArray[np.float64]) -> NDArray[np.float64]:
        """Return the mask's elevation (degrees) at each azimuth (degrees)."""
        az = np.asarray(self.azimuth_deg)
        el = np.asarray(self.elevation_deg)
        xp = np.concatenate([az - 360.0, az, az + 360.0])
        fp = np.concatenate([el, el, el])
        elevation_deg: NDArray[np.float64] = np.interp(np.mod(azimuth_deg, 360.0), xp, fp)
        return elevation_deg

    @property
    def min_elevation_deg(self) -> float:
        """Return the lowest elevation anywhere on the mask."""
        return float(min(self.elevation_deg))


@dataclass(frozen=True)
class Station:
    """Hold a ground station: geodetic position on WGS-84 and what it can see.

    ``min_elevation_deg`` of None means "use the caller's default".
    """

    name: str
    lat_deg: float
    lon_deg: float
    alt_m: float = 0.0
    min_elevation_deg: float | None = None
    horizon_mask: HorizonMask | None = field(default=None)

    def __post_init__(self) -> None:
        if not self.name:
            raise StationsError("station name is empty")
        for label, value, low, high in (
            ("lat_deg", self.lat_deg, -90.0, 90.0),
            ("lon_deg", self.lon_deg, -180.0, 360.0),
            ("alt_m", self.alt_m, -12_000.0, 100_000.0),
        ):
            if not math.isfinite(value) or not low <= value <= high:
                raise StationsError(
                    f"station {self.name!r}: {label} {value} is outside [{low}, {high}]"
                )
        if self.min_elevation_deg is not None and not -90.0 <= self.min_elevation_deg < 90.0:
            raise StationsError(
                f"station {self.name!r}: min_elevation_deg {self.min_elevation_deg} "
                "is outside [-90, 90)"
            )


STATION_COLUMNS = ("name", "lat_deg", "lon_deg", "alt_m")
"""Name the columns (CSV) or keys (JSON) every station must have."""

_Fail = Callable[[str], StationsError]


def parse_stations(text: str, *, source: str = "<string>") -> tuple[Station, ...]:
    """Parse ground stations from CSV or JSON text, telling the two apart by content.

    CSV has a header naming at least ``name,lat_deg,lon_deg,alt_m`` and may add
    ``min_elevation_deg`` (an empty cell means the caller's default); other
    columns are ignored. JSON is a list of objects with the same keys and an
    optional ``horizon_mask`` of ``azimuth_deg`` and ``elevation_deg`` lists.
    Names must be unique. Raise :class:`StationsError` naming ``source``, the
    line (CSV) or record (JSON), the column and what is wrong.
    """
    body = text.lstrip("\ufeff \t\r\n")
    if not body:
        raise StationsError("the file is empty: no stations", source=source)
    if body[0] in "[{":
        located = _parse_json_stations(text, source)
    else:
        located = _parse_csv_stations(text, source)
    return _unique_stations(located, source)


def _parse_csv_stations(text: str, source: str) -> list[tuple[str, Station]]:
    """Parse CSV text into (location, station) pairs."""
    reader = csv.reader(text.removeprefix("\ufeff").splitlines())
    header: list[str] | None = None
    located: list[tuple[str, Station]] = []
    for cells in reader:
        if not any(cell.strip() for cell in cells):
            continue
        location = f"line {reader.line_num}"
        if header is None:
            header = [cell.strip() for cell in cells]
            missing = [column for column in STATION_COLUMNS if column not in header]
            if missing:
                raise StationsError(
                    f"missing column {missing[0]!r}: the header must name "
                    f"{','.join(STATION_COLUMNS)} (and may add min_elevation_deg)",
                    source=source,
                    location=location,
                )
            continue
        record = {column: cell.strip() for column, cell in zip(header, cells, strict=False)}
        located.append((location, _station_from_record(record, source, location)))
    return located


def _parse_json_stations(text: str, source: str) -> list[tuple[str, Station]]:
    """Parse JSON text (a list of objects) into (location, station) pairs."""
    records = load_json(text.removeprefix("\ufeff"), StationsError, source, "not valid JSON")
    if not isinstance(records, list):
        raise StationsError("JSON stations must be a list of objects", source=source)
    located: list[tuple[str, Station]] = []
    for number, record in enumerate(records, start=1):
        location = f"record {number}"
        if not isinstance(record, dict):
            raise StationsError("a station must be a JSON object", source=source, location=location)
        located.append((location, _station_from_record(record, source, location)))
    return located


def _station_from_record(record: Mapping[str, object], source: str, location: str) -> Station:
    """Build one station from a CSV row or JSON object, naming the bad column on error."""

    def fail(reason: str) -> StationsError:
        return StationsError(reason, source=source, location=location)

    for column in STATION_COLUMNS:
        if record.get(column) in (None, ""):
            raise fail(f"column {column!r} is missing or empty")
    name = record["name"]
    if not isinstance(name, str):
        raise fail(f"column 'name': {name!r} is not a string")
    elevation = record.get("min_elevation_deg")
    try:
        return Station(
            name=name,
            lat_deg=_number(record["lat_deg"], "lat_deg", fail),
            lon_deg=_number(record["lon_deg"], "lon_deg", fail),
            alt_m=_number(record["alt_m"], "alt_m", fail),
            min_elevation_deg=(
                None if elevation in (None, "") else _number(elevation, "min_elevation_deg", fail)
            ),
            horizon_mask=_horizon_mask(record.get("horizon_mask"), fail),
        )
    except StationsError as exc:
        if exc.location:
            raise
        raise fail(exc.reason) from None


def _number(value: object, column: str, fail: _Fail) -> float:
    """Return a CSV cell or JSON value as a float, or raise naming the column."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise fail(f"column {column!r}: {value!r} is not a number")
    try:
        return float(value)
    except ValueError:
        raise fail(f"column {column!r}: {value!r} is not a number") from None


def _horizon_mask(value: object, fail: _Fail) -> HorizonMask | None:
    """Return the JSON ``horizon_mask`` object as a :class:`HorizonMask`, if given."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise fail("column 'horizon_mask' must be an object with azimuth_deg and elevation_deg")
    lists: list[tuple[float, ...]] = []
    for key in ("azimuth_deg", "elevation_deg"):
        values = value.get(key)
        if not isinstance(values, list):
            raise fail(f"column 'horizon_mask': {key!r} must be a list of numbers")
        lists.append(tuple(_number(v, f"horizon_mask.{key}", fail) for v in values))
    return HorizonMask(azimuth_deg=lists[0], elevation_deg=lists[1])


def _unique_stations(located: Sequence[tuple[str, Station]], source: str) -> tuple[Station, ...]:
    """Return the stations, refusing an empty list or a name given twice."""
    if not located:
        raise StationsError("no stations in the file", source=source)
    first_seen: dict[str, str] = {}
    for location, station in located:
        if station.name in first_seen:
            raise StationsError(
                f"column 'name': duplicate station name {station.name!r} "
                f"(first at {first_seen[station.name]})",
                source=source,
                location=location,
            )
        first_seen[station.name] = location
    return tuple(station for _, station in located)
