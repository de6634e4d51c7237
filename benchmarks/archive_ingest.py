"""Ingest products into the archive, against a plain copy of the same files on the same disk.

Measured: MB/s and products/s for 1 KB, 1 MB and 100 MB products (one file each)
through the library path ``jointsat`` uses: ``BlobStore.put_file`` (temporary file,
SHA-256, fsync, rename, folder fsync) and ``store.products.record_product`` (a SQLite
commit). The anchor is ``shutil.copyfile`` of the same files into a folder on the same
filesystem; copy + fsync of each file is a second reference (a plain copy leaves the
bytes in the page cache, ingest makes them durable). Target (issue 6): within 2x of a
plain copy for large files. For every size the script also splits ingest into its
steps (open, read, SHA-256, write, fsync, rename + folder fsyncs, record), timed as
they run, and for 100 MB, unless ``--no-http``, posts the same products to a live
``jointsat serve`` on loopback (POST /api/v1/products, multipart streamed from disk),
as a separate row.

    python -m benchmarks.archive_ingest [--folder DIR] [--scale 1.0] [--rounds 3] [--no-http]

The source files are random bytes (``os.urandom``) written to a temporary folder
under ``--folder`` (default: the system's temporary folder), which must be on the disk
to measure; every method reads them from the page cache. Everything written to disk
is synced before each timed method starts, so no method pays for another's writes.
Each figure is the best of ``--rounds`` runs, each into a fresh folder: on a shared or
virtual machine, writing into new page cache varies several-fold from run to run.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from jointsat.archive.blobs import CHUNK_BYTES, Blob, BlobStore
from jointsat.archive.metadata import metadata_from_dict
from jointsat.service.tokens import initialise
from jointsat.store import migrate
from jointsat.store.database import open_engine, session_factory
from jointsat.store.products import StoredFile, record_product
from jointsat.store.tables import Agreement, Partner, Satellite, SatelliteOperator

NOW = datetime(2024, 5, 10, tzinfo=UTC)
NORAD_ID = 44874
TARGET_RATIO = 2.0
LARGE_BYTES = 100_000_000  # the target is for large files; HTTP is measured at this size
MB = 1e6
# (label, bytes per product, products): about 2 GB written in all, well under 2 minutes.
STEP_PRODUCTS = 200  # products whose ingest is split into timed steps
SIZES = [("1 KB", 1_000, 2000), ("1 MB", 1_000_000, 200), ("100 MB", 100_000_000, 5)]


@dataclass(frozen=True)
class Timing:
    """One method's run over one size: products, bytes and seconds."""

    products: int
    size_bytes: int
    seconds: float

    @property
    def mb_per_s(self) -> float:
        return self.products * self.size_bytes / MB / self.seconds

    @property
    def products_per_s(self) -> float:
        return self.products / self.seconds


def metadata(index: int) -> dict[str, object]:
    """Return a product's metadata (the same satellite and times, distinct files)."""
    return {
        "satellite": NORAD_ID,
        "instrument": "BENCH-CCD",
        "processing_level": "L0",
        "acquired_start": "2024-05-10T10:00:00Z",
        "acquired_end": "2024-05-10T10:12:00Z",
        "properties": {"bench:index": index},
    }


def make_store(url: str) -> str:
    """Create the store: a partner operating one satellite; return the admin's token."""
    migrate.upgrade(url)
    engine = open_engine(url)
    with session_factory(engine).begin() as session:
        token = initialise(session, name="admin", now=datetime.now(UTC))  # the server's clock
        partner = Partner(code="esa", name="European Space Agency", contribution_share=1.0)
        session.add(Agreement(partner=partner))
        satellite = Satellite(name="BENCH-SAT", norad_id=NORAD_ID)
        satellite.operators = [SatelliteOperator(partner=partner, fraction=1.0)]
        session.add(satellite)
    engine.dispose()
    return token


def write_sources(folder: Path, size_bytes: int, count: int) -> list[Path]:
    """Write ``count`` files of random bytes; return their paths."""
    folder.mkdir()
    paths = []
    for i in range(count):
        path = folder / f"product-{i:05d}.bin"
        with path.open("wb") as f:
            left = size_bytes
            while left:
                f.write(os.urandom(min(left, CHUNK_BYTES)))
                left -= min(left, CHUNK_BYTES)
        paths.append(path)
    return paths


