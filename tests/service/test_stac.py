"""Exercise the STAC API at /stac: valid STAC, search filters, paging, and the rights.

What it serves is validated against the STAC 1.1 core schemas bundled in the pystac
wheel (item, collection, catalog for the landing page, and the GeoJSON schemas they
reference), resolved locally and never fetched. The extension schemas (sat, view,
file, timestamps) are on no package registry, so their fields are read back with
pystac's extension classes and compared with the bytes and metadata ingested.

Every expected answer comes from an oracle evaluated here in Python: which products a
caller may see is ``rights.may_see`` over the agreements written in this file, which
boxes meet is worked out with longitude intervals, which acquisitions meet a time
interval by comparing datetimes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib.resources import files
from pathlib import Path
from typing import Any

import httpx
import pystac
import pytest
from pystac.extensions.file import FileExtension
from pystac.extensions.sat import SatExtension
from pystac.extensions.timestamps import TimestampsExtension
from pystac.extensions.view import ViewExtension
from sqlalchemy import select
from tests.archive.test_catalog import schema_errors
from tests.support.consortium import Consortium
from tests.support.shared import SharedWorld

from jointsat.archive import rights
from jointsat.archive.blobs import BlobStore
from jointsat.archive.metadata import metadata_from_dict
from jointsat.orbits.elements import parse_elements
from jointsat.store.database import session_factory
from jointsat.store.products import StoredFile, record_product
from jointsat.store.tables import AuditEntry, Partner, Role

T0 = datetime(2024, 1, 1, tzinfo=UTC)
NOW = T0 + timedelta(days=100)  # the early products are past ESA's embargo, none public
LATER = T0 + timedelta(days=500)  # ESA's products are public, joint ones never
TERMS = {  # code: (embargo days, public release days or None: never)
    "esa": (30, 365),
    "cnes": (0, None),
    "dlr": (10, 20),
}
SATELLITES = {  # name: (catalog number, operators, collection id)
    "CHEOPS": (44874, ("esa",), "cheops"),
    "VENUS": (42901, ("cnes",), "venus"),
    "SPOT 5": (27421, ("esa", "cnes"), "spot-5"),
}
CALLERS = ("admin", "esa", "cnes", "dlr", "public")
CHEOPS_TLE = (files("jointsat.data") / "cheops.tle").read_text()


@dataclass(frozen=True)
class Spec:
    """A product as this test ingests it, and what the oracles read."""

    index: int
    satellite: str
    start: datetime
    end: datetime
    box: tuple[float, float, float, float] | None  # west, south, east, north; None: sky
    content: bytes

    @property
    def owners(self) -> tuple[str, ...]:
        return SATELLITES[self.satellite][1]

    @property
    def collection(self) -> str:
        return SATELLITES[self.satellite][2]

    def footprint(self) -> dict[str, Any] | None:
        if self.box is None:
            return None
        w, s, e, n = self.box

        def ring(west: float, east: float) -> list[list[list[float]]]:
            return [[[west, s], [east, s], [east, n], [west, n], [west, s]]]

        if w <= e:
            return {"type": "Polygon", "coordinates": ring(w, e)}
        # Across the antimeridian: cut in two, as RFC 7946 asks.
        return {"type": "MultiPolygon", "coordinates": [ring(w, 180.0), ring(-180.0, e)]}


def _specs() -> list[Spec]:
    specs = []
    names = list(SATELLITES)
    for i in range(15):
        start = T0 + timedelta(days=5 * i, hours=i)
        if i == 4:  # the same start as product 3: paging must order them by id
            start = specs[3].start
        west = -170.0 + 24.0 * i
        box: tuple[float, float, float, float] | None = (west, -20.0 + i, west + 6.0, -10.0 + i)
        if i == 7:
            box = (175.0, -5.0, -175.0, 5.0)  # across the antimeridian
        if i == 9:
            box = None  # a sky product
        specs.append(
            Spec(
                index=i,
                satellite=names[i % 3],
                start=start,
                end=start + timedelta(minutes=10 + i),
                box=box,
                content=f"product {i} ".encode() * (i + 1),
            )
        )
    return specs


SPECS = _specs()


class World(Consortium):
    """Three partners (TERMS) and three satellites (SATELLITES), fifteen products."""

    def __init__(self, url: str, archive: Path) -> None:
        super().__init__(url, now=T0)
        self.callers: dict[str, rights.Caller] = {"public": rights.Caller.public()}
        self.partner_ids: dict[str, int] = {}
        cheops = parse_elements(CHEOPS_TLE).elements[0]
        self.designator = str(cheops.to_omm()["OBJECT_ID"])
        with self.session() as session:
            self.add_admin(session)
            self.callers["admin"] = rights.Caller(admin=True)
            for code, (embargo, public) in TERMS.items():
                agreement = {"embargo_days": embargo, "public_release_days": public}
                partner = self.add_partner(session, code, 1 / 3, agreement=agreement)
                self.partner_ids[code] = partner.id
                self.add_user(session, f"{code}-viewer", Role.VIEWER, partner, key=code)
                self.callers[code] = rights.Caller(partner_id=partner.id)
            for name, (norad, operators, _) in SATELLITES.items():
                shares: dict[Partner | int, float] = {
                    self.partner_ids[c]: 1 / len(operators) for c in operators
                }
                sets = [cheops] if name == "CHEOPS" else []
                self.add_satellite(session, name, norad, shares, sets)
        self.now = NOW
        blobs = BlobStore(archive)
        self.ids: dict[int, str] = {}
        with self.sessions() as session:
            for spec in SPECS:
                document: dict[str, Any] = {
                    "satellite": SATELLITES[spec.satellite][0],
                    "instrument": f"{spec.satellite}-imager",
                    "acquired_start": spec.start.isoformat(),
                    "acquired_end": spec.end.isoformat(),
                    "properties": {"view:off_nadir": float(spec.index)},
                }
                if spec.box is None:
                    document["sky"] = {"ra_deg": 83.63, "dec_deg": 22.01}
                else:
                    document["footprint"] = spec.footprint()
                blob = blobs.put_file(self._write(archive.parent, spec))
                product, created = record_product(
                    session,
                    metadata_from_dict(document),
                    [StoredFile(f"product-{spec.index}.fits", blob, "application/fits")],
                    now=spec.end,
                )
                assert created
                self.ids[spec.index] = product.id
        self.client = self.serve(archive_root=archive)

    @staticmethod
    def _write(folder: Path, spec: Spec) -> Path:
        path = folder / f"upload-{spec.index}"
        path.write_bytes(spec.content)
        return path

    def get(self, who: str, path: str, **params: Any) -> httpx.Response:
        return self.client.get(path, params=params, headers=self.headers(who))

    def post(self, who: str, path: str, body: dict[str, Any]) -> httpx.Response:
        return self.client.post(path, json=body, headers=self.headers(who))

    def visible(self, who: str) -> set[str]:
        """Return the ids ``rights.may_see`` gives the caller now (the oracle)."""
        terms = {
            self.partner_ids[c]: rights.DataTerms(embargo, public)
            for c, (embargo, public) in TERMS.items()
        }
        seen = set()
        for spec in SPECS:
            owners = [self.partner_ids[c] for c in spec.owners]
            times = rights.release_times(owners, spec.end, terms)
            if rights.may_see(self.callers[who], owners, times, self.now):
                seen.add(self.ids[spec.index])
        return seen

    def spec_of(self, product_id: str) -> Spec:
        return SPECS[next(i for i, p in self.ids.items() if p == product_id)]

    def pages_get(self, who: str, path: str, **params: Any) -> list[dict[str, Any]]:
        """Return every page of a GET item list, following its next links."""
        pages = []
        response = self.get(who, path, **params)
        while True:
            assert response.status_code == 200, response.text
            assert response.headers["content-type"] == "application/geo+json"
            pages.append(response.json())
            following = [link for link in pages[-1]["links"] if link["rel"] == "next"]
            if not following:
                return pages
            response = self.client.get(following[0]["href"], headers=self.headers(who))

    def pages_post(self, who: str, body: dict[str, Any]) -> list[dict[str, Any]]:
        """Return every page of a POST search, following its next links."""
        pages = []
        response = self.post(who, "/stac/search", body)
        while True:
            assert response.status_code == 200, response.text
            pages.append(response.json())
            following = [link for link in pages[-1]["links"] if link["rel"] == "next"]
            if not following:
                return pages
            assert following[0]["method"] == "POST"
            response = self.client.post(
                following[0]["href"], json=following[0]["body"], headers=self.headers(who)
            )


@pytest.fixture(scope="module")
def shared_world(
    module_stores: Callable[[], str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SharedWorld[World]]:
    """The world the module's tests read, built once per backend (tests.support.shared)."""
    shared = SharedWorld(
        lambda: World(module_stores(), tmp_path_factory.mktemp("stac") / "archive")
    )
    yield shared
    shared.close()


