"""Describe archived products as STAC Items, and each satellite's products as a Collection.

An Item (STAC 1.1) carries the acquisition as ``start_datetime``/``end_datetime``
(``datetime`` null), ``platform`` (the satellite's name), ``instruments``,
``processing:level``, the product's extra ``properties`` as ingested, and:
- ``sat``: the satellite's international designator (COSPAR id, from its latest
  element set) where known, and any ``sat:*`` field the metadata gave;
- ``view``: the ``view:*`` fields the metadata gave (declared only when there are some);
- ``timestamps``: ``published`` is when the product entered the archive (its owners
  see it from then on); ``jointsat:members_from`` and ``jointsat:public_from`` say when
  the other members and the public may see it (null: never public);
- ``file``: each asset's ``file:size`` and ``file:checksum``, a multihash
  (``1220`` + SHA-256 in hex).
Earth products have their footprint as geometry and its box as ``bbox`` (west > east
when it crosses the antimeridian); sky products have a null geometry, no ``bbox``, and
``jointsat:ra_deg``/``jointsat:dec_deg`` (ICRS). Assets are the product's files, served
at ``/api/v1/products/{id}/files/{name}``.

A collection per satellite: its id is the satellite's name as a slug ("CHEOPS" gives
"cheops"); when two satellites' names give the same slug, all but the first recorded
get their catalog number appended ("cheops-44874").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import quote

import pystac
from pystac.extensions.file import FileExtension
from pystac.extensions.sat import SatExtension
from pystac.extensions.timestamps import TimestampsExtension
from pystac.extensions.view import ViewExtension
from pystac.utils import datetime_to_str

from jointsat.archive.metadata import geometry_bbox

STAC_PATH = "/stac"
FILES_PATH = "/api/v1/products/{product_id}/files/{name}"
PROCESSING_SCHEMA = "https://stac-extensions.github.io/processing/v1.2.0/schema.json"
SHA256_MULTIHASH_PREFIX = "1220"  # multihash: code 0x12 (sha2-256), length 0x20 bytes
GEOJSON = "application/geo+json"
JSON = "application/json"
WHOLE_WORLD = (-180.0, -90.0, 180.0, 90.0)


class FileRow(Protocol):
    """What the catalogue reads of a product file (a store row or plain data)."""

    name: str
    sha256: str
    size_bytes: int
    media_type: str


class SatelliteRow(Protocol):
    """What the catalogue reads of a satellite."""

    name: str
    norad_id: int


class ProductRow(Protocol):
    """What the catalogue reads of a product (``jointsat.store.tables.Product`` fits)."""

    id: str
    instrument: str
    processing_level: str
    acquired_start: datetime
    acquired_end: datetime
    footprint: dict[str, Any] | None
    ra_deg: float | None
    dec_deg: float | None
    properties: dict[str, Any]
    members_from: datetime
    public_from: datetime | None
    ingested_at: datetime

    @property
    def satellite(self) -> SatelliteRow: ...
    @property
    def files(self) -> Sequence[FileRow]: ...
    @property
    def source_ids(self) -> list[str]: ...


def slug(name: str) -> str:
    """Return a name as lower-case ASCII letters and digits joined by hyphens."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")


def collection_ids(satellites: Iterable[tuple[int, str, int]]) -> dict[int, str]:
    """Return each satellite's collection id from its (id, name, catalog number).

    The satellite recorded first (lowest id) with a slug keeps it bare; later ones with
    the same slug, or a name without letters or digits, get the catalog number added.
    """
    ids: dict[int, str] = {}
    taken: set[str] = set()
    for row_id, name, norad_id in sorted(satellites):
        base = slug(name)
        ident = base if base and base not in taken else f"{base or 'satellite'}-{norad_id}"
        taken.add(ident)
        ids[row_id] = ident
    return ids


def checksum_multihash(sha256_hex: str) -> str:
    """Return a SHA-256 (hex) as the multihash that ``file:checksum`` holds."""
    return SHA256_MULTIHASH_PREFIX + sha256_hex.lower()


def file_href(base_url: str, product_id: str, name: str) -> str:
    """Return the absolute URL a product file is downloaded from."""
    path = FILES_PATH.format(product_id=quote(product_id, safe=""), name=quote(name, safe=""))
    return base_url.rstrip("/") + path


def stac_url(base_url: str, *parts: str) -> str:
    """Return the absolute URL of a STAC API path (``stac_url(b, "collections", cid)``)."""
    path = "/".join(quote(p, safe="") for p in parts)
    return base_url.rstrip("/") + STAC_PATH + ("/" + path if path else "")


