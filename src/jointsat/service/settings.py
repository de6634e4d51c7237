"""Hold the service's settings, read from the environment only when asked."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from jointsat.store.database import default_database_url


@dataclass(frozen=True)
class Settings:
    """Say where the store is (more settings join as the service grows)."""

    database_url: str

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read JOINTSAT_* variables (JOINTSAT_DATABASE_URL, else the user's SQLite file)."""
        return cls(database_url=default_database_url(os.environ if environ is None else environ))
