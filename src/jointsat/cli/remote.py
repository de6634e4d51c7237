"""Let a management command work on the store itself or on a running server.

Without ``--url`` a command opens the store (``--database-url``, else the
environment) and acts as the consortium admin; with ``--url URL --token TOKEN``
(or ``JOINTSAT_URL`` and ``JOINTSAT_TOKEN``) it calls that server's REST API, with
the rights of the token. Both ways show the API's JSON and check input by the
API's own rules; an error is one line on stderr, exit status 1. An update over
HTTP sends back the ETag it read just before (``If-Match``): a change made in
between is refused ("changed since read; try again") rather than overwritten.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console

from jointsat.cli import common
from jointsat.errors import JointsatError, StoreError

if TYPE_CHECKING:
    from pydantic import BaseModel
    from sqlalchemy.orm import Session

    from jointsat.client import ApiClient

ModelT = TypeVar("ModelT", bound="BaseModel")

ServerUrl = Annotated[
    str | None,
    typer.Option(
        "--url",
        envvar="JOINTSAT_URL",
        show_envvar=False,
        metavar="URL",
        help="Call the jointsat server at URL instead of opening the store "
        "(default: JOINTSAT_URL).",
    ),
]
ServerToken = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar="JOINTSAT_TOKEN",
        show_envvar=False,
        metavar="TOKEN",
        help="With --url: the API token to send (default: JOINTSAT_TOKEN).",
    ),
]


def server(url: str | None, token: str | None) -> ApiClient | None:
    """Return a client of the server at ``url``; None: work on the store."""
    from jointsat.client import ApiClient

    if url is None:
        if token is not None and token != os.environ.get("JOINTSAT_TOKEN"):
            raise typer.BadParameter("--token goes with --url", param_hint="'--token'")
        return None
    if not url.lower().startswith(("http://", "https://")):
        raise typer.BadParameter(f"{url!r} is not an http:// or https:// URL", param_hint="'--url'")
    return ApiClient(url, token)


@dataclass
class Work:
    """Where a command works: ``api`` (a server) or ``session`` (the store), one of them."""

    api: ApiClient | None
    _session: Session | None = None

    @property
    def session(self) -> Session:
        """The store's session (only without a server)."""
        assert self._session is not None
        return self._session


@contextmanager
def work(url: str | None, token: str | None, database_url: str | None) -> Iterator[Work]:
    """Yield where the command works; its errors end it with one line on stderr."""
    api = server(url, token)
    with common.reporting_errors(Console(stderr=True)), common.store_errors():
        if api is not None:
            yield Work(api)
            return
        with common.store_session(database_url) as session:
            yield Work(None, session)


def checked(model: type[ModelT], document: dict[str, Any]) -> ModelT:
    """Return the document checked by the API's model of it, or one line naming the field."""
    from pydantic import ValidationError

    try:
        return model.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        message = str(first["msg"]).removeprefix("Value error, ")
        raise JointsatError(f"{where}: {message}" if where else message) from None


def shown(model: type[BaseModel], row: Any, **fields: Any) -> dict[str, Any]:
    """Return the row as the API's model of it shows it in JSON."""
    from jointsat.service.lookup import shown as filled

    return json_of(filled(model, row, **fields))


def json_of(model: BaseModel) -> dict[str, Any]:
    """Return a model as the API writes it in JSON."""
    import json

    document: dict[str, Any] = json.loads(model.model_dump_json())
    return document


def committed(session: Session, clash: str) -> None:
    """Commit, or refuse with ``clash`` when a uniqueness or reference rule refuses it."""
    from sqlalchemy.exc import IntegrityError

    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise StoreError(clash) from None


def pick(
    documents: Sequence[dict[str, Any]], ref: str, what: str, keys: Sequence[str]
) -> dict[str, Any]:
    """Return the one document whose ``keys`` (in order of preference) match ``ref``.

    A number matches numbers, text matches text; several matches of the same key are
    refused as ambiguous.
    """
    for key in keys:
        found = [d for d in documents if str(d.get(key)) == ref]
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            ids = ", ".join(str(d["id"]) for d in found)
            raise JointsatError(f"{what} {ref!r} is ambiguous (ids {ids}): give its id")
    raise JointsatError(f"no {what} {ref!r}")


def updated(api: ApiClient, path: str, changes: dict[str, Any]) -> dict[str, Any]:
    """PATCH a resource with the ETag read just before; return its new JSON."""
    etag = api.get(path).etag
    answer: dict[str, Any] = api.call("PATCH", path, body=changes, if_match=etag).body
    return answer


def removed(api: ApiClient, path: str) -> None:
    """DELETE a resource with the ETag read just before."""
    etag = api.get(path).etag
    api.call("DELETE", path, if_match=etag)
