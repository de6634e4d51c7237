"""Say where the store, the archive's files and the element sources are: one typed object.

The command line and the service read the environment once, through
:meth:`Settings.from_environment`; everything below them is handed the object.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jointsat.errors import StoreError
from jointsat.orbits.freshness import DEFAULT_RULE, StaleRule

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

DATABASE_URL_VARIABLE = "JOINTSAT_DATABASE_URL"
ARCHIVE_ROOT_VARIABLE = "JOINTSAT_ARCHIVE_ROOT"
# The service's limits (docs/store.md, "Limits"): each variable a whole number.
LIMIT_VARIABLES = {
    "max_body_bytes": "JOINTSAT_MAX_BODY_BYTES",
    "max_product_bytes": "JOINTSAT_MAX_PRODUCT_BYTES",
    "max_product_files": "JOINTSAT_MAX_PRODUCT_FILES",
    "new_pass_predictions_per_hour": "JOINTSAT_NEW_PASS_PREDICTIONS_PER_HOUR",
}

# When elements are stale (docs/elements.md, "Freshness"): days from their epoch.
STALE_LEO_DAYS_VARIABLE = "JOINTSAT_STALE_LEO_DAYS"
STALE_ABOVE_LEO_DAYS_VARIABLE = "JOINTSAT_STALE_ABOVE_LEO_DAYS"
TOKEN_DAYS_VARIABLE = "JOINTSAT_TOKEN_DAYS"  # a new API token's lifetime unless told
TOKEN_MAX_DAYS_VARIABLE = "JOINTSAT_TOKEN_MAX_DAYS"  # the longest lifetime a token may ask
# The element-set sources (docs/elements.md, "Sources and their rules").
CELESTRAK_URL_VARIABLE = "JOINTSAT_CELESTRAK_URL"
SPACETRACK_URL_VARIABLE = "JOINTSAT_SPACETRACK_URL"
SPACETRACK_USER_VARIABLE = "JOINTSAT_SPACETRACK_USER"
SPACETRACK_PASSWORD_VARIABLE = "JOINTSAT_SPACETRACK_PASSWORD"
SPACETRACK_CREDENTIALS_VARIABLE = "JOINTSAT_SPACETRACK_CREDENTIALS"  # a file: identity, password
REFRESH_HOURS_VARIABLE = "JOINTSAT_ELEMENTS_REFRESH_HOURS"  # unset: the service refreshes nothing
REFRESH_SOURCE_VARIABLE = "JOINTSAT_ELEMENTS_REFRESH_SOURCE"
MAX_REFRESH_HOURS = 24 * 366
SOURCE_ORDER_VARIABLE = "JOINTSAT_ELEMENTS_SOURCE_ORDER"  # preferred first, comma-separated
DASK_SCHEDULER_VARIABLE = "JOINTSAT_DASK_SCHEDULER"  # the service predicts passes there
# Webhooks and apprise's HTTP kinds may go to private addresses (docs/events.md): a yes/no.
WEBHOOK_PRIVATE_TARGETS_VARIABLE = "JOINTSAT_WEBHOOK_PRIVATE_TARGETS"
YES = ("1", "true", "yes", "on")
NO = ("0", "false", "no", "off")
SOURCE_KINDS = ("upload", "supgp", "spacetrack", "celestrak")
"""Where element sets come from, preferred first by default: at equal epoch the first wins."""
FETCHED_KINDS = SOURCE_KINDS[1:]  # the ones jointsat queries itself
APP_NAME = "jointsat"  # the user's data folder is named for it
STORE_FILE_NAME = "jointsat.db"  # the default store, in the user's data folder
ARCHIVE_SUFFIX = ".archive"  # a SQLite store's default archive: jointsat.db -> jointsat.archive/
LEGACY_ARCHIVE_FOLDER_NAME = "archive"  # the default archive before each store had its own


def user_data_folder() -> Path:
    """Return the user's jointsat data folder (it may not exist yet)."""
    from platformdirs import user_data_dir

    return Path(user_data_dir(APP_NAME, appauthor=False))


