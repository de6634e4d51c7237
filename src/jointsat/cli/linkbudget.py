"""``jointsat linkbudget``: a downlink's Eb/N0 through a satellite's passes, and the data it brings.

Two ways. From files, as ``jointsat pointing`` and ``jointsat doppler`` take them:
the passes of the satellite over the station in the window (:mod:`jointsat.cli.pointing`),
each sampled every ``--step`` seconds, with the link given by ``--link-json`` (a link
as ``satellites.links`` stores it, or a list of them and ``--link NAME``) or by its
figures (``--frequency-hz``, ``--eirp-dbw``, ``--data-rate-bps``,
``--required-eb-n0-db``) and the station's ``--g-over-t-db-k``. Or for a scheduled
contact (``--contact ID``), from the store or a server (``--url``): the satellite's
stored link and the station's stored G/T. The budget itself is
:func:`jointsat.operations.radio.contact_budget`; the atmosphere's loss ITU-R P.618's
(:mod:`jointsat.linkbudget`).
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from jointsat.cli import common, remote
from jointsat.cli.output import emit
from jointsat.cli.pointing import (
    OutputOption,
    RowFormat,
    StepOption,
    read_contact,
    station_passes,
)
from jointsat.errors import InputError, JointsatError, RadioError
from jointsat.files import read_text
from jointsat.jsonfile import Reader
from jointsat.operations.contact_plans import rows_csv
from jointsat.timelib import format_iso_ms, format_readable

ROW_COLUMNS = (
    "time",
    "range_m",
    "elevation_deg",
    "free_space_loss_db",
    "atmospheric_loss_db",
    "eb_n0_db",
    "margin_db",
    "closed",
)
"""The columns of a budget's rows, in CSV and JSON alike (the API's too)."""

MaybeFloat = float | None


def linkbudget(
    elements: Annotated[
        list[Path] | None,
        common.files_option(
            "Element sets (TLE, 3LE or OMM) or ephemerides (OEM); repeat for several files.",
            "--elements",
            "-e",
        ),
    ] = None,
    stations: Annotated[
        Path | None, common.files_option("Ground stations (CSV or JSON).", "--stations", "-s")
    ] = None,
    satellite: Annotated[
        str | None,
        typer.Option(
            "--satellite", metavar="N", help="The satellite: its catalog number or its name."
        ),
    ] = None,
    station: Annotated[
        str | None,
        typer.Option("--station", metavar="NAME", help="The station's name, as in its file."),
    ] = None,
    start: Annotated[
        datetime | None,
        common.time_option(
            "Window start, e.g. 2024-05-10T00:00:00Z; UTC if no offset.", metavar="ISO8601"
        ),
    ] = None,
    end: Annotated[datetime | None, common.time_option("Window end.", metavar="ISO8601")] = None,
    link_json: Annotated[
        Path | None,
        typer.Option(
            "--link-json",
            metavar="JSON",
            exists=True,
            dir_okay=False,
            help="The link: a JSON object as satellites' links are stored, or a list "
            "of them (then --link NAME, unless it has one downlink).",
        ),
    ] = None,
    link: Annotated[
        str | None, typer.Option("--link", metavar="NAME", help="The link's name.")
    ] = None,
    frequency_hz: Annotated[
        MaybeFloat,
        typer.Option("--frequency-hz", metavar="F", help="Without --link-json: the frequency."),
    ] = None,
    eirp_dbw: Annotated[
        MaybeFloat,
        typer.Option(
            "--eirp-dbw", metavar="DBW", help="Without --link-json: the satellite's EIRP."
        ),
    ] = None,
    data_rate_bps: Annotated[
        MaybeFloat,
        typer.Option("--data-rate-bps", metavar="R", help="Without --link-json: the data rate."),
    ] = None,
    required_eb_n0_db: Annotated[
        MaybeFloat,
        typer.Option(
            "--required-eb-n0-db", metavar="DB", help="Without --link-json: Eb/N0 needed."
        ),
    ] = None,
    polarization_loss_db: Annotated[
        float,
        typer.Option("--polarization-loss-db", metavar="DB", help="Without --link-json: its loss."),
    ] = 0.0,
    g_over_t_db_k: Annotated[
        MaybeFloat,
        typer.Option(
            "--g-over-t-db-k", metavar="DB_K", help="The station's G/T (files: required)."
        ),
    ] = None,
    contact: Annotated[
        int | None,
        typer.Option(
            "--contact",
            "--from-store",
            metavar="ID",
            help="A scheduled contact instead of files: its satellite's stored link and "
            "station's stored G/T, from the store or the server (--url).",
        ),
    ] = None,
    margin_db: Annotated[
        float,
        typer.Option("--margin-db", metavar="DB", min=0.0, help="Margin over the required Eb/N0."),
    ] = 0.0,
    exceeded_percent: Annotated[
        float,
        typer.Option(
            "--exceeded-percent",
            metavar="P",
            min=0.001,
            max=5.0,
            help="ITU-R P.618: the percentage of a year the atmosphere's loss is exceeded.",
        ),
    ] = 1.0,
    no_atmosphere: Annotated[
        bool, typer.Option("--no-atmosphere", help="Leave the atmosphere's loss out.")
    ] = False,
    step_s: StepOption = 10.0,
    output_format: Annotated[
        RowFormat,
        typer.Option(
            "--format",
            "-f",
            help="csv: a header line, then one row per sample, pass after pass (each "
            "pass's totals on stderr); json: the passes, each with its totals and rows.",
        ),
    ] = RowFormat.CSV,
    output: OutputOption = None,
    url: remote.ServerUrl = None,
    token: remote.ServerToken = None,
    database_url: common.DatabaseUrl = None,
) -> None:
    """Tell a downlink's Eb/N0 through a satellite's passes and the data each brings down."""
    errors = Console(stderr=True)
    if contact is not None:
        given = [n for n, v in (("--elements", elements), ("--stations", stations),
                                ("--satellite", satellite), ("--station", station),
                                ("--start", start), ("--end", end), ("--link-json", link_json),
                                ("--g-over-t-db-k", g_over_t_db_k)) if v is not None]  # fmt: skip
        if given:
            raise typer.BadParameter(
                f"a stored contact has its own ({', '.join(given)} not taken)",
                param_hint="'--contact'",
            )
        query = {
            "link": link,
            "step_s": step_s,
            "margin_db": margin_db,
            "exceeded_percent": exceeded_percent,
            "atmosphere": not no_atmosphere,
        }
        with remote.work(url, token, database_url) as where:
            found = _stored_budget(where, contact, query)
        document = [found]
    else:
        missing = [n for n, v in (("--elements", elements), ("--stations", stations),
                                  ("--satellite", satellite), ("--station", station),
                                  ("--start", start), ("--end", end),
                                  ("--g-over-t-db-k", g_over_t_db_k)) if v is None]  # fmt: skip
        if missing:
            raise typer.BadParameter(
                f"missing {', '.join(missing)} (or give --contact ID)", param_hint=missing[0]
            )
        assert elements
        assert stations
        assert satellite
        assert station
        assert start
        assert end
        assert g_over_t_db_k is not None
        window_start, window_end = common.time_window(start, end=end)
        with common.reporting_errors(errors):
            chosen = _link(
                link_json,
                link,
                {
                    "frequency_hz": frequency_hz,
                    "eirp_dbw": eirp_dbw,
                    "data_rate_bps": data_rate_bps,
                    "required_eb_n0_db": required_eb_n0_db,
                    "polarization_loss_db": polarization_loss_db,
                },
            )
            from jointsat.linkbudget import budget_rows, budget_summary, link_budget

            orbit, site = read_contact(elements, stations, satellite, station, errors)
            document = []
            for p in station_passes(orbit, site, window_start, window_end, errors):
                try:
                    budget = link_budget(
                        orbit,
                        site,
                        p.aos,
                        p.los,
                        chosen,
                        g_over_t_db_k=g_over_t_db_k,
                        step_s=step_s,
                        margin_db=margin_db,
                        exceeded_percent=exceeded_percent,
                        atmosphere=not no_atmosphere,
                    )
                except RadioError as exc:
                    raise JointsatError(str(exc)) from None
                document.append(
                    {
                        "start": format_iso_ms(p.aos),
                        "end": format_iso_ms(p.los),
                        **budget_summary(budget),
                        "rows": budget_rows(budget, p.aos),
                    }
                )
    if output_format is RowFormat.JSON:
        emit(json.dumps({"passes": document}, indent=2) + "\n", output)
        return
    for found in document:
        errors.print(
            f"{found['start']} - {found['end']}: link {found['link']} closed "
            f"{found['closed_s']:.1f} s, {found['volume_bytes']:.0f} bytes "
            f"(Eb/N0 {found['min_eb_n0_db']:.1f} to {found['max_eb_n0_db']:.1f} dB)",
            highlight=False,
            soft_wrap=True,
        )
    emit(rows_csv(ROW_COLUMNS, [r for found in document for r in found["rows"]]), output)


def _link(path: Path | None, name: str | None, figures: dict[str, Any]) -> Any:
    """Return the link of a JSON file (one, or one of a list), or of the figures given."""
    from jointsat.operations.radio import Direction, Link, find_link, parse_links

    try:
        if path is not None:
            read = Reader(str(path), InputError)
            document = read.json(read_text(path))
            if isinstance(document, dict) and "links" in document:
                document = document["links"]
            if isinstance(document, dict):
                return Link.from_dict(document, str(path))
            return find_link(parse_links(document, str(path)), name, Direction.DOWNLINK)
        if figures["frequency_hz"] is None:
            raise typer.BadParameter(
                "give the link: --link-json, or --frequency-hz and its figures",
                param_hint="'--link-json' / '--frequency-hz'",
            )
        return Link.from_dict(
            {"name": name or "downlink", "direction": "downlink", **figures}, "the link"
        )
    except RadioError as exc:
        raise JointsatError(str(exc)) from None


def _stored_budget(where: remote.Work, contact: int, query: dict[str, Any]) -> dict[str, Any]:
    """Return a stored contact's budget, as the API answers it, from the server or the store."""
    if where.api is not None:
        params = {k: v for k, v in query.items() if v is not None}
        params["atmosphere"] = str(params["atmosphere"]).lower()
        found: dict[str, Any] = where.api.get(f"/contacts/{contact}/link-budget", **params).body
        return found
    from jointsat.linkbudget import budget_rows, budget_summary
    from jointsat.store.radio import BudgetOptions, contact_budget_of
    from jointsat.store.tables import ContactRecord

    row = where.session.get(ContactRecord, contact)
    if row is None:
        raise JointsatError(f"no contact with id {contact}")
    options = BudgetOptions(
        step_s=query["step_s"],
        margin_db=query["margin_db"],
        exceeded_percent=query["exceeded_percent"],
        atmosphere=query["atmosphere"],
    )
    try:
        budget = contact_budget_of(row, query["link"], options)
    except RadioError as exc:
        raise JointsatError(
            f"contact {contact} ({format_readable(row.start)} UTC): {exc}"
        ) from None
    return {
        "contact_id": row.id,
        "start": format_iso_ms(row.start),
        "end": format_iso_ms(row.end_at),
        **budget_summary(budget),
        "rows": budget_rows(budget, row.start),
    }
