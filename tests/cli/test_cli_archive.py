"""Test `jointsat archive`: ingest, list, get (verified) and sweep on a SQLite store."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from typer.testing import CliRunner, Result

from jointsat.archive.blobs import BlobStore
from jointsat.archive.metadata import metadata_from_dict, product_id
from jointsat.cli import app
from jointsat.cli.archive import CSV_COLUMNS as ARCHIVE_CSV_COLUMNS
from jointsat.store.database import open_engine, session_factory
from jointsat.store.products import StoredFile, record_product
from jointsat.store.tables import Partner, Product, Satellite, SatelliteOperator

CHEOPS = 44874
ISS = 25544
METADATA = {
    "instrument": "CHEOPS-CCD",
    "processing_level": "L1",
    "acquired_start": "2024-05-10T10:00:00Z",
    "acquired_end": "2024-05-10T10:12:00Z",
    "sky": {"ra_deg": 120.5, "dec_deg": -20.25},
}


def invoke(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


@pytest.fixture
def store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, new_sqlite_store: Callable[[Path], str]
) -> str:
    """Return the URL of a migrated SQLite store with CHEOPS (ESA) and the ISS (NASA, ESA).

    JOINTSAT_DATABASE_URL names it; the archive is the default one, beside its file.
    """
    url = new_sqlite_store(tmp_path)
    engine = open_engine(url)
    with session_factory(engine).begin() as session:
        esa = Partner(code="esa", name="ESA", contribution_share=0.6)
        nasa = Partner(code="nasa", name="NASA", contribution_share=0.4)
        session.add_all(
            [
                Satellite(
                    norad_id=CHEOPS,
                    name="CHEOPS",
                    operators=[SatelliteOperator(partner=esa, fraction=1.0)],
                ),
                Satellite(
                    norad_id=ISS,
                    name="ISS (ZARYA)",
                    operators=[
                        SatelliteOperator(partner=nasa, fraction=0.5),
                        SatelliteOperator(partner=esa, fraction=0.5),
                    ],
                ),
            ]
        )
    engine.dispose()
    monkeypatch.setenv("JOINTSAT_DATABASE_URL", url)
    monkeypatch.delenv("JOINTSAT_ARCHIVE_ROOT", raising=False)
    return url


@pytest.fixture
def metadata_file(tmp_path: Path) -> Path:
    path = tmp_path / "metadata.json"
    path.write_text(json.dumps(METADATA))
    return path


def archive(tmp_path: Path) -> BlobStore:
    return BlobStore(tmp_path / "store.archive")  # beside store.db, named after it


def products(url: str) -> list[Product]:
    engine = open_engine(url)
    try:
        with session_factory(engine)() as session:
            query = select(Product).options(
                selectinload(Product.owners), selectinload(Product.files)
            )
            return list(session.scalars(query))
    finally:
        engine.dispose()


def write_files(folder: Path, count: int) -> list[Path]:
    paths = []
    for i in range(count):
        path = folder / f"frame-{i}.fits"
        path.write_bytes(f"frame {i} ".encode() * (1000 + 37 * i))
        paths.append(path)
    return paths


def ingest(metadata_file: Path, *paths: Path, satellite: int = CHEOPS) -> Result:
    return invoke(
        "archive", "ingest", *map(str, paths), "--satellite", str(satellite),
        "--metadata", str(metadata_file),
    )  # fmt: skip


def test_ingest_prints_one_line_per_product_with_its_sha256(
    store: str, metadata_file: Path, tmp_path: Path
) -> None:
    paths = write_files(tmp_path, 3)
    result = ingest(metadata_file, *paths)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 3
    for line, path in zip(lines, paths, strict=True):
        ident, sha256, printed = line.split(" ", 2)
        assert sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
        assert ident == product_id(CHEOPS, [sha256])
        assert printed == str(path)
        assert archive(tmp_path).path(sha256).read_bytes() == path.read_bytes()
    assert "3 product(s) archived" in result.stderr
    assert "3 new" in result.stderr
    stored = {p.id: p for p in products(store)}
    assert set(stored) == {line.split()[0] for line in lines}
    product = stored[lines[0].split()[0]]
    assert (product.instrument, product.processing_level) == ("CHEOPS-CCD", "L1")
    assert product.acquired_start == datetime(2024, 5, 10, 10, tzinfo=UTC)
    assert (product.ra_deg, product.dec_deg) == (120.5, -20.25)
    assert product.owner_ids  # the operator, ESA, by default
    assert [(f.name, f.media_type) for f in product.files] == [("frame-0.fits", "image/fits")]


def test_ingest_again_prints_the_same_ids_and_stores_nothing_new(
    store: str, metadata_file: Path, tmp_path: Path
) -> None:
    paths = write_files(tmp_path, 2)
    first = ingest(metadata_file, *paths)
    again = ingest(metadata_file, *paths)
    assert again.exit_code == 0, again.output
    assert again.stdout == first.stdout
    assert "0 new" in again.stderr
    assert len(products(store)) == 2
    assert len(list(archive(tmp_path).stored())) == 2


def test_options_give_the_metadata_without_a_file(store: str, tmp_path: Path) -> None:
    (path,) = write_files(tmp_path, 1)
    result = invoke(
        "archive", "ingest", str(path), "--satellite", str(ISS), "--instrument", "EarthCam",
        "--start", "2024-05-10T10:00:00+02:00", "--end", "2024-05-10T08:05:00", "--level", "L2",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (product,) = products(store)
    assert product.satellite_id is not None
    assert (product.instrument, product.processing_level) == ("EarthCam", "L2")
    assert product.acquired_start == datetime(2024, 5, 10, 8, tzinfo=UTC)
    assert product.acquired_end == datetime(2024, 5, 10, 8, 5, tzinfo=UTC)
    assert len(product.owner_ids) == 2  # both operators of the ISS


def test_an_option_that_agrees_with_the_file_is_accepted(
    store: str, metadata_file: Path, tmp_path: Path
) -> None:
    (path,) = write_files(tmp_path, 1)
    result = invoke(
        "archive", "ingest", str(path), "--satellite", str(CHEOPS), "--metadata",
        str(metadata_file), "--start", "2024-05-10T12:00:00+02:00", "--level", "L1",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert len(products(store)) == 1


@pytest.mark.parametrize(
    ("change", "options", "fragments"),
    [
        ({"acquired_end": "2024-05-10T09:00:00Z"}, [], ["acquired_end", "ends before"]),
        ({"acquired_start": "yesterday"}, [], ["acquired_start", "not an ISO 8601 time"]),
        ({"acquired_start": "2024-05-10T10:00:00"}, [], ["acquired_start", "no time zone"]),
        ({"instrument": ""}, [], ["instrument"]),
        ({"owners": "esa"}, [], ["owners", "list of partner codes"]),
        ({"colour": "red"}, [], ["unknown metadata field", "colour"]),
        ({"satellite": ISS}, [], ["satellite", "--satellite gives 44874"]),
        ({}, ["--level", "L2"], ["processing_level", "--level gives 'L2'"]),
        ({}, ["--start", "2024-05-10T10:00:01Z"], ["acquired_start", "--start gives"]),
        ({"owners": ["esa", "jaxa"]}, [], ["owners", "no partner with code jaxa"]),
        ({"contact_id": 7}, [], ["contact_id", "no contact 7"]),
    ],
)
def test_bad_metadata_exits_2_naming_the_field_and_records_nothing(
    store: str,
    tmp_path: Path,
    change: dict[str, object],
    options: list[str],
    fragments: list[str],
) -> None:
    metadata = tmp_path / "bad.json"
    metadata.write_text(json.dumps({**METADATA, **change}))
    paths = write_files(tmp_path, 2)
    result = invoke(
        "archive", "ingest", *map(str, paths), "--satellite", str(CHEOPS),
        "--metadata", str(metadata), *options,
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert "Traceback" not in result.output
    message = " ".join(result.stderr.split())
    assert message.startswith("error:")
    for fragment in fragments:
        assert fragment in message
    assert products(store) == []


@pytest.mark.parametrize(
    ("text", "fragment"),
    [("{not json", "not valid JSON"), ("[1, 2]", "must be a JSON object")],
)
def test_a_metadata_file_that_is_no_json_object_exits_2(
    store: str, tmp_path: Path, text: str, fragment: str
) -> None:
    metadata = tmp_path / "bad.json"
    metadata.write_text(text)
    (path,) = write_files(tmp_path, 1)
    result = invoke(
        "archive", "ingest", str(path), "--satellite", str(CHEOPS), "--metadata", str(metadata)
    )
    assert result.exit_code == 2, result.output
    assert f"{metadata}" in result.stderr.replace("\n", "")
    assert fragment in result.stderr
    assert products(store) == []
    assert list(archive(tmp_path).stored()) == []


def test_an_unknown_satellite_exits_2_before_any_file_is_stored(
    store: str, metadata_file: Path, tmp_path: Path
) -> None:
    paths = write_files(tmp_path, 1)
    result = ingest(metadata_file, *paths, satellite=99999)
    assert result.exit_code == 2, result.output
    assert "satellite: no satellite with catalog number 99999" in " ".join(result.stderr.split())
    assert products(store) == []
    assert list(archive(tmp_path).stored()) == []


def test_a_refused_file_stops_ingest_and_keeps_those_printed_before_it(
    store: str, metadata_file: Path, tmp_path: Path
) -> None:
    first, second = write_files(tmp_path, 2)
    other = tmp_path / "other.json"
    other.write_text(json.dumps({**METADATA, "instrument": "OTHER"}))
    assert ingest(other, second).exit_code == 0
    result = ingest(metadata_file, first, second)
    assert result.exit_code == 2, result.output
    (line,) = result.stdout.splitlines()
    assert line.endswith(f" {first}")
    message = " ".join(result.stderr.split())
    assert f"{second}: these files are archived already" in message
    assert {p.instrument for p in products(store)} == {"OTHER", "CHEOPS-CCD"}


def test_a_missing_file_is_a_command_line_error(store: str, metadata_file: Path) -> None:
    result = ingest(metadata_file, Path("no-such-file.fits"))
    assert result.exit_code == 2
    assert "no-such-file.fits" in result.stderr
    assert products(store) == []


def test_list_json_round_trips_ids_and_checksums(
    store: str, metadata_file: Path, tmp_path: Path
) -> None:
    paths = write_files(tmp_path, 2)
    lines = ingest(metadata_file, *paths).stdout.splitlines()
    result = invoke("archive", "list", "--format", "json")
    assert result.exit_code == 0, result.output
    listed = json.loads(result.stdout)
    printed = {line.split()[0]: line.split()[1] for line in lines}
    assert {d["id"]: d["files"][0]["sha256"] for d in listed} == printed
    for document, path in zip(
        sorted(listed, key=lambda d: d["files"][0]["name"]), paths, strict=True
    ):
        assert document["files"] == [
            {
                "name": path.name,
                "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                "size_bytes": path.stat().st_size,
                "media_type": "image/fits",
            }
        ]
        assert document["satellite"] == CHEOPS
        assert document["satellite_name"] == "CHEOPS"
        assert document["instrument"] == "CHEOPS-CCD"
        assert document["processing_level"] == "L1"
        assert document["acquired_start"] == "2024-05-10T10:00:00Z"
        assert document["acquired_end"] == "2024-05-10T10:12:00Z"
        assert document["owners"] == ["esa"]
    as_csv = invoke("archive", "list", "--format", "csv")
    assert as_csv.exit_code == 0, as_csv.output
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert {r["id"]: r["sha256"] for r in rows} == printed
    assert {r["file_name"] for r in rows} == {p.name for p in paths}
    assert {r["acquired_start"] for r in rows} == {"2024-05-10T10:00:00Z"}
    assert {tuple(json.loads(r["owners"])) for r in rows} == {("esa",)}  # a list as JSON


@pytest.mark.parametrize("columns", [80, 120, 200])
def test_list_table_fits_the_terminal_with_ids_and_times_whole(
    store: str, metadata_file: Path, tmp_path: Path, columns: int
) -> None:
    """At any width, each line fits and each product's id and start show whole on its row."""
    paths = write_files(tmp_path, 2)
    lines = ingest(metadata_file, *paths).stdout.splitlines()
    table = CliRunner().invoke(app, ["archive", "list"], env={"COLUMNS": str(columns)})
    assert table.exit_code == 0, table.output
    out = table.stdout.splitlines()
    assert max(map(len, out)) <= columns
    for line in lines:
        ident, sha256 = line.split()[:2]
        (row,) = [row for row in out if f" {ident} " in row]
        assert "2024-05-10 10:00:00" in row
        if columns >= 200:  # room for the checksum's first characters
            assert sha256[:12] in row


