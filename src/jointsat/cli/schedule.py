"""``jointsat schedule`` and ``jointsat replan``: share the pooled network among partners."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor
from contextlib import nullcontext
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from jointsat.cli import common
from jointsat.cli.common import DatabaseUrl, StaleAboveLeoDays, StaleLeoDays, Strict, TimeLimit
from jointsat.cli.output import Column, Format, ResultFormatOption, emit_result, fitted_table
from jointsat.cli.progress import Steps
from jointsat.errors import ProblemInputError
from jointsat.executors import dask_client
from jointsat.files import read_text
from jointsat.jsonfile import Reader
from jointsat.provenance import file_replan, problem_file, schedule_provenance
from jointsat.scheduling.problem import Problem, ShareMeasure
from jointsat.scheduling.result import Policy, contact_pass_ids

if TYPE_CHECKING:
    from jointsat.orbits.freshness import StaleRule
    from jointsat.scheduling.result import Schedule
    from jointsat.scheduling.solver import SolverSettings

WEEK_DAYS = 7  # what `jointsat schedule --week` plans

Output = Annotated[
    Path | None,
    typer.Option("-o", "--output", help="Write the schedule JSON (or --format) here, not stdout."),
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
    measure: Annotated[
        ShareMeasure | None,
        typer.Option(
            help="What shares are of: contact seconds, or the data each contact's downlink "
            "brings down (its link budget: satellites' links, stations' G/T). Default: "
            "seconds, or the problem file's options.measure.",
        ),
    ] = None,
    time_limit: TimeLimit = 30.0,
    output: Output = None,
    output_format: ResultFormatOption = None,
    database_url: DatabaseUrl = None,
    strict: Strict = False,
    stale_leo_days: StaleLeoDays = None,
    stale_above_leo_days: StaleAboveLeoDays = None,
    cluster: Annotated[
        str | None,
        typer.Option(
            metavar="local|tcp://HOST:PORT",
            help="Solve the network's independent parts on a Dask cluster: a local one "
            "(--workers processes) or a running scheduler's.",
        ),
    ] = None,
    workers: Annotated[
        int,
        typer.Option(min=1, metavar="N", help="With --cluster local: its worker processes."),
    ] = 2,
) -> None:
    """Share the pooled stations' passes among partners by policy, proven optimal in time.

    With --week, stale elements are warned about once per satellite (--strict: an
    error, and nothing is saved). On a terminal without -o it prints the summary (each
    partner's share, the solver's status); --format json or -o FILE give the document.
    """
    errors = Console(stderr=True)
    if (problem is None) == (not week):
        raise typer.BadParameter("give exactly one of them", param_hint="'--problem' / '--week'")
    steps = Steps(errors)
    settings = _settings(time_limit, steps)
    clients = nullcontext(None) if cluster is None else dask_client(cluster, workers)
    with common.reporting_errors(errors), clients as client:
        executor = None if client is None else client.get_executor()  # type: ignore[no-untyped-call]
        if problem is not None:
            found, document = _schedule_file(problem, policy, settings, steps, executor, measure)
        else:
            moment = common.now()
            found, document = _schedule_week(
                database_url,
                start or moment,
                policy,
                settings,
                now=moment,
                stale_rule=common.stale_rule(stale_leo_days, stale_above_leo_days),
                fresh=lambda p: common.check_provenance_freshness(errors, p, strict=strict),
                steps=steps,
                executor=executor,
                measure=measure or ShareMeasure.SECONDS,
            )
        emit_schedule(found, document, output_format, output)


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
    output_format: ResultFormatOption = None,
) -> None:
    """Re-plan after a station outage: keep what started, change the fewest contacts.

    On a terminal without -o it prints the summary; --format json or -o FILE give the
    new schedule's document.
    """
    from jointsat.scheduling import solver

    errors = Console(stderr=True)
    station, outage_start, outage_end = outage
    begins, ends = common.parse_utc(outage_start), common.parse_utc(outage_end)
    steps = Steps(errors)
    with common.reporting_errors(errors):
        with steps("reading the schedule and its problem"):
            text = read_text(problem)
            old = _read_json(schedule_file)
            read = Problem.from_json(text, source=str(problem))
        chosen = policy or Policy(old.get("policy", Policy.FAIR.value))
        with steps(f"re-planning around the outage of {station}"):
            found = solver.replan(
                read,
                contact_pass_ids(old, source=str(schedule_file)),
                now=now,
                outage=(station, begins, ends),
                policy=chosen,
                settings=_settings(time_limit, steps),
            )
        document = found.to_dict()
        document["provenance"] = schedule_provenance(
            problem_file(text), file_replan(str(schedule_file), (station, begins, ends), now)
        )
        emit_schedule(found, document, output_format, output)


def _settings(time_limit: float, steps: Steps) -> SolverSettings:
    from jointsat.scheduling.solver import SolverSettings

    return SolverSettings(time_limit_s=time_limit, on_level=steps.level)


def _schedule_file(
    path: Path,
    policy: Policy,
    settings: SolverSettings,
    steps: Steps,
    executor: Executor | None,
    measure: ShareMeasure | None = None,
) -> tuple[Schedule, dict[str, Any]]:
    from jointsat.scheduling import solver

    with steps(f"reading {path}"):
        text = read_text(path)
        problem = Problem.from_json(text, source=str(path))
        if measure is not None and measure is not problem.options.measure:
            try:
                options = replace(problem.options, measure=measure)
                problem = replace(problem, options=options)
            except ProblemInputError as exc:
                raise ProblemInputError(
                    exc.reason, source=str(path), location=exc.location
                ) from None
    with steps(f"sharing the network ({len(problem.passes):,} passes)"):
        found = solver.solve(problem, policy, settings, executor=executor)
    return found, {**found.to_dict(), "provenance": schedule_provenance(problem_file(text))}


def _schedule_week(
    database_url: str | None,
    start: datetime,
    policy: Policy,
    settings: SolverSettings,
    *,
    now: datetime,
    stale_rule: StaleRule,
    fresh: Callable[[dict[str, Any]], None],
    steps: Steps,
    executor: Executor | None,
    measure: ShareMeasure = ShareMeasure.SECONDS,
) -> tuple[Schedule, dict[str, Any]]:
    """Schedule the store's pooled network for the week from ``start`` and save it.

    ``fresh`` is shown the provenance before the schedule is saved: it may refuse it.
    """
    from jointsat.store.schedules import schedule_network

    with common.store_session(database_url) as session:
        record, found = schedule_network(
            session,
            start,
            start + timedelta(days=WEEK_DAYS),
            now=now,
            policy=policy,
            settings=settings,
            stale_rule=stale_rule,
            stage=steps,
            executor=executor,
            measure=measure,
        )
        fresh(record.provenance)
    return found, {"id": record.id, **found.to_dict(), "provenance": record.provenance}


def _read_json(path: Path) -> dict[str, Any]:
    read = Reader(str(path), ProblemInputError)
    document = read.json(read_text(path))
    if not isinstance(document, dict):
        raise read.error("must be a JSON object", "")
    return document


SUMMARY_COLUMNS = (
    Column("partner", "partner"),
    Column("seconds", "seconds", "number", lambda r: f"{r['seconds']:,.0f}"),
    Column("normalized", "normalized", "number", lambda r: f"{r['normalized']:,.0f}"),
    Column("share_received", "received", "number", lambda r: f"{r['share_received']:.1%}"),
    Column("share_entitled", "entitled", "number", lambda r: f"{r['share_entitled']:.1%}"),
    Column("demand_s"),
    Column("demand_met", "demand met"),
)
"""Each partner's row of a schedule's summary; CSV and JSON use the schedule's names."""
VOLUME_COLUMNS = (
    *SUMMARY_COLUMNS[:1],
    Column("volume_bytes", "bytes", "number", lambda r: f"{r['volume_bytes']:,.0f}"),
    *SUMMARY_COLUMNS[1:],
)
"""The summary's columns when shares are of data volume (normalized and shares: of bytes)."""


