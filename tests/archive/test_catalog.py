"""Check the STAC Items and Collections the catalogue builds against the STAC 1.1 schemas.

The core schemas (item, catalog, collection and the GeoJSON ones they reference) are
the copies bundled in the pystac wheel, resolved by a local ``referencing`` registry
that cannot fetch anything. The extension schemas (sat, view, file, timestamps) are on
no package registry, so their fields are read back through pystac's extension classes
instead (``FileExtension.ext(asset).checksum`` and the like) and compared with what the
product says: the SHA-256 of the bytes, the given view angles, the ingest time.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from importlib.resources import files
from typing import Any

import pystac
import pytest
from jsonschema import Draft7Validator
from pystac.extensions.file import FileExtension
from pystac.extensions.sat import SatExtension
from pystac.extensions.timestamps import TimestampsExtension
from pystac.extensions.view import ViewExtension
from referencing import Registry, Resource

from jointsat.archive import catalog

STAC_SCHEMAS = "https://schemas.stacspec.org/v1.1.0"
SPEC_FOLDER = {"catalog": "catalog-spec", "collection": "collection-spec"}


@cache
def _registry() -> Registry[Any]:
    bundled = files("pystac.validation.jsonschemas")
    resources = []
    for path in (bundled / "stac-spec" / "v1.1.0").iterdir():
        if path.name.endswith(".json"):
            folder = SPEC_FOLDER.get(path.name.removesuffix(".json"), "item-spec")
            uri = f"{STAC_SCHEMAS}/{folder}/json-schema/{path.name}"
            resources.append((uri, Resource.from_contents(json.loads(path.read_text()))))
    for path in (bundled / "geojson").iterdir():
        if path.name.endswith(".json"):
            uri = f"https://geojson.org/schema/{path.name}"
            resources.append((uri, Resource.from_contents(json.loads(path.read_text()))))
    return Registry().with_resources(resources)  # no retrieve: nothing is ever fetched


def schema_errors(kind: str, document: dict[str, Any]) -> list[str]:
    """Return what the bundled STAC core schema of ``kind`` (item, catalog, collection) finds."""
    registry = _registry()
    folder = SPEC_FOLDER.get(kind, "item-spec")
    schema = registry.contents(f"{STAC_SCHEMAS}/{folder}/json-schema/{kind}.json")
    validator = Draft7Validator(schema, registry=registry)
    return [
        f"{'/'.join(str(p) for p in e.absolute_path)}: {e.message}"
        for e in validator.iter_errors(document)
    ]


T0 = datetime(2024, 5, 10, 10, 0, tzinfo=UTC)
T1 = datetime(2024, 5, 10, 10, 12, tzinfo=UTC)
INGESTED = datetime(2024, 5, 10, 12, 0, tzinfo=UTC)
BASE = "https://archive.example.org/jointsat/"


@dataclass
class File:
    name: str
    content: bytes
    media_type: str = "application/fits"

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()

    @property
    def size_bytes(self) -> int:
        return len(self.content)


@dataclass
class Sat:
    name: str = "CHEOPS"
    norad_id: int = 44874


@dataclass
class Row:
    """A product as plain data, shaped like the store's row."""

    id: str = "0123456789abcdef0123456789abcdef"
    satellite: Sat = field(default_factory=Sat)
    instrument: str = "CHEOPS-CCD"
    processing_level: str = "L1"
    acquired_start: datetime = T0
    acquired_end: datetime = T1
    footprint: dict[str, Any] | None = None
    ra_deg: float | None = None
    dec_deg: float | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    members_from: datetime = datetime(2024, 6, 9, 10, 12, tzinfo=UTC)
    public_from: datetime | None = None
    ingested_at: datetime = INGESTED
    files: list[File] = field(default_factory=lambda: [File("image 1.fits", b"\x00\x01" * 50)])
    source_ids: list[str] = field(default_factory=list)