def test_list_of_an_empty_archive(store: str) -> None:
    result = invoke("archive", "list", "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == []
    as_csv = invoke("archive", "list", "--format", "csv")
    assert as_csv.stdout.splitlines() == [",".join(c.key for c in ARCHIVE_CSV_COLUMNS)]
    for command in (("archive", "list"), ("archive", "audit")):
        table = invoke(*command)
        assert table.exit_code == 0, table.output
        assert "0 " in table.stdout


def test_get_restores_identical_bytes(store: str, metadata_file: Path, tmp_path: Path) -> None:
    (path,) = write_files(tmp_path, 1)
    ident, sha256, _ = ingest(metadata_file, path).stdout.split()
    target = tmp_path / "out" / "copy.fits"
    target.parent.mkdir()
    result = invoke("archive", "get", ident, "-o", str(target))
    assert result.exit_code == 0, result.output
    assert target.read_bytes() == path.read_bytes()
    assert result.stdout == f"{sha256} {target}\n"
    assert sorted(p.name for p in target.parent.iterdir()) == ["copy.fits"]
    into_folder = invoke("archive", "get", ident, "-o", str(target.parent))
    assert into_folder.exit_code == 0, into_folder.output
    assert (target.parent / path.name).read_bytes() == path.read_bytes()


def test_get_of_a_product_of_several_files_fills_a_folder(store: str, tmp_path: Path) -> None:
    paths = write_files(tmp_path, 2)
    blobs = archive(tmp_path)
    engine = open_engine(store)
    with session_factory(engine)() as session:
        product, _ = record_product(
            session,
            metadata_from_dict({**METADATA, "satellite": CHEOPS}),
            [StoredFile(p.name, blobs.put_file(p)) for p in paths],
            now=datetime.now(UTC),
        )
    engine.dispose()
    folder = tmp_path / "restored" / "product"
    result = invoke("archive", "get", product.id, "-o", str(folder))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in folder.iterdir()) == [p.name for p in paths]
    for path in paths:
        assert (folder / path.name).read_bytes() == path.read_bytes()
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    refused = invoke("archive", "get", product.id, "-o", str(a_file))
    assert refused.exit_code == 1
    assert "give a folder" in refused.stderr