def timed(run: Callable[[], None]) -> float:
    os.sync()  # start with nothing dirty: no method pays for the last one's writes
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def copy_files(sources: list[Path], target: Path, *, fsync: bool) -> Callable[[], None]:
    def run() -> None:
        target.mkdir()
        for source in sources:
            copied = target / source.name
            shutil.copyfile(source, copied)
            if fsync:
                fd = os.open(copied, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)

    return run


def ingest_files(sources: list[Path], url: str, root: Path) -> Callable[[], None]:
    def run() -> None:
        blobs = BlobStore(root)
        engine = open_engine(url)
        try:
            with session_factory(engine)() as session:
                for i, source in enumerate(sources):
                    blob = blobs.put_file(source)
                    _, new = record_product(
                        session,
                        metadata_from_dict(metadata(i)),
                        [StoredFile(source.name, blob)],
                        now=NOW,
                    )
                    assert new, f"{source} was archived already"
        finally:
            engine.dispose()

    return run


def ingest_steps(sources: list[Path], folder: Path) -> dict[str, float]:
    """Time the steps of ``put_file`` + ``record_product``, as they run, in seconds per product.

    The steps are those of ``BlobWriter`` (same calls, same order, same chunks), on a
    store and archive of their own, with a timer around each.
    """
    url = f"sqlite:///{folder}/steps.db"
    make_store(url)
    blobs = BlobStore(folder / "steps-archive")
    blobs.incoming.mkdir(parents=True)
    blobs.blobs.mkdir()
    steps = dict.fromkeys(
        ["open", "read", "SHA-256", "write", "fsync file", "rename + folder fsyncs", "record"], 0.0
    )

    def lap(step: str, start: float) -> float:
        now = time.perf_counter()
        steps[step] += now - start
        return now

    engine = open_engine(url)
    os.sync()
    with session_factory(engine)() as session:
        for i, source in enumerate(sources):
            t = time.perf_counter()
            digest = hashlib.sha256()
            fd, name = tempfile.mkstemp(dir=blobs.incoming, suffix=".part")
            with source.open("rb") as f, os.fdopen(fd, "wb", buffering=0) as out:
                t = lap("open", t)
                while True:
                    chunk = f.read(CHUNK_BYTES)
                    t = lap("read", t)
                    if not chunk:
                        break
                    digest.update(chunk)
                    t = lap("SHA-256", t)
                    out.write(chunk)
                    t = lap("write", t)
                os.fsync(out.fileno())
                t = lap("fsync file", t)
            target = blobs.path(digest.hexdigest())
            if not target.parent.is_dir():
                target.parent.mkdir()
                fsync_folder(target.parent.parent)
            Path(name).replace(target)
            fsync_folder(target.parent)
            t = lap("rename + folder fsyncs", t)
            record_product(
                session,
                metadata_from_dict(metadata(i)),
                [StoredFile(source.name, Blob(digest.hexdigest(), source.stat().st_size))],
                now=NOW,
            )
            lap("record", t)
    engine.dispose()
    return {step: seconds / len(sources) for step, seconds in steps.items()}


def fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def multipart(meta: dict[str, object], source: Path, boundary: str) -> tuple[bytes, bytes, int]:
    """Return the bytes before and after the file and the body's whole length."""
    head = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="metadata"\r\n'
        "Content-Type: application/json\r\n\r\n"
        f"{json.dumps(meta)}\r\n"
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="file"; filename="{source.name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    return head, tail, len(head) + source.stat().st_size + len(tail)


