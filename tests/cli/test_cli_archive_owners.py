"""Test that each store owns its archive: no sweep removes a file any store refers to.

The scenario of issue 16: the demo's store and the `admin init` store lived in one
data folder and shared its `archive/`; sweeping one deleted the other's files. Here
two stores live in one folder, both archive products, one is swept, and every product
of both is fetched again with `jointsat archive get`, its SHA-256 checked against the
file that was ingested.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner, Result

from jointsat.archive.blobs import OWNER_FILE, BlobStore
from jointsat.cli import app
from jointsat.store.database import open_engine, session_factory
from jointsat.store.tables import Partner, Satellite, SatelliteOperator

CHEOPS = 44874
METADATA = {
    "instrument": "CHEOPS-CCD",
    "processing_level": "L1",
    "acquired_start": "2024-05-10T10:00:00Z",
    "acquired_end": "2024-05-10T10:12:00Z",
    "sky": {"ra_deg": 120.5, "dec_deg": -20.25},
}
HOURS_AGO = 3 * 3600.0  # older than sweep's default age: a sweep may remove them


def invoke(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def new_store(path: Path, template: Path) -> str:
    """Copy the migrated template to ``path`` with an identity of its own and CHEOPS in it."""
    shutil.copyfile(template, path)
    url = f"sqlite:///{path}"
    engine = open_engine(url)
    with session_factory(engine).begin() as session:
        session.execute(text("UPDATE store_identity SET value = :v"), {"v": str(uuid.uuid4())})
        esa = Partner(code="esa", name="ESA", contribution_share=1.0)
        operators = [SatelliteOperator(partner=esa, fraction=1.0)]
        session.add(Satellite(norad_id=CHEOPS, name="CHEOPS", operators=operators))
    engine.dispose()
    return url


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Return the user's data folder, where both stores live; no archive root is set."""
    monkeypatch.delenv("JOINTSAT_ARCHIVE_ROOT", raising=False)
    monkeypatch.delenv("JOINTSAT_DATABASE_URL", raising=False)
    made = tmp_path / "data"
    made.mkdir()
    return made