@dataclass(frozen=True)
class Credentials:
    """A Space-Track account: its identity and password (never shown, not even in a repr)."""

    identity: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class Settings:
    """Say where the store and the archive's files are, and the service's limits."""

    database_url: str
    archive_root: Path | None = None  # None: beside the store (see archive_folder)
    max_body_bytes: int = 1 << 20  # a request's body, but for the uploads below
    max_product_bytes: int = 64 << 30  # a product upload's whole multipart body
    max_product_files: int = 100  # file parts in one product upload
    new_pass_predictions_per_hour: int = 6  # new windows a non-admin user may predict
    token_days: int = 90  # API tokens' lifetime unless their creator says otherwise
    token_max_days: int = 365  # the longest lifetime a token may be given
    celestrak_url: str = "https://celestrak.org"
    spacetrack_url: str = "https://www.space-track.org"
    spacetrack_credentials: Credentials | None = None
    elements_refresh_hours: float | None = None  # None: the service refreshes nothing
    elements_refresh_source: str = "celestrak"
    source_order: tuple[str, ...] = SOURCE_KINDS
    stale_rule: StaleRule = DEFAULT_RULE  # when predictions' elements are too old
    dask_scheduler: str | None = None  # a Dask scheduler's address: predict passes there
    webhook_private_targets: bool = False  # True: webhooks may go to private addresses

    @property
    def archive_folder(self) -> Path:
        """Return the archive's root: as set, else one named after the store, beside it.

        A SQLite store ``NAME.db`` has ``NAME.archive/`` beside its file; a server
        database (PostgreSQL) ``DATABASE@HOST.archive/`` in the user's data folder. Each
        store has its own, so that no store's sweep can remove another's files.
        """
        if self.archive_root is not None:
            return self.archive_root
        path = self.store_file
        if path is not None:
            return path.with_name(path.stem + ARCHIVE_SUFFIX)
        url = _parsed(self.database_url)
        if url.get_backend_name() == "sqlite":  # in memory
            return user_data_folder() / f"memory{ARCHIVE_SUFFIX}"
        where = url.host or "local"
        if url.port:
            where += f"-{url.port}"
        name = f"{url.database or url.get_backend_name()}@{where}"
        return user_data_folder() / (re.sub(r"[^\w.@-]", "_", name) + ARCHIVE_SUFFIX)

    @property
    def legacy_archive_folder(self) -> Path | None:
        """Return the ``archive/`` folder a SQLite store's files went to before, if any.

        Only a store whose archive was not set explicitly had it (beside its file); the
        store's archive reads from it what it does not hold itself, never writes or
        sweeps it.
        """
        if self.archive_root is not None:
            return None
        path = self.store_file
        if path is not None:
            return path.parent / LEGACY_ARCHIVE_FOLDER_NAME
        return user_data_folder() / LEGACY_ARCHIVE_FOLDER_NAME

    @property
    def store_file(self) -> Path | None:
        """Return the SQLite store's file (absolute), None for a server or an in-memory store."""
        url = _parsed(self.database_url)
        if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
            return Path(url.database).expanduser().resolve()
        return None

    @property
    def store_location(self) -> str:
        """Return where the store lives, for its archive to recognise it: a file or a URL.

        The URL is shown without its password, query or driver.
        """
        path = self.store_file
        if path is not None:
            return str(path)
        url = _parsed(self.database_url)
        plain = url.set(drivername=url.get_backend_name(), password=None, query={})
        return plain.render_as_string(hide_password=True)

    @classmethod
    def from_environment(
        cls, environ: Mapping[str, str] | None = None, *, database_url: str | None = None
    ) -> Settings:
        """Read the JOINTSAT_* variables (JOINTSAT_DATABASE_URL: a given URL wins).

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
            from jointsat.store.database import normalise_url

            url = normalise_url(url)
        root = environ.get(ARCHIVE_ROOT_VARIABLE, "").strip()
        limits: dict[str, Any] = {
            name: _count(variable, environ[variable])
            for name, variable in LIMIT_VARIABLES.items()
            if environ.get(variable, "").strip()
        }
        settings = cls(
            database_url=url,
            archive_root=Path(root).expanduser() if root else None,
            token_days=_days(environ, TOKEN_DAYS_VARIABLE, cls.token_days),
            token_max_days=_days(environ, TOKEN_MAX_DAYS_VARIABLE, cls.token_max_days),
            stale_rule=stale_rule_from_environment(environ),
            dask_scheduler=environ.get(DASK_SCHEDULER_VARIABLE, "").strip() or None,
            webhook_private_targets=webhook_private_targets_from_environment(environ),
            **limits,
        )
        return replace(settings, **_source_settings(environ))


def webhook_private_targets_from_environment(environ: Mapping[str, str] | None = None) -> bool:
    """Return whether webhooks may go to private addresses: JOINTSAT_WEBHOOK_PRIVATE_TARGETS
    (1/true/yes/on or 0/false/no/off), else no."""
    environ = os.environ if environ is None else environ
    text = environ.get(WEBHOOK_PRIVATE_TARGETS_VARIABLE, "").strip().lower()
    if not text or text in NO:
        return False
    if text in YES:
        return True
    raise StoreError(
        f"{WEBHOOK_PRIVATE_TARGETS_VARIABLE}={text!r}: give 1, true, yes or on (or 0, false,"
        " no, off)"
    )


def stale_rule_from_environment(
    environ: Mapping[str, str] | None = None,
    *,
    leo_days: float | None = None,
    above_leo_days: float | None = None,
) -> StaleRule:
    """Return the stale rule: the days given, else JOINTSAT_STALE_*_DAYS, else 7 and 30."""
    environ = os.environ if environ is None else environ
    return StaleRule(
        leo_days=_stale_days(environ, STALE_LEO_DAYS_VARIABLE, leo_days, DEFAULT_RULE.leo_days),
        above_leo_days=_stale_days(
            environ, STALE_ABOVE_LEO_DAYS_VARIABLE, above_leo_days, DEFAULT_RULE.above_leo_days
        ),
    )


def _stale_days(
    environ: Mapping[str, str], variable: str, given: float | None, default: float
) -> float:
    """Return the days given, else the variable's (a positive number), else the default."""
    if given is not None:
        return given
    text = environ.get(variable, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0.0):
        raise ValueError(f"{variable}: give a positive number of days, not {text!r}")
    return value


