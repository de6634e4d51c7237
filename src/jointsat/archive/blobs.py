"""Store product files durably, addressed by their SHA-256, under one root folder.

A blob is written to a temporary file in ``ROOT/incoming``, fsynced, checked against
the checksum the sender declared, renamed to ``ROOT/sha256/<2 hex>/<64 hex>`` and the
folder fsynced; only then does ``BlobWriter.commit`` return. The store's record of a
product is committed after its blobs, so whatever the store lists is on disk, and a
crash at any point leaves at most a temporary file or an unreferenced blob, neither of
which anyone can see (``BlobStore.unreferenced`` and ``sweep`` find and remove them).
Writing the same bytes again finds the blob already there and keeps it: ingest is
idempotent.

An archive belongs to one store: ``ROOT/jointsat-store.json`` records the owning
store's identity (a random id the store keeps) and where it lives. A store's
``BlobStore`` (given its ``owner``) claims a new archive at its first write, and
refuses to write to or sweep one another store owns, so that a sweep never removes a
file another store refers to. A store recreated where its owner was (the same file or
URL, a new identity) takes its archive over: the old store's records are gone.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import hashlib
import json
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from jointsat.errors import ArchiveInputError, ArchiveOwnerError, ArchiveStorageError

CHUNK_BYTES = 1 << 20  # read and write a megabyte at a time
SWEEP_MIN_AGE_S = 3600.0  # what sweep leaves alone: younger files may belong to an ingest
PARALLEL_HASH_BYTES = 1 << 18  # chunks this large are hashed in another thread as they are written
SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
OWNER_FILE = "jointsat-store.json"  # in the archive's root: the store that owns it


@dataclass(frozen=True)
class ArchiveOwner:
    """The store an archive belongs to: its identity and where it lives (a file, a URL)."""

    store_id: str
    location: str


def read_owner(root: Path) -> ArchiveOwner | None:
    """Return the store that owns the archive at ``root``, None when none is recorded."""
    try:
        document = json.loads((root / OWNER_FILE).read_text(encoding="utf-8"))
        return ArchiveOwner(str(document["store_id"]), str(document["location"]))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ArchiveOwnerError(
            f"the archive at {root} has an unreadable {OWNER_FILE} ({exc}); it names the store "
            "that owns the archive: restore it from a backup"
        ) from None


def write_owner(root: Path, owner: ArchiveOwner) -> None:
    """Record ``owner`` as the store that owns the archive at ``root``, durably."""
    root.mkdir(parents=True, exist_ok=True)
    document = {"store_id": owner.store_id, "location": owner.location}
    fd, name = tempfile.mkstemp(dir=root, prefix=f".{OWNER_FILE}.", suffix=".part")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(json.dumps(document, indent=2) + "\n")
            file.flush()
            os.fsync(file.fileno())
        Path(name).replace(root / OWNER_FILE)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    _fsync_folder(root)


@dataclass(frozen=True)
class Blob:
    """A stored file: its SHA-256 (hex) and size."""

    sha256: str
    size_bytes: int


def check_sha256(value: str, *, field: str = "sha256") -> str:
    """Return a SHA-256 given in hex, lower-cased, or refuse it naming ``field``."""
    text = value.strip().lower()
    if not SHA256_HEX.fullmatch(text):
        raise ArchiveInputError(f"{field} must be 64 hexadecimal digits, got {value!r}")
    return text


@functools.cache
def _hasher() -> ThreadPoolExecutor:
    """Return the threads that hash large chunks while they are written (hashing frees the GIL)."""
    return ThreadPoolExecutor(max_workers=4, thread_name_prefix="jointsat-sha256")


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _storage_error(exc: OSError, what: str) -> ArchiveStorageError:
    if exc.errno in _FULL:
        return ArchiveStorageError(f"the archive's disk is full: {what} was not stored")
    return ArchiveStorageError(f"{what} was not stored: {exc.strerror or exc}")


class BlobStore:
    """Content-addressed files under ``root`` (created when missing).

    ``owner`` is the store that uses it (or a function returning it, called once, when
    first needed): given, writes and sweeps check the archive is that store's, claiming
    it when it is new. ``fallback`` is a folder read, never written or swept, for the
    blobs ``root`` lacks (the ``archive/`` folder every store beside it shared before
    each had its own).
    """

    def __init__(
        self,
        root: Path | str,
        *,
        owner: ArchiveOwner | Callable[[], ArchiveOwner] | None = None,
        fallback: Path | str | None = None,
    ) -> None:
        self.root = Path(root)
        self.incoming = self.root / "incoming"
        self.blobs = self.root / "sha256"
        self._owner = owner
        self._checked = False
        self.fallback = None if fallback is None else Path(fallback)

    @property
    def owner(self) -> ArchiveOwner | None:
        """Return the store that uses this archive, None when it was not told."""
        if callable(self._owner):
            self._owner = self._owner()
        return self._owner

    def check_owner(self, *, claim: bool = True) -> ArchiveOwner | None:
        """Refuse (``ArchiveOwnerError``) when another store owns the archive.

        An archive that records no owner is claimed (``claim``) when it holds no blob;
        one that holds blobs but records no owner (made before archives recorded one)
        is left unclaimed: it may be shared by several stores. Returns the recorded
        owner, None when the archive has none (or this BlobStore was told none).
        """
        owner = self.owner
        if owner is None:
            return None
        recorded = read_owner(self.root)
        if recorded is None:
            if claim and not any(self.stored()):
                write_owner(self.root, owner)
                return owner
            return None
        if recorded.store_id == owner.store_id:
            if recorded.location != owner.location:  # the store moved: follow it
                write_owner(self.root, owner)
            return owner
        if recorded.location == owner.location:  # the owner was replaced by this store
            write_owner(self.root, owner)
            return owner
        raise ArchiveOwnerError(
            f"the archive at {self.root} belongs to another store ({recorded.location}); "
            "give this store its own archive (unset JOINTSAT_ARCHIVE_ROOT, or set it to "
            "another folder)"
        )

    def _check_once(self) -> None:
        if not self._checked:
            self.check_owner()
            self._checked = True

    def _ensure_folders(self) -> None:
        for folder in (self.root, self.incoming, self.blobs):
            if not folder.is_dir():
                folder.mkdir(parents=True, exist_ok=True)
                _fsync_folder(folder.parent)

    def path(self, sha256: str) -> Path:
        """Return where the blob with this SHA-256 lives (whether or not it exists)."""
        digest = check_sha256(sha256)
        return self.blobs / digest[:2] / digest

    def locate(self, sha256: str) -> Path:
        """Return where to read the blob: in the archive, else in its fallback if there."""
        own = self.path(sha256)
        if self.fallback is not None and not own.is_file():
            digest = check_sha256(sha256)
            legacy = self.fallback / "sha256" / digest[:2] / digest
            if legacy.is_file():
                return legacy
        return own

    def has(self, sha256: str) -> bool:
        """Return whether the blob is stored (here or in the fallback)."""
        return self.locate(sha256).is_file()

    def open(self, sha256: str) -> BinaryIO:
        """Open a stored blob for reading (FileNotFoundError when it is not stored)."""
        return self.locate(sha256).open("rb")

    def writer(self, *, expected_sha256: str | None = None) -> BlobWriter:
        """Start writing a blob; ``commit`` makes it durable, ``abort`` (or an error) drops it."""
        expected = None if expected_sha256 is None else check_sha256(expected_sha256)
        self._check_once()
        try:
            self._ensure_folders()
            fd, name = tempfile.mkstemp(dir=self.incoming, suffix=".part")
        except OSError as exc:
            raise _storage_error(exc, "the file") from exc
        return BlobWriter(self, os.fdopen(fd, "wb", buffering=0), Path(name), expected)

    def put(self, source: BinaryIO, *, expected_sha256: str | None = None) -> Blob:
        """Store everything ``source`` reads, and return the blob once it is durable."""
        with self.writer(expected_sha256=expected_sha256) as writer:
            while chunk := source.read(CHUNK_BYTES):
                writer.write(chunk)
            return writer.commit()

    def put_file(self, path: Path | str, *, expected_sha256: str | None = None) -> Blob:
        """Store a copy of the file at ``path``, and return the blob once it is durable."""
        with Path(path).open("rb") as source:
            return self.put(source, expected_sha256=expected_sha256)

    def verify(self, sha256: str) -> bool:
        """Return whether the stored blob's bytes still hash to its name."""
        digest = hashlib.sha256()
        try:
            with self.open(sha256) as stored:
                while chunk := stored.read(CHUNK_BYTES):
                    digest.update(chunk)
        except FileNotFoundError:
            return False
        return digest.hexdigest() == check_sha256(sha256)

    def stored(self) -> Iterator[str]:
        """Yield the SHA-256 of every stored blob."""
        if not self.blobs.is_dir():
            return
        for folder in sorted(self.blobs.iterdir()):
            for blob in sorted(folder.iterdir()):
                if SHA256_HEX.fullmatch(blob.name):
                    yield blob.name

    def unreferenced(self, referenced: Iterable[str]) -> list[str]:
        """Return the stored blobs no product refers to (left by a crash before the record)."""
        keep = set(referenced)
        return [digest for digest in self.stored() if digest not in keep]

    def sweep(
        self, referenced: Iterable[str], *, min_age_s: float = SWEEP_MIN_AGE_S, claim: bool = False
    ) -> tuple[int, int]:
        """Remove unreferenced blobs and temporary files older than ``min_age_s``.

        Returns how many of each were removed. Told its owner, it refuses
        (``ArchiveOwnerError``) to sweep another store's archive, and an archive that
        records no owner but holds blobs the owner does not refer to (they may be
        another store's): ``claim`` says this store is its only user, and claims it.
        The fallback is never swept. A blob is unreferenced for a moment
        between its rename and its product's commit, and an ingest that finds its
        bytes stored already touches the blob: the age keeps both from being swept
        while ingests run. A temporary file is touched with every write; one that is
        older belongs to an ingest that died (or to an upload stalled that long,
        which then fails cleanly).
        """
        keep = set(referenced)
        if self.owner is not None and self.check_owner() is None:
            foreign = len(self.unreferenced(keep))
            if foreign and not claim:
                raise ArchiveOwnerError(
                    f"the archive at {self.root} records no owning store (it was made before "
                    f"archives recorded one) and holds {foreign} blob(s) this store does not "
                    "refer to, which another store may use; nothing removed. If no other "
                    "store uses this folder, sweep with --claim"
                )
            write_owner(self.root, self.owner)
        horizon = time.time() - min_age_s

        def old(path: Path) -> bool:
            try:
                return path.stat().st_mtime < horizon
            except FileNotFoundError:
                return False

        blobs = [d for d in self.unreferenced(keep) if old(self.path(d))]
        for digest in blobs:
            self.path(digest).unlink(missing_ok=True)
        parts = (
            [p for p in self.incoming.glob("*.part") if old(p)] if self.incoming.is_dir() else []
        )
        for part in parts:
            part.unlink(missing_ok=True)
        return len(blobs), len(parts)


