"""Say where the store and the archive's files are: one typed object, read at the edge.

The command line and the service read the environment once, through
:meth:`Settings.from_environment`; everything below them is handed the object.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from jointsat.errors import StoreError
from jointsat.store.database import normalise_url

DATABASE_URL_VARIABLE = "JOINTSAT_DATABASE_URL"
ARCHIVE_ROOT_VARIABLE = "JOINTSAT_ARCHIVE_ROOT"
TOKEN_DAYS_VARIABLE = "JOINTSAT_TOKEN_DAYS"  # a new API token's lifetime unless told
TOKEN_MAX_DAYS_VARIABLE = "JOINTSAT_TOKEN_MAX_DAYS"  # the longest lifetime a token may ask
APP_NAME = "jointsat"  # the user's data folder is named for it
STORE_FILE_NAME = "jointsat.db"  # the default store, in the user's data folder
ARCHIVE_FOLDER_NAME = "archive"  # the default archive, beside a SQLite store's file


def user_data_folder() -> Path:
    """Return the user's jointsat data folder (it may not exist yet)."""
    from platformdirs import user_data_dir

    return Path(user_data_dir(APP_NAME, appauthor=False))


@dataclass(frozen=True)
class Settings:
    """Say where the store and the archive's files are."""

    database_url: str
    archive_root: Path | None = None  # None: beside the store (see archive_folder)
    token_days: int = 90  # API tokens' lifetime unless their creator says otherwise
    token_max_days: int = 365  # the longest lifetime a token may be given

    @property
    def archive_folder(self) -> Path:
        """Return the archive's root: as set, else ``archive/`` beside a SQLite store's file.

        Beside a server database (PostgreSQL) it is ``archive/`` in the user's data folder.
        """
        if self.archive_root is not None:
            return self.archive_root
        url = make_url(self.database_url)
        if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
            return Path(url.database).expanduser().resolve().parent / ARCHIVE_FOLDER_NAME
        return user_data_folder() / ARCHIVE_FOLDER_NAME

    @classmethod
    def from_environment(
        cls, environ: Mapping[str, str] | None = None, *, database_url: str | None = None
    ) -> Settings:
        """Read JOINTSAT_DATABASE_URL and JOINTSAT_ARCHIVE_ROOT; a given URL wins.

        Without either URL the store is a SQLite file in the user's data folder,
        which is created when missing.
        """
        environ = os.environ if environ is None else environ
        url = database_url or environ.get(DATABASE_URL_VARIABLE, "").strip()
        if not url:
            folder = user_data_folder()
            folder.mkdir(parents=True, exist_ok=True)
            url = f"sqlite:///{folder / STORE_FILE_NAME}"
        elif not database_url:
            url = normalise_url(url)
        root = environ.get(ARCHIVE_ROOT_VARIABLE, "").strip()
        return cls(
            database_url=url,
            archive_root=Path(root).expanduser() if root else None,
            token_days=_days(environ, TOKEN_DAYS_VARIABLE, cls.token_days),
            token_max_days=_days(environ, TOKEN_MAX_DAYS_VARIABLE, cls.token_max_days),
        )


def _days(environ: Mapping[str, str], name: str, default: int) -> int:
    """Return the whole number of days in the variable ``name``, ``default`` when unset."""
    text = environ.get(name, "").strip()
    if not text:
        return default
    try:
        return int(text)
    except ValueError:
        raise StoreError(f"{name}={text!r} is not a whole number of days") from None
