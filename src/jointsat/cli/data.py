"""``jointsat data``: the files bundled with the package, to list or to copy for one's own use.

The demo reads them from the package; ``jointsat data copy`` puts them where a user
can name them to ``jointsat passes`` and the other commands, with or without a clone
of the repository.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from jointsat.cli import common
from jointsat.errors import JointsatError
from jointsat.files import BUNDLED_FILES, bundled_file

data_app = typer.Typer(
    name="data",
    help="List the data files bundled with jointsat (element sets, stations), or copy them.",
    no_args_is_help=True,
)


@data_app.command("list")
def data_list() -> None:
    """Print each bundled file: its name, what it holds and its path in the package."""
    console = Console()
    for name, what in BUNDLED_FILES.items():
        console.print(f"[bold]{escape(name)}[/]: {escape(what)}", highlight=False)
        console.print(f"  {escape(str(bundled_file(name)))}", soft_wrap=True, highlight=False)


@data_app.command("copy")
def data_copy(
    folder: Annotated[
        Path,
        typer.Argument(metavar="DIR", help="Where to copy them (made if missing; default: here)."),
    ] = Path("."),
    force: Annotated[
        bool, typer.Option("--force", help="Replace files of the same name that differ.")
    ] = False,
) -> None:
    """Copy the bundled files into DIR and print each copy's path.

    A file of the same name already in DIR that differs stops the command before
    anything is copied (status 1), unless ``--force``.
    """
    console = Console()
    errors = Console(stderr=True)
    with common.reporting_errors(errors):
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise JointsatError(f"{folder}: cannot make the folder ({exc.strerror})") from None
        files = {name: bundled_file(name).read_bytes() for name in BUNDLED_FILES}
        for name, data in files.items():  # nothing is written if one would be lost
            target = folder / name
            if target.is_file() and not force and target.read_bytes() != data:
                raise JointsatError(
                    f"{target}: a different file is there already (--force replaces it)"
                )
        for name, data in files.items():
            target = folder / name
            try:
                target.write_bytes(data)
            except OSError as exc:
                raise JointsatError(f"{target}: cannot write ({exc.strerror})") from None
            console.print(escape(str(target)), soft_wrap=True, highlight=False)
