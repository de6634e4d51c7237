"""``jointsat elements``: fetch element sets from their sources, list and export them."""

from __future__ import annotations

import typer

from jointsat.cli.elements_export import export

elements_app = typer.Typer(
    name="elements",
    help="Fetch element sets from their sources (CelesTrak, Space-Track), list, export them.",
    no_args_is_help=True,
)

elements_app.command("export")(export)
