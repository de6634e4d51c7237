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

import inspect
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console

from jointsat.cli import common
from jointsat.cli.common import DatabaseUrl
from jointsat.cli.output import Column, Format, FormatOption, emit_one, emit_rows
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


@dataclass(frozen=True)
class Place:
    """Where the command line says a command works: a server (``url``, ``token``) or a store."""

    url: str | None
    token: str | None
    database_url: str | None

    def work(self) -> AbstractContextManager[Work]:
        """Open it for the command: see :func:`work`."""
        return work(self.url, self.token, self.database_url)


_PLACE_OPTIONS = [
    inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=option)
    for name, option in (("url", ServerUrl), ("token", ServerToken), ("database_url", DatabaseUrl))
]
"""The options every management command ends with, that make its :class:`Place`."""

Command = Callable[..., None]


def command(group: typer.Typer, name: str) -> Callable[[Command], Command]:
    """Register a management command: a function whose first parameter is its :class:`Place`.

    On the command line that parameter is the options every such command ends with,
    ``--url``, ``--token`` and ``--database-url`` (after the function's own). Returns
    the command as typer runs it, which another group may register too.
    """

    def register(function: Command) -> Command:
        _, *own = inspect.signature(function, eval_str=True).parameters.values()

        def run(**given: Any) -> None:
            function(
                Place(given.pop("url"), given.pop("token"), given.pop("database_url")), **given
            )

        run.__signature__ = inspect.Signature([*own, *_PLACE_OPTIONS])  # type: ignore[attr-defined]
        run.__doc__ = function.__doc__
        run.__name__ = run.__qualname__ = function.__name__
        group.command(name)(run)
        return run

    return register


Doc = dict[str, Any]
"""A document as the API shows it in JSON."""
Add = Callable[["Session", Doc], Doc]
"""What adds a document's row to the store (by the API's rules): the document as the API
takes it; it returns the document as the API shows it."""
Change = Callable[["Session", int, Doc], Doc]
"""What changes a document's row in the store (by the API's rules): its id and the
changes; it returns the document as the API shows it."""


@dataclass(frozen=True)
class Kind:
    """A kind of document that management commands list, show and change.

    ``what``: its name in messages and titles; ``path``: its list in the API;
    ``stored``: the same list made from the store; ``keys``: the fields a reference
    (what the user types) matches, in order of preference; ``columns``: how it is
    listed; ``resolve``: what turns a reference into the value the keys match (an
    agreement's: its partner's id), None: the reference itself.
    """

    what: str
    path: str
    stored: Callable[[Session], list[dict[str, Any]]]
    keys: tuple[str, ...]
    columns: Sequence[Column]
    resolve: Callable[[Work, str], str] | None = None

    def documents(self, where: Work) -> list[dict[str, Any]]:
        """Return every one the caller sees, as the API shows them."""
        if where.api is not None:
            found: list[dict[str, Any]] = where.api.get(self.path).body
            return found
        return self.stored(where.session)

    def document(self, where: Work, ref: str) -> dict[str, Any]:
        """Return the one a reference names (see :func:`pick`)."""
        if self.resolve is not None:
            ref = self.resolve(where, ref)
        return pick(self.documents(where), ref, self.what, self.keys)

    def ident(self, where: Work, ref: str) -> int:
        """Return the id of the one a reference names."""
        return int(self.document(where, ref)["id"])

    def create(self, where: Work, body: Doc, stored: Add) -> Doc:
        """Add one; return it as the API shows it.

        Over the API a POST; on the store ``stored``.
        """
        if where.api is not None:
            found: Doc = where.api.call("POST", self.path, body=body).body
            return found
        return stored(where.session, body)

    def update(self, where: Work, ident: int, body: Doc, stored: Change) -> Doc:
        """Change the one of that id; return it as the API shows it.

        Over the API a PATCH with the ETag read just before; on the store ``stored``.
        """
        if where.api is not None:
            return updated(where.api, f"{self.path}/{ident}", body)
        return stored(where.session, ident, body)

    def change(self, place: Place, ref: str, body: Doc, stored: Change, fmt: Format) -> None:
        """Change the one a reference names and show it (an ``update`` command's work)."""
        with place.work() as where:
            found = self.update(where, self.ident(where, ref), body, stored)
        emit_one(found, self.columns, fmt)

    def remove(self, place: Place, ref: str, stored: Callable[[Session, int], None]) -> None:
        """Remove the one a reference names and say so (a ``remove`` command's work).

        Over the API a DELETE with the ETag read just before; on the store ``stored``.
        """
        with place.work() as where:
            ident = self.ident(where, ref)
            if where.api is not None:
                removed(where.api, f"{self.path}/{ident}")
            else:
                stored(where.session, ident)
        typer.echo(f"{self.what} {ref} (id {ident}) removed")

    def commands(self, group: typer.Typer, list_help: str, show: tuple[Any, str] | None) -> None:
        """Give a command group ``list`` (every one) and ``show`` (one) with these helps.

        ``show``: the command's argument (an ``Annotated`` typer argument: the
        reference) and its help; None: no ``show``. Both take ``--format`` and the
        options that say where to work.
        """

        def list_command(place: Place, fmt: FormatOption = Format.TABLE) -> None:
            with place.work() as where:
                found = self.documents(where)
            emit_rows(found, self.columns, fmt, title=f"{len(found)} {self.what}(s)")

        list_command.__doc__ = list_help
        command(group, "list")(list_command)
        if show is None:
            return

        def show_command(place: Place, ref: str, fmt: FormatOption = Format.TABLE) -> None:
            with place.work() as where:
                found = self.document(where, ref)
            emit_one(found, self.columns, fmt)

        show_command.__annotations__["ref"], show_command.__doc__ = show
        command(group, "show")(show_command)


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
