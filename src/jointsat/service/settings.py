"""Hold the service's settings, read from the environment only when asked."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from jointsat.store.database import default_archive_root, default_database_url


@dataclass(frozen=True)
class Settings:
    """Say where the store and the archive's files are."""

    database_url: str
    archive_root: Path | None = None  # None: JOINTSAT_ARCHIVE_ROOT, else beside the store

    @property
    def archive_folder(self) -> Path:
        """Return the archive's root folder, as set or by default."""
        if self.archive_root is not None:
            return self.archive_root
        return default_archive_root(self.database_url)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read JOINTSAT_* variables (JOINTSAT_DATABASE_URL, JOINTSAT_ARCHIVE_ROOT)."""
        environ = os.environ if environ is None else environ
        url = default_database_url(environ)
        return cls(database_url=url, archive_root=default_archive_root(url, environ))
