"""``jointsat bench``: run jointsat's solvers on public benchmarks."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from jointsat.cli import common
from jointsat.errors import JointsatError
from jointsat.files import read_text, write_text

bench_app = typer.Typer(
    name="bench", help="Run jointsat's solvers on public benchmarks.", no_args_is_help=True
)


@bench_app.command("spot5")
def bench_spot5(
    folder: Annotated[
        Path, typer.Argument(help="Folder of SPOT5 .spot files (best_known.csv beside).")
    ],
    time_limit: Annotated[
        float, typer.Option("--time-limit", min=0.1, metavar="S", help="Seconds per instance.")
    ] = 60.0,
    solutions: Annotated[
        Path | None,
        typer.Option(help="Write each answer to SOLUTIONS/<file>.sol: 'photo_id value' lines."),
    ] = None,
) -> None:
    """Solve every SPOT5 instance and print value, proven bound, time, best known, check."""
    from jointsat import spot5

    console = Console()
    errors = Console(stderr=True)
    with common.reporting_errors(errors):
        files = sorted(folder.glob("*.spot"), key=lambda f: (len(f.stem), f.stem))
        if not files:
            raise JointsatError(f"{folder}: no .spot files")
        best: dict[str, str] = {}
        listing = folder / "best_known.csv"
        if listing.exists():
            with listing.open(newline="") as f:
                best = {r["file"]: r["best_known_value"] for r in csv.DictReader(f)}
        if solutions is not None:
            solutions.mkdir(parents=True, exist_ok=True)
        table = Table(title=f"SPOT5, {time_limit:g} s per instance")
        for name in (
            "instance",
            "photos",
            "value",
            "bound",
            "optimal",
            "time_s",
            "best known",
            "checker",
        ):
            table.add_column(name, justify="left" if name == "instance" else "right")
        for path in files:
            instance = spot5.read_spot5(read_text(path), source=path.name)
            found = spot5.solve(instance, time_limit_s=time_limit)
            problems = spot5.check(instance, found.answer)
            if solutions is not None:
                write_text(solutions / f"{path.name}.sol", spot5.format_answer(found.answer))
            table.add_row(
                path.name,
                str(len(instance.photos)),
                str(found.value),
                f"{found.bound:.0f}",
                "yes" if found.optimal else "no",
                f"{found.wall_s:.1f}",
                best.get(path.name, "-"),
                "accepts" if not problems else f"REJECTS: {problems[0]}",
            )
        console.print(table)
