"""``jointsat requests``: import and list partners' observation requests."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from jointsat.cli import common
from jointsat.cli.common import DatabaseUrl
from jointsat.errors import PlanningInputError, StoreError
from jointsat.files import read_text
from jointsat.jsonfile import Reader
from jointsat.planning.requests import request_from_dict
from jointsat.timelib import format_readable

requests_app = typer.Typer(
    name="requests", help="Import and list partners' observation requests.", no_args_is_help=True
)


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
            table = Table(title=f"{len(items)} request(s) of {escape(partner)} stored")
            for name in ("file id", "stored id", "kind", "gain"):
                table.add_column(name)
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
                records.append((found.get("id", "-"), record, request))
            session.flush()
            for file_id, record, request in records:
                table.add_row(
                    escape(str(file_id)), str(record.id), request.kind.value, str(request.gain)
                )
        Console().print(table)


@requests_app.command("list")
def requests_list(
    partner: Annotated[
        str | None, typer.Option("--partner", metavar="CODE", help="Only this partner's.")
    ] = None,
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
                .options(selectinload(ObservationRequest.partner))
                .order_by(ObservationRequest.id)
            )
            if partner is not None:
                query = query.join(Partner).where(Partner.code == partner)
            rows = list(session.scalars(query))
            table = Table(title=f"{len(rows)} request(s)")
            for name in ("id", "partner", "kind", "target", "gain", "window (UTC)", "satellites"):
                table.add_column(name, justify="right" if name in ("id", "gain") else "left")
            for r in rows:
                d = r.document
                target = (
                    f"{d['lat_deg']:.3f}, {d['lon_deg']:.3f}"
                    if r.kind == "earth"
                    else f"RA {d['ra_deg']:.3f}, Dec {d['dec_deg']:.3f}"
                )
                window = (
                    f"{format_readable(r.window_start)} to {format_readable(r.window_end)}"
                    if r.window_start and r.window_end
                    else "any"
                )
                table.add_row(
                    str(r.id),
                    escape(r.partner.code),
                    r.kind,
                    target,
                    str(r.gain),
                    window,
                    ", ".join(d.get("satellites", [])) or "any",
                )
        Console().print(table)
