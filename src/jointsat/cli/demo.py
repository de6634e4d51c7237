"""``jointsat demo``: run the demo workflow (:mod:`jointsat.demo`) and print each step."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from jointsat.cli import common, progress
from jointsat.cli.passes import passes_table, predict
from jointsat.cli.plan import GAIN_COLUMNS, plan_table
from jointsat.cli.schedule import print_schedule_summary
from jointsat.constants import DAY_S
from jointsat.files import read_demo_elements, read_demo_stations
from jointsat.orbits.elements import Elements
from jointsat.orbits.freshness import Freshness
from jointsat.orbits.passes import Passes
from jointsat.planning.plan import Plan, Unserved
from jointsat.timelib import format_readable

if TYPE_CHECKING:
    from jointsat.demo import DemoConsortium, RuleExample, Studied, Week
    from jointsat.demo_analysis import Analysed
    from jointsat.demo_operations import Operated

DEMO_FEATURED_NORAD_IDS = (25544, 48274, 44874)  # ISS (ZARYA), CSS (TIANHE), CHEOPS
DEMO_NEXT_PASSES = 10


def demo(
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            metavar="URL",
            help="An empty store to fill (default: the demo's SQLite file in the user's data "
            "folder, made anew with its archive at each run; `jointsat serve --demo` serves it).",
        ),
    ] = None,
) -> None:
    """Build a demo consortium store, predict a week of its passes and plan that week.

    The week starts the day after the newest element set of the bundled
    "stations" group (ISS, CSS, ...), so that the demo is reproducible and
    those elements are fresh. The pooled network is shared fairly (schedule 1),
    then the partners' requests are planned fairly on the satellites' payloads,
    downlinked in that schedule's contacts (plan 1), deterministically: every
    run makes the same schedule and plan. Each observation is archived as a
    stand-in product under agreements whose delays are set from today: some
    products are still under embargo, some open to the members, some public.
    """
    from jointsat import demo as workflow
    from jointsat import demo_analysis as analysed_step
    from jointsat import demo_operations as operated_step

    console = Console()
    errors = Console(stderr=True)
    moment = common.now()
    # The prediction's own progress bar would be a second live display inside the
    # step's spinner: its warnings go to stderr without it.
    plain_errors = Console(stderr=True, force_terminal=False)
    with common.reporting_errors(errors):
        element_files = read_demo_elements()
        station_list = read_demo_stations()
        with common.store_errors():
            settings = common.store_settings(database_url or workflow.fresh_store_url())
            url = settings.database_url
            steps = workflow.run(
                settings,
                element_files,
                station_list,
                now=moment,
                predict=lambda start, end: predict(
                    element_files, station_list, start, end, 0.0, plain_errors, warn_stale=False
                ),
                progress=lambda description: progress.step(errors, description),
            )
            for step in steps:
                match step:
                    case workflow.Week():
                        _print_week(console, step, moment)
                    case workflow.Predicted(passes=found):
                        _warn_stale(errors, found.freshness, element_files.elements, moment)
                        _print_demo_summary(console, found, element_files.elements)
                    case workflow.Built(consortium=consortium):
                        _print_consortium(console, found, consortium)
                    case workflow.Shared(schedule=shared, document=document):
                        console.print(
                            f"\n[bold]The week's pooled network, shared fairly[/] (schedule "
                            f"{document['id']} in the store; `jointsat schedule --week` plans "
                            "another):"
                        )
                        print_schedule_summary(console, shared)
                    case workflow.Planned(plan=planned, document=plan_document):
                        console.print(
                            f"\n[bold]The week's observations, planned fairly[/] (plan "
                            f"{plan_document['id']} in the store, downlinked in schedule "
                            f"{document['id']}'s contacts; `jointsat plan --from-store` plans "
                            "another):"
                        )
                        _print_demo_plan(console, planned, plan_document["provenance"])
                    case workflow.Archived(products=archived, root=root, rules=rules):
                        console.print(
                            f"\n[bold]The week's observations, archived[/]: {archived} stand-in "
                            "products (a JSON note each; the demo has no instrument data) in "
                            f"{escape(str(root))}, owned by the requesting partner, open to the "
                            "other partners after the embargo and to the public after the "
                            "public release (`jointsat archive list`, `/api/v1/products`, "
                            "`/stac`). The agreements' delays are set from today, so that each "
                            "rule is at work:"
                        )
                        _print_rules(console, rules, moment)
                    case workflow.Studied():
                        _print_study(console, step)
                    case analysed_step.Analysed():
                        _print_analyses(console, step)
                    case operated_step.Operated():
                        _print_operated(console, step)
        serve = (
            ".venv/bin/jointsat serve --demo"
            if database_url is None
            else f"JOINTSAT_DATABASE_URL='{escape(url)}' .venv/bin/jointsat serve"
        )
        console.print(
            "\n[bold]The demo consortium is in the store[/] "
            f"{escape(common.redacted(url))}.\nServe it with:\n\n"
            f"  {serve}\n\n"
            "then open http://127.0.0.1:8000/ (the dashboard: map, timeline, passes, "
            "fairness, archive, requests, plans, design, operations, management; "
            "`?at=2024-05-10T12:00:00Z` "
            "shows the demo's week) and sign in with the admin token (shown only now), "
            "or call the API with it, for example for its partners or the plan:\n\n"
            f"  curl -H 'Authorization: Bearer {consortium.admin_token}' "
            "http://127.0.0.1:8000/api/v1/partners\n"
            f"  curl -H 'Authorization: Bearer {consortium.admin_token}' "
            f"http://127.0.0.1:8000/api/v1/plans/{plan_document['id']}\n",
            soft_wrap=True,
        )


def _print_week(console: Console, week: Week, now: datetime) -> None:
    """Print the week chosen, and how old the bundled elements are today."""
    days = round((week.end - week.start).total_seconds() / DAY_S)
    age_days = (now - week.anchor.epoch).total_seconds() / DAY_S
    console.print(
        f"[bold]jointsat demo[/]: {days} days from {format_readable(week.start)} to "
        f"{format_readable(week.end)} UTC, starting the day after the newest element set of "
        f"{week.source} ({escape(week.anchor.object_name)}, "
        f"epoch {format_readable(week.anchor.epoch)} UTC)."
    )
    console.print(
        f"The bundled elements are {age_days:,.0f} days old today: stale for any time near "
        "now (the dashboard's map 'now' marks them so), which is why the demo predicts "
        "their own week. Even there elements age past their threshold: stderr says which, "
        'once, with their oldest age (docs/elements.md, "Freshness").',
        highlight=False,
    )


def _warn_stale(
    errors: Console, found: Sequence[Freshness], elements: Sequence[Elements], now: datetime
) -> None:
    """Warn once about the week's stale elements: how many, the oldest, the bundled epochs'
    age today; then each stale satellite's oldest age on one line, oldest first."""
    stale = sorted((f for f in found if f.stale), key=lambda f: -f.elements_age_days)
    if not stale:
        return
    epochs = sorted(e.epoch for e in elements)
    thresholds = ", ".join(f"{t:g}" for t in sorted({f.stale_after_days for f in stale}))
    oldest = stale[0]
    common.warn(
        errors,
        f"{len(stale)} of {len(found)} satellites' elements are stale in the demo's week "
        f"(older than {thresholds} days at some moment); the oldest, {oldest.name} "
        f"({oldest.norad_id}), {oldest.elements_age_days:.1f} days. The bundled element "
        f"sets' epochs run from {epochs[0].date().isoformat()} to "
        f"{epochs[-1].date().isoformat()}: {_days(now - epochs[-1])} to "
        f"{_days(now - epochs[0])} days old today.",
    )
    ages = ", ".join(f"{f.name} ({f.norad_id}) {f.elements_age_days:.1f}" for f in stale)
    common.warn(errors, f"stale elements, oldest age in the week (days): {ages}")


