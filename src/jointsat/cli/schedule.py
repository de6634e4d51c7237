"""``jointsat schedule`` and ``jointsat replan``: share the pooled network among partners."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from jointsat.cli import common
from jointsat.cli.common import DatabaseUrl, StaleAboveLeoDays, StaleLeoDays, Strict, TimeLimit
from jointsat.errors import ProblemInputError
from jointsat.files import read_text
from jointsat.jsonfile import Reader
from jointsat.provenance import file_replan, problem_file, schedule_provenance
from jointsat.scheduling.problem import Problem
from jointsat.scheduling.result import Policy, contact_pass_ids

if TYPE_CHECKING:
    from jointsat.orbits.freshness import StaleRule
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
        datetime | None, common.time_option("With --week: its start (default: now).")
    ] = None,
    policy: Annotated[Policy, typer.Option(help="How to share the network.")] = Policy.FAIR,
    time_limit: TimeLimit = 30.0,
    output: Output = None,
    database_url: DatabaseUrl = None,
    strict: Strict = False,
    stale_leo_days: StaleLeoDays = None,
    stale_above_leo_days: StaleAboveLeoDays = None,
) -> None:
    """Share the pooled stations' passes among partners by policy, proven optimal in time.

    With --week, stale elements are warned about once per satellite (--strict: an
    error, and nothing is saved).
    """
    errors = Console(stderr=True)
    if (problem is None) == (not week):
        raise typer.BadParameter("give exactly one of them", param_hint="'--problem' / '--week'")
    with common.reporting_errors(errors):
        if problem is not None:
            found, document = _schedule_file(problem, policy, time_limit)
        else:
            moment = common.now()
            found, document = _schedule_week(
                database_url,
                start or moment,
                policy,
                time_limit,
                now=moment,
                stale_rule=common.stale_rule(stale_leo_days, stale_above_leo_days),
                fresh=lambda p: common.check_provenance_freshness(errors, p, strict=strict),
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
    now: Annotated[datetime, common.time_option("Contacts started before it are kept.")],
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
        document["provenance"] = schedule_provenance(
            problem_file(text), file_replan(str(schedule_file), (station, begins, ends), now)
        )
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
    return found, {**found.to_dict(), "provenance": schedule_provenance(problem_file(text))}


def _schedule_week(
    database_url: str | None,
    start: datetime,
    policy: Policy,
    time_limit: float,
    *,
    now: datetime,
    stale_rule: StaleRule,
    fresh: Callable[[dict[str, Any]], None],
) -> tuple[Schedule, dict[str, Any]]:
    """Schedule the store's pooled network for the week from ``start`` and save it.

    ``fresh`` is shown the provenance before the schedule is saved: it may refuse it.
    """
    from jointsat.scheduling.solver import SolverSettings
    from jointsat.store.schedules import schedule_network

    with common.store_session(database_url) as session:
        record, found = schedule_network(
            session,
            start,
            start + timedelta(days=WEEK_DAYS),
            now=now,
            policy=policy,
            settings=SolverSettings(time_limit_s=time_limit),
            stale_rule=stale_rule,
        )
        fresh(record.provenance)
    return found, {"id": record.id, **found.to_dict(), "provenance": record.provenance}


def _read_json(path: Path) -> dict[str, Any]:
    read = Reader(str(path), ProblemInputError)
    document = read.json(read_text(path))
    if not isinstance(document, dict):
        raise read.error("must be a JSON object", "")
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
