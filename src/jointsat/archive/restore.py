"""Restore a product's files from wherever they are, each verified by its SHA-256.

Each file is written to a temporary file beside its destination, hashed on the
way, and renamed only when every file of the product matched its checksum; on a
mismatch nothing is left at the destination.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from http.client import HTTPException
from pathlib import Path
from typing import BinaryIO

from jointsat.archive.blobs import CHUNK_BYTES
from jointsat.errors import ArchiveStorageError, JointsatError


@dataclass(frozen=True)
class FileSource:
    """A product's file to fetch: its name, checksum, size and how to open its bytes."""

    name: str
    sha256: str
    size_bytes: int
    open: Callable[[], AbstractContextManager[BinaryIO]]
    where: str  # where the bytes come from, for errors: "the archive" or the URL


def restore(files: Sequence[FileSource], output: Path) -> list[Path]:
    """Write the files at ``output`` (a file, or a folder for several), verified; return paths.

    Nothing takes its name before every file matched its SHA-256; on any failure the
    temporary files, and a folder made for them, are removed.
    """
    for f in files:
        if f.name in ("", ".", "..") or Path(f.name).name != f.name or "\\" in f.name:
            raise JointsatError(f"the product's file name {f.name!r} is not a plain file name")
    if len(files) == 1:
        targets = [output / files[0].name if output.is_dir() else output]
    else:
        targets = [output / f.name for f in files]
    made_folder = False
    written: list[tuple[Path, Path]] = []
    try:
        if len(files) > 1 and not output.is_dir():
            if output.exists():
                raise JointsatError(f"{output}: the product has {len(files)} files; give a folder")
            output.mkdir(parents=True)
            made_folder = True
        for source, target in zip(files, targets, strict=True):
            try:
                fd, name = tempfile.mkstemp(
                    dir=target.parent, prefix=f".{target.name}.", suffix=".part"
                )
            except OSError as exc:
                raise JointsatError(f"{target}: cannot write ({exc.strerror or exc})") from None
            temporary = Path(name)
            written.append((temporary, target))
            with os.fdopen(fd, "wb") as sink:
                _copy_verified(source, sink, target)
                sink.flush()
                os.fsync(sink.fileno())
        for temporary, target in written:
            temporary.replace(target)
    except BaseException:
        for temporary, _ in written:
            with contextlib.suppress(OSError):
                temporary.unlink()
        if made_folder:
            with contextlib.suppress(OSError):
                output.rmdir()
        raise
    return targets


def _copy_verified(source: FileSource, sink: BinaryIO, target: Path) -> None:
    """Copy a file's bytes to ``sink``, refusing them unless size and SHA-256 match."""
    digest = hashlib.sha256()
    size = 0
    try:
        with source.open() as stream:
            while chunk := stream.read(CHUNK_BYTES):
                digest.update(chunk)
                size += len(chunk)
                sink.write(chunk)
    except (OSError, HTTPException) as exc:  # IncompleteRead: the server stopped midway
        raise JointsatError(
            f"{source.name}: reading from {source.where} failed ({exc}); nothing written"
        ) from None
    if digest.hexdigest() != source.sha256 or size != source.size_bytes:
        raise ArchiveStorageError(
            f"{source.name}: the bytes from {source.where} ({size:,} bytes, SHA-256 "
            f"{digest.hexdigest()}) are not the product's ({source.size_bytes:,} bytes, "
            f"SHA-256 {source.sha256}); refused, nothing written at {target}"
        )