def _days(age: timedelta) -> str:
    """Return an age in whole days, with thousands separated."""
    return f"{age.total_seconds() / DAY_S:,.0f}"


def _print_demo_summary(console: Console, found: Passes, elements: Sequence[Elements]) -> None:
    """Print the demo's tables: contacts per station and per satellite, then the next passes."""
    shape = (len(found.satellites), len(found.stations))
    counts = np.zeros(shape, dtype=np.int64)
    minutes = np.zeros(shape)
    np.add.at(counts, (found.satellite, found.station), 1)
    np.add.at(minutes, (found.satellite, found.station), found.duration_s / 60.0)
    console.print(
        f"{len(found.satellites)} satellites ({len(elements)} element sets) over "
        f"{len(found.stations)} stations: {len(found)} passes, "
        f"{minutes.sum() / 60.0:.1f} contact hours."
    )

    index = {satellite.norad_id: i for i, satellite in enumerate(found.satellites)}
    featured = [index[n] for n in DEMO_FEATURED_NORAD_IDS if n in index]
    per_station = Table(title="Contacts per station: passes / minutes")
    per_station.add_column("station")
    for i in featured:
        per_station.add_column(escape(found.satellites[i].name), justify="right")
    per_station.add_column(f"all {len(found.satellites)}", justify="right")
    for k, station in enumerate(found.stations):
        cells = [f"{counts[i, k]} / {minutes[i, k]:.0f}" for i in featured]
        total = f"{counts[:, k].sum()} / {minutes[:, k].sum():.0f}"
        per_station.add_row(escape(station.name), *cells, total)
    console.print(per_station)

    per_satellite = Table(title="Contacts per satellite")
    for header in ("satellite", "NORAD", "passes", "minutes", "stations", "busiest station"):
        per_satellite.add_column(header, justify="left" if header == "satellite" else "right")
    for i, satellite in enumerate(found.satellites):
        busiest = int(np.argmax(minutes[i]))
        per_satellite.add_row(
            escape(satellite.name),
            str(satellite.norad_id),
            str(counts[i].sum()),
            f"{minutes[i].sum():.0f}",
            str(np.count_nonzero(counts[i])),
            escape(found.stations[busiest].name) if counts[i, busiest] else "-",
        )
    console.print(per_satellite)

    featured_ids = {found.satellites[i].norad_id for i in featured}
    upcoming = [
        row for row in found.rows() if row.satellite.norad_id in featured_ids and not row.truncated
    ][:DEMO_NEXT_PASSES]
    names = ", ".join(found.satellites[i].name for i in featured)
    console.print(passes_table(upcoming, f"First passes of {escape(names)}", compact=True))


