"""Test areas of interest: GeoJSON reading, and which points they contain.

The authorities: RFC 7946 (what a valid Polygon is; edges straight in longitude and
latitude; the antimeridian cut and the RFC's ring round a pole), and an independent
point-in-polygon oracle written here: the winding number (the sum of the angles an
edge subtends at the point), not the even-odd ray casting the module uses.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from jointsat.design.areas import Area, area_json, band, globe, read_geojson
from jointsat.errors import DesignError

RNG_SEED = 18


def polygon(*rings: list[list[float]]) -> str:
    return json.dumps({"type": "Polygon", "coordinates": list(rings)})


def one_area(text: str) -> Area:
    (area,) = read_geojson(text)
    return area


def winding_number(ring: np.ndarray, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Return how many times a planar ring winds round each point (the oracle)."""
    angles = np.arctan2(ring[None, :, 1] - lat[:, None], ring[None, :, 0] - lon[:, None])
    turns = (np.diff(angles, axis=1) + np.pi) % (2.0 * np.pi) - np.pi
    return np.rint(turns.sum(axis=1) / (2.0 * np.pi)).astype(int)


def random_star_ring(rng: np.random.Generator, n: int, centre: tuple[float, float]) -> np.ndarray:
    """Return a simple (non-self-intersecting), often concave, closed ring round a centre."""
    angles = np.sort(rng.uniform(0.0, 2.0 * np.pi, n))
    radii = rng.uniform(2.0, 20.0, n)
    ring = np.stack(
        [centre[0] + radii * np.cos(angles), centre[1] + 0.6 * radii * np.sin(angles)], axis=1
    )
    return np.vstack([ring, ring[:1]])