@pytest.fixture
def world(shared_world: SharedWorld[World]) -> Iterator[World]:
    """The shared world with its clock back at NOW (a test may move it; it writes nothing).

    Its refused reads add audit entries, which only the audit tests read: they have a
    world of their own (``fresh_world``).
    """
    with shared_world.use() as world:
        world.now = NOW
        yield world


@pytest.fixture
def fresh_world(store_url: str, tmp_path: Path) -> Iterator[World]:
    """A world of the test's own, for a test that reads the audit log."""
    made = World(store_url, tmp_path / "archive")
    yield made
    made.close()


def _ids(pages: list[dict[str, Any]]) -> list[str]:
    return [feature["id"] for page in pages for feature in page["features"]]


def _search(world: World, who: str, **params: Any) -> set[str]:
    ids = _ids(world.pages_get(who, "/stac/search", limit=1000, **params))
    assert len(ids) == len(set(ids))
    return set(ids)


# --- valid STAC ---------------------------------------------------------------------


def test_the_landing_page_is_a_valid_catalog_with_the_api_links(world: World) -> None:
    landing = world.get("public", "/stac")
    assert landing.status_code == 200
    document = landing.json()
    assert schema_errors("catalog", document) == []
    assert document["type"] == "Catalog"
    assert "https://api.stacspec.org/v1.0.0/item-search" in document["conformsTo"]
    rels: dict[str, list[dict[str, Any]]] = {}
    for link in document["links"]:
        rels.setdefault(link["rel"], []).append(link)
    for rel in ("self", "root", "conformance", "data", "search", "service-desc"):
        assert rel in rels, rel
        assert rels[rel][0]["href"].startswith("http://testserver/")
    assert {link["method"] for link in rels["search"]} == {"GET", "POST"}
    assert world.client.get(rels["service-desc"][0]["href"]).status_code == 200
    conformance = world.client.get(rels["conformance"][0]["href"]).json()
    assert conformance["conformsTo"] == document["conformsTo"]
    assert "child" not in rels  # the public sees no product yet, hence no collection
    admin_children = [link for link in world.get("admin", "/stac").json()["links"]]
    assert {
        link["href"].rsplit("/", 1)[1] for link in admin_children if link["rel"] == "child"
    } == {
        "cheops",
        "venus",
        "spot-5",
    }