def _print_consortium(console: Console, found: Passes, consortium: DemoConsortium) -> None:
    """Print each partner's share and its week of passes: of its satellites, over its stations."""
    from jointsat.demo import PARTNERS

    table = Table(title="The demo consortium's week, per partner")
    for column in ("partner", "share", "stations", "satellites (fraction)"):
        table.add_column(column)
    table.add_column("its satellites' passes / min", justify="right")
    table.add_column("passes over its stations / min", justify="right")
    minutes = found.duration_s / 60.0
    station_owner = np.array([consortium.station_owner[s.name] for s in found.stations])
    for code, (name, share, *_) in PARTNERS.items():
        mine = [sid for sid, ops in consortium.operators.items() if code in ops]
        sat_rows = np.isin(np.array([found.satellites[i].norad_id for i in found.satellite]), mine)
        station_rows = station_owner[found.station] == code
        table.add_row(
            escape(name),
            f"{share:.2f}",
            str(int(np.sum(station_owner == code))),
            ", ".join(
                f"{found.satellites[[s.norad_id for s in found.satellites].index(sid)].name} "
                f"({consortium.operators[sid][code]:g})"
                for sid in mine
            ),
            f"{int(sat_rows.sum())} / {minutes[sat_rows].sum():.0f}",
            f"{int(station_rows.sum())} / {minutes[station_rows].sum():.0f}",
        )
    console.print(table)


