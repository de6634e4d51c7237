"""``jointsat schedule`` and ``jointsat replan``: share the pooled network among partners."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from jointsat import __version__
from jointsat.cli import common
from jointsat.cli.common import DatabaseUrl, TimeLimit
from jointsat.errors import ProblemInputError
from jointsat.files import read_text
from jointsat.scheduling.problem import Problem
from jointsat.scheduling.result import Policy, contact_pass_ids
from jointsat.timelib import format_iso as format_time

if TYPE_CHECKING:
    from jointsat.scheduling.result import Schedule

WEEK_DAYS = 7  # what `jointsat schedule --week` plans

Output = Annotated[
    Path | None, typer.Option("-o", "--output", help="Write the schedule JSON here, not stdout.")
]


def schedule(
    problem: Annotated[
        Path | None, typer.Option("--problem", help="Problem JSON file (docs/scheduling.md).")
    ] = None,
    week: Annotated[
        bool,
        typer.Option("--week", help="Schedule the store's pooled network for a week and save it."),
    ] = False,
    start: Annotated[
        datetime | None,
        typer.Option(
            parser=common.parse_utc, metavar="TIME", help="With --week: its start (default: now)."
        ),
    ] = None,
    policy: Annotated[Policy, typer.Option(help="How to share the network.")] = Policy.FAIR,
    time_limit: TimeLimit = 30.0,
    output: Output = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Share the pooled stations' passes among partners by policy, proven optimal in time."""
    errors = Console(stderr=True)
    if (problem is None) == (not week):
        raise typer.BadParameter("give exactly one of them", param_hint="'--problem' / '--week'")
    with common.reporting_errors(errors):
        if problem is not None:
            found, document = _schedule_file(problem, policy, time_limit)
        else:
            moment = common.now()
            found, document = _schedule_week(
                database_url, start or moment, policy, time_limit, now=moment
            )
        common.emit(json.dumps(document, indent=2) + "\n", output)
        print_schedule_summary(errors, found)


def replan(
    schedule_file: Annotated[
        Path, typer.Option("--schedule", help="The schedule JSON being replaced.")
    ],
    problem: Annotated[Path, typer.Option("--problem", help="The problem it was made for.")],
    outage: Annotated[
        tuple[str, str, str],
        typer.Option(
            metavar="STATION START END", help="The station that fails, from START to END (UTC)."
        ),
    ],
    now: Annotated[
        datetime,
        typer.Option(
            parser=common.parse_utc, metavar="TIME", help="Contacts started before it are kept."
        ),
    ],
    policy: Annotated[
        Policy | None,
        typer.Option(help="How to share the network (default: the schedule's own policy)."),
    ] = None,
    time_limit: TimeLimit = 30.0,
    output: Output = None,
) -> None:
    """Re-plan after a station outage: keep what started, change the fewest contacts."""
    from jointsat.scheduling import solver

    errors = Console(stderr=True)
    station, outage_start, outage_end = outage
    begins, ends = common.parse_utc(outage_start), common.parse_utc(outage_end)
    with common.reporting_errors(errors):
        text = read_text(problem)
        old = _read_json(schedule_file)
        chosen = policy or Policy(old.get("policy", Policy.FAIR.value))
        found = solver.replan(
            Problem.from_json(text, source=str(problem)),
            contact_pass_ids(old, source=str(schedule_file)),
            now=now,
            outage=(station, begins, ends),
            policy=chosen,
            settings=solver.SolverSettings(time_limit_s=time_limit),
        )
        document = found.to_dict()
        document["provenance"] = {
            "problem_sha256": hashlib.sha256(text.encode()).hexdigest(),
            "replaces": str(schedule_file),
            "outage": {"station": station, "start": format_time(begins), "end": format_time(ends)},
            "now": format_time(now),
            "jointsat": __version__,
        }
        common.emit(json.dumps(document, indent=2) + "\n", output)
        print_schedule_summary(errors, found)


def _schedule_file(
    path: Path, policy: Policy, time_limit: float
) -> tuple[Schedule, dict[str, Any]]:
    from jointsat.scheduling import solver

    text = read_text(path)
    found = solver.solve(
        Problem.from_json(text, source=str(path)),
        policy,
        solver.SolverSettings(time_limit_s=time_limit),
    )
    document = found.to_dict()
    document["provenance"] = {
        "problem_sha256": hashlib.sha256(text.encode()).hexdigest(),
        "jointsat": __version__,
    }
    return found, document


def _schedule_week(
    database_url: str | None, start: datetime, policy: Policy, time_limit: float, *, now: datetime
) -> tuple[Schedule, dict[str, Any]]:
    """Schedule the store's pooled network for the week from ``start`` and save it."""
    from jointsat.scheduling import solver
    from jointsat.store.database import open_engine, session_factory
    from jointsat.store.schedules import StoreProblem

    engine = open_engine(common.store_settings(database_url).database_url)
    try:
        with common.store_errors(), session_factory(engine)() as session:
            built = StoreProblem(session, start, start + timedelta(days=WEEK_DAYS), now=now)
            found = solver.solve(
                built.problem, policy, solver.SolverSettings(time_limit_s=time_limit)
            )
            record = built.save(session, found, now=now)
            session.commit()
            document = {"id": record.id, **found.to_dict(), "provenance": record.provenance}
    finally:
        engine.dispose()
    return found, document


def _read_json(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(read_text(path))
    except json.JSONDecodeError as error:
        raise ProblemInputError(
            f"not valid JSON: {error.msg}", source=str(path), location=f"line {error.lineno}"
        ) from None
    if not isinstance(document, dict):
        raise ProblemInputError("must be a JSON object", source=str(path))
    return document


def print_schedule_summary(console: Console, found: Schedule) -> None:
    """Print each partner's received and entitled share, and how sure the solver is."""
    table = Table(title=f"{found.policy.value} schedule: {len(found.contacts)} contacts")
    for name in ("partner", "seconds", "normalised", "received", "entitled", "demand met"):
        table.add_column(name, justify="left" if name == "partner" else "right")
    for partner, got in found.partners.items():
        table.add_row(
            partner,
            f"{got.seconds:,.0f}",
            f"{got.normalized:,.0f}",
            f"{got.share_received:.1%}",
            f"{got.share_entitled:.1%}",
            "yes" if got.demand_met else "no",
        )
    console.print(table)
    console.print(
        f"status {found.status.value}, {found.total_seconds:,.0f} s in all, gap "
        f"{found.gap:.2%} ({found.solver}, {found.wall_s:.2f} s)",
        highlight=False,
    )
