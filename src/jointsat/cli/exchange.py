"""``jointsat exchange``: schedules to and from other agencies, in CCSDS SSF (902.1-B-1).

``ssf-export`` writes a stored schedule's contacts as a Simple Schedule message;
``ssf-import`` books another agency's message on the store's stations as a new
schedule of policy ``imported`` (docs/cli.md: the mapping; ``jointsat.operations.ssf``:
the format). Both work on the store (``--database-url``), with the admin's rights:
against a server, ``GET /api/v1/schedules/{id}/schedule.ssf`` and ``POST
/api/v1/schedules/import-ssf`` apply the caller's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from jointsat.cli import common
from jointsat.cli.common import DatabaseUrl
from jointsat.cli.output import emit
from jointsat.errors import JointsatError
from jointsat.files import read_text

exchange_app = typer.Typer(
    name="exchange",
    help="Exchange schedules with other agencies in the CCSDS Simple Schedule Format.",
    no_args_is_help=True,
)


@exchange_app.command("ssf-export")
def ssf_export(
    schedule_id: Annotated[int, typer.Argument(min=1, help="The stored schedule's id.")],
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", metavar="FILE", help="Write the SSF XML here, not stdout."),
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Write a stored schedule's contacts as a CCSDS Simple Schedule message (XML)."""
    from jointsat.operations.ssf import write_ssf
    from jointsat.store.exchange import ORIGINATOR, export_message
    from jointsat.store.schedules import load_schedule

    errors = Console(stderr=True)
    moment = common.now()
    with common.reporting_errors(errors), common.store_session(database_url) as session:
        record = load_schedule(session, schedule_id)
        if record is None:
            raise JointsatError(f"no schedule with id {schedule_id} in the store")
        message = export_message(
            record, record.contacts, originator=ORIGINATOR, generated_at=moment
        )
        emit(write_ssf(message), output)
        errors.print(
            f"{len(message.activities)} contact(s) of schedule {schedule_id}"
            + ("" if output is None else f" written to {output}"),
            highlight=False,
            soft_wrap=True,
        )


@exchange_app.command("ssf-import")
def ssf_import(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="The SSF message (XML).")],
    database_url: DatabaseUrl = None,
) -> None:
    """Book another agency's SSF message on the store's stations as a new schedule.

    Activities are matched to satellites by NORAD_CAT_ID (else by name) and to
    stations by siteRef; what the store does not hold is refused, all of it named.
    """
    from jointsat.operations.ssf import message_sha256, read_ssf
    from jointsat.store.exchange import import_candidates, import_message

    errors = Console(stderr=True)
    moment = common.now()
    with common.reporting_errors(errors):
        text = read_text(file)
        message = read_ssf(text, source=str(file))
        with common.store_session(database_url) as session:
            stations, satellites = import_candidates(session)
            record = import_message(
                session,
                message,
                stations=stations,
                satellites=satellites,
                now=moment,
                sha256=message_sha256(text),
            )
            session.flush()
            typer.echo(
                f"schedule {record.id} imported: {len(record.contacts)} contact(s) "
                f"from {message.originator} (version {message.version})"
            )
