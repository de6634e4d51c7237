"""``jointsat problem export``: write the store's scheduling problem as a problem file.

The file is the problem ``jointsat schedule --week`` solves for the same window
(partners' shares and priorities, satellites and their operators, stations with
their unavailability, the stored passes), in the format ``jointsat schedule
--problem`` and ``jointsat replan --problem`` read (docs/scheduling.md).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from jointsat.cli import common, remote
from jointsat.cli.common import DatabaseUrl, StaleAboveLeoDays, StaleLeoDays, Strict
from jointsat.cli.output import emit, json_text
from jointsat.cli.remote import ServerToken, ServerUrl
from jointsat.timelib import format_iso

problem_app = typer.Typer(
    name="problem",
    help="Export the store's scheduling problem for a window as a problem file.",
    no_args_is_help=True,
)

WEEK_DAYS = 7.0


@problem_app.command("export")
def problem_export(
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", metavar="FILE", help="Write the problem here, not stdout."),
    ] = None,
    start: Annotated[
        datetime | None, common.time_option("Its start (default: now), as `schedule --week`.")
    ] = None,
    days: Annotated[float, common.days_option("Its length in days.")] = WEEK_DAYS,
    url: ServerUrl = None,
    token: ServerToken = None,
    database_url: DatabaseUrl = None,
    strict: Strict = False,
    stale_leo_days: StaleLeoDays = None,
    stale_above_leo_days: StaleAboveLeoDays = None,
) -> None:
    """Write the problem `jointsat schedule --week` would solve, for `schedule` or `replan`.

    Passes the store has not predicted yet for the window are predicted (and kept),
    as `schedule --week` does. Stale elements are warned about (--strict: refused).
    Against a server (--url, an admin's token) the server builds it by its own rules.
    """
    errors = Console(stderr=True)
    moment = common.now()
    begins, ends = common.time_window(start or moment, days=days)
    api = remote.server(url, token)
    if api is not None and strict:
        raise typer.BadParameter("the server applies its own rule", param_hint="'--strict'")
    with common.reporting_errors(errors), common.store_errors():
        if api is not None:
            window = {"start": format_iso(begins), "end": format_iso(ends)}
            document = api.get("/schedules/problem", **window).body
        else:
            from jointsat.store.schedules import StoreProblem

            rule = common.stale_rule(stale_leo_days, stale_above_leo_days)
            with common.store_session(database_url) as session:
                found = StoreProblem(session, begins, ends, now=moment, stale_rule=rule)
                common.check_provenance_freshness(errors, found.freshness, strict=strict)
                document = found.problem.to_dict()
        emit(json_text(document), output)
        errors.print(
            f"problem of {len(document['partners'])} partner(s), "
            f"{len(document['satellites'])} satellite(s), {len(document['stations'])} "
            f"station(s), {len(document['passes'])} pass(es)"
            + ("" if output is None else f" written to {output}"),
            highlight=False,
            soft_wrap=True,
        )