class BlobWriter:
    """A blob being written: ``write`` chunks, then ``commit``; used as a context manager.

    ``commit`` is ``seal`` (fsync and check the checksum) then ``publish`` (rename into
    place and fsync the folder); an upload of several files seals each as it ends and
    publishes them all only once the whole upload has arrived, so that one cut short
    leaves no blob.
    """

    def __init__(
        self, store: BlobStore, file: BinaryIO, temporary: Path, expected: str | None
    ) -> None:
        self._store = store
        self._file = file
        self._temporary = temporary
        self._expected = expected
        self._digest = hashlib.sha256()
        self.size_bytes = 0
        self._sealed: str | None = None
        self._done = False

    def write(self, chunk: bytes) -> None:
        """Append bytes to the blob (a large chunk is hashed in another thread meanwhile)."""
        hashing = (
            _hasher().submit(self._digest.update, chunk)
            if len(chunk) >= PARALLEL_HASH_BYTES
            else None
        )
        if hashing is None:
            self._digest.update(chunk)
        try:
            view = memoryview(chunk)
            while view:  # a write may take only part of the chunk (a disk nearly full)
                written = self._file.write(view)
                if not written:
                    raise OSError(errno.ENOSPC, "no byte could be written")
                view = view[written:]
        except OSError as exc:
            self.abort()
            raise _storage_error(exc, "the file") from exc
        finally:
            if hashing is not None:
                hashing.result()
        self.size_bytes += len(chunk)

    @property
    def sha256(self) -> str:
        """Return the SHA-256 (hex) of what was written so far."""
        return self._digest.hexdigest()

    def seal(self) -> str:
        """Make the written bytes durable and check them; return their SHA-256.

        Refuses (and drops the bytes) when they do not match the declared checksum.
        """
        digest = self.sha256
        with self._dropping_on_error():
            os.fsync(self._file.fileno())
            self._file.close()
            if self._expected is not None and digest != self._expected:
                raise ArchiveInputError(
                    f"the file's SHA-256 is {digest}, not the declared {self._expected}:"
                    " it was damaged or cut short on the way"
                )
        self._sealed = digest
        return digest

    def publish(self) -> Blob:
        """Move the sealed bytes to their SHA-256 name, durably, and return the blob."""
        digest = self._sealed if self._sealed is not None else self.seal()
        with self._dropping_on_error():
            target = self._store.path(digest)
            if target.is_file():  # the same bytes are stored already: keep those
                self._temporary.unlink()
                os.utime(target)  # and keep them from a sweep until recorded
                _fsync_folder(target.parent)  # their rename may not be durable yet
            else:
                folder = target.parent
                if not folder.is_dir():
                    folder.mkdir(exist_ok=True)
                    _fsync_folder(folder.parent)
                self._temporary.replace(target)
                _fsync_folder(folder)
        self._done = True
        return Blob(digest, self.size_bytes)

    def commit(self) -> Blob:
        """Seal and publish: the blob is durable under its SHA-256 when this returns."""
        self.seal()
        return self.publish()

    @contextlib.contextmanager
    def _dropping_on_error(self) -> Iterator[None]:
        try:
            yield
        except OSError as exc:
            self.abort()
            raise _storage_error(exc, "the file") from exc
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        """Drop what was written (nothing of it stays on disk)."""
        if self._done:
            return
        self._done = True
        with contextlib.suppress(OSError):
            self._file.close()
        with contextlib.suppress(OSError):
            self._temporary.unlink()

    def __enter__(self) -> BlobWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        if not self._done:
            self.abort()
