"""The archive's ingest over HTTP under failure, against a real ``jointsat serve``.

A server process (uvicorn, SQLite store and archive root in tmp_path) is killed with
SIGKILL while clients upload, sent bodies cut short, a wrong checksum, and a product
bigger than its disk allows (RLIMIT_FSIZE: writes fail with EFBIG). After each, what
the archive lists is complete and intact, and nothing else is left: no temporary file,
no blob of a refused upload. The tests whose uploads must all leave nothing share one
server (``refusing``), replaced after any test that left something.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import random
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from tests.support.consortium import Consortium
from tests.support.server import free_port

from jointsat.archive.blobs import BlobStore
from jointsat.store.tables import Role

NOW = datetime(2024, 5, 10, 12, 0, tzinfo=UTC)
NORAD_ID = 44874
KB, MB = 1 << 10, 1 << 20


def metadata(tag: str, **extra: Any) -> dict[str, Any]:
    """Return a product's metadata; ``tag`` tells products apart in the test's records."""
    return {
        "satellite": NORAD_ID,
        "instrument": "TEST-CCD",
        "processing_level": "L0",
        "acquired_start": "2024-05-10T10:00:00Z",
        "acquired_end": "2024-05-10T10:12:00Z",
        "properties": {"test:tag": tag},
        **extra,
    }


class Archive:
    """A store with the admin and an operator of the satellite's partner, and its server."""

    def __init__(self, folder: Path, url: str) -> None:
        self.folder = folder
        self.url = url
        self.root = folder / "archive"
        self.blobs = BlobStore(self.root)
        consortium = Consortium(url, now=NOW)
        with consortium.session() as session:
            self.admin = consortium.add_admin(session)
            name = "European Space Agency"
            esa = consortium.add_partner(session, "esa", 1.0, name=name, agreement={})
            consortium.add_satellite(session, "TEST-SAT", NORAD_ID, {esa: 1.0})
            self.operator = consortium.add_user(session, "esa-ops", Role.OPERATOR, esa)
        consortium.close()
        self.server: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.starts = 0

    def start(self, preexec_fn: Callable[[], None] | None = None) -> None:
        """Start ``jointsat serve`` on a free loopback port and wait until it answers."""
        self.port = free_port()
        self.starts += 1
        env = {
            **os.environ,
            "JOINTSAT_DATABASE_URL": self.url,
            "JOINTSAT_ARCHIVE_ROOT": str(self.root),
        }
        log = (self.folder / f"server-{self.starts}.log").open("wb")
        self.server = subprocess.Popen(
            [sys.executable, "-m", "jointsat", "serve", "--port", str(self.port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=preexec_fn,
        )
        log.close()
        deadline = time.monotonic() + 60
        while True:
            try:
                status, _ = self.request("GET", "/api/v1/products?limit=1", self.admin)
                if status == 200:
                    return
            except OSError:
                pass
            if self.server.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the server did not start: {self.log()}")
            time.sleep(0.1)

    def log(self) -> str:
        return (self.folder / f"server-{self.starts}.log").read_text(errors="replace")[-3000:]

    def kill(self) -> None:
        assert self.server is not None
        self.server.send_signal(signal.SIGKILL)
        self.server.wait(timeout=30)

    def stop(self) -> None:
        if self.server is not None and self.server.poll() is None:
            self.server.terminate()
            try:
                self.server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    def connection(self, timeout: float = 60.0) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method: str, path: str, token: str) -> tuple[int, bytes]:
        connection = self.connection()
        try:
            connection.request(method, path, headers={"Authorization": f"Bearer {token}"})
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def products(self) -> list[dict[str, Any]]:
        """Return every product the admin sees, all pages."""
        found: list[dict[str, Any]] = []
        while True:
            status, body = self.request(
                "GET", f"/api/v1/products?limit=1000&offset={len(found)}", self.admin
            )
            assert status == 200, body
            page = json.loads(body)
            found.extend(page)
            if len(page) < 1000:
                return found

    def download(self, product_id: str, name: str) -> bytes:
        status, body = self.request(
            "GET", f"/api/v1/products/{product_id}/files/{name}", self.admin
        )
        assert status == 200, body
        return body

    def temporaries(self) -> list[Path]:
        incoming = self.blobs.incoming
        return sorted(incoming.iterdir()) if incoming.is_dir() else []

    def blob_count(self) -> int:
        return len(list(self.blobs.stored()))

    def wait_for_no_temporaries(self, seconds: float = 10.0) -> list[Path]:
        """Wait until the server has dropped what a request left in ``incoming``."""
        deadline = time.monotonic() + seconds
        while (left := self.temporaries()) and time.monotonic() < deadline:
            time.sleep(0.05)
        return left


@pytest.fixture
def archive(tmp_path: Path, new_sqlite_store: Callable[[Path], str]) -> Iterator[Archive]:
    a = Archive(tmp_path, new_sqlite_store(tmp_path))
    try:
        yield a
    finally:
        a.stop()


@pytest.fixture(scope="module")
def shared_archives() -> Iterator[list[Archive]]:
    """Hold the started server that the refusing tests share (at most one), stop it after."""
    held: list[Archive] = []
    yield held
    for a in held:
        a.stop()


@pytest.fixture
def refusing(
    shared_archives: list[Archive],
    tmp_path_factory: pytest.TempPathFactory,
    new_sqlite_store: Callable[[Path], str],
) -> Iterator[Archive]:
    """A started server shared by the tests whose uploads must all leave nothing.

    After each, the server must be up with no product, blob or temporary file: else
    it is stopped, and the next test starts another.
    """
    if not shared_archives:
        folder = tmp_path_factory.mktemp("refusing")
        started = Archive(folder, new_sqlite_store(folder))
        shared_archives.append(started)
        started.start()
    a = shared_archives[0]
    yield a
    stopped = a.server is None or a.server.poll() is not None
    if stopped or a.products() or a.blob_count() or a.wait_for_no_temporaries():
        a.stop()
        shared_archives.clear()


def multipart(
    meta: dict[str, Any], files: list[tuple[str, bytes]], boundary: str
) -> tuple[bytes, list[tuple[bytes, bytes]], bytes]:
    """Return a multipart body's opening (the metadata), each file's (head, bytes), its end."""
    opening = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="metadata"\r\n'
        "Content-Type: application/json\r\n\r\n"
        f"{json.dumps(meta)}\r\n"
    ).encode()
    parts = [
        (
            (
                f"--{boundary}\r\n"
                f'Content-Disposition: form-data; name="file"; filename="{name}"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n"
            ).encode(),
            data,
        )
        for name, data in files
    ]
    return opening, parts, f"--{boundary}--\r\n".encode()


