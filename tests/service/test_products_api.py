"""Ingest, read and download archived products through the API, under each partner's rights.

The expected answer of every rights cell is written from the issue's rules, not taken
from the service's code: the owners see a product at once, other members once the
owners' embargo has passed (counted from the end of the acquisition), the public (no
token) once the public-release delay has passed when every owner's agreement sets
one; the admin sees everything; what a caller may not see is a 404.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from tests.support.consortium import Consortium
from tests.support.shared import SharedWorld

from jointsat.store.tables import Role

ACQUIRED = datetime(2024, 5, 10, 12, 0, tzinfo=UTC)
ACQUIRED_END = ACQUIRED + timedelta(minutes=10)
EMBARGO_DAYS = 30
PUBLIC_DAYS = 365
CHEOPS, VENUS = 44874, 42901
FOOTPRINT = {
    "type": "Polygon",
    "coordinates": [[[1.0, 43.0], [2.0, 43.0], [2.0, 44.0], [1.0, 44.0], [1.0, 43.0]]],
}


class World(Consortium):
    """Two partners: ESA (embargo 30 days, public after a year) owns CHEOPS; CNES
    (no embargo, never public) owns VENUS; each has an operator and a viewer."""

    def __init__(self, url: str, archive: Path) -> None:
        super().__init__(url, now=ACQUIRED_END)
        with self.session() as session:
            self.add_admin(session)
            for code, embargo, public, norad in (
                ("esa", EMBARGO_DAYS, PUBLIC_DAYS, CHEOPS),
                ("cnes", 0, None, VENUS),
            ):
                agreement = {"embargo_days": embargo, "public_release_days": public}
                partner = self.add_partner(session, code, 0.5, agreement=agreement)
                self.add_satellite(session, f"{code}-sat", norad, {partner: 1.0})
                for role in (Role.OPERATOR, Role.VIEWER):
                    self.add_user(session, f"{code}-{role.value}", role, partner)
        self.archive = archive
        self.client = self.serve(archive_root=archive)

    def ingest(
        self, who: str, files: dict[str, bytes], metadata: dict[str, Any] | None = None
    ) -> Any:
        document = {
            "satellite": CHEOPS,
            "instrument": "CHEOPS-CCD",
            "processing_level": "L1",
            "acquired_start": ACQUIRED.isoformat(),
            "acquired_end": ACQUIRED_END.isoformat(),
            "footprint": FOOTPRINT,
            **(metadata or {}),
        }
        return self.client.post(
            "/api/v1/products",
            data={"metadata": json.dumps(document)},
            files=[("file", (name, body, "application/fits")) for name, body in files.items()],
            headers=self.headers(who),
        )

    def blob_count(self) -> int:
        return sum(1 for p in (self.archive / "sha256").glob("*/*") if p.is_file())

    def leftovers(self) -> list[Path]:
        return list((self.archive / "incoming").glob("*"))


@pytest.fixture
def world(store_url: str, tmp_path: Path) -> Iterator[World]:
    made = World(store_url, tmp_path / "archive")
    yield made
    made.close()


@pytest.fixture(scope="module")
def shared_world(
    module_stores: Callable[[], str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SharedWorld[World]]:
    """One world per backend for the ingests that must be refused (tests.support.shared)."""
    shared = SharedWorld(
        lambda: World(module_stores(), tmp_path_factory.mktemp("products") / "archive"),
        state=lambda world: (world.blob_count(), tuple(world.leftovers())),
    )
    yield shared
    shared.close()


@pytest.fixture
def refusing_world(shared_world: SharedWorld[World]) -> Iterator[World]:
    """The shared world, for a test whose ingests are all refused: it must stay empty."""
    with shared_world.use() as world:
        yield world


def test_ingest_answers_with_the_checksums_and_is_idempotent(world: World) -> None:
    science, quicklook = os.urandom(300_000), b"quicklook"
    made = world.ingest("esa-operator", {"science.fits": science, "quick.png": quicklook})
    assert made.status_code == 201, made.text
    product = made.json()
    sha = {f["name"]: f["sha256"] for f in product["files"]}
    assert sha == {
        "science.fits": hashlib.sha256(science).hexdigest(),
        "quick.png": hashlib.sha256(quicklook).hexdigest(),
    }
    assert product["owners"] == ["esa"]
    assert product["bbox"] == [1.0, 43.0, 2.0, 44.0]
    assert product["members_from"].startswith("2024-06-09T12:10")
    assert world.blob_count() == 2
    again = world.ingest("esa-operator", {"quick.png": quicklook, "science.fits": science})
    assert again.status_code == 200
    assert again.json()["id"] == product["id"]
    other = world.ingest(
        "esa-operator", {"science.fits": science, "quick.png": quicklook}, {"instrument": "other"}
    )
    assert other.status_code == 409
    assert world.blob_count() == 2
    assert world.leftovers() == []


@pytest.mark.parametrize(
    ("who", "metadata", "status", "names"),
    [
        ("cnes-operator", {}, 403, "operator of the satellite"),
        ("esa-viewer", {}, 403, "operator of the satellite"),
        ("esa-operator", {"acquired_end": "2024-05-10T11:00:00Z"}, 422, "acquired_end"),
        ("esa-operator", {"satellite": 99999}, 403, "operator of the satellite"),
        ("esa-operator", {"satellite": VENUS}, 403, "operator of the satellite"),
        ("esa-viewer", {"satellite": 99999}, 403, "operator of the satellite"),
        ("admin", {"satellite": 99999}, 422, "satellite"),
        ("esa-operator", {"processing_level": "L" * 21}, 422, "processing_level"),
        ("esa-operator", {"checksums": {"typo.fits": "0" * 64}}, 422, "no file named typo.fits"),
        ("esa-operator", {"acquired_start": "2024-05-10T12:00:00"}, 422, "acquired_start"),
        ("esa-operator", {"owners": ["nasa"]}, 422, "owners"),
        ("esa-operator", {"colour": "red"}, 422, "colour"),
        ("esa-operator", {"checksums": {"a.fits": "0" * 64}}, 422, "declared"),
        ("esa-operator", {"checksums": {"a.fits": "xyz"}}, 422, "checksums.a.fits"),
        (
            "admin",
            {"footprint": {"type": "Polygon", "coordinates": [[[200, 0]]]}},
            422,
            "footprint",
        ),
    ],
)
def test_bad_ingests_are_refused_naming_the_reason_and_leave_nothing(
    refusing_world: World, who: str, metadata: dict[str, Any], status: int, names: str
) -> None:
    world = refusing_world
    answer = world.ingest(who, {"a.fits": os.urandom(5000)}, metadata)
    assert answer.status_code == status, answer.text
    assert names in answer.json()["detail"]
    assert world.client.get("/api/v1/products", headers=world.headers("admin")).json() == []
    assert world.blob_count() == 0
    assert world.leftovers() == []


def post_raw(world: World, body: bytes, boundary: str = "xyz") -> Any:
    return world.client.post(
        "/api/v1/products",
        content=body,
        headers={
            **world.headers("admin"),
            "Content-Type": f"multipart/form-data; boundary={boundary}",
        },
    )


def test_the_metadata_must_come_before_the_files(refusing_world: World) -> None:
    world = refusing_world
    boundary = "xyz"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.bin"\r\n\r\n'
        f'abc\r\n--{boundary}\r\nContent-Disposition: form-data; name="metadata"\r\n\r\n{{}}\r\n'
        f"--{boundary}--\r\n"
    ).encode()
    answer = post_raw(world, body, boundary)
    assert answer.status_code == 422
    assert "before the files" in answer.json()["detail"]


def test_a_body_without_its_closing_boundary_is_refused(refusing_world: World) -> None:
    world = refusing_world
    boundary = "xyz"
    metadata = {
        "satellite": CHEOPS,
        "instrument": "CCD",
        "acquired_start": ACQUIRED.isoformat(),
        "acquired_end": ACQUIRED_END.isoformat(),
    }
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="metadata"\r\n\r\n'
        f"{json.dumps(metadata)}\r\n--{boundary}\r\n"
        'Content-Disposition: form-data; name="file"; filename="a.bin"\r\n\r\n'
    ).encode() + os.urandom(100_000)
    answer = post_raw(world, body, boundary)
    assert answer.status_code == 400
    assert "cut short" in answer.json()["detail"]
    assert world.blob_count() == 0
    assert world.leftovers() == []


def test_downloads_carry_checksums_and_honour_ranges(world: World) -> None:
    body = os.urandom(100_000)
    product = world.ingest("esa-operator", {"science.fits": body}).json()
    url = product["files"][0]["href"]
    h = world.headers("esa-viewer")
    whole = world.client.get(url, headers=h)
    assert whole.status_code == 200
    assert whole.content == body
    digest = hashlib.sha256(body)
    assert whole.headers["etag"] == f'"{digest.hexdigest()}"'
    assert whole.headers["repr-digest"] == f"sha-256=:{base64.b64encode(digest.digest()).decode()}:"
    assert whole.headers["accept-ranges"] == "bytes"
    assert whole.headers["content-type"].startswith("application/fits")
    cases = {
        "bytes=10-19": (10, 19),
        "bytes=99990-": (99_990, 99_999),
        "bytes=-5": (99_995, 99_999),
        "bytes=99995-200000": (99_995, 99_999),
    }
    for header, (first, last) in cases.items():
        part = world.client.get(url, headers={**h, "Range": header})
        assert part.status_code == 206, header
        assert part.content == body[first : last + 1], header
        assert part.headers["content-range"] == f"bytes {first}-{last}/100000"
    beyond = world.client.get(url, headers={**h, "Range": "bytes=100000-"})
    assert beyond.status_code == 416
    assert beyond.headers["content-range"] == "bytes */100000"
    stale = world.client.get(url, headers={**h, "Range": "bytes=0-9", "If-Range": '"other"'})
    assert stale.status_code == 200
    assert stale.content == body
    cached = world.client.get(url, headers={**h, "If-None-Match": whole.headers["etag"]})
    assert cached.status_code == 304
    head = world.client.head(url, headers=h)
    assert head.status_code == 200
    assert head.headers["content-length"] == "100000"
    log = world.client.get("/api/v1/audit", headers=world.headers("admin")).json()
    outcomes = [(e["outcome"], e["bytes_sent"], e["user_name"]) for e in log]
    assert ("served", 100_000, "esa-viewer") in outcomes
    assert ("partial", 10, "esa-viewer") in outcomes
    assert sum(1 for o in outcomes if o[0] == "partial") == len(cases)
    missing = world.client.get(f"/api/v1/products/{product['id']}/files/other.fits", headers=h)
    assert missing.status_code == 404


ROLES = ("admin", "esa-operator", "esa-viewer", "cnes-operator", "cnes-viewer", "public")
AGES_DAYS = (0, EMBARGO_DAYS - 1, EMBARGO_DAYS, PUBLIC_DAYS - 1, PUBLIC_DAYS)


def expected_visible(who: str, owner: str, age_days: int) -> bool:
    """Say from the issue's rules whether ``who`` sees ``owner``'s product at that age."""
    if who == "admin" or who.startswith(owner):
        return True
    embargo, public = {"esa": (EMBARGO_DAYS, PUBLIC_DAYS), "cnes": (0, None)}[owner]
    if who == "public":
        return public is not None and age_days >= public
    return age_days >= embargo or (public is not None and age_days >= public)


def expected_grant(who: str, owner: str) -> str:
    """Say from the same rules which one lets ``who`` see a product it sees: the word shown."""
    if who == "admin":
        return "admin"
    if who.startswith(owner):
        return "owner"
    return "public" if who == "public" else "member"


def test_the_rights_matrix_holds_alike_in_list_read_and_download(world: World) -> None:
    esa = world.ingest("esa-operator", {"esa.fits": b"esa data"}).json()
    cnes = world.ingest("cnes-operator", {"cnes.tif": b"cnes data"}, {"satellite": VENUS}).json()
    refusals = 0
    for age in AGES_DAYS:
        world.now = ACQUIRED_END + timedelta(days=age)
        for who in ROLES:
            h = world.headers(who)
            rows = world.client.get("/api/v1/products", headers=h).json()
            listed = {p["id"]: p["visible_as"] for p in rows}
            for owner, product in (("esa", esa), ("cnes", cnes)):
                want = expected_visible(who, owner, age)
                cell = f"{who} on {owner}'s product at {age} days"
                assert (product["id"] in listed) == want, cell
                read = world.client.get(f"/api/v1/products/{product['id']}", headers=h)
                if want:  # the rule that lets it see the product, the same in list and read
                    assert listed[product["id"]] == expected_grant(who, owner), cell
                    assert read.json()["visible_as"] == listed[product["id"]], cell
                file = product["files"][0]
                got = world.client.get(file["href"], headers=h)
                assert read.status_code == (200 if want else 404), cell
                assert got.status_code == (200 if want else 404), cell
                if not want:
                    refusals += 2
                    assert read.json() == {**read.json(), "status": 404}
    log = world.client.get(
        "/api/v1/audit",
        params={"outcome": "refused", "limit": 10_000},
        headers=world.headers("admin"),
    ).json()
    assert len(log) == refusals
    assert {e["action"] for e in log} == {"read", "download"}
    assert {e["detail"] for e in log} == {"not yet released to the caller"}


def test_unknown_products_look_like_hidden_ones_and_are_logged(world: World) -> None:
    answer = world.client.get("/api/v1/products/" + "0" * 32, headers=world.headers("cnes-viewer"))
    assert answer.status_code == 404
    log = world.client.get("/api/v1/audit", headers=world.headers("admin")).json()
    assert log[0]["detail"] == "no such product"
    assert log[0]["user_name"] == "cnes-viewer"
    assert (
        world.client.get("/api/v1/audit", headers=world.headers("esa-operator")).status_code == 403
    )


def test_changing_an_embargo_moves_the_release_of_existing_products(world: World) -> None:
    product = world.ingest("esa-operator", {"esa.fits": b"esa data"}).json()
    world.now = ACQUIRED_END + timedelta(days=10)
    url = f"/api/v1/products/{product['id']}"
    assert world.client.get(url, headers=world.headers("cnes-viewer")).status_code == 404
    partner = world.client.get("/api/v1/partners", headers=world.headers("admin")).json()
    esa_id = next(p["id"] for p in partner if p["code"] == "esa")
    changed = world.client.patch(
        f"/api/v1/agreements/{esa_id}",
        json={"embargo_days": 5, "public_release_days": None},
        headers=world.headers("admin"),
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["public_release_days"] is None
    assert world.client.get(url, headers=world.headers("cnes-viewer")).status_code == 200
    world.now = ACQUIRED_END + timedelta(days=400)
    assert world.client.get(url).status_code == 404  # never public now


def test_the_audit_log_refuses_updates_and_deletes(world: World) -> None:
    world.client.get("/api/v1/products/nothing", headers=world.headers("cnes-viewer"))
    with world.engine.connect() as connection:
        for statement in ("UPDATE audit_log SET outcome = 'served'", "DELETE FROM audit_log"):
            with pytest.raises(Exception, match="append-only"):
                connection.execute(text(statement))
            connection.rollback()


def test_the_list_filters_by_acquisition_time_and_footprint(world: World) -> None:
    def square(west: float, east: float) -> dict[str, Any]:
        ring = [[west, 0.0], [east, 0.0], [east, 5.0], [west, 5.0], [west, 0.0]]
        return {"type": "Polygon", "coordinates": [ring]}

    across = {  # cut in two at 180, as RFC 7946 asks
        "type": "MultiPolygon",
        "coordinates": [square(175.0, 180.0)["coordinates"], square(-180.0, -175.0)["coordinates"]],
    }
    days = {"france": (0, square(1.0, 2.0)), "pacific": (2, across)}
    made = {}
    for name, (day, footprint) in days.items():
        start = ACQUIRED + timedelta(days=day)
        answer = world.ingest(
            "esa-operator",
            {f"{name}.fits": name.encode()},
            {
                "acquired_start": start.isoformat(),
                "acquired_end": (start + timedelta(minutes=10)).isoformat(),
                "footprint": footprint,
            },
        )
        made[name] = answer.json()["id"]
    sky = world.ingest(
        "esa-operator",
        {"sky.fits": b"sky"},
        {"footprint": None, "sky": {"ra_deg": 1, "dec_deg": 2}},
    )
    made["sky"] = sky.json()["id"]

    def listed(**params: str) -> set[str]:
        answer = world.client.get("/api/v1/products", params=params, headers=world.headers("admin"))
        assert answer.status_code == 200, answer.text
        return {name for name, ident in made.items() if ident in {p["id"] for p in answer.json()}}

    assert listed() == {"france", "pacific", "sky"}
    assert listed(start=(ACQUIRED + timedelta(days=1)).isoformat()) == {"pacific"}
    assert listed(end=(ACQUIRED + timedelta(minutes=5)).isoformat()) == {"france", "sky"}
    assert listed(bbox="0,-1,3,1") == {"france"}
    assert listed(bbox="179,1,180,2") == {"pacific"}
    assert listed(bbox="170,-10,-170,10") == {"pacific"}  # a box across 180 too
    assert listed(bbox="-10,-10,-5,10") == set()
    for bad in ("1,2,3", "a,b,c,d", "0,10,1,5", "0,0,200,1"):
        answer = world.client.get(
            "/api/v1/products", params={"bbox": bad}, headers=world.headers("admin")
        )
        assert answer.status_code == 422
        assert "bbox" in answer.json()["detail"]
    bad = world.client.get(
        "/api/v1/products", params={"start": "2024-05-10T00:61:00"}, headers=world.headers("admin")
    )
    assert bad.status_code == 422
    assert "an ISO 8601 time is needed" in bad.json()["detail"]


METADATA_PART = (
    '--xyz\r\nContent-Disposition: form-data; name="metadata"\r\n\r\n'
    + json.dumps(
        {
            "satellite": CHEOPS,
            "instrument": "CCD",
            "acquired_start": ACQUIRED.isoformat(),
            "acquired_end": ACQUIRED_END.isoformat(),
        }
    )
    + "\r\n"
)


@pytest.mark.parametrize(
    ("file_part", "status", "names"),
    [
        ('--xyz\r\nContent-Disposition form-data; name="file"\r\n\r\nabc', 400, "malformed"),
        (
            '--xyz\r\nContent-Disposition: form-data; name="file"; filename="a.bin"\r\n'
            "Content-Type: text/html\nSet-Cookie: x=1\r\n\r\nabc",
            422,
            "not a media type",
        ),
    ],
)
def test_malformed_parts_are_refused_and_leave_nothing(
    refusing_world: World, file_part: str, status: int, names: str
) -> None:
    world = refusing_world
    answer = post_raw(world, (METADATA_PART + file_part + "\r\n--xyz--\r\n").encode())
    assert answer.status_code == status, answer.text
    assert names in answer.json()["detail"]
    assert world.blob_count() == 0
    assert world.leftovers() == []


def test_odd_file_names_download_through_their_href(world: World) -> None:
    name = "a?b#c 50%.fits"
    product = world.ingest("esa-operator", {name: b"odd"}).json()
    (file,) = product["files"]
    assert file["name"] == name
    got = world.client.get(file["href"], headers=world.headers("admin"))
    assert got.status_code == 200
    assert got.content == b"odd"
    assert got.headers["x-content-type-options"] == "nosniff"
    for tag in ("*", f'W/"{file["sha256"]}"', f'"other", "{file["sha256"]}"'):
        cached = world.client.get(
            file["href"], headers={**world.headers("admin"), "If-None-Match": tag}
        )
        assert cached.status_code == 304, tag