def item_dict(
    product: ProductRow,
    *,
    collection_id: str,
    base_url: str,
    international_designator: str | None = None,
) -> dict[str, Any]:
    """Return the STAC Item of a product as JSON, its links and asset hrefs under ``base_url``."""
    footprint = product.footprint
    properties: dict[str, Any] = dict(product.properties)
    properties.update(
        {
            "platform": product.satellite.name,
            "instruments": [product.instrument],
            "processing:level": product.processing_level,
            "jointsat:members_from": datetime_to_str(product.members_from),
            "jointsat:public_from": None
            if product.public_from is None
            else datetime_to_str(product.public_from),
        }
    )
    if product.ra_deg is not None and product.dec_deg is not None:
        properties["jointsat:ra_deg"] = product.ra_deg
        properties["jointsat:dec_deg"] = product.dec_deg
    stac_item = pystac.Item(
        id=product.id,
        geometry=footprint,
        bbox=None if footprint is None else list(geometry_bbox(footprint)),
        datetime=None,
        start_datetime=product.acquired_start,
        end_datetime=product.acquired_end,
        properties=properties,
        stac_extensions=[PROCESSING_SCHEMA],
        collection=collection_id,
    )
    TimestampsExtension.ext(stac_item, add_if_missing=True).apply(published=product.ingested_at)
    if any(key.startswith("view:") for key in properties):
        ViewExtension.add_to(stac_item)
    sat_given = any(key.startswith("sat:") for key in properties)
    if international_designator or sat_given:
        sat = SatExtension.ext(stac_item, add_if_missing=True)
        if international_designator and sat.platform_international_designator is None:
            sat.platform_international_designator = international_designator
    for stored in product.files:
        asset = pystac.Asset(
            href=file_href(base_url, product.id, stored.name),
            title=stored.name,
            media_type=stored.media_type,
            roles=["data"],
        )
        stac_item.add_asset(stored.name, asset)
        file_ext = FileExtension.ext(asset, add_if_missing=True)
        file_ext.size = stored.size_bytes
        file_ext.checksum = checksum_multihash(stored.sha256)
    here = stac_url(base_url, "collections", collection_id)
    stac_item.add_links(
        [
            pystac.Link(
                "self",
                stac_url(base_url, "collections", collection_id, "items", product.id),
                GEOJSON,
            ),
            pystac.Link("parent", here, JSON),
            pystac.Link("collection", here, JSON),
            pystac.Link("root", stac_url(base_url), JSON),
            # a derived product's sources are of its satellite, in its collection
            *(
                pystac.Link(
                    "derived_from",
                    stac_url(base_url, "collections", collection_id, "items", source),
                    GEOJSON,
                )
                for source in product.source_ids
            ),
        ]
    )
    return _json(stac_item)


def collection_dict(
    satellite: SatelliteRow,
    *,
    collection_id: str,
    base_url: str,
    start: datetime,
    end: datetime,
    bbox: tuple[float, float, float, float] | None,
    instruments: Sequence[str] = (),
) -> dict[str, Any]:
    """Return the STAC Collection of a satellite's products as JSON.

    ``start``, ``end`` and ``bbox`` bound the products the caller may see; a satellite
    with sky products only (``bbox`` None) spans the whole world, as STAC requires a box.
    """
    extent = pystac.Extent(
        pystac.SpatialExtent([list(bbox or WHOLE_WORLD)]),
        pystac.TemporalExtent([[start, end]]),
    )
    stac_collection = pystac.Collection(
        id=collection_id,
        title=satellite.name,
        description=(
            f"Products of {satellite.name} (catalog number {satellite.norad_id})"
            " archived by the consortium."
        ),
        extent=extent,
        license="other",
        summaries=pystac.Summaries(
            {"platform": [satellite.name], "instruments": sorted(set(instruments))}
        ),
    )
    here = stac_url(base_url, "collections", collection_id)
    stac_collection.clear_links()  # pystac's own root link points at the collection itself
    stac_collection.add_links(
        [
            pystac.Link("self", here, JSON),
            pystac.Link("root", stac_url(base_url), JSON),
            pystac.Link("parent", stac_url(base_url), JSON),
            pystac.Link("items", here + "/items", GEOJSON),
        ]
    )
    return _json(stac_collection)


def _json(stac_object: pystac.Item | pystac.Collection) -> dict[str, Any]:
    """Return a STAC object as JSON, its links as given (absolute)."""
    return stac_object.to_dict(include_self_link=True, transform_hrefs=False)