def _print_demo_plan(console: Console, found: Plan, provenance: dict[str, Any]) -> None:
    """Print each partner's gain and share against its entitlement, and requests served."""
    requested = {code: len(ids) for code, ids in provenance["request_ids"].items()}
    served = Counter(o.partner for o in found.observations)
    title = (
        f"{found.objective.value} plan: {len(found.observations)} observations of "
        f"{sum(requested.values())} requests"
    )
    columns = {
        **GAIN_COLUMNS,
        "served / requested": lambda partner, _: f"{served[partner]} / {requested.get(partner, 0)}",
        "demand met": lambda _, got: "yes" if got.demand_met else "no",
    }
    console.print(plan_table(found, title, columns))
    unobservable = sum(why is Unserved.NO_OPPORTUNITY for why in found.unserved.values())
    console.print(
        f"status {found.status.value}, gap {found.gap:.2%}, {len(found.observations)} "
        f"observations, gain {found.total_gain:,}; {unobservable} request(s) had no "
        f"opportunity this week ({found.solver}, {found.wall_s:.2f} s)",
        highlight=False,
    )
    if all(got.demand_met for got in found.partners.values()):
        console.print(
            "Every request that could be observed is served: the shares received follow "
            "what partners requested, not their entitlements."
        )


def _print_rules(console: Console, rules: Sequence[RuleExample], now: datetime) -> None:
    """Print a product of the demo under each rule of the archive, and who may see it now."""
    from rich import box

    from jointsat.demo import PARTNERS

    table = Table(
        title=f"The archive's rules today ({format_readable(now)[:10]}): from when members "
        "and the public may see a product, who sees it now",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    for column in ("rule", "product", "members", "public", "seen by"):
        table.add_column(column, no_wrap=True)
    for example in rules:
        partners = [c for c in example.seen_by if c != "public"]
        if "public" in example.seen_by:
            seen = "anyone"
        elif len(partners) == len(PARTNERS):
            seen = "partners"
        else:
            seen = f"{', '.join(partners)} only"
        table.add_row(
            example.rule.value,
            example.product_id,
            format_readable(example.members_from)[:10],
            "never" if example.public_from is None else format_readable(example.public_from)[:10],
            seen,
        )
    console.print(table)


def _print_analyses(console: Console, analysed: Analysed) -> None:
    console.print(
        "\n[bold]Post-launch interpretation[/] (`jointsat analyse runs`, `/api/v1/analyses`,"
        " the dashboard's Archive page; docs/analysis.md): a real light curve (Kepler-6, standing"
        f" in for CHEOPS photometry) archived for ESA as product {analysed.light_curve_id},"
        f" searched for transits at ingest (run {analysed.transits_run}, derived product"
        f" {analysed.transits_product}):",
        soft_wrap=True,
        highlight=False,
    )
    table = Table(box=None, pad_edge=False)
    for header in ("period d", "T0 BJD_TDB", "depth ppm", "duration h", "SDE", "SNR", "transits"):
        table.add_column(header, justify="right")
    for c in analysed.candidates:
        table.add_row(
            f"{c['period_d']:.4f}",
            f"{c['t0_bjd']:.4f}",
            f"{c['depth_ppm']:,.0f}",
            f"{c['duration_h']:.2f}",
            f"{c['sde']:.1f}",
            f"{c['snr']:.1f}",
            str(c["transits"]),
        )
    console.print(table)
    console.print(
        f"{len(analysed.optical_ids)} VENuS-like L2A products (MUSCATE layout, from a real"
        f" Sentinel-2 window with a seeded season and clouds) archived for CNES, each given"
        f" NDVI at ingest ({analysed.on_ingest_runs} runs in all, the transit search"
        " included), and the season's NDVI over a field (run"
        f" {analysed.series_run}, derived product {analysed.series_product}):",
        soft_wrap=True,
        highlight=False,
    )
    series = Table(box=None, pad_edge=False)
    for header in ("date", "valid", "mean", "median", "smoothed"):
        series.add_column(header, justify="right")
    for row in analysed.series:
        series.add_row(
            str(row["date"])[:10],
            _fraction(row["valid_fraction"]),
            _ndvi(row["ndvi_mean"]),
            _ndvi(row["ndvi_median"]),
            _ndvi(row["ndvi_smoothed"]),
        )
    console.print(series)
    for failure in analysed.failures:
        console.print(f"[red]{escape(failure)}[/]")


def _print_operated(console: Console, operated: Operated) -> None:
    o = operated
    tally = o.tally
    console.print(
        f"\n[bold]Station operations[/] (docs/operations.md; `jointsat contacts`, `jointsat"
        f" pointing --from-store`, the dashboard's Operations page): contact {o.contact_id},"
        f" {escape(o.satellite)} over {escape(o.station)} {format_readable(o.start)} to"
        f" {format_readable(o.end)} UTC, which brought down product(s)"
        f" {', '.join(o.products) or 'none'}:\n"
        f"  pointing plan: {o.rows} rows, {o.pointing_mode}, pre-positioned"
        f" {o.preposition_s:.0f} s before AOS, lag at most {o.max_lag_deg:.2f} deg\n"
        f"  Doppler on {escape(o.link)} ({o.frequency_hz / 1e6:.3f} MHz): up to"
        f" {o.doppler_max_hz / 1e3:.1f} kHz off\n"
        f"  link budget: Eb/N0 up to {o.eb_n0_max_db:.1f} dB, closed {o.closed_s:.0f} s,"
        f" {o.bytes_received / 1e6:.1f} MB\n"
        f"  lifecycle: {' -> '.join(o.states)} (the station reported"
        f" {o.bytes_received:,} bytes)\n"
        f"  {o.partner.upper()}'s tally for the schedule: {tally['delivered_contacts']} of"
        f" {tally['planned_contacts']} planned contacts delivered"
        f" ({tally['delivered_bytes'] / 1e6:.1f} MB, its share), {tally['pending_contacts']}"
        " pending",
        soft_wrap=True,
        highlight=False,
    )


def _fraction(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f} %"


def _ndvi(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _print_study(console: Console, studied: Studied) -> None:
    """Print the demo's design study: per partner, coverage and the longest wait."""
    console.print(
        f"\n[bold]A candidate constellation's coverage of the partners' areas[/] (design study "
        f"{studied.study_id} in the store, `/api/v1/design/studies/{studied.study_id}`, the "
        f"dashboard's Design page): {escape(studied.constellation)}, {studied.days} day, "
        "10 degree minimum elevation, 2 degree equal-area grid; DLR's area is private, so "
        "only DLR and the admin see the study.",
        highlight=False,
    )
    if studied.status != "done":
        console.print(f"The study {studied.status}: {escape(studied.error or '')}")
        return
    table = Table(title="Coverage per partner (area-weighted over its area's points)")
    for column in ("partner", "points", "coverage", "max revisit", "mean revisit"):
        table.add_column(column, justify="left" if column == "partner" else "right")
    for row in studied.partners:
        figures = row["figures"]
        table.add_row(
            escape(row["partner"]),
            str(row["points"]),
            _share(figures["coverage_fraction"]["mean"]),
            _minutes(figures["max_gap_s"]["max"]),
            _minutes(figures["mean_gap_s"]["mean"]),
        )
    console.print(table)


def _share(value: float | None) -> str:
    return "-" if value is None else f"{100.0 * value:.1f} %"


def _minutes(value: float | None) -> str:
    return "-" if value is None else f"{value / 60.0:.0f} min"