def post_product(port: int, token: str, meta: dict[str, object], source: Path) -> int:
    """POST one product, streaming its file from disk; return the status."""
    boundary = uuid.uuid4().hex
    head, tail, length = multipart(meta, source, boundary)

    def body() -> Iterator[bytes]:
        yield head
        with source.open("rb") as f:
            while chunk := f.read(CHUNK_BYTES):
                yield chunk
        yield tail

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    try:
        connection.request(
            "POST",
            "/api/v1/products",
            body=body(),
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": f"multipart/form-data; boundary={boundary}",
                "Content-Length": str(length),
            },
        )
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def http_ingest(sources: list[Path], folder: Path) -> float | str:
    """Post the files to a fresh ``jointsat serve``; return the seconds taken or why none."""
    url = f"sqlite:///{folder}/http.db"
    token = make_store(url)
    port = free_port()
    env = {
        **os.environ,
        "JOINTSAT_DATABASE_URL": url,
        "JOINTSAT_ARCHIVE_ROOT": str(folder / "http-archive"),
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "jointsat", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.time() > deadline or server.poll() is not None:
                    return "the server did not start"
                time.sleep(0.2)
        statuses: list[int] = []

        def run() -> None:
            for i, source in enumerate(sources):
                statuses.append(post_product(port, token, metadata(i), source))

        seconds = timed(run)
        if any(s != 201 for s in statuses):
            return f"the server answered {sorted(set(statuses))}, not 201"
        return seconds
    finally:
        server.terminate()
        server.wait(timeout=30)


def row(name: str, t: Timing, anchor: Timing | None) -> str:
    ratio = "" if anchor is None else f"{anchor.mb_per_s / t.mb_per_s:>9.2f}x"
    return f"  {name:34s} {t.mb_per_s:>9.1f} {t.products_per_s:>11.1f} {ratio}"


def best_of(rounds: int, run: Callable[[Path], float | str], folder: Path) -> float | str:
    """Run ``rounds`` times, each in a fresh folder removed afterwards; return the least time."""
    times = []
    for k in range(rounds):
        here = folder / f"round-{k}"
        here.mkdir()
        try:
            result = run(here)
        finally:
            shutil.rmtree(here)
        if isinstance(result, str):
            return result
        times.append(result)
    return min(times)


def measure(label: str, size_bytes: int, count: int, folder: Path, rounds: int, http: bool) -> None:
    """Measure and print every method for one size of product."""
    sources = write_sources(folder / "sources", size_bytes, count)

    def copy(into: Path, *, fsync: bool) -> float:
        return timed(copy_files(sources, into / "copy", fsync=fsync))

    def ingest(into: Path) -> float:
        url = f"sqlite:///{into}/store.db"
        make_store(url)
        return timed(ingest_files(sources, url, into / "archive"))

    def timing(seconds: float | str) -> Timing:
        assert isinstance(seconds, float), seconds
        return Timing(count, size_bytes, seconds)

    plain = timing(best_of(rounds, lambda d: copy(d, fsync=False), folder))
    synced = timing(best_of(rounds, lambda d: copy(d, fsync=True), folder))
    ours = timing(best_of(rounds, ingest, folder))
    print(f"\n{count} products of {label}")
    print(f"  {'method':34s} {'MB/s':>9} {'products/s':>11} {'copy/this':>10}")
    print(row("copy (shutil.copyfile)", plain, None))
    print(row("copy + fsync", synced, plain))
    print(row("ingest (put_file + record_product)", ours, plain))
    if http:
        posted = best_of(rounds, lambda d: http_ingest(sources, d), folder)
        if isinstance(posted, str):
            print(f"  HTTP POST /api/v1/products: not measured, {posted}")
        else:
            print(row("HTTP POST /api/v1/products", timing(posted), plain))
    runs = []
    for k in range(rounds):
        here = folder / f"steps-{k}"
        here.mkdir()
        runs.append(ingest_steps(sources[:STEP_PRODUCTS], here))
        shutil.rmtree(here)
    steps = min(runs, key=lambda run: sum(run.values()))
    total = sum(steps.values())
    print(f"  ingest's steps, per product ({min(count, STEP_PRODUCTS)} products, best run):")
    for step, seconds in steps.items():
        print(f"    {step:24s} {1e3 * seconds:>9.3f} ms  {100 * seconds / total:>3.0f}%")
    print(f"    {'sum':24s} {1e3 * total:>9.3f} ms")
    if size_bytes >= LARGE_BYTES:
        for name, anchor in (("a plain copy", plain), ("copy + fsync", synced)):
            ratio = anchor.mb_per_s / ours.mb_per_s
            verdict = "within" if ratio <= TARGET_RATIO else "MISSES"
            print(f"  ingest within {TARGET_RATIO:g}x of {name}: {verdict} ({ratio:.2f}x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, help="where to write (default: the temp folder)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the product counts")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each method (best kept)")
    parser.add_argument("--no-http", action="store_true", help="skip the HTTP row")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.folder, prefix="archive-ingest-") as work:
        folder = Path(work)
        print(f"writing under {folder} ({shutil.disk_usage(folder).free / 1e9:.0f} GB free);")
        print(f"each figure is the best of {args.rounds} runs")
        for label, size_bytes, base_count in SIZES:
            here = folder / label.replace(" ", "")
            here.mkdir()
            count = max(1, round(base_count * args.scale))
            http = size_bytes >= LARGE_BYTES and not args.no_http
            measure(label, size_bytes, count, here, args.rounds, http)
            shutil.rmtree(here)


if __name__ == "__main__":
    main()
