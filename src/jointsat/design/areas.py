"""Areas of interest: GeoJSON polygons (RFC 7946), latitude bands and the whole globe.

An :class:`Area` is where a mission's coverage is measured. It is read from GeoJSON text
(:func:`read_geojson`; reading the file is the caller's business) or made as a band of
latitude (:func:`band`) or the whole Earth (:func:`globe`), and written back as a GeoJSON
Feature (:func:`area_json`).

Coordinates are longitude then latitude in degrees (WGS-84), as RFC 7946 orders them.
Following RFC 7946 §3.1.1, a ring's edges are straight lines in longitude and latitude
(planar), not great circles: a point is inside a polygon when it is inside the planar
polygon its ring draws on the longitude-latitude plane (even-odd rule), and outside
every hole. Two cases of the sphere are recognised on top of that:

* The antimeridian (RFC 7946 §3.1.9). A polygon cut at ±180 into parts (a MultiPolygon)
  needs nothing special. A ring left uncut is recognised by an edge whose ends are more
  than 180 degrees of longitude apart: such an edge is taken to cross the antimeridian
  by the short way, so ``[170, 0] -> [-170, 0]`` spans 20 degrees, not 340. To draw an
  edge longer than 180 degrees of longitude, put a vertex in its middle. An edge from
  exactly -180 to +180 (or back) is the exception: it runs along its whole parallel, as
  the RFC's planar edges say (a band's outline, the RFC's ring round a pole).
* The poles. The RFC's way of enclosing a pole, a ring running along ±180 up to latitude
  ±90 (``[[-180,60],[0,60],[180,60],[180,90],[-180,90],[-180,60]]``), is planar already
  and contains the polar cap. A ring that goes once round the Earth in longitude (its
  crossings of the antimeridian add up to 360 degrees) encloses a pole too: the pole of
  the hemisphere its vertices lie in on average (their mean latitude's sign), whatever
  the ring's direction.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeGuard

import numpy as np
from numpy.typing import ArrayLike, NDArray

from jointsat.errors import DesignError

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

AREA_KINDS = ("polygon", "band", "globe")
"""The kinds of :class:`Area`: GeoJSON polygons, a band of latitude, the whole Earth."""


@dataclass(frozen=True, eq=False)
class _PlanarRing:
    """One ring as the planar polygon that is tested, its longitudes unwrapped.

    ``lon_deg`` and ``lat_deg`` are the closed ring's vertices; the smallest longitude
    lies in [-180, 180), the largest may pass 180 (a ring across the antimeridian, or
    round a pole) and then a point is also tried at its longitude plus 360 (``shifts``).
    """

    lon_deg: FloatArray
    lat_deg: FloatArray
    shifts: tuple[float, ...]

    @property
    def box(self) -> tuple[float, float, float, float]:
        """Return (lon_min, lon_max, lat_min, lat_max) of the planar ring, degrees."""
        return (
            float(self.lon_deg.min()),
            float(self.lon_deg.max()),
            float(self.lat_deg.min()),
            float(self.lat_deg.max()),
        )

    def contains(self, lat_deg: FloatArray, lon_deg: FloatArray) -> BoolArray:
        """Return whether each point is inside the ring (even-odd rule, planar).

        A ray from the point towards +longitude crosses an edge when the edge spans the
        point's latitude (lowest end included, highest not) and meets it east of the
        point; an odd count of crossings is inside. With the points sorted by latitude
        each edge visits only the points of its own span.
        """
        inside = np.zeros(lat_deg.shape, dtype=bool)
        lon_min, lon_max, lat_min, lat_max = self.box
        x0, y0 = self.lon_deg[:-1], self.lat_deg[:-1]
        x1, y1 = self.lon_deg[1:], self.lat_deg[1:]
        sloped = y0 != y1  # a level ray never crosses a level edge
        x0, y0, x1, y1 = x0[sloped], y0[sloped], x1[sloped], y1[sloped]
        slope = ((x1 - x0) / (y1 - y0)).tolist()
        for shift in self.shifts:
            lon = lon_deg + shift
            chosen = np.flatnonzero(
                (lon >= lon_min) & (lon <= lon_max) & (lat_deg >= lat_min) & (lat_deg <= lat_max)
            )
            chosen = chosen[np.argsort(lat_deg[chosen], kind="stable")]
            px, py = lon[chosen], lat_deg[chosen]
            first = np.searchsorted(py, np.minimum(y0, y1), side="left").tolist()
            past = np.searchsorted(py, np.maximum(y0, y1), side="left").tolist()
            odd = np.zeros(len(chosen), dtype=bool)
            for i, (a, b) in enumerate(zip(first, past, strict=True)):
                if a < b:
                    odd[a:b] ^= px[a:b] < x0[i] + (py[a:b] - y0[i]) * slope[i]
            inside[chosen] |= odd
        return inside


def _planar_ring(ring: FloatArray, where: str) -> _PlanarRing:
    """Prepare a closed ring (``(n, 2)`` lon, lat) for the point-in-polygon test."""
    lon, lat = ring[:, 0].copy(), ring[:, 1].copy()
    step = np.diff(lon)
    # From -180 to +180 (or back) is RFC 7946's planar edge along a whole parallel.
    crossing = (np.abs(step) > 180.0) & (np.abs(step) != 360.0)
    if np.any(crossing):
        # Uncut across the antimeridian: such edges go the short way round.
        step = np.where(crossing, (step + 180.0) % 360.0 - 180.0, step)
        lon = lon[0] + np.concatenate([[0.0], np.cumsum(step)])
        winding = round((lon[-1] - lon[0]) / 360.0)
        if abs(winding) > 1:
            raise DesignError(f"a ring winds {abs(winding)} times round the Earth", location=where)
        if winding != 0:
            mean_lat = float(np.mean(lat[:-1]))
            if mean_lat == 0.0:
                raise DesignError(
                    "a ring goes round the Earth on the equator on average: "
                    "it encloses neither pole",
                    location=where,
                )
            pole = math.copysign(90.0, mean_lat)
            # Close the ring through the pole it encloses: up its last meridian, along
            # the pole's line, down its first meridian.
            lon = np.concatenate([lon, [lon[-1], lon[0], lon[0]]])
            lat = np.concatenate([lat, [pole, pole, lat[0]]])
        lon = lon - 360.0 * math.floor((float(lon.min()) + 180.0) / 360.0)
    top = float(lon.max())
    extra = max(0, math.ceil((top - 180.0) / 360.0))
    return _PlanarRing(lon, lat, tuple(360.0 * k for k in range(extra + 1)))


@dataclass(frozen=True, eq=False)
class Polygon:
    """One GeoJSON polygon: an exterior ring and its holes, each ``(n, 2)`` lon, lat degrees.

    Rings are closed (their last position repeats the first) and have at least four
    positions. A point is inside when it is inside the exterior and in no hole (see
    the module's notes on the antimeridian and the poles).
    """

    exterior: FloatArray
    holes: tuple[FloatArray, ...] = ()
    _rings: tuple[_PlanarRing, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        rings = tuple(
            _planar_ring(ring, f"ring {k}") for k, ring in enumerate((self.exterior, *self.holes))
        )
        object.__setattr__(self, "_rings", rings)

    @property
    def box(self) -> tuple[float, float, float, float]:
        """Return the exterior's (lon_min, lon_max, lat_min, lat_max), degrees.

        Longitudes are unwrapped: a polygon across the antimeridian has ``lon_max`` above
        180 (``lon_min`` is in [-180, 180)); one round a pole spans 360 degrees and more.
        """
        return self._rings[0].box

    def contains(self, lat_deg: FloatArray, lon_deg: FloatArray) -> BoolArray:
        """Return whether each point (degrees, longitudes in [-180, 180]) is inside."""
        inside = self._rings[0].contains(lat_deg, lon_deg)
        for hole in self._rings[1:]:
            kept = np.flatnonzero(inside)
            inside[kept] = ~hole.contains(lat_deg[kept], lon_deg[kept])
        return inside


@dataclass(frozen=True, eq=False)
class Area:
    """An area of interest: a name, the partner who asked for it, and where it lies.

    ``kind`` is ``"polygon"`` (the union of ``polygons``), ``"band"`` (every longitude
    between ``lat_min_deg`` and ``lat_max_deg``, both included) or ``"globe"`` (the
    whole Earth). A band or the globe also carries its outline as one polygon (a
    rectangle in longitude and latitude, which RFC 7946's planar edges make exact), for
    GeoJSON.
    """

    name: str
    partner: str | None
    polygons: tuple[Polygon, ...]
    kind: str = "polygon"
    lat_min_deg: float = -90.0
    lat_max_deg: float = 90.0

    def contains(self, lat_deg: ArrayLike, lon_deg: ArrayLike) -> BoolArray:
        """Return whether each point is in the area: a boolean array of the points' shape.

        Latitudes and longitudes are in degrees (longitudes in [-180, 180]); they
        broadcast against each other.
        """
        lat, lon = np.broadcast_arrays(
            np.asarray(lat_deg, dtype=float), np.asarray(lon_deg, dtype=float)
        )
        if self.kind == "globe":
            return np.ones(lat.shape, dtype=bool)
        if self.kind == "band":
            return np.asarray((lat >= self.lat_min_deg) & (lat <= self.lat_max_deg))
        flat_lat, flat_lon = lat.ravel(), lon.ravel()
        inside = np.zeros(flat_lat.shape, dtype=bool)
        for polygon in self.polygons:
            inside |= polygon.contains(flat_lat, flat_lon)
        return inside.reshape(lat.shape)

    @property
    def boxes(self) -> tuple[tuple[float, float, float, float], ...]:
        """Return each polygon's (lon_min, lon_max, lat_min, lat_max), unwrapped, degrees.

        A band or the globe gives one box of every longitude (-180 to 180).
        """
        if self.kind != "polygon":
            return ((-180.0, 180.0, self.lat_min_deg, self.lat_max_deg),)
        return tuple(polygon.box for polygon in self.polygons)


def band(
    lat_min_deg: float,
    lat_max_deg: float,
    *,
    name: str | None = None,
    partner: str | None = None,
) -> Area:
    """Return the band of every longitude between two latitudes (degrees, both included).

    The default name is ``band[-30,30]``. Raise :class:`DesignError` unless
    -90 <= ``lat_min_deg`` < ``lat_max_deg`` <= 90.
    """
    low, high = float(lat_min_deg), float(lat_max_deg)
    if not (-90.0 <= low < high <= 90.0):
        raise DesignError(
            f"a band needs -90 <= lat_min < lat_max <= 90 degrees, not [{low:g}, {high:g}]"
        )
    outline = _rectangle(low, high)
    return Area(name or f"band[{low:g},{high:g}]", partner, (outline,), "band", low, high)


def globe(name: str = "globe", *, partner: str | None = None) -> Area:
    """Return the whole Earth as an area."""
    return Area(name, partner, (_rectangle(-90.0, 90.0),), "globe", -90.0, 90.0)


def _rectangle(lat_min_deg: float, lat_max_deg: float) -> Polygon:
    """Return the polygon of every longitude between two latitudes (RFC 7946 planar)."""
    ring = [
        [-180.0, lat_min_deg],
        [180.0, lat_min_deg],
        [180.0, lat_max_deg],
        [-180.0, lat_max_deg],
        [-180.0, lat_min_deg],
    ]
    return Polygon(np.array(ring, dtype=float))


def area_json(area: Area) -> dict[str, Any]:
    """Return an area as a GeoJSON Feature that :func:`read_geojson` reads back the same.

    Properties are ``name``, ``partner`` and ``kind``; a band adds ``lat_min_deg`` and
    ``lat_max_deg``. The geometry is a Polygon, or a MultiPolygon for several.
    """
    polygons = [
        [_ring_json(polygon.exterior), *(_ring_json(hole) for hole in polygon.holes)]
        for polygon in area.polygons
    ]
    geometry: dict[str, Any] = (
        {"type": "Polygon", "coordinates": polygons[0]}
        if len(polygons) == 1
        else {"type": "MultiPolygon", "coordinates": polygons}
    )
    properties: dict[str, Any] = {"name": area.name, "partner": area.partner, "kind": area.kind}
    if area.kind == "band":
        properties["lat_min_deg"] = area.lat_min_deg
        properties["lat_max_deg"] = area.lat_max_deg
    return {"type": "Feature", "properties": properties, "geometry": geometry}


def _ring_json(ring: FloatArray) -> list[list[float]]:
    return [[float(lon), float(lat)] for lon, lat in ring]


def read_geojson(
    text: str, *, name: str | None = None, source: str = "<string>"
) -> tuple[Area, ...]:
    """Read the areas of interest in GeoJSON text (RFC 7946).

    A FeatureCollection gives one area per Feature; a Feature, or a bare Polygon or
    MultiPolygon, gives one. An area's name is its Feature's ``name`` property, else
    ``name`` (default ``"area"``) followed, in a FeatureCollection, by ``-i`` (``i``
    the Feature's index from 0); its partner is the ``partner`` property (or none).
    Features that :func:`area_json` wrote as a band or the globe (property ``kind``)
    come back as one. Positions may carry an altitude, which is ignored.

    Raise :class:`DesignError` naming ``source`` and the place (``features[2].geometry
    .coordinates[0][5]``) for text that is not JSON, a geometry other than Polygon or
    MultiPolygon, a position outside longitude [-180, 180] or latitude [-90, 90], a
    ring with fewer than four positions or whose last position is not its first, and
    two features of the same name.
    """
    try:
        document = json.loads(text)
    except ValueError as error:
        raise DesignError(f"not JSON: {error}", source=source) from None
    base = name or "area"
    reader = _GeoJsonReader(source)
    kind = reader.type_of(document, "")
    if kind == "FeatureCollection":
        features = document.get("features")
        if not isinstance(features, list):
            raise reader.error("features", "a FeatureCollection needs a list of features")
        if not features:
            raise reader.error("features", "the FeatureCollection has no features")
        areas = [
            reader.feature(feature, f"features[{i}]", f"{base}-{i}")
            for i, feature in enumerate(features)
        ]
    elif kind == "Feature":
        areas = [reader.feature(document, "", base)]
    else:
        areas = [Area(base, None, reader.geometry(document, ""))]
    seen: dict[str, int] = {}
    for i, area in enumerate(areas):
        if area.name in seen:
            raise reader.error(
                f"features[{i}]",
                f"two features are named {area.name!r} (features[{seen[area.name]}] too): "
                "give each its own name, or join them in one MultiPolygon",
            )
        seen[area.name] = i
    return tuple(areas)


class _GeoJsonReader:
    """Read GeoJSON objects into areas, raising DesignError that names the place."""

    def __init__(self, source: str) -> None:
        self.source = source

    def error(self, where: str, reason: str) -> DesignError:
        return DesignError(reason, source=self.source, location=where)

    def type_of(self, node: object, where: str) -> str:
        if not isinstance(node, dict):
            raise self.error(where, "expected a GeoJSON object")
        kind = node.get("type")
        if not isinstance(kind, str):
            raise self.error(where, "a GeoJSON object needs a 'type'")
        return kind

    def feature(self, node: object, where: str, default_name: str) -> Area:
        kind = self.type_of(node, where)
        if kind != "Feature":
            raise self.error(where, f"expected a Feature, not {kind}")
        assert isinstance(node, dict)
        at = _join(where, "properties")
        properties = node.get("properties") or {}
        if not isinstance(properties, Mapping):
            raise self.error(at, "properties must be an object or null")
        name = properties.get("name", default_name)
        if not isinstance(name, str) or not name.strip():
            raise self.error(_join(at, "name"), "the name must be non-empty text")
        partner = properties.get("partner")
        if partner is not None and (not isinstance(partner, str) or not partner.strip()):
            raise self.error(_join(at, "partner"), "the partner must be non-empty text or null")
        marked = properties.get("kind")
        if marked in ("band", "globe"):
            return self.marked_area(properties, at, name, partner)
        if "geometry" not in node or node["geometry"] is None:
            raise self.error(_join(where, "geometry"), "the Feature has no geometry")
        return Area(name, partner, self.geometry(node["geometry"], _join(where, "geometry")))

    def marked_area(
        self, properties: Mapping[str, Any], at: str, name: str, partner: str | None
    ) -> Area:
        if properties["kind"] == "globe":
            return globe(name, partner=partner)
        low, high = properties.get("lat_min_deg"), properties.get("lat_max_deg")
        if not (_is_number(low) and _is_number(high)):
            raise self.error(at, "a band needs numbers lat_min_deg and lat_max_deg")
        try:
            return band(float(low), float(high), name=name, partner=partner)
        except DesignError as error:
            raise self.error(at, error.reason) from None

    def geometry(self, node: object, where: str) -> tuple[Polygon, ...]:
        kind = self.type_of(node, where)
        assert isinstance(node, dict)
        at = _join(where, "coordinates")
        coordinates = node.get("coordinates")
        if kind == "Polygon":
            return (self.polygon(coordinates, at),)
        if kind == "MultiPolygon":
            if not isinstance(coordinates, list) or not coordinates:
                raise self.error(at, "a MultiPolygon needs a non-empty list of polygons")
            return tuple(self.polygon(part, f"{at}[{i}]") for i, part in enumerate(coordinates))
        raise self.error(where, f"an area must be a Polygon or a MultiPolygon, not {kind}")

    def polygon(self, rings: object, where: str) -> Polygon:
        if not isinstance(rings, list) or not rings:
            raise self.error(where, "a Polygon needs a non-empty list of rings")
        arrays = [self.ring(ring, f"{where}[{i}]") for i, ring in enumerate(rings)]
        try:
            return Polygon(arrays[0], tuple(arrays[1:]))
        except DesignError as error:
            ring = error.location.removeprefix("ring ")  # the Polygon names its ring's index
            raise self.error(f"{where}[{ring}]", error.reason) from None

    def ring(self, positions: object, where: str) -> FloatArray:
        if not isinstance(positions, list):
            raise self.error(where, "a ring must be a list of positions")
        if len(positions) < 4:
            raise self.error(
                where,
                f"a ring needs at least 4 positions (the last repeats the first), "
                f"not {len(positions)}",
            )
        points = np.empty((len(positions), 2))
        for i, position in enumerate(positions):
            at = f"{where}[{i}]"
            if (
                not isinstance(position, list)
                or len(position) < 2
                or not all(_is_number(value) for value in position)
            ):
                raise self.error(at, f"a position is [longitude, latitude], not {position!r}")
            lon, lat = float(position[0]), float(position[1])
            if not -180.0 <= lon <= 180.0:
                raise self.error(at, f"longitude {lon:g} is outside [-180, 180]")
            if not -90.0 <= lat <= 90.0:
                raise self.error(at, f"latitude {lat:g} is outside [-90, 90]")
            points[i] = lon, lat
        if positions[0] != positions[-1]:
            raise self.error(
                where, "the ring is not closed: its last position must repeat its first"
            )
        return points


def _is_number(value: object) -> TypeGuard[int | float]:
    """Return whether a JSON value is a finite number (not a boolean)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key