def chunks(
    meta: dict[str, Any], files: list[tuple[str, bytes]], boundary: str, size: int = 64 * KB
) -> Iterator[bytes]:
    """Yield a whole multipart body in pieces of at most ``size`` bytes of file."""
    opening, parts, end = multipart(meta, files, boundary)
    yield opening
    for head, data in parts:
        yield head
        for start in range(0, len(data), size):
            yield data[start : start + size]
        yield b"\r\n"
    yield end


def post(
    archive: Archive, meta: dict[str, Any], files: list[tuple[str, bytes]], *, pace_s: float = 0.0
) -> tuple[int, dict[str, Any]]:
    """POST a product, streamed in 64 KB pieces (``pace_s`` apart); return status and JSON."""
    boundary = uuid.uuid4().hex
    length = sum(len(c) for c in chunks(meta, files, boundary))

    def body() -> Iterator[bytes]:
        for piece in chunks(meta, files, boundary):
            yield piece
            if pace_s:
                time.sleep(pace_s)

    connection = archive.connection()
    try:
        connection.request(
            "POST",
            "/api/v1/products",
            body=body(),
            headers={
                "Authorization": f"Bearer {archive.operator}",
                "Content-Type": f"multipart/form-data; boundary={boundary}",
                "Content-Length": str(length),
            },
        )
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        connection.close()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def wait_until(condition: Callable[[], bool], seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


# --- SIGKILL while clients upload ------------------------------------------------------


@dataclass
class Uploads:
    """What the clients sent: every product by tag, and what became of it."""

    sent: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # tag: (name, bytes)
    acknowledged: dict[str, str] = field(default_factory=dict)  # tag: product id
    in_flight: set[str] = field(default_factory=set)  # cut off by the kill
    refused: dict[str, int] = field(default_factory=dict)  # tag: unexpected status
    lock: threading.Lock = field(default_factory=threading.Lock)


def _client(archive: Archive, uploads: Uploads, number: int, seed: int) -> None:
    rng = random.Random(seed)
    k = 0
    while True:
        tag = f"client{number}-{k}"
        k += 1
        data = rng.randbytes(rng.randint(10 * KB, 2 * MB))
        name = f"{tag}.bin"
        with uploads.lock:
            uploads.sent[tag] = (name, data)
        try:
            status, body = post(archive, metadata(tag), [(name, data)], pace_s=0.001)
        except ConnectionRefusedError:  # the server was dead before this one started
            with uploads.lock:
                del uploads.sent[tag]
            return
        except (OSError, http.client.HTTPException):  # cut off: sent, unanswered
            with uploads.lock:
                uploads.in_flight.add(tag)
            return
        with uploads.lock:
            if status == 201 and body["files"][0]["sha256"] == sha256(data):
                uploads.acknowledged[tag] = body["id"]
            else:
                uploads.refused[tag] = status
                return


@pytest.mark.slow
def test_sigkill_during_concurrent_ingests_loses_no_acknowledged_product(
    archive: Archive,
) -> None:
    archive.start()
    uploads = Uploads()
    clients = [
        threading.Thread(target=_client, args=(archive, uploads, n, 1000 + n)) for n in range(4)
    ]
    for client in clients:
        client.start()
    deadline = time.monotonic() + 20
    while len(uploads.acknowledged) < 8 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # well inside the next uploads
    archive.kill()
    for client in clients:
        client.join(timeout=60)
    assert uploads.refused == {}, archive.log()
    archive.start()  # the same store and archive root
    listed = archive.products()

    by_tag = {p["properties"]["test:tag"]: p for p in listed}
    assert len(by_tag) == len(listed)
    # Every acknowledged product is listed, with its bytes.
    missing = sorted(set(uploads.acknowledged) - set(by_tag))
    assert missing == [], f"acknowledged but lost: {missing}"
    # Every listed product was sent, acknowledged or cut off by the kill, and is whole.
    unacknowledged = []
    for tag, product in by_tag.items():
        assert tag in uploads.acknowledged or tag in uploads.in_flight, tag
        if tag in uploads.acknowledged:
            assert product["id"] == uploads.acknowledged[tag]
        else:
            unacknowledged.append(tag)
        name, data = uploads.sent[tag]
        [stored] = product["files"]
        assert stored["name"] == name
        assert stored["sha256"] == sha256(data)
        assert stored["size_bytes"] == len(data)
        assert sha256(archive.download(product["id"], name)) == sha256(data)
    # No blob is damaged; what the kill left is unreachable (temporary files, blobs of
    # products whose record never came) and only that.
    for digest in archive.blobs.stored():
        assert archive.blobs.verify(digest), digest
    referenced = {f["sha256"] for p in listed for f in p["files"]}
    orphans = archive.blobs.unreferenced(referenced)
    in_flight_digests = {sha256(uploads.sent[t][1]) for t in uploads.in_flight}
    assert set(orphans) <= in_flight_digests
    print(
        f"\nSIGKILL during ingest: {len(uploads.acknowledged)} acknowledged,"
        f" {len(uploads.in_flight)} in flight at the kill; after the restart"
        f" {len(listed)} listed, of which {len(unacknowledged)} committed but unacknowledged;"
        f" {len(orphans)} unreferenced blobs and {len(archive.temporaries())} temporary"
        " files left by the kill"
    )
    assert len(uploads.acknowledged) >= 8
    assert uploads.in_flight, "the kill came between uploads: none was in flight"


# --- bodies cut short ------------------------------------------------------------------


@contextmanager
def sending_cut_short(archive: Archive, body: bytes, cut: int, boundary: str) -> Iterator[None]:
    """POST a request declaring the whole body, send its first ``cut`` bytes, close on exit."""
    with socket.create_connection(("127.0.0.1", archive.port), timeout=30) as s:
        s.sendall(
            (
                "POST /api/v1/products HTTP/1.1\r\n"
                f"Host: 127.0.0.1:{archive.port}\r\n"
                f"Authorization: Bearer {archive.operator}\r\n"
                f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
                f"Content-Length: {len(body)}\r\n\r\n"
            ).encode()
            + body[:cut]
        )
        yield


def test_a_connection_closed_mid_file_leaves_nothing(refusing: Archive) -> None:
    archive = refusing  # started
    before = archive.blob_count()
    data = os.urandom(4 * MB)
    boundary = uuid.uuid4().hex
    body = b"".join(chunks(metadata("closed"), [("closed.bin", data)], boundary))
    cut = len(body) // 2
    with sending_cut_short(archive, body, cut, boundary):
        # The server is writing the file's first half when the connection closes.
        assert wait_until(lambda: len(archive.temporaries()) == 1)
    assert archive.wait_for_no_temporaries() == []
    assert archive.products() == []
    assert archive.blob_count() == before


def test_a_connection_closed_in_the_second_file_leaves_no_blob_of_the_first(
    refusing: Archive,
) -> None:
    archive = refusing  # started
    first, second = os.urandom(MB), os.urandom(4 * MB)
    boundary = uuid.uuid4().hex
    files = [("first.bin", first), ("second.bin", second)]
    body = b"".join(chunks(metadata("two"), files, boundary))
    cut = body.index(second) + 2 * MB
    with sending_cut_short(archive, body, cut, boundary):
        # The first file is sealed but not published, the second is being written.
        assert wait_until(lambda: len(archive.temporaries()) == 2)
    assert archive.wait_for_no_temporaries() == []
    assert archive.products() == []
    assert archive.blob_count() == 0


@pytest.mark.parametrize(
    "ending",
    [
        b"",
        b"\r\n",
        b"\r\n--{boundary}",
        b"\r\n--{boundary}\r\n",
    ],
    ids=["after-the-bytes", "after-the-line-end", "at-a-delimiter", "before-a-next-part"],
)
def test_a_body_without_its_closing_boundary_is_refused_and_leaves_nothing(
    refusing: Archive, ending: bytes
) -> None:
    archive = refusing  # started
    before = archive.blob_count()
    data = os.urandom(MB)
    boundary = uuid.uuid4().hex
    opening, [(head, _)], _ = multipart(metadata("open"), [("open.bin", data)], boundary)
    body = opening + head + data + ending.replace(b"{boundary}", boundary.encode())
    connection = archive.connection()
    try:
        connection.request(
            "POST",
            "/api/v1/products",
            body=body,
            headers={
                "Authorization": f"Bearer {archive.operator}",
                "Content-Type": f"multipart/form-data; boundary={boundary}",
            },
        )
        response = connection.getresponse()
        status, problem = response.status, json.loads(response.read())
    finally:
        connection.close()
    assert status == 400, problem
    assert "cut short" in problem["detail"]
    assert archive.wait_for_no_temporaries() == []
    assert archive.products() == []
    assert archive.blob_count() == before


# --- a wrong checksum ------------------------------------------------------------------


def test_a_wrong_declared_checksum_is_refused_and_leaves_nothing(archive: Archive) -> None:
    archive.start()
    data, other = os.urandom(MB), os.urandom(16)
    meta = metadata("damaged", checksums={"damaged.bin": sha256(other)})
    status, problem = post(archive, meta, [("damaged.bin", data)])
    assert status == 422, problem
    assert sha256(other) in problem["detail"]
    assert sha256(data) in problem["detail"]
    assert archive.wait_for_no_temporaries() == []
    assert archive.products() == []
    assert archive.blob_count() == 0
    # With the right checksum, the same file goes in.
    meta = metadata("damaged", checksums={"damaged.bin": sha256(data)})
    status, product = post(archive, meta, [("damaged.bin", data)])
    assert status == 201, product
    assert product["files"][0]["sha256"] == sha256(data)


# --- a full disk -----------------------------------------------------------------------

FILE_SIZE_LIMIT = 4 * MB  # well above the store's SQLite files in this test


def _limit_file_size() -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_SIZE_LIMIT, FILE_SIZE_LIMIT))


def test_a_full_disk_is_a_507_and_leaves_nothing(archive: Archive) -> None:
    archive.start(preexec_fn=_limit_file_size)
    status, problem = post(archive, metadata("too-big"), [("too-big.bin", os.urandom(8 * MB))])
    assert status == 507, problem
    assert "disk is full" in problem["detail"]
    assert archive.wait_for_no_temporaries() == []
    assert archive.products() == []
    assert archive.blob_count() == 0
    # The server is still up, and a product that fits still goes in.
    data = os.urandom(MB)
    status, product = post(archive, metadata("fits"), [("fits.bin", data)])
    assert status == 201, product
    [listed] = archive.products()
    assert listed["id"] == product["id"]
    assert archive.download(product["id"], "fits.bin") == data
    assert archive.temporaries() == []