def random_points(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    lat = np.degrees(np.arcsin(rng.uniform(-1.0, 1.0, n)))
    return lat, rng.uniform(-180.0, 180.0, n)


@pytest.mark.parametrize("seed", range(5))
def test_point_in_polygon_agrees_with_the_winding_number(seed: int) -> None:
    rng = np.random.default_rng([RNG_SEED, seed])
    exterior = random_star_ring(rng, 40, (10.0, 20.0))
    hole = random_star_ring(rng, 12, (10.0, 20.0)) * [0.15, 0.15] + [8.5, 17.0]
    area = one_area(polygon(exterior.tolist(), hole.tolist()))
    lon = rng.uniform(-15.0, 35.0, 4000)
    lat = rng.uniform(5.0, 35.0, 4000)
    want = (winding_number(exterior, lon, lat) != 0) & (winding_number(hole, lon, lat) == 0)
    got = area.contains(lat, lon)
    assert got.tolist() == want.tolist()
    assert 0 < got.sum() < len(got)


def test_rfc_ring_round_the_north_pole_holds_the_polar_cap() -> None:
    cap = one_area(polygon([[-180, 60], [0, 60], [180, 60], [180, 90], [-180, 90], [-180, 60]]))
    lat, lon = random_points(np.random.default_rng(RNG_SEED), 5000)
    assert cap.contains(lat, lon).tolist() == (lat > 60.0).tolist()


@pytest.mark.parametrize("direction", [1, -1])
@pytest.mark.parametrize("pole", [1, -1])
def test_ring_going_round_the_earth_encloses_its_pole(direction: int, pole: int) -> None:
    longitudes = [0, 60, 120, 180, -120, -60, 0][::direction]
    ring = [[lon, pole * 70.0] for lon in longitudes]
    cap = one_area(polygon(ring))
    lat, lon = random_points(np.random.default_rng(RNG_SEED), 5000)
    assert cap.contains(lat, lon).tolist() == (pole * lat > 70.0).tolist()
    assert cap.boxes[0][1] - cap.boxes[0][0] >= 360.0


def test_ring_round_the_pole_with_a_wavy_edge() -> None:
    # Between its vertices the edge is straight in longitude and latitude (planar).
    ring = [[-165 + 30 * k, 60 + 10 * (k % 2)] for k in range(12)] + [[-165, 60]]
    cap = one_area(polygon(ring))
    lat, lon = random_points(np.random.default_rng(RNG_SEED), 5000)
    phase = ((lon + 165.0) % 60.0) / 30.0  # 0..2 within each tooth
    edge = 60.0 + 10.0 * np.where(phase <= 1.0, phase, 2.0 - phase)
    assert cap.contains(lat, lon).tolist() == (lat > edge).tolist()


def test_full_parallel_edges_are_planar() -> None:
    # From -180 to +180 along a parallel is one edge: the ring is the teeth between the
    # wavy line and that parallel, not a polar cap.
    ring = [[-180 + 30 * k, 60 + 10 * (k % 2)] for k in range(13)] + [[-180, 60]]
    teeth = one_area(polygon(ring))
    lat, lon = random_points(np.random.default_rng(RNG_SEED), 5000)
    phase = ((lon + 180.0) % 60.0) / 30.0
    edge = 60.0 + 10.0 * np.where(phase <= 1.0, phase, 2.0 - phase)
    assert teeth.contains(lat, lon).tolist() == ((lat > 60.0) & (lat < edge)).tolist()


def test_polygon_across_the_antimeridian_cut_or_not() -> None:
    uncut = one_area(polygon([[170, -10], [-170, -10], [-170, 10], [170, 10], [170, -10]]))
    cut = read_geojson(
        json.dumps(
            {
                "type": "MultiPolygon",
                "coordinates": [
                    [[[170, -10], [180, -10], [180, 10], [170, 10], [170, -10]]],
                    [[[-180, -10], [-170, -10], [-170, 10], [-180, 10], [-180, -10]]],
                ],
            }
        )
    )[0]
    lat, lon = random_points(np.random.default_rng(RNG_SEED), 20000)
    want = (np.abs(lat) < 10.0) & (np.abs(lon) > 170.0)
    assert uncut.contains(lat, lon).tolist() == want.tolist()
    assert cut.contains(lat, lon).tolist() == want.tolist()
    assert want.sum() > 0


def test_hole_is_outside() -> None:
    square = [[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]]
    hole = [[4, 4], [4, 6], [6, 6], [6, 4], [4, 4]]
    area = one_area(polygon(square, hole))
    assert area.contains([5, 2, 5, 11], [5, 2, 8, 5]).tolist() == [False, True, True, False]


def test_contains_broadcasts() -> None:
    area = band(-10, 10)
    lat = np.array([[-20.0], [5.0], [20.0]])
    lon = np.array([[5.0, 90.0]])
    assert area.contains(lat, lon).tolist() == [[False, False], [True, True], [False, False]]
    square = one_area(polygon([[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]]))
    assert square.contains(lat, lon).tolist() == [[False, False], [True, False], [False, False]]
    assert square.contains([[5.0, 5.0]], 5.0).shape == (1, 2)


def test_band_and_globe() -> None:
    lat, lon = random_points(np.random.default_rng(RNG_SEED), 1000)
    assert band(-30, 45).contains(lat, lon).tolist() == ((lat >= -30) & (lat <= 45)).tolist()
    assert globe().contains(lat, lon).all()
    assert band(-30, 45).name == "band[-30,45]"
    with pytest.raises(DesignError, match="lat_min < lat_max"):
        band(10, 10)
    with pytest.raises(DesignError, match="lat_min < lat_max"):
        band(-91, 10)


def test_feature_collection_names_and_partners() -> None:
    square = [[[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]]]
    text = json.dumps(
        {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "properties": {"name": "alps", "partner": "ESA"},
                    "geometry": {"type": "Polygon", "coordinates": square},
                },
                {
                    "type": "Feature",
                    "properties": None,
                    "geometry": {"type": "MultiPolygon", "coordinates": [square, square]},
                },
            ],
        }
    )
    areas = read_geojson(text, name="aoi")
    assert [(a.name, a.partner, a.kind, len(a.polygons)) for a in areas] == [
        ("alps", "ESA", "polygon", 1),
        ("aoi-1", None, "polygon", 2),
    ]
    feature = {"type": "Feature", "properties": {}, "geometry": json.loads(polygon(*square))}
    assert read_geojson(json.dumps(feature))[0].name == "area"
    # Positions may carry an altitude; exactly +-180 is a valid longitude.
    with_altitude = [[-180, 0, 5], [180, 0, 5], [180, 1, 5], [-180, 1, 5], [-180, 0, 5]]
    assert one_area(polygon(with_altitude)).contains(0.5, 0.0).item()


