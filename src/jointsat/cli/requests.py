"""``jointsat requests``: import and list partners' observation requests."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from jointsat.cli import common
from jointsat.cli.common import DatabaseUrl
from jointsat.cli.output import Column, Format, FormatOption, emit_rows
from jointsat.errors import PlanningInputError, StoreError
from jointsat.files import read_text
from jointsat.jsonfile import Reader
from jointsat.planning.requests import request_from_dict
from jointsat.timelib import format_readable, parse_iso

if TYPE_CHECKING:
    from jointsat.store.tables import ObservationRequest

requests_app = typer.Typer(
    name="requests", help="Import and list partners' observation requests.", no_args_is_help=True
)


IMPORTED_COLUMNS = (
    Column("file_id", "file id", "whole"),
    Column("id", "stored id", "number"),
    Column("kind", "kind"),
    Column("gain", "gain", "number"),
)
"""What ``requests import`` prints: each request's id in the file against the store's."""


@requests_app.command("import")
def requests_import(
    path: Annotated[Path, typer.Argument(metavar="FILE", help="A JSON list of requests.")],
    partner: Annotated[str, typer.Option("--partner", metavar="CODE", help="Whose requests.")],
    database_url: DatabaseUrl = None,
) -> None:
    """Store a partner's requests from a JSON file: all of them, or none if one is bad."""
    from sqlalchemy import select

    from jointsat.store.requests import fill_request, unknown_satellites
    from jointsat.store.tables import ObservationRequest, Partner

    errors = Console(stderr=True)
    moment = common.now()
    with common.reporting_errors(errors), common.store_errors():
        source = str(path)
        read = Reader(source, PlanningInputError)
        document = read.json(read_text(path))
        if isinstance(document, dict) and "requests" in document:
            document = document["requests"]
        items = read.sequence(document, "requests")
        with common.store_session(database_url) as session:
            owner = session.scalars(select(Partner).where(Partner.code == partner)).one_or_none()
            if owner is None:
                raise StoreError(f"no partner with code {partner!r}")
            records = []
            for i, item in enumerate(items):
                where = f"requests[{i}]"
                found = read.mapping(item, where)
                if found.get("partner", partner) != partner:
                    raise read.error(
                        f"is {found['partner']!r}, not {partner!r}", f"{where}.partner"
                    )
                request = request_from_dict(  # the store gives the id
                    {**found, "id": where, "partner": partner}, source=source, where=where
                )
                missing = unknown_satellites(session, request)
                if missing:
                    raise read.error(
                        f"no satellite with catalog number {request.satellites[missing[0]]!r} "
                        "in the store",
                        f"{where}.satellites[{missing[0]}]",
                    )
                record = ObservationRequest(partner=owner)
                fill_request(record, request, now=moment)
                session.add(record)
                records.append((found.get("id"), record, request))
            session.flush()
            stored = [
                {"file_id": file_id, "id": record.id, "kind": request.kind, "gain": request.gain}
                for file_id, record, request in records
            ]
        title = f"{len(items)} request(s) of {escape(partner)} stored"
        emit_rows(stored, IMPORTED_COLUMNS, Format.TABLE, title=title)


def _target(request: dict[str, Any]) -> str:
    if request["kind"] == "earth":
        return f"{request['lat_deg']:.3f}, {request['lon_deg']:.3f}"
    return f"RA {request['ra_deg']:.3f}, Dec {request['dec_deg']:.3f}"


def _window_end(request: dict[str, Any], end: bool) -> str:
    """Return a window's start, or its end (its time of day when on the start's day)."""
    window = request.get("window")
    if not window:
        return "any"
    start, stop = parse_iso(window["start"]), parse_iso(window["end"])
    if not end:
        return format_readable(start)
    return format_readable(stop)[11:] if stop.date() == start.date() else format_readable(stop)


LIST_COLUMNS = (
    Column("id", "id", "number"),
    Column("partner", "partner"),
    Column("kind", "kind", drop=2),
    Column("target", "target", shown=_target),
    Column("gain", "gain", "number"),
    Column("window_start", "from (UTC)", "whole", lambda r: _window_end(r, False)),
    Column("window_end", "to", "whole", lambda r: _window_end(r, True)),
    Column("satellites", "satellites", shown=lambda r: r["satellites"] or "any", drop=1),
)
CSV_COLUMNS = tuple(
    Column(key)
    for key in (
        "id",
        "partner",
        "kind",
        "gain",
        "window_start",
        "window_end",
        "satellites",
        "lat_deg",
        "lon_deg",
        "ra_deg",
        "dec_deg",
        "created_at",
    )
)
"""The CSV of ``requests list``: a window's ends, each target's own fields (empty when the
kind has none); the JSON gives every field of the API's requests."""


@requests_app.command("list")
def requests_list(
    partner: Annotated[
        str | None, typer.Option("--partner", metavar="CODE", help="Only this partner's.")
    ] = None,
    output_format: FormatOption = Format.TABLE,
    database_url: DatabaseUrl = None,
) -> None:
    """List the stored requests: target, gain, window."""
    from sqlalchemy import select
    from sqlalchemy.orm import selectinload

    from jointsat.store.tables import ObservationRequest, Partner

    with common.reporting_errors(Console(stderr=True)), common.store_errors():
        with common.store_session(database_url) as session:
            query = (
                select(ObservationRequest)
                .options(
                    selectinload(ObservationRequest.partner),
                    selectinload(ObservationRequest.creator),
                )
                .order_by(ObservationRequest.id)
            )
            if partner is not None:
                query = query.join(Partner).where(Partner.code == partner)
            records = [_listed(r) for r in session.scalars(query)]
        emit_rows(
            records,
            LIST_COLUMNS,
            output_format,
            title=f"{len(records)} request(s)",
            csv_records=[_flat(r) for r in records],
            csv_columns=CSV_COLUMNS,
        )


def _listed(record: ObservationRequest) -> dict[str, Any]:
    """Return a stored request as the API shows it (GET /api/v1/requests), defaults filled."""
    from jointsat.service.routes.requests import public

    document: dict[str, Any] = public(record).model_dump(mode="json")
    return document


def _flat(request: dict[str, Any]) -> dict[str, Any]:
    window = request.get("window") or {}
    return {**request, "window_start": window.get("start"), "window_end": window.get("end")}