SQUARE = {
    "type": "Polygon",
    "coordinates": [[[10.0, 40.0], [12.0, 40.0], [12.0, 42.0], [10.0, 42.0], [10.0, 40.0]]],
}
ACROSS_180 = {  # cut in two at the antimeridian, as RFC 7946 asks
    "type": "MultiPolygon",
    "coordinates": [
        [[[175.0, -5.0], [180.0, -5.0], [180.0, 5.0], [175.0, 5.0], [175.0, -5.0]]],
        [[[-180.0, -5.0], [-175.0, -5.0], [-175.0, 5.0], [-180.0, 5.0], [-180.0, -5.0]]],
    ],
}


def _served(row: Row, **kwargs: Any) -> dict[str, Any]:
    document = catalog.item_dict(row, collection_id="cheops", base_url=BASE, **kwargs)
    assert schema_errors("item", document) == []
    return json.loads(json.dumps(document))  # what a client reads: plain JSON


def test_an_earth_item_is_valid_stac_with_its_files_checksums() -> None:
    row = Row(
        footprint=SQUARE,
        properties={"view:off_nadir": 12.5, "view:sun_elevation": 40.0},
        files=[File("a.fits", b"abc"), File("b c.json", b"{}", "application/json")],
    )
    document = _served(row, international_designator="2019-092B")
    assert document["bbox"] == [10.0, 40.0, 12.0, 42.0]
    assert document["geometry"] == SQUARE
    properties = document["properties"]
    assert properties["datetime"] is None
    assert properties["start_datetime"] == "2024-05-10T10:00:00Z"
    assert properties["end_datetime"] == "2024-05-10T10:12:00Z"
    assert properties["platform"] == "CHEOPS"
    assert properties["instruments"] == ["CHEOPS-CCD"]
    assert properties["processing:level"] == "L1"
    assert document["collection"] == "cheops"
    item = pystac.Item.from_dict(document)
    assert TimestampsExtension.has_extension(item)
    assert TimestampsExtension.ext(item).published == INGESTED
    assert ViewExtension.has_extension(item)
    assert ViewExtension.ext(item).off_nadir == 12.5
    assert ViewExtension.ext(item).sun_elevation == 40.0
    assert SatExtension.has_extension(item)
    assert SatExtension.ext(item).platform_international_designator == "2019-092B"
    assert FileExtension.has_extension(item)
    assert set(item.assets) == {"a.fits", "b c.json"}
    for stored in row.files:
        asset = item.assets[stored.name]
        assert (
            FileExtension.ext(asset).checksum == "1220" + hashlib.sha256(stored.content).hexdigest()
        )
        assert FileExtension.ext(asset).size == len(stored.content)
        assert asset.media_type == stored.media_type
    assert item.assets["b c.json"].href == (
        "https://archive.example.org/jointsat/api/v1/products/"
        "0123456789abcdef0123456789abcdef/files/b%20c.json"
    )
    links = {link["rel"]: link["href"] for link in document["links"]}
    assert links == {
        "self": f"{BASE}stac/collections/cheops/items/{row.id}",
        "parent": f"{BASE}stac/collections/cheops",
        "collection": f"{BASE}stac/collections/cheops",
        "root": f"{BASE}stac",
    }


def test_a_derived_item_links_to_its_sources() -> None:
    sources = ["a" * 32, "b" * 32]
    document = _served(Row(source_ids=sources))
    links = [link["href"] for link in document["links"] if link["rel"] == "derived_from"]
    assert links == [f"{BASE}stac/collections/cheops/items/{s}" for s in sources]
    assert not [link for link in _served(Row())["links"] if link["rel"] == "derived_from"]


def test_a_footprint_across_the_antimeridian_has_west_beyond_east() -> None:
    document = _served(Row(footprint=ACROSS_180))
    assert document["bbox"] == [175.0, -5.0, -175.0, 5.0]