@pytest.mark.parametrize(
    ("document", "where", "says"),
    [
        ("{not json", "<string>", "not JSON"),
        ('{"type": "Point", "coordinates": [0, 0]}', "<string>", "not Point"),
        (
            '{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {},'
            ' "geometry": {"type": "LineString", "coordinates": [[0, 0], [1, 1]]}}]}',
            "features[0].geometry",
            "Polygon or a MultiPolygon, not LineString",
        ),
        (polygon([[0, 0], [1, 0], [1, 91], [0, 0]]), "coordinates[0][2]", "latitude 91"),
        (polygon([[0, 0], [180.5, 0], [1, 1], [0, 0]]), "coordinates[0][1]", "longitude 180.5"),
        (polygon([[0, 0], [1, 0], [1, 1], [0, 1]]), "coordinates[0]", "not closed"),
        (polygon([[0, 0], [1, 0], [0, 0]]), "coordinates[0]", "at least 4 positions"),
        (polygon([[0, 0], [1, "a"], [1, 1], [0, 0]]), "coordinates[0][1]", "[longitude, latitude]"),
        (polygon([[0, 0], [1], [1, 1], [0, 0]]), "coordinates[0][1]", "[longitude, latitude]"),
        ('{"type": "Polygon", "coordinates": []}', "coordinates", "non-empty list of rings"),
        ('{"type": "FeatureCollection", "features": []}', "features", "no features"),
        (
            '{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {},'
            ' "geometry": null}]}',
            "features[0].geometry",
            "no geometry",
        ),
        ("[1, 2]", "<string>", "expected a GeoJSON object"),
        (
            json.dumps(
                {
                    "type": "Polygon",
                    "coordinates": [
                        [[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]],
                        [[0, 60], [170, 60], [-20, 60], [150, 60], [-40, 60], [0, 60]],
                    ],
                }
            ),
            "coordinates[1]",
            "winds 2 times",
        ),
    ],
)
def test_bad_geojson_says_where(document: str, where: str, says: str) -> None:
    with pytest.raises(DesignError) as caught:
        read_geojson(document, source="aoi.geojson")
    message = str(caught.value)
    assert message.startswith("aoi.geojson")
    assert where in message or where == "<string>"
    assert says in message


def test_two_features_of_one_name_are_refused() -> None:
    feature: dict[str, Any] = {
        "type": "Feature",
        "properties": {"name": "alps"},
        "geometry": json.loads(polygon([[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]])),
    }
    text = json.dumps({"type": "FeatureCollection", "features": [feature, feature]})
    with pytest.raises(DesignError, match=r"features\[1\].*named 'alps'.*features\[0\]"):
        read_geojson(text)


def test_areas_written_as_geojson_read_back_the_same() -> None:
    outer = [[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]]
    hole = [[4, 4], [4, 6], [6, 6], [6, 4], [4, 4]]
    across = [[170, -10], [-170, -10], [-170, 10], [170, 10], [170, -10]]
    multi = json.dumps(
        {
            "type": "Feature",
            "properties": {"name": "two", "partner": "CNES"},
            "geometry": {"type": "MultiPolygon", "coordinates": [[outer, hole], [across]]},
        }
    )
    areas = [
        read_geojson(multi)[0],
        one_area(polygon(across)),
        band(-20, 35, name="tropics", partner="ISRO"),
        globe(partner="ESA"),
    ]
    lat, lon = random_points(np.random.default_rng(RNG_SEED), 5000)
    for area in areas:
        written = json.dumps(area_json(area))
        (again,) = read_geojson(written)
        assert (again.name, again.partner, again.kind) == (area.name, area.partner, area.kind)
        assert (again.lat_min_deg, again.lat_max_deg) == (area.lat_min_deg, area.lat_max_deg)
        assert again.contains(lat, lon).tolist() == area.contains(lat, lon).tolist()
    # A band's outline, read as a plain polygon, is the same band (planar edges).
    outline = dict(area_json(areas[2]), properties={})
    (plain,) = read_geojson(json.dumps(outline))
    assert plain.kind == "polygon"
    assert plain.contains(lat, lon).tolist() == areas[2].contains(lat, lon).tolist()
