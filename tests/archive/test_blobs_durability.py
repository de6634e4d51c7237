"""The blob store under failure: full disks, damaged uploads, crashes mid-write.

Whatever goes wrong, nothing half-written is ever found under its SHA-256: a failed
or refused blob leaves no temporary file and no blob, and a process killed while
writing leaves at most a temporary file that ``sweep`` removes.
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jointsat.archive import blobs as blobs_module
from jointsat.archive.blobs import BlobStore
from jointsat.errors import ArchiveInputError, ArchiveStorageError

MB = 1 << 20


def parts(store: BlobStore) -> list[Path]:
    """Return the temporary files left in ``incoming``."""
    return sorted(store.incoming.glob("*")) if store.incoming.is_dir() else []


def blob_files(store: BlobStore) -> list[Path]:
    """Return every file under ``sha256/``, named like a blob or not."""
    return sorted(p for p in store.blobs.rglob("*") if p.is_file()) if store.blobs.is_dir() else []


def assert_clean(store: BlobStore, *, blobs: int = 0) -> None:
    assert parts(store) == []
    assert len(blob_files(store)) == blobs


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_the_file_is_fsynced_before_its_rename_and_the_folder_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = BlobStore(tmp_path / "archive")
    events: list[tuple[str, str]] = []
    fsync, replace = os.fsync, Path.replace

    def recording_fsync(fd: int) -> None:
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        fsync(fd)

    def recording_replace(self: Path, target: Any) -> Path:
        events.append(("rename", str(target)))
        return replace(self, target)

    monkeypatch.setattr(blobs_module.os, "fsync", recording_fsync)
    monkeypatch.setattr(Path, "replace", recording_replace)
    data = os.urandom(3 * MB + 5)
    with store.writer() as writer:
        writer.write(data[: 2 * MB])
        writer.write(data[2 * MB :])
        temporary = os.readlink(f"/proc/self/fd/{writer._file.fileno()}")
        events.clear()  # the folders' creation is checked by the tests below
        blob = writer.commit()
    target = store.path(blob.sha256)
    assert events == [
        ("fsync", temporary),
        ("fsync", str(store.blobs)),  # its new folder sha256/xx made durable first
        ("rename", str(target)),
        ("fsync", str(target.parent)),
    ]
    assert blob.sha256 == sha256(data)
    assert blob.size_bytes == len(data)
    assert target.read_bytes() == data
    assert_clean(store, blobs=1)


def test_new_folders_are_fsynced_in_their_parents(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = BlobStore(tmp_path / "archive")
    synced: list[str] = []
    fsync = os.fsync

    def recording_fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        fsync(fd)

    monkeypatch.setattr(blobs_module.os, "fsync", recording_fsync)
    blob = store.put(io.BytesIO(b"first"))
    for folder in (store.root, store.incoming, store.blobs, store.path(blob.sha256).parent):
        assert str(folder.parent) in synced, folder


def test_a_wrong_declared_checksum_leaves_nothing(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "archive")
    data = os.urandom(MB)
    declared = sha256(b"something else")
    with pytest.raises(ArchiveInputError, match=f"not the declared {declared}"):
        store.put(io.BytesIO(data), expected_sha256=declared)
    assert_clean(store)
    assert list(store.stored()) == []
    # The right checksum (any case) is accepted.
    blob = store.put(io.BytesIO(data), expected_sha256=sha256(data).upper())
    assert blob.sha256 == sha256(data)
    assert_clean(store, blobs=1)


def test_a_cut_short_upload_with_its_checksum_leaves_nothing(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "archive")
    data = os.urandom(2 * MB)
    with pytest.raises(ArchiveInputError, match="cut short"):
        store.put(io.BytesIO(data[: MB + 17]), expected_sha256=sha256(data))
    assert_clean(store)


def test_an_error_of_the_caller_while_writing_drops_the_temporary_file(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "archive")
    with pytest.raises(ConnectionResetError), store.writer() as writer:  # noqa: PT012
        writer.write(os.urandom(MB))
        assert len(parts(store)) == 1
        raise ConnectionResetError("the client went away")
    assert_clean(store)


class _FailingFile:
    """A file whose writes fail with ``code`` once ``limit`` bytes are written."""

    def __init__(self, file: Any, limit: int, code: int) -> None:
        self._file, self._left, self._code = file, limit, code

    def write(self, chunk: bytes) -> int:
        if len(chunk) > self._left:
            self._file.write(chunk[: self._left])
            self._left = 0
            raise OSError(self._code, os.strerror(self._code))
        self._left -= len(chunk)
        return int(self._file.write(chunk))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._file, name)


@pytest.fixture
def failing_writes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Make the store's files fail on write with the errno put in the list, after 1 MB."""
    codes: list[int] = []
    fdopen = os.fdopen

    def failing_fdopen(fd: int, *args: Any, **kwargs: Any) -> Any:
        return _FailingFile(fdopen(fd, *args, **kwargs), MB, codes[0])

    monkeypatch.setattr(blobs_module.os, "fdopen", failing_fdopen)
    return codes


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT, errno.EFBIG])
def test_a_full_disk_while_writing_is_a_storage_error_and_leaves_nothing(
    tmp_path: Path, failing_writes: list[int], code: int
) -> None:
    failing_writes.append(code)
    store = BlobStore(tmp_path / "archive")
    with pytest.raises(ArchiveStorageError, match="the archive's disk is full"):
        store.put(io.BytesIO(os.urandom(3 * MB)))
    assert_clean(store)