def test_a_sky_item_has_no_geometry_and_gives_ra_dec() -> None:
    document = _served(Row(ra_deg=83.63, dec_deg=22.01))
    assert document["geometry"] is None
    assert "bbox" not in document
    assert document["properties"]["jointsat:ra_deg"] == 83.63
    assert document["properties"]["jointsat:dec_deg"] == 22.01


def test_extensions_are_declared_only_with_their_fields() -> None:
    item = pystac.Item.from_dict(_served(Row(footprint=SQUARE)))
    assert not ViewExtension.has_extension(item)
    assert not SatExtension.has_extension(item)
    assert TimestampsExtension.has_extension(item)
    assert FileExtension.has_extension(item)
    given = pystac.Item.from_dict(_served(Row(properties={"sat:relative_orbit": 7})))
    assert SatExtension.ext(given).relative_orbit == 7
    assert SatExtension.ext(given).platform_international_designator is None


def test_the_catalogue_fields_win_over_ingested_properties() -> None:
    row = Row(properties={"platform": "spoofed", "datetime": "2020-01-01T00:00:00Z", "x:y": 1})
    properties = _served(row)["properties"]
    assert properties["platform"] == "CHEOPS"
    assert properties["datetime"] is None
    assert properties["x:y"] == 1


def test_release_times_are_given() -> None:
    public = datetime(2025, 5, 10, 10, 12, tzinfo=UTC)
    properties = _served(Row(public_from=public))["properties"]
    assert properties["jointsat:public_from"] == "2025-05-10T10:12:00Z"
    assert properties["jointsat:members_from"] == "2024-06-09T10:12:00Z"
    assert _served(Row())["properties"]["jointsat:public_from"] is None


@pytest.mark.parametrize(
    ("bbox", "expected"),
    [((10.0, 40.0, 12.0, 42.0), [10.0, 40.0, 12.0, 42.0]), (None, [-180.0, -90.0, 180.0, 90.0])],
)
def test_a_collection_is_valid_stac(
    bbox: tuple[float, float, float, float] | None, expected: list[float]
) -> None:
    document = catalog.collection_dict(
        Sat(),
        collection_id="cheops",
        base_url=BASE,
        start=T0,
        end=T1,
        bbox=bbox,
        instruments=["CHEOPS-CCD"],
    )
    assert schema_errors("collection", document) == []
    assert document["extent"]["spatial"]["bbox"] == [expected]
    assert document["extent"]["temporal"]["interval"] == [
        ["2024-05-10T10:00:00Z", "2024-05-10T10:12:00Z"]
    ]
    assert [link["rel"] for link in document["links"]].count("root") == 1
    assert {link["rel"]: link["href"] for link in document["links"]}["items"] == (
        f"{BASE}stac/collections/cheops/items"
    )


def test_the_schemas_do_refuse_a_broken_item() -> None:
    document = catalog.item_dict(Row(footprint=SQUARE), collection_id="c", base_url=BASE)
    del document["properties"]["start_datetime"]  # datetime null needs start and end
    assert schema_errors("item", document) != []
    assert schema_errors("item", {**document, "geometry": {"type": "Polygon"}}) != []


def test_collection_ids_are_slugs_made_unique_by_catalog_number() -> None:
    ids = catalog.collection_ids(
        [(3, "Cheops", 99), (1, "CHEOPS", 44874), (2, "Sentinel-2A", 40697), (4, "★", 5)]
    )
    assert ids == {1: "cheops", 2: "sentinel-2a", 3: "cheops-99", 4: "satellite-5"}
    assert catalog.slug("Pléiades 1A") == "pleiades-1a"


def test_checksums_are_sha256_multihashes() -> None:
    digest = hashlib.sha256(b"jointsat").hexdigest()
    assert catalog.checksum_multihash(digest.upper()) == "1220" + digest
    assert bytes.fromhex(catalog.checksum_multihash(digest))[:2] == bytes([0x12, 0x20])