def test_get_refuses_a_corrupted_blob_and_leaves_no_file(
    store: str, metadata_file: Path, tmp_path: Path
) -> None:
    (path,) = write_files(tmp_path, 1)
    ident, sha256, _ = ingest(metadata_file, path).stdout.split()
    stored = archive(tmp_path).path(sha256)
    damaged = bytearray(stored.read_bytes())
    damaged[100] ^= 0x01
    stored.write_bytes(bytes(damaged))
    out = tmp_path / "out"
    out.mkdir()
    result = invoke("archive", "get", ident, "-o", str(out / "copy.fits"))
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    message = " ".join(result.stderr.split())
    assert "refused, nothing written" in message
    assert hashlib.sha256(damaged).hexdigest() in message.replace(" ", "")
    assert list(out.iterdir()) == []  # no file, no temporary file


def test_get_of_an_unknown_product_or_a_missing_blob_fails_clearly(
    store: str, metadata_file: Path, tmp_path: Path
) -> None:
    result = invoke("archive", "get", "0" * 32, "-o", str(tmp_path / "x"))
    assert result.exit_code == 1
    assert "no product '00000000000000000000000000000000'" in result.stderr
    (path,) = write_files(tmp_path, 1)
    ident, sha256, _ = ingest(metadata_file, path).stdout.split()
    archive(tmp_path).path(sha256).unlink()
    result = invoke("archive", "get", ident, "-o", str(tmp_path / "x"))
    assert result.exit_code == 1
    assert f"has no blob {sha256}" in " ".join(result.stderr.split())
    assert not (tmp_path / "x").exists()


