"""``jointsat plan``: choose and time partners' observations on the pooled satellites."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from jointsat.cli import common
from jointsat.cli.common import DatabaseUrl, StaleAboveLeoDays, StaleLeoDays, Strict, TimeLimit
from jointsat.cli.output import Column, Format, ResultFormatOption, emit_result, fitted_table
from jointsat.cli.progress import Steps
from jointsat.errors import PlanningInputError
from jointsat.files import read_elements, read_text
from jointsat.jsonfile import Reader
from jointsat.planning.plan import Objective, PartnerGain, Plan
from jointsat.provenance import element_files as provenance_elements
from jointsat.provenance import elements_freshness, plan_provenance, problem_file
from jointsat.provenance import schedule_file as provenance_schedule
from jointsat.timelib import format_readable

if TYPE_CHECKING:
    from jointsat.orbits.freshness import StaleRule
    from jointsat.planning.planner import PlannerSettings


def plan(
    problem: Annotated[
        Path | None, common.files_option("Planning problem JSON (docs/planning.md).", "--problem")
    ] = None,
    elements: Annotated[
        list[Path] | None,
        common.files_option(
            "With --problem: the satellites' element sets (TLE or OMM); repeat for several.",
            "--elements",
            "-e",
        ),
    ] = None,
    schedule_file: Annotated[
        Path | None,
        common.files_option(
            "With --problem: a network schedule (jointsat schedule) whose contacts "
            "empty the satellites' memories.",
            "--schedule",
        ),
    ] = None,
    from_store: Annotated[
        bool,
        typer.Option("--from-store", help="Plan the store's satellites and requests and save it."),
    ] = False,
    start: Annotated[
        datetime | None, common.time_option("With --from-store: window start.")
    ] = None,
    days: Annotated[
        float | None, common.days_option("With --from-store: window length in days.")
    ] = None,
    end: Annotated[datetime | None, common.time_option("With --from-store: window end.")] = None,
    schedule_id: Annotated[
        int | None,
        typer.Option(
            "--schedule-id",
            min=1,
            metavar="ID",
            help="With --from-store: the stored schedule giving downlinks (default: the "
            "newest overlapping the window).",
        ),
    ] = None,
    objective: Annotated[Objective, typer.Option(help="What to optimise.")] = Objective.FAIR,
    time_limit: TimeLimit = 30.0,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write the plan JSON (or --format) here.")
    ] = None,
    output_format: ResultFormatOption = None,
    database_url: DatabaseUrl = None,
    strict: Strict = False,
    stale_leo_days: StaleLeoDays = None,
    stale_above_leo_days: StaleAboveLeoDays = None,
) -> None:
    """Choose and time partners' observations on the pooled satellites, fairly, with proof.

    Stale elements are warned about once per satellite (--strict: an error, and
    nothing is saved). On a terminal without -o it prints the summary (each partner's
    gain and share, the solver's status); --format json or -o FILE give the document.
    """
    from jointsat.planning.planner import PlannerSettings

    errors = Console(stderr=True)
    if (problem is None) == (not from_store):
        raise typer.BadParameter(
            "give exactly one of them", param_hint="'--problem' / '--from-store'"
        )
    steps = Steps(errors)
    settings = PlannerSettings(time_limit_s=time_limit, on_level=steps.level)
    if problem is not None:
        if not elements:
            raise typer.BadParameter("the satellites' orbits are needed", param_hint="'--elements'")
        if any(v is not None for v in (start, days, end, schedule_id)):
            raise typer.BadParameter(
                "--start, --days, --end and --schedule-id go with --from-store"
            )
        with common.reporting_errors(errors):
            freshness = StaleCheck(
                common.stale_rule(stale_leo_days, stale_above_leo_days), errors, strict, steps
            )
            found, document = _plan_file(
                problem, elements, schedule_file, objective, settings, freshness
            )
            emit_plan(found, document, output_format, output)
        return
    if elements or schedule_file:
        raise typer.BadParameter("--elements and --schedule go with --problem")
    if start is None:
        raise typer.BadParameter("--from-store needs the window's start", param_hint="'--start'")
    window_start, window_end = common.time_window(start, days=days, end=end)
    with common.reporting_errors(errors):
        found, document = _plan_store(
            database_url,
            window_start,
            window_end,
            objective,
            settings,
            schedule_id,
            now=common.now(),
            freshness=StaleCheck(
                common.stale_rule(stale_leo_days, stale_above_leo_days), errors, strict, steps
            ),
        )
        if output_format is None and output is None:  # the document stays in the store
            output_format = Format.TABLE
        emit_plan(found, document, output_format, output)


@dataclass(frozen=True)
class StaleCheck:
    """When a plan's elements are stale, where to warn, and whether to refuse them."""

    rule: StaleRule
    errors: Console
    strict: bool
    steps: Steps


def _plan_file(
    path: Path,
    element_paths: Sequence[Path],
    schedule_path: Path | None,
    objective: Objective,
    settings: PlannerSettings,
    freshness: StaleCheck,
) -> tuple[Plan, dict[str, Any]]:
    """Plan a problem file over the element files' orbits, with a schedule's contacts."""
    # The planning pipeline (orbits, opportunities, candidates) is imported only here.
    from jointsat.orbits.freshness import window_freshness
    from jointsat.orbits.propagation import group_satellites
    from jointsat.planning.pipeline import plan_problem, with_downlinks
    from jointsat.planning.problem import PlanningProblem, downlinks_from_schedule

    errors, steps = freshness.errors, freshness.steps
    with steps(f"reading {path} and the element sets"):
        text = read_text(path)
        found_problem = PlanningProblem.from_json(text, source=str(path))
        element_files = read_elements(element_paths)
    for problem in element_files.problems:
        common.warn(errors, str(problem))
    sources = [
        problem_file(text),
        provenance_elements({str(p): read_text(p) for p in element_paths}),
    ]
    if schedule_path is not None:
        schedule_text = read_text(schedule_path)
        read = Reader(str(schedule_path), PlanningInputError)
        contacts = downlinks_from_schedule(read.json(schedule_text), source=str(schedule_path))
        try:
            found_problem, added = with_downlinks(found_problem, contacts)
        except PlanningInputError as error:
            raise PlanningInputError(
                f"{error.reason} (with the contacts of {schedule_path})",
                source=str(path),
                location=error.location,
            ) from None
        if contacts and not added:
            common.warn(
                errors,
                f"{schedule_path}: none of its {len(contacts)} contacts is of a satellite of "
                "the problem within its horizon",
            )
        sources.append(provenance_schedule(str(schedule_path), schedule_text, len(added)))
    orbits = group_satellites(element_files.elements)
    horizon = found_problem.horizon
    ages = [window_freshness(o, horizon.start, horizon.end, freshness.rule) for o in orbits]
    common.check_freshness(errors, ages, strict=freshness.strict)
    sources.append(elements_freshness(ages, freshness.rule))
    try:
        with steps(f"planning {len(found_problem.requests):,} requests"):
            planned = plan_problem(found_problem, orbits, objective, settings)
    except PlanningInputError as error:  # a satellite of the problem without an orbit
        if error.source != "<string>":
            raise
        raise PlanningInputError(
            f"{error.reason}, in {', '.join(map(str, element_paths))}",
            source=str(path),
            location=error.location,
        ) from None
    for failure in planned.opportunities.problems:
        common.warn(
            errors,
            f"satellite {found_problem.satellites[failure.satellite].id}: SGP4 error "
            f"{failure.code} ({failure.message}) from {format_readable(failure.time)} UTC on; "
            "no observation after it",
        )
    return planned.plan, {**planned.plan.to_dict(), "provenance": plan_provenance(*sources)}


def _plan_store(
    database_url: str | None,
    start: datetime,
    end: datetime,
    objective: Objective,
    settings: PlannerSettings,
    schedule_id: int | None,
    *,
    now: datetime,
    freshness: StaleCheck,
) -> tuple[Plan, dict[str, Any]]:
    """Plan the store's satellites and requests for the window and save the plan.

    Stale elements are warned about; with ``strict``, refused before anything is saved.
    """
    from jointsat.store.planning import plan_observations

    with common.store_session(database_url) as session:
        record, found, _ = plan_observations(
            session,
            start,
            end,
            now=now,
            objective=objective,
            settings=settings,
            schedule_id=schedule_id,
            stale_rule=freshness.rule,
            stage=freshness.steps,
        )
        common.check_provenance_freshness(
            freshness.errors, record.provenance, strict=freshness.strict
        )
    return found, {"id": record.id, **found.to_dict(), "provenance": record.provenance}


PlanCell = Callable[[str, PartnerGain], str]
"""A cell of a partner's row in a plan table, from the partner and its gain."""
GAIN_COLUMNS: dict[str, PlanCell] = {
    "gain": lambda _, got: f"{got.gain:,}",
    "received": lambda _, got: f"{got.share_received:.1%}",
    "entitled": lambda _, got: f"{got.share_entitled:.1%}",
}
SUMMARY_COLUMNS: dict[str, PlanCell] = {
    "gain": GAIN_COLUMNS["gain"],
    "normalized": lambda _, got: f"{got.normalized:,.1f}",
    "received": GAIN_COLUMNS["received"],
    "entitled": GAIN_COLUMNS["entitled"],
    "reachable": lambda _, got: f"{got.reachable_gain:,}",
    "requested": lambda _, got: f"{got.requested_gain:,}",
}
"""A plan's summary: each partner's gain, against its share and what it requested."""
CSV_FIELDS = (
    "partner",
    "gain",
    "normalized",
    "share_received",
    "share_entitled",
    "reachable_gain",
    "requested_gain",
)
"""The CSV of a plan's summary: the plan document's names of its partners' fields."""


def plan_table(
    found: Plan, title: str, columns: Mapping[str, PlanCell], *, width: int | None = None
) -> Table:
    """Return a table of each partner of the plan: its name, then the columns' cells.

    It fits ``width`` (default: the terminal's), the numbers never cut.
    """

    def cell(of: PlanCell) -> Callable[[tuple[str, PartnerGain]], str]:
        return lambda row: of(*row)

    fields = [
        Column("partner", "partner", shown=lambda row: row[0]),
        *(Column(name, name, "number", cell(of)) for name, of in columns.items()),
    ]
    rows = list(found.partners.items())
    return fitted_table(rows, fields, title, width or Console().width)


def print_plan_summary(console: Console, found: Plan) -> None:
    """Print each partner's gain against its share, and how sure the planner is."""
    title = f"{found.objective.value} plan: {len(found.observations)} observations"
    console.print(plan_table(found, title, SUMMARY_COLUMNS, width=console.width))
    console.print(
        f"status {found.status.value}, gain {found.total_gain:,} of a proven bound "
        f"{found.bound:,.0f} at '{found.levels[-1].name if found.levels else 'total gain'}', "
        f"gap {found.gap:.2%}, {len(found.unserved)} request(s) unserved "
        f"({found.solver}, {found.wall_s:.2f} s)",
        highlight=False,
    )


def emit_plan(
    found: Plan, document: dict[str, Any], output_format: Format | None, output: Path | None
) -> None:
    """Write the plan as asked: its JSON document, its summary's CSV, or its summary.

    Beside a JSON or CSV result, the summary goes to stderr; a plan saved in the store
    says its id on stdout, and a table on the terminal how to get the document.
    """
    partners = document["partners"]
    emit_result(
        document,
        output_format,
        output,
        summary=lambda console: print_plan_summary(console, found),
        rows=[{"partner": code, **partners[code]} for code in found.partners],
        columns=[Column(f) for f in CSV_FIELDS],
        what="plan",
        held=f"its {len(found.observations):,} observations",
    )
    if "id" in document and output is not None:  # rerunning would make another plan
        typer.echo(f"plan {document['id']} saved in the store")