@pytest.mark.parametrize("when", [NOW, LATER])
def test_collections_are_valid_and_bound_what_the_caller_sees(world: World, when: datetime) -> None:
    world.now = when
    for who in CALLERS:
        visible = world.visible(who)
        listed = world.get(who, "/stac/collections")
        assert listed.status_code == 200
        collections = {c["id"]: c for c in listed.json()["collections"]}
        assert set(collections) == {world.spec_of(p).collection for p in visible}, who
        for cid, collection in collections.items():
            assert schema_errors("collection", collection) == []
            assert world.get(who, f"/stac/collections/{cid}").json() == collection
            [[west, south, east, north]] = collection["extent"]["spatial"]["bbox"]
            [[start, end]] = collection["extent"]["temporal"]["interval"]
            for spec in (world.spec_of(p) for p in visible):
                if spec.collection != cid:
                    continue
                assert _time(start) <= spec.start
                assert spec.end <= _time(end)
                if spec.box is not None:
                    assert _box_covers((west, south, east, north), spec.box), (cid, spec.box)
        for cid in {"cheops", "venus", "spot-5"} - set(collections):
            assert world.get(who, f"/stac/collections/{cid}").status_code == 404
            assert world.get(who, f"/stac/collections/{cid}/items").status_code == 404


def test_items_are_valid_stac_and_describe_the_ingested_files(world: World) -> None:
    pages = world.pages_get("admin", "/stac/search", limit=100)
    features = [feature for page in pages for feature in page["features"]]
    assert len(features) == len(SPECS)
    for feature in features:
        assert schema_errors("item", feature) == []
        spec = world.spec_of(feature["id"])
        item = pystac.Item.from_dict(feature)
        assert item.collection_id == spec.collection
        assert item.properties["start_datetime"] == spec.start.isoformat().replace("+00:00", "Z")
        assert item.properties["platform"] == spec.satellite
        assert TimestampsExtension.ext(item).published == spec.end
        assert ViewExtension.ext(item).off_nadir == float(spec.index)
        if spec.satellite == "CHEOPS":
            assert SatExtension.ext(item).platform_international_designator == world.designator
        else:
            assert not SatExtension.has_extension(item)
        if spec.box is None:
            assert feature["geometry"] is None
            assert "bbox" not in feature
        else:
            assert feature["bbox"] == list(spec.box)
        [asset] = item.assets.values()
        assert (
            FileExtension.ext(asset).checksum == "1220" + hashlib.sha256(spec.content).hexdigest()
        )
        assert FileExtension.ext(asset).size == len(spec.content)
        download = world.client.get(asset.href, headers=world.headers("admin"))
        assert download.status_code == 200
        assert download.content == spec.content
        self_link = next(link["href"] for link in feature["links"] if link["rel"] == "self")
        alone = world.client.get(self_link, headers=world.headers("admin"))
        assert alone.status_code == 200
        assert alone.headers["content-type"] == "application/geo+json"
        assert alone.json() == feature