def test_get_token_without_url_is_a_command_line_error(store: str, tmp_path: Path) -> None:
    result = invoke("archive", "get", "x", "-o", str(tmp_path / "x"), "--token", "t")
    assert result.exit_code == 2
    assert "--token goes with --url" in result.stderr
    result = invoke("archive", "get", "x", "-o", str(tmp_path / "x"), "--url", "file:///etc")
    assert result.exit_code == 2


def test_sweep_removes_orphan_blobs_and_temporary_files(
    store: str, metadata_file: Path, tmp_path: Path
) -> None:
    (path,) = write_files(tmp_path, 1)
    _, kept, _ = ingest(metadata_file, path).stdout.split()
    blobs = archive(tmp_path)
    with Path(__file__).open("rb") as source:
        orphan = blobs.put(source)
    part = blobs.incoming / "interrupted.part"
    part.write_bytes(b"half a file")
    result = invoke("archive", "sweep", "--min-age", "0")
    assert result.exit_code == 0, result.output
    assert "removed 1 unreferenced blob(s) and 1 temporary file(s)" in result.stdout
    assert not blobs.has(orphan.sha256)
    assert not part.exists()
    assert list(blobs.stored()) == [kept]
    again = invoke("archive", "sweep", "--min-age", "0")
    assert "removed 0 unreferenced blob(s) and 0 temporary file(s)" in again.stdout