def test_another_io_error_while_writing_is_a_storage_error_naming_it(
    tmp_path: Path, failing_writes: list[int]
) -> None:
    failing_writes.append(errno.EIO)
    store = BlobStore(tmp_path / "archive")
    with pytest.raises(ArchiveStorageError, match="Input/output error") as raised:
        store.put(io.BytesIO(os.urandom(3 * MB)))
    assert "full" not in str(raised.value)
    assert_clean(store)


def test_a_full_disk_found_by_fsync_is_a_storage_error_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Delayed allocation (and NFS) may report a full disk only when the file is synced."""
    store = BlobStore(tmp_path / "archive")
    store.put(io.BytesIO(b"folders made"))
    fsync = os.fsync

    def full_fsync(fd: int) -> None:
        if os.readlink(f"/proc/self/fd/{fd}").endswith(".part"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        fsync(fd)

    monkeypatch.setattr(blobs_module.os, "fsync", full_fsync)
    with pytest.raises(ArchiveStorageError, match="the archive's disk is full"):
        store.put(io.BytesIO(os.urandom(MB)))
    assert_clean(store, blobs=1)


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """Mount a 1 MiB tmpfs (root only; skipped where mounting is not permitted)."""
    mount_point = tmp_path / "tmpfs"
    mount_point.mkdir()
    try:
        mounted = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount_point)],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"cannot mount a tmpfs here: {exc}")
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=False, timeout=10)


def test_a_really_full_disk_is_a_storage_error_and_leaves_room(small_tmpfs: Path) -> None:
    store = BlobStore(small_tmpfs / "archive")
    small = os.urandom(100_000)
    store.put(io.BytesIO(small))
    with pytest.raises(ArchiveStorageError, match="the archive's disk is full"):
        store.put(io.BytesIO(os.urandom(2 * MB)))
    assert_clean(store, blobs=1)
    # The space the failed blob took is free again: a product that fits still goes in.
    other = os.urandom(500_000)
    blob = store.put(io.BytesIO(other))
    assert store.path(blob.sha256).read_bytes() == other
    assert_clean(store, blobs=2)
    assert store.verify(sha256(small))
    assert store.verify(blob.sha256)


_CHILD = textwrap.dedent(
    """
    import io, os, sys
    from jointsat.archive.blobs import BlobStore
    from jointsat.errors import ArchiveStorageError

    try:
        blob = BlobStore(sys.argv[1]).put(io.BytesIO(os.urandom(int(sys.argv[2]))))
    except ArchiveStorageError as exc:
        print("refused:", exc)
    else:
        print("stored:", blob.sha256)
    """
)


def test_a_file_size_limit_is_a_full_disk(tmp_path: Path) -> None:
    """RLIMIT_FSIZE makes writes fail with EFBIG (Python ignores SIGXFSZ)."""
    import resource

    root = tmp_path / "archive"

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (MB, MB))

    def child(size: int) -> str:
        done = subprocess.run(
            [sys.executable, "-c", _CHILD, str(root), str(size)],
            capture_output=True,
            text=True,
            timeout=60,
            preexec_fn=limit,
            check=True,
        )
        return done.stdout.strip()

    assert child(3 * MB).startswith("refused: the archive's disk is full")
    store = BlobStore(root)
    assert_clean(store)
    assert child(MB // 2).startswith("stored:")
    assert_clean(store, blobs=1)


_KILLED_WRITER = textwrap.dedent(
    """
    import os, sys, time
    from jointsat.archive.blobs import BlobStore

    with BlobStore(sys.argv[1]).writer() as writer:
        writer.write(os.urandom(1 << 20))
        print("writing", flush=True)
        while True:
            writer.write(os.urandom(1 << 16))
            time.sleep(0.01)
    """
)


def test_a_writer_killed_mid_write_leaves_only_a_temporary_file_that_sweep_removes(
    tmp_path: Path,
) -> None:
    store = BlobStore(tmp_path / "archive")
    kept = store.put(io.BytesIO(b"an earlier product"))
    child = subprocess.Popen(
        [sys.executable, "-c", _KILLED_WRITER, str(store.root)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "writing"
        time.sleep(0.1)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    assert child.returncode == -signal.SIGKILL
    left = parts(store)
    assert len(left) == 1
    assert left[0].suffix == ".part"
    assert left[0].stat().st_size >= MB
    assert list(store.stored()) == [kept.sha256]  # nothing half-written under a SHA-256
    assert store.sweep([kept.sha256], min_age_s=0) == (0, 1)
    assert_clean(store, blobs=1)


def test_a_blob_whose_record_never_came_is_unreferenced_and_swept(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "archive")
    referenced = store.put(io.BytesIO(b"recorded"))
    orphan = store.put(io.BytesIO(b"crashed before its record"))
    assert store.unreferenced([referenced.sha256]) == [orphan.sha256]
    assert store.sweep([referenced.sha256], min_age_s=0) == (1, 0)
    assert list(store.stored()) == [referenced.sha256]


def test_concurrent_writers_of_the_same_bytes_keep_one_blob(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "archive")
    data = os.urandom(2 * MB)
    results: list[str] = []
    errors: list[BaseException] = []

    def put() -> None:
        try:
            results.append(store.put(io.BytesIO(data), expected_sha256=sha256(data)).sha256)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=put) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert results == [sha256(data)] * 8
    assert_clean(store, blobs=1)
    assert store.verify(sha256(data))


def test_sweep_leaves_young_files_that_an_ingest_may_still_own(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "archive")
    young = store.put(io.BytesIO(b"renamed a moment ago, its record not yet committed"))
    part = store.incoming / "receiving.part"
    part.write_bytes(b"being received")
    assert store.sweep([]) == (0, 0)
    assert store.has(young.sha256)
    assert part.exists()
    hour_ago = time.time() - 3700
    os.utime(store.path(young.sha256), (hour_ago, hour_ago))
    again = store.put(io.BytesIO(b"renamed a moment ago, its record not yet committed"))
    assert again == young  # found stored: touched, so a sweep leaves it to be recorded
    assert store.sweep([]) == (0, 0)
    os.utime(part, (hour_ago, hour_ago))
    assert store.sweep([]) == (0, 1)


def test_a_short_write_is_written_on_or_refused_never_acknowledged_short(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "archive")
    data = os.urandom(3 * MB)

    class Trickle(io.FileIO):
        def write(self, b: Any) -> int:  # as a nearly full disk: a part of each write
            return super().write(memoryview(b)[: max(1, len(b) // 3)])

    with store.writer() as writer:
        path = writer._temporary  # a white-box look, to swap the file for a short-writing one
        writer._file.close()
        writer._file = Trickle(path, "wb")
        writer.write(data)
        blob = writer.commit()
    assert blob.size_bytes == len(data)
    assert store.path(blob.sha256).read_bytes() == data