# --- paging and filters ---------------------------------------------------------------


@pytest.mark.parametrize("limit", [1, 4, 1000])
def test_paging_visits_every_visible_item_exactly_once(world: World, limit: int) -> None:
    for when in (NOW, LATER):
        world.now = when
        for who in CALLERS:
            expected = world.visible(who)
            for pages in (
                world.pages_get(who, "/stac/search", limit=limit),
                world.pages_post(who, {"limit": limit}),
            ):
                ids = _ids(pages)
                assert sorted(ids) == sorted(expected), (who, when)
                assert len(pages) == max(1, -(-len(expected) // limit))
                for page in pages:
                    assert page["type"] == "FeatureCollection"
                    assert page["numberMatched"] == len(expected)
                    assert page["numberReturned"] == len(page["features"]) <= limit
                starts = [(world.spec_of(i).start, i) for i in ids]
                assert starts == sorted(starts)  # oldest first, ties by id


def test_a_collections_items_page_like_a_search_of_it(world: World) -> None:
    world.now = LATER
    for cid in ("cheops", "venus", "spot-5"):
        ids = _ids(world.pages_get("dlr", f"/stac/collections/{cid}/items", limit=2))
        expected = {p for p in world.visible("dlr") if world.spec_of(p).collection == cid}
        assert sorted(ids) == sorted(expected)
        assert _search(world, "dlr", collections=cid) == expected
    some = world.ids[0]
    assert world.get("admin", f"/stac/collections/venus/items/{some}").status_code == 404
    assert world.get("admin", "/stac/collections/nothing/items").status_code == 404


def _lon_spans(west: float, east: float) -> list[tuple[float, float]]:
    return [(west, east)] if west <= east else [(west, 180.0), (-180.0, east)]


def _boxes_meet(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    if a[1] > b[3] or b[1] > a[3]:
        return False
    return any(
        x0 <= y1 and y0 <= x1
        for x0, x1 in _lon_spans(a[0], a[2])
        for y0, y1 in _lon_spans(b[0], b[2])
    )


def _box_covers(outer: tuple[float, ...], inner: tuple[float, ...]) -> bool:
    if not (outer[1] <= inner[1] and inner[3] <= outer[3]):
        return False
    return all(
        any(o0 <= i0 and i1 <= o1 for o0, o1 in _lon_spans(outer[0], outer[2]))
        for i0, i1 in _lon_spans(inner[0], inner[2])
    )


QUERY_BOXES = [
    (-180.0, -90.0, 180.0, 90.0),
    (0.0, -30.0, 60.0, 30.0),
    (170.0, -10.0, -170.0, 10.0),  # across the antimeridian
    (178.0, -1.0, 179.0, 1.0),  # inside the crossing footprint, west of 180
    (-179.0, -1.0, -176.0, 1.0),  # inside it, east of 180
    (150.0, 10.0, -150.0, 20.0),  # across 180, north of the crossing footprint
    (-120.0, -16.0, -117.0, -15.0),  # one corner of a footprint
    (-50.0, 80.0, 50.0, 89.0),  # nothing there
]


@pytest.mark.parametrize("bbox", QUERY_BOXES)
def test_bbox_search_finds_the_footprints_that_meet_the_box(
    world: World, bbox: tuple[float, float, float, float]
) -> None:
    world.now = LATER
    for who in ("admin", "dlr"):
        expected = {
            p
            for p in world.visible(who)
            if (box := world.spec_of(p).box) is not None and _boxes_meet(bbox, box)
        }
        text = ",".join(str(v) for v in bbox)
        assert _search(world, who, bbox=text) == expected, (who, bbox)
        posted = _ids(world.pages_post(who, {"bbox": list(bbox), "limit": 1000}))
        assert set(posted) == expected
    across = world.ids[7]
    assert (across in _search(world, "admin", bbox=",".join(map(str, bbox)))) == _boxes_meet(
        bbox, SPECS[7].box or ()
    )


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _z(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@pytest.mark.parametrize(
    "interval",
    [
        (SPECS[5].start + timedelta(minutes=1), None),  # an instant inside product 5
        (SPECS[5].end, None),  # its last instant
        (SPECS[5].end + timedelta(seconds=1), None),  # just after it: nothing
        (T0 + timedelta(days=10), T0 + timedelta(days=40)),
        (SPECS[3].start, SPECS[3].start + timedelta(minutes=1)),  # products 3 and 4
        ("..", T0 + timedelta(days=20)),
        (T0 + timedelta(days=50), ".."),
        ("", T0 + timedelta(days=20)),
    ],
)
def test_datetime_search_finds_the_acquisitions_that_meet_the_interval(
    world: World, interval: tuple[Any, Any]
) -> None:
    world.now = LATER
    first, second = interval
    if second is None:
        text, low, high = _z(first), first, first
    else:
        low = None if isinstance(first, str) else first
        high = None if isinstance(second, str) else second
        text = f"{first if low is None else _z(first)}/{second if high is None else _z(second)}"
    expected = {
        p
        for p in world.visible("esa")
        if (low is None or world.spec_of(p).end >= low)
        and (high is None or world.spec_of(p).start <= high)
    }
    assert _search(world, "esa", datetime=text) == expected, text
    assert set(_ids(world.pages_post("esa", {"datetime": text, "limit": 1000}))) == expected


def test_collections_and_ids_narrow_the_search(world: World) -> None:
    world.now = LATER
    visible = world.visible("cnes")
    for cids in (["cheops"], ["venus", "spot-5"], ["nothing"]):
        expected = {p for p in visible if world.spec_of(p).collection in cids}
        assert _search(world, "cnes", collections=",".join(cids)) == expected
        assert set(_ids(world.pages_post("cnes", {"collections": cids}))) == expected
    wanted = [world.ids[i] for i in (0, 1, 2, 9)] + ["no-such-product"]
    assert _search(world, "cnes", ids=",".join(wanted)) == visible & set(wanted)
    both = _search(world, "cnes", ids=",".join(wanted), collections="venus")
    assert both == {p for p in visible & set(wanted) if world.spec_of(p).collection == "venus"}


# --- rights -----------------------------------------------------------------------


def test_a_product_hidden_from_a_caller_is_absent_404_and_audited(fresh_world: World) -> None:
    world = fresh_world
    spec = SPECS[12]  # a CHEOPS product: ESA's, embargo 30 days, public after 365
    assert spec.owners == ("esa",)
    product_id = world.ids[spec.index]
    path = f"/stac/collections/cheops/items/{product_id}"
    expected = {  # moment: who sees it, from the rules
        spec.end: {"admin", "esa"},
        spec.end + timedelta(days=30) - timedelta(seconds=1): {"admin", "esa"},
        spec.end + timedelta(days=30): {"admin", "esa", "cnes", "dlr"},
        spec.end + timedelta(days=365) - timedelta(seconds=1): {"admin", "esa", "cnes", "dlr"},
        spec.end + timedelta(days=365): set(CALLERS),
    }
    refusals = 0
    for moment, seeing in expected.items():
        world.now = moment
        for who in CALLERS:
            sees = who in seeing
            assert (product_id in world.visible(who)) == sees  # the oracle agrees
            assert (product_id in _search(world, who)) == sees, (who, moment)
            assert (product_id in _search(world, who, ids=product_id)) == sees
            item = world.get(who, path)
            assert item.status_code == (200 if sees else 404), (who, moment)
            if not sees:
                refusals += 1
                assert item.headers["content-type"] == "application/problem+json"
    with session_factory(world.engine)() as session:
        entries = session.scalars(select(AuditEntry).where(AuditEntry.product_id == product_id))
        logged = [(e.action, e.outcome, e.user_name, e.at) for e in entries]
    assert len(logged) == refusals
    assert all(action == "read" and outcome == "refused" for action, outcome, _, _ in logged)
    assert ("read", "refused", None, spec.end) in logged  # the public, at once
    assert ("read", "refused", "dlr-viewer", spec.end) in logged


def test_reading_an_unknown_item_is_404_and_audited(fresh_world: World) -> None:
    world = fresh_world
    answer = world.get("dlr", "/stac/collections/cheops/items/no-such-product")
    assert answer.status_code == 404
    with session_factory(world.engine)() as session:
        [entry] = session.scalars(
            select(AuditEntry).where(AuditEntry.product_id == "no-such-product")
        )
    assert (entry.outcome, entry.user_name, entry.detail) == (
        "refused",
        "dlr-viewer",
        "no such product",
    )


def test_a_bad_token_is_401_not_the_public(world: World) -> None:
    answer = world.client.get("/stac/search", headers={"Authorization": "Bearer jst_nope"})
    assert answer.status_code == 401


# --- bad input --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "names"),
    [
        ({"bbox": "1,2,3"}, "bbox"),
        ({"bbox": "a,b,c,d"}, "bbox"),
        ({"bbox": "0,10,5,5"}, "bbox"),
        ({"bbox": "-190,0,5,5"}, "bbox"),
        ({"bbox": "0,-95,5,5"}, "bbox"),
        ({"bbox": "0,0,nan,5"}, "bbox"),
        ({"datetime": "yesterday"}, "datetime"),
        ({"datetime": "2024-05-10T10:00:00"}, "datetime"),
        ({"datetime": "2024-05-10T10:00:00Z/2024-05-01T00:00:00Z"}, "datetime"),
        ({"datetime": "../.."}, "datetime"),
        ({"limit": "0"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"token": "not-a-token"}, "token"),
        ({"intersects": "{}"}, "intersects"),
        ({"sortby": "id"}, "sortby"),
    ],
)
def test_bad_search_parameters_are_400_naming_them(
    world: World, params: dict[str, str], names: str
) -> None:
    answer = world.get("admin", "/stac/search", **params)
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert names in answer.json()["detail"]


@pytest.mark.parametrize(
    ("body", "names"),
    [
        ({"bbox": [1, 2, 3]}, "bbox"),
        ({"bbox": ["a", 0, 1, 1]}, "bbox"),
        ({"datetime": "2024-13-01T00:00:00Z"}, "datetime"),
        ({"collections": "cheops"}, "collections"),
        ({"limit": -1}, "limit"),
        ({"intersects": {"type": "Point", "coordinates": [0, 0]}}, "intersects"),
        ({"query": {}}, "query"),
    ],
)
def test_bad_search_bodies_are_400_naming_the_field(
    world: World, body: dict[str, Any], names: str
) -> None:
    answer = world.post("admin", "/stac/search", body)
    assert answer.status_code == 400, answer.text
    assert names in answer.json()["detail"]


def test_a_limit_above_the_maximum_is_served_as_the_maximum(world: World) -> None:
    page = world.get("admin", "/stac/search", limit=5000).json()
    assert page["numberReturned"] == len(SPECS)
    assert not [link for link in page["links"] if link["rel"] == "next"]