def test_archive_root_comes_from_the_environment(
    store: str, metadata_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "elsewhere"
    monkeypatch.setenv("JOINTSAT_ARCHIVE_ROOT", str(root))
    (path,) = write_files(tmp_path, 1)
    _, sha256, _ = ingest(metadata_file, path).stdout.split()
    assert BlobStore(root).has(sha256)
    assert not archive(tmp_path).blobs.exists()


@pytest.fixture
def server(store: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Serve the store with uvicorn on a free loopback port; yield its URL and admin token."""
    import uvicorn

    from jointsat.service.app import create_app
    from jointsat.service.tokens import initialise
    from jointsat.settings import Settings

    engine = open_engine(store)
    with session_factory(engine).begin() as session:
        token = initialise(session, name="admin", now=datetime.now(UTC))
    engine.dispose()
    app = create_app(Settings(database_url=store, archive_root=archive(tmp_path).root))
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    port = listening.getsockname()[1]
    served = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=served.run, kwargs={"sockets": [listening]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30.0
    while not served.started:
        assert thread.is_alive(), "the server stopped"
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}/", token
    finally:
        served.should_exit = True
        thread.join(timeout=30.0)
        listening.close()


def test_get_downloads_from_a_server_verified(
    server: tuple[str, str], metadata_file: Path, tmp_path: Path
) -> None:
    url, token = server
    (path,) = write_files(tmp_path, 1)
    ident, sha256, _ = ingest(metadata_file, path).stdout.split()
    target = tmp_path / "downloaded.fits"
    result = invoke("archive", "get", ident, "-o", str(target), "--url", url, "--token", token)
    assert result.exit_code == 0, result.output
    assert target.read_bytes() == path.read_bytes()
    assert result.stdout == f"{sha256} {target}\n"


def test_get_from_a_server_names_its_refusal(
    server: tuple[str, str], metadata_file: Path, tmp_path: Path
) -> None:
    url, token = server
    (path,) = write_files(tmp_path, 1)
    ident, _, _ = ingest(metadata_file, path).stdout.split()
    target = tmp_path / "downloaded.fits"
    for options, status in ((["--token", "jst_not-a-token"], "401"), ([], "404")):
        result = invoke("archive", "get", ident, "-o", str(target), "--url", url, *options)
        assert result.exit_code == 1, result.output
        message = " ".join(result.stderr.split())
        assert f"GET {url}api/v1/products/{ident}: HTTP {status}" in message
        assert "Traceback" not in result.output
        assert not target.exists()
    unknown = invoke("archive", "get", "f" * 32, "-o", str(target), "--url", url, "--token", token)
    assert unknown.exit_code == 1
    assert "HTTP 404" in unknown.stderr


def test_get_from_a_server_refuses_damaged_bytes(
    server: tuple[str, str], metadata_file: Path, tmp_path: Path
) -> None:
    url, token = server
    (path,) = write_files(tmp_path, 1)
    ident, sha256, _ = ingest(metadata_file, path).stdout.split()
    stored = archive(tmp_path).path(sha256)
    stored.write_bytes(stored.read_bytes()[::-1])  # same size, other bytes
    out = tmp_path / "out"
    out.mkdir()
    result = invoke(
        "archive", "get", ident, "-o", str(out / "x.fits"), "--url", url, "--token", token
    )
    assert result.exit_code == 1, result.output
    assert "refused, nothing written" in " ".join(result.stderr.split())
    assert list(out.iterdir()) == []


def test_get_from_no_server_is_a_clear_error(store: str, tmp_path: Path) -> None:
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    port = listening.getsockname()[1]
    listening.close()  # nothing listens there now
    result = invoke(
        "archive", "get", "x", "-o", str(tmp_path / "x"), "--url", f"http://127.0.0.1:{port}"
    )
    assert result.exit_code == 1
    assert "cannot reach the server" in " ".join(result.stderr.split())


def test_a_transfer_cut_short_is_refused(store: str, tmp_path: Path) -> None:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    content = b"x" * 1000
    described = {
        "files": [
            {
                "name": "cut.bin",
                "sha256": hashlib.sha256(content).hexdigest(),
                "size_bytes": len(content),
            }
        ]
    }

    class CutShort(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps(described).encode()
            if self.path.endswith("/files/cut.bin"):
                body = content[:100]  # announces all of it, sends a tenth, hangs up
            self.send_response(200)
            self.send_header(
                "Content-Length", str(len(content) if "files" in self.path else len(body))
            )
            self.end_headers()
            self.wfile.write(body)
            self.close_connection = True

        def log_message(self, *args: object) -> None:
            pass

    with ThreadingHTTPServer(("127.0.0.1", 0), CutShort) as stub:
        thread = threading.Thread(target=stub.serve_forever, daemon=True)
        thread.start()
        try:
            url = f"http://127.0.0.1:{stub.server_address[1]}"
            result = invoke("archive", "get", "p1", "-o", str(tmp_path / "cut.bin"), "--url", url)
        finally:
            stub.shutdown()
    assert result.exit_code == 1, result.output
    message = " ".join(result.stderr.split())
    assert message.startswith("error: cut.bin: ")
    assert "nothing written" in message
    assert "Traceback" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir() if "cut" in p.name) == []


def test_audit_lists_the_log_newest_first_in_every_format(store: str) -> None:
    """The entries written, newest first, with the API's field names; the table keeps
    each entry's time and product id whole at 80 columns."""
    from jointsat.service.routes.products import AuditEntryOut
    from jointsat.store.products import audit

    engine = open_engine(store)
    written = [
        (datetime(2024, 5, 10, 12, k, tzinfo=UTC), f"{k:032x}", outcome)
        for k, outcome in enumerate(("served", "refused", "served"))
    ]
    with session_factory(engine)() as session:
        for at, product, outcome in written:
            audit(
                session,
                at=at,
                user=None,
                action="download",
                product_id=product,
                outcome=outcome,
                client="192.0.2.7",
            )
    engine.dispose()
    as_json = invoke("archive", "audit", "--format", "json")
    assert as_json.exit_code == 0, as_json.output
    listed = json.loads(as_json.stdout)
    assert set(listed[0]) == set(AuditEntryOut.model_fields)
    newest_first = written[::-1]
    assert [(e["at"], e["product_id"], e["outcome"]) for e in listed] == [
        (at.strftime("%Y-%m-%dT%H:%M:%SZ"), p, o) for at, p, o in newest_first
    ]
    refused = invoke("archive", "audit", "-f", "csv", "--outcome", "refused")
    (row,) = csv.DictReader(io.StringIO(refused.stdout))
    assert (row["product_id"], row["client"]) == (written[1][1], "192.0.2.7")
    since = invoke("archive", "audit", "-f", "json", "--since", "2024-05-10 12:01:00")
    assert len(json.loads(since.stdout)) == 2  # the CLI's time: UTC without an offset
    table = CliRunner().invoke(app, ["archive", "audit"], env={"COLUMNS": "80"})
    lines = table.stdout.splitlines()
    assert max(map(len, lines)) <= 80
    for at, product, _ in written:
        assert any(at.strftime("%Y-%m-%d %H:%M:%S") in line and product in line for line in lines)