def summary_columns(found: Schedule) -> tuple[Column, ...]:
    """Return the columns of a schedule's summary: with its partners' bytes where it has them."""
    return SUMMARY_COLUMNS if found.measure is ShareMeasure.SECONDS else VOLUME_COLUMNS


def partner_rows(found: Schedule) -> list[dict[str, Any]]:
    """Return each partner's row of the summary, with the schedule document's field names."""
    partners = found.to_dict()["partners"]
    return [
        {"partner": code, **partners[code], "demand_met": got.demand_met}
        for code, got in found.partners.items()
    ]


def print_schedule_summary(console: Console, found: Schedule) -> None:
    """Print each partner's received and entitled share, and how sure the solver is."""
    title = f"{found.policy.value} schedule: {len(found.contacts)} contacts"
    console.print(fitted_table(partner_rows(found), summary_columns(found), title, console.width))
    console.print(
        f"status {found.status.value}, {found.total_seconds:,.0f} s in all, gap "
        f"{found.gap:.2%} ({found.solver}, {found.wall_s:.2f} s)",
        highlight=False,
    )


def emit_schedule(
    found: Schedule, document: dict[str, Any], output_format: Format | None, output: Path | None
) -> None:
    """Write the schedule as asked: its JSON document, its summary's CSV, or its summary.

    Beside a JSON or CSV result, the summary goes to stderr; the table (on a terminal)
    ends saying where the document is and how to get it.
    """
    emit_result(
        document,
        output_format,
        output,
        summary=lambda console: print_schedule_summary(console, found),
        rows=partner_rows(found),
        columns=summary_columns(found),
        what="schedule",
        held=f"its {len(found.contacts):,} contacts",
    )