def _count(variable: str, text: str) -> int:
    """Return a limit read from the environment: a whole number, at least 1."""
    try:
        value = int(text.strip().replace("_", ""))
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"{variable}: give a whole number of at least 1, not {text!r}")
    return value


def _days(environ: Mapping[str, str], name: str, default: int) -> int:
    """Return the whole number of days in the variable ``name``, ``default`` when unset."""
    text = environ.get(name, "").strip()
    if not text:
        return default
    try:
        return int(text)
    except ValueError:
        raise StoreError(f"{name}={text!r} is not a whole number of days") from None


def _source_settings(environ: Mapping[str, str]) -> dict[str, Any]:
    """Return the element sources' settings that the environment gives."""
    found: dict[str, Any] = {}
    for name, variable in (
        ("celestrak_url", CELESTRAK_URL_VARIABLE),
        ("spacetrack_url", SPACETRACK_URL_VARIABLE),
    ):
        if environ.get(variable, "").strip():
            found[name] = environ[variable].strip().rstrip("/")
    hours = environ.get(REFRESH_HOURS_VARIABLE, "").strip()
    if hours:
        found["elements_refresh_hours"] = _hours(REFRESH_HOURS_VARIABLE, hours)
    source = environ.get(REFRESH_SOURCE_VARIABLE, "").strip()
    if source:
        found["elements_refresh_source"] = _kinds(REFRESH_SOURCE_VARIABLE, source, FETCHED_KINDS)[0]
    order = environ.get(SOURCE_ORDER_VARIABLE, "").strip()
    if order:
        kinds = _kinds(SOURCE_ORDER_VARIABLE, order, SOURCE_KINDS)
        found["source_order"] = (*kinds, *(k for k in SOURCE_KINDS if k not in kinds))
    found["spacetrack_credentials"] = _credentials(environ)
    return found


def _hours(variable: str, text: str) -> float:
    """Return a positive number of hours read from the environment."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value < MAX_REFRESH_HOURS:
        raise StoreError(
            f"{variable}={text!r} is not a number of hours between 0 and {MAX_REFRESH_HOURS}"
        )
    return value


def _kinds(variable: str, text: str, allowed: tuple[str, ...]) -> list[str]:
    """Return the source kinds named in ``text`` (comma-separated), each one of ``allowed``."""
    kinds = [k.strip().lower() for k in text.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in allowed]
    if unknown or not kinds:
        raise StoreError(
            f"{variable}: {unknown[0] if unknown else text!r} is not one of {', '.join(allowed)}"
        )
    return kinds


def _credentials(environ: Mapping[str, str]) -> Credentials | None:
    """Return the Space-Track account from the environment, or from the file it names.

    The file holds the identity on its first line and the password on its second.
    Errors name the variable or the file, never what they hold.
    """
    user = environ.get(SPACETRACK_USER_VARIABLE, "").strip()
    password = environ.get(SPACETRACK_PASSWORD_VARIABLE, "")
    if user and password:
        return Credentials(user, password)
    named = environ.get(SPACETRACK_CREDENTIALS_VARIABLE, "").strip()
    if not named:
        return None
    path = Path(named).expanduser()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise StoreError(
            f"{SPACETRACK_CREDENTIALS_VARIABLE}: cannot read {path}: {type(exc).__name__}"
        ) from None
    if len(lines) < 2 or not lines[0].strip() or not lines[1]:
        raise StoreError(
            f"{SPACETRACK_CREDENTIALS_VARIABLE}: {path} must hold the identity on its first "
            "line and the password on its second"
        )
    return Credentials(lines[0].strip(), lines[1].rstrip("\r\n"))


def _parsed(url: str) -> URL:
    """Return a database URL parsed (SQLAlchemy is imported only when a store is used)."""
    from sqlalchemy.engine import make_url

    return make_url(url)
