"""Check how a product's metadata is read: boxes, sky positions, ids and refusals."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from jointsat.archive.metadata import (
    SkyPosition,
    geometry_bbox,
    metadata_from_dict,
    product_id,
    product_metadata,
)
from jointsat.errors import ArchiveInputError

BASE = {
    "satellite": 44874,
    "instrument": "CHEOPS-CCD",
    "acquired_start": "2024-05-10T12:00:00Z",
    "acquired_end": "2024-05-10T12:10:00+00:00",
}


def square(west: float, east: float) -> dict[str, Any]:
    ring = [[west, 10.0], [east, 10.0], [east, 20.0], [west, 20.0], [west, 10.0]]
    return {"type": "Polygon", "coordinates": [ring]}


def cut(west: float, east: float) -> dict[str, Any]:
    """Return a square across 180 cut in two, as RFC 7946 asks."""
    halves = [square(west, 180.0)["coordinates"], square(-180.0, east)["coordinates"]]
    return {"type": "MultiPolygon", "coordinates": halves}


def test_coordinates_are_read_as_written_and_a_cut_footprint_boxed_across_180() -> None:
    assert geometry_bbox(square(1.0, 2.0)) == (1.0, 10.0, 2.0, 20.0)
    assert geometry_bbox(cut(170.0, -170.0)) == (170.0, 10.0, -170.0, 20.0)
    assert geometry_bbox(square(-180.0, -170.0)) == (-180.0, 10.0, -170.0, 20.0)
    # Wide footprints written whole are as wide as written (RFC 7946), not wrapped:
    assert geometry_bbox(square(-100.0, 100.0)) == (-100.0, 10.0, 100.0, 20.0)
    assert geometry_bbox(square(-180.0, 180.0)) == (-180.0, 10.0, 180.0, 20.0)
    apart = {"type": "MultiPoint", "coordinates": [[-179.0, 0.0], [178.0, 1.0], [-175.0, 2.0]]}
    assert geometry_bbox(apart) == (178.0, 0.0, -175.0, 2.0)
    spread = {"type": "MultiPoint", "coordinates": [[-120.0, 0.0], [0.0, 0.0], [120.0, 0.0]]}
    assert geometry_bbox(spread) == (-120.0, 0.0, 120.0, 0.0)
    point = {"type": "Point", "coordinates": [5.0, -3.0]}
    assert geometry_bbox(point) == (5.0, -3.0, 5.0, -3.0)


def test_metadata_is_read_with_defaults() -> None:
    metadata = metadata_from_dict({**BASE, "sky": {"ra_deg": 360.0, "dec_deg": -5.0}})
    assert metadata.processing_level == "L0"
    assert metadata.sky is not None
    assert metadata.sky.ra_deg == 0.0
    assert metadata.acquired_end.utcoffset() is not None
    assert metadata.bbox is None
    earth = metadata_from_dict({**BASE, "footprint": square(1.0, 2.0), "owners": ["esa", "esa"]})
    assert earth.owners == ("esa",)
    assert earth.bbox == (1.0, 10.0, 2.0, 20.0)


def test_metadata_built_in_python_is_checked_as_the_json_is() -> None:
    start = datetime(2024, 5, 10, 12, 0, tzinfo=UTC)
    end = datetime(2024, 5, 10, 12, 10, 0, 250_000, tzinfo=UTC)
    built = product_metadata(
        satellite=44874,
        instrument="CHEOPS-CCD",
        acquired_start=start,
        acquired_end=end,
        sky=SkyPosition(360.0, -5.0),
        owners=["esa", "esa"],
    )
    read = metadata_from_dict(
        {**BASE, "acquired_end": "2024-05-10T12:10:00.25Z", "owners": ["esa"]}
        | {"sky": {"ra_deg": 360.0, "dec_deg": -5.0}}
    )
    assert built == read
    assert built.acquired_end == end  # kept to the microsecond, not sent through text
    with pytest.raises(ArchiveInputError, match=r"acquired_start: .* has no time zone"):
        product_metadata(
            satellite=44874,
            instrument="CHEOPS-CCD",
            acquired_start=start.replace(tzinfo=None),
            acquired_end=end,
        )
    with pytest.raises(ArchiveInputError, match="acquired_end: ends before"):
        product_metadata(
            satellite=44874, instrument="CHEOPS-CCD", acquired_start=end, acquired_end=start
        )


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"satellite": "CHEOPS"}, "satellite"),
        ({"satellite": True}, "satellite"),
        ({"instrument": ""}, "instrument"),
        ({"acquired_start": "yesterday"}, "acquired_start"),
        ({"acquired_start": "2024-05-10T12:00:00"}, "acquired_start"),
        ({"acquired_end": "2024-05-10T11:00:00Z"}, "acquired_end"),
        ({"footprint": {"type": "Circle"}}, "footprint"),
        ({"footprint": {"type": "Point", "coordinates": [1.0]}}, "footprint"),
        ({"footprint": {"type": "Point", "coordinates": [1.0, 95.0]}}, "footprint latitude"),
        ({"sky": {"ra_deg": 1.0}}, "sky.dec_deg"),
        ({"footprint": square(1, 2), "sky": {"ra_deg": 1.0, "dec_deg": 1.0}}, "not both"),
        ({"contact_id": 0}, "contact_id"),
        ({"owners": "esa"}, "owners"),
        ({"properties": []}, "properties"),
        ({"satelite": 1}, "satelite"),
    ],
)
def test_bad_metadata_is_refused_naming_the_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(ArchiveInputError, match=field):
        metadata_from_dict({**BASE, **change})


def test_the_id_depends_on_the_satellite_and_the_files_not_their_order() -> None:
    a, b = "a" * 64, "b" * 64
    assert product_id(1, [a, b]) == product_id(1, [b, a])
    assert product_id(1, [a]) != product_id(2, [a])
    assert product_id(1, [a]) != product_id(1, [a, b])
    assert len(product_id(1, [a])) == 32
