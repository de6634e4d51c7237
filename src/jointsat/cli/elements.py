"""``jointsat elements``: fetch element sets from their sources, list and export them."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from jointsat.cli import common
from jointsat.cli.common import DatabaseUrl
from jointsat.cli.elements_export import export
from jointsat.cli.output import Column, Format, FormatOption, emit_rows
from jointsat.files import write_text

elements_app = typer.Typer(
    name="elements",
    help="Fetch element sets from their sources (CelesTrak, Space-Track), list, export them.",
    no_args_is_help=True,
)


class SourceName(StrEnum):
    """Name the sources ``jointsat elements fetch`` queries."""

    CELESTRAK = "celestrak"
    SUPGP = "supgp"
    SPACETRACK = "spacetrack"


class BlockedSource(StrEnum):
    """Name the sources that can be blocked (SupGP is CelesTrak's)."""

    CELESTRAK = "celestrak"
    SPACETRACK = "spacetrack"


@elements_app.command()
def fetch(
    source: Annotated[SourceName, typer.Option(help="Where to fetch from.")] = SourceName.CELESTRAK,
    group: Annotated[
        str | None,
        typer.Option(help="A CelesTrak group (e.g. stations); for SupGP a file (e.g. starlink)."),
    ] = None,
    catnr: Annotated[
        list[int] | None,
        typer.Option(min=1, max=999_999_999, metavar="N", help="A catalog number; repeat it."),
    ] = None,
    intdes: Annotated[
        str | None, typer.Option(metavar="ID", help="A launch's designator (e.g. 1998-067).")
    ] = None,
    name: Annotated[
        str | None, typer.Option(metavar="TEXT", help="Part of objects' names.")
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write the sets to this OMM JSON file, not the store."),
    ] = None,
    add: Annotated[
        bool, typer.Option("--add", help="Add the satellites the store lacks (no operators).")
    ] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Fetch element sets into the store (the consortium's satellites), or to a file.

    The sources' rules hold across runs (docs/elements.md): CelesTrak's answers are
    reused for 2 hours, Space-Track's for 1; a source that answers an error is blocked
    until `jointsat elements unblock`.
    """
    from jointsat.sources.refresh import open_source, refresh
    from jointsat.sources.source import Query

    errors = Console(stderr=True)
    with common.store_command(database_url) as settings:
        query = Query(group=group, catnrs=tuple(catnr or ()), intdes=intdes, name=name)
        client = open_source(source.value, settings)
        now = common.now()
        if output is not None:
            _create_empty_store(settings.database_url)  # the sources' rules live there
        errors.print(f"fetching from {client.label}: {', '.join(client.paths(query))}")
        with common.store_session(settings.database_url) as session:
            if output is None:
                report = refresh(session, client, query, now, order=settings.source_order, add=add)
                errors.print(report.summary(), highlight=False)
                return
            fetched = client.fetch(session, query, now)
        omm = [f.elements.to_omm() for f in fetched]
        write_text(output, json.dumps(omm, indent=1) + "\n")
        errors.print(f"{len(omm)} element sets written to {output}", highlight=False)


def _create_empty_store(url: str) -> None:
    """Migrate a store that is new (no revision), so that a file fetch can keep the rules."""
    from jointsat.store import migrate

    if migrate.current_revision(url) is None:
        migrate.upgrade(url)


LIST_COLUMNS = (
    Column("satellite", "NORAD", "number"),
    Column("satellite_name", "name", drop=2),
    Column("id", "id", "number", drop=3),
    Column("source_kind", "source"),
    Column("epoch", "epoch (UTC)", "time"),
    Column("age_days", "age (days)", "number", lambda r: f"{r['age_days']:.1f}"),
    Column("received_at", "fetched (UTC)", "time", drop=1),
    Column("chosen", "used", "whole"),
    Column("source"),
)
"""The fields of ``elements list``: those of the API's element sets (``source`` in JSON
and CSV only: a query or a file name, often long)."""


@elements_app.command("list")
def list_sets(
    satellite: Annotated[
        int | None, typer.Option(metavar="N", help="Only this catalog number's sets.")
    ] = None,
    output_format: FormatOption = Format.TABLE,
    database_url: DatabaseUrl = None,
) -> None:
    """List the stored element sets: source, epoch, age, when fetched, whether used."""
    from jointsat.store.sources import element_history

    now = common.now()
    with common.store_work(database_url) as session:
        records = [
            {
                "satellite": owner.norad_id,
                "satellite_name": owner.name,
                "id": record.id,
                "epoch": record.epoch,
                "source_kind": record.source_kind,
                "source": record.source,
                "received_at": record.received_at,
                "chosen": record.chosen,
                "age_days": (now - record.epoch).total_seconds() / 86400.0,
            }
            for owner, record in element_history(session, satellite)
        ]
    emit_rows(records, LIST_COLUMNS, output_format, title=f"{len(records)} element set(s)")


@elements_app.command()
def unblock(
    source: Annotated[BlockedSource, typer.Argument(help="The source to query again.")],
    database_url: DatabaseUrl = None,
) -> None:
    """Let jointsat query a source again, after it was blocked for answering an error."""
    from jointsat.store.sources import unblock as clear

    with common.store_work(database_url) as session:
        was = clear(session, source.value)
    typer.echo(f"{source.value} unblocked" if was else f"{source.value} was not blocked")


elements_app.command("export")(export)
