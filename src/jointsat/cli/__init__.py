"""Run jointsat from the command line: passes, pointing, doppler, demo, schedule, plan, store,
archive, service.

Results go to stdout (or ``-o FILE``); warnings, errors and the progress bar go
to stderr. Exit status: 0 on success, 1 when an input file cannot be used,
2 when the command line itself is wrong.
"""

from __future__ import annotations

from typing import Annotated

import typer

from jointsat import __version__
from jointsat.cli import (
    admin,
    analyse,
    archive,
    bench,
    contacts,
    data,
    demo,
    design,
    doppler,
    elements,
    events,
    exchange,
    partners,
    passes,
    plan,
    pointing,
    problem,
    requests,
    satellites,
    schedule,
    stations,
    users,
)
from jointsat.cli import linkbudget as linkbudget_cli

app = typer.Typer(name="jointsat", no_args_is_help=True, add_completion=False)


def _version(value: bool) -> None:
    """Print the version and stop, when ``--version`` is given."""
    if value:
        typer.echo(f"jointsat {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Predict satellite passes over ground stations for joint satellite missions."""


# In the order `jointsat --help` lists them.
app.command()(passes.passes)
app.command()(pointing.pointing)
app.command()(doppler.doppler)
app.command()(linkbudget_cli.linkbudget)
app.command()(demo.demo)
app.add_typer(admin.db_app)
app.add_typer(admin.admin_app)
app.command()(admin.serve)
app.command()(schedule.schedule)
app.command()(schedule.replan)
app.add_typer(exchange.exchange_app)
app.add_typer(contacts.contacts_app)
app.command()(plan.plan)
app.add_typer(requests.requests_app)
app.add_typer(archive.archive_app)
app.add_typer(elements.elements_app)
app.add_typer(partners.partner_app)
app.add_typer(partners.agreement_app)
app.add_typer(stations.station_app)
app.add_typer(satellites.satellite_app)
app.add_typer(users.user_app)
app.add_typer(users.token_app)
app.add_typer(problem.problem_app)
app.add_typer(bench.bench_app)
app.add_typer(data.data_app)
app.add_typer(design.design_app)
app.add_typer(analyse.analyse_app)
app.add_typer(events.events_app)

__all__ = ["app"]