def archive_products(url: str, folder: Path, name: str, count: int) -> dict[str, str]:
    """Ingest ``count`` distinct files into the store; return each product's id -> SHA-256."""
    metadata = folder / f"{name}-metadata.json"
    metadata.write_text(json.dumps(METADATA))
    paths = []
    for i in range(count):
        path = folder / f"{name}-{i}.fits"
        path.write_bytes(f"{name} frame {i} ".encode() * (500 + i))
        paths.append(path)
    result = invoke(
        "archive", "ingest", *map(str, paths), "--satellite", str(CHEOPS),
        "--metadata", str(metadata), "--database-url", url,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    found = {}
    for line, path in zip(result.stdout.splitlines(), paths, strict=True):
        ident, sha256, _ = line.split(" ", 2)
        assert sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
        found[ident] = sha256
    return found


def age(root: Path) -> None:
    """Make every blob under ``root`` hours old, so that sweep's age spares none of them."""
    past = time.time() - HOURS_AGO
    for blob in root.rglob("sha256/*/*"):
        os.utime(blob, (past, past))


def all_fetched(url: str, products: dict[str, str], out: Path) -> None:
    """Fetch every product with `archive get` and check its bytes' SHA-256."""
    out.mkdir(exist_ok=True)
    for ident, sha256 in products.items():
        target = out / f"{ident}.fits"
        result = invoke("archive", "get", ident, "-o", str(target), "--database-url", url)
        assert result.exit_code == 0, result.output
        assert hashlib.sha256(target.read_bytes()).hexdigest() == sha256


def test_each_store_of_a_folder_has_its_own_archive_and_sweeping_one_spares_the_other(
    folder: Path, sqlite_template: Path, tmp_path: Path
) -> None:
    main = new_store(folder / "jointsat.db", sqlite_template)
    demo = new_store(folder / "jointsat-demo.db", sqlite_template)
    main_products = archive_products(main, folder, "main", 3)
    demo_products = archive_products(demo, folder, "demo", 4)
    assert {p.name for p in folder.glob("*.archive")} == {
        "jointsat.archive",
        "jointsat-demo.archive",
    }
    age(folder)
    for url in (main, demo):
        swept = invoke("archive", "sweep", "--database-url", url)
        assert swept.exit_code == 0, swept.output
        assert swept.stdout.startswith("removed 0 unreferenced blob(s)"), swept.stdout
    all_fetched(main, main_products, tmp_path / "main-out")
    all_fetched(demo, demo_products, tmp_path / "demo-out")
    assert len(list(BlobStore(folder / "jointsat-demo.archive").stored())) == 4


def test_two_stores_given_one_root_refuse_to_share_it(
    folder: Path, sqlite_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = tmp_path / "shared"
    monkeypatch.setenv("JOINTSAT_ARCHIVE_ROOT", str(shared))
    main = new_store(folder / "jointsat.db", sqlite_template)
    demo = new_store(folder / "jointsat-demo.db", sqlite_template)
    main_products = archive_products(main, folder, "main", 2)  # the first claims it
    owner = json.loads((shared / OWNER_FILE).read_text())
    assert owner["location"] == str(folder / "jointsat.db")

    metadata = folder / "demo-metadata.json"
    metadata.write_text(json.dumps(METADATA))
    frame = folder / "demo.fits"
    frame.write_bytes(b"the demo's frame")
    refused = invoke(
        "archive", "ingest", str(frame), "--satellite", str(CHEOPS), "--metadata", str(metadata),
        "--database-url", demo,
    )  # fmt: skip
    assert refused.exit_code == 1
    lines = refused.output.strip().splitlines()
    assert len(lines) == 1, refused.output
    assert f"belongs to another store ({folder / 'jointsat.db'})" in lines[0]
    assert len(list(BlobStore(shared).stored())) == 2  # nothing of the refused file stored

    age(shared)
    sweep = invoke("archive", "sweep", "--min-age", "0", "--database-url", demo)
    assert sweep.exit_code == 1
    assert len(sweep.output.strip().splitlines()) == 1
    assert "belongs to another store" in sweep.output
    all_fetched(main, main_products, tmp_path / "out")


def test_a_legacy_shared_archive_stays_readable_and_is_never_swept(
    folder: Path, sqlite_template: Path, tmp_path: Path
) -> None:
    """Stores from before each had its own archive: both wrote to `archive/` beside them."""
    main = new_store(folder / "jointsat.db", sqlite_template)
    demo = new_store(folder / "jointsat-demo.db", sqlite_template)
    main_products = archive_products(main, folder, "main", 2)
    demo_products = archive_products(demo, folder, "demo", 3)
    legacy = folder / "archive"
    for name in ("jointsat.archive", "jointsat-demo.archive"):  # as the old jointsat left it
        shutil.copytree(folder / name / "sha256", legacy / "sha256", dirs_exist_ok=True)
        shutil.rmtree(folder / name)
    age(folder)
    for url in (main, demo):
        swept = invoke("archive", "sweep", "--min-age", "0", "--database-url", url)
        assert swept.exit_code == 0, swept.output
    assert len(list(BlobStore(legacy).stored())) == 5
    all_fetched(main, main_products, tmp_path / "main-out")
    all_fetched(demo, demo_products, tmp_path / "demo-out")
    # New products go to the store's own archive, the old ones still read from archive/.
    more = archive_products(main, folder, "later", 1)
    all_fetched(main, {**main_products, **more}, tmp_path / "later-out")
    assert list(BlobStore(folder / "jointsat.archive").stored()) == list(more.values())


def test_an_unclaimed_root_with_blobs_of_another_store_is_swept_only_when_claimed(
    folder: Path, sqlite_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A root set by JOINTSAT_ARCHIVE_ROOT for two stores by an older jointsat: no owner."""
    shared = tmp_path / "shared"
    monkeypatch.setenv("JOINTSAT_ARCHIVE_ROOT", str(shared))
    main = new_store(folder / "jointsat.db", sqlite_template)
    demo = new_store(folder / "jointsat-demo.db", sqlite_template)
    main_products = archive_products(main, folder, "main", 2)
    (shared / OWNER_FILE).unlink()  # as an older jointsat left it: anyone may write
    demo_products = archive_products(demo, folder, "demo", 2)
    assert not (shared / OWNER_FILE).exists()  # a root holding blobs is not claimed by a write
    age(shared)
    refused = invoke("archive", "sweep", "--min-age", "0", "--database-url", main)
    assert refused.exit_code == 1
    assert "records no owning store" in refused.output
    assert "2 blob(s) this store does not refer to" in refused.output
    all_fetched(demo, demo_products, tmp_path / "demo-out")
    claimed = invoke("archive", "sweep", "--min-age", "0", "--claim", "--database-url", main)
    assert claimed.exit_code == 0, claimed.output
    assert claimed.stdout.startswith("removed 2 unreferenced blob(s)")
    all_fetched(main, main_products, tmp_path / "main-out")


def test_a_store_made_anew_in_place_takes_its_archive_over(
    folder: Path, sqlite_template: Path, tmp_path: Path
) -> None:
    """The demo makes its store anew at each run: the new store is its archive's owner."""
    path = folder / "jointsat-demo.db"
    first = new_store(path, sqlite_template)
    archive_products(first, folder, "first", 2)
    path.unlink()
    second = new_store(path, sqlite_template)
    again = archive_products(second, folder, "second", 1)
    age(folder)
    swept = invoke("archive", "sweep", "--database-url", second)
    assert swept.exit_code == 0, swept.output
    assert swept.stdout.startswith("removed 2 unreferenced blob(s)")  # the old store's
    all_fetched(second, again, tmp_path / "out")
