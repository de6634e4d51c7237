"""``jointsat doppler``: the frequency to tune through a satellite's passes over a station.

The passes (or, with ``--from-store``, a scheduled contact's window) and their sample
times are ``jointsat pointing``'s (:mod:`jointsat.cli.pointing`: every ``--step``
seconds from AOS, and at LOS); each pass's table comes from
:func:`jointsat.operations.contact_plans.doppler_window` (light time included), which
the service's ``/contacts/{id}/doppler`` shares. This module adds only the input,
UT1 - UTC, and the output: a CSV or JSON table, or a live stream of the frequencies
to a radio's ``rigctld`` (:mod:`jointsat.hamlib`).

UT1 - UTC is read from astropy's bundled IERS tables (:mod:`jointsat.iers`), never
downloaded: a date past them (about a year after the package's release) gets 0 and
a one-line warning, since each 0.02 s of it is about 0.1 m/s of range rate overhead.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.console import Console

from jointsat.cli import common
from jointsat.cli.output import emit
from jointsat.cli.pointing import (
    ElementsOption,
    EndOption,
    FromStoreOption,
    NoWaitOption,
    OutputOption,
    RowFormat,
    SatelliteOption,
    StartOption,
    StationOption,
    StationsOption,
    StepOption,
    _address,
    read_input,
    remote_contact,
    stream_document,
)
from jointsat.cli.remote import ServerToken, ServerUrl
from jointsat.errors import JointsatError
from jointsat.hamlib import RigctldClient, pace
from jointsat.iers import ut1_utc_s
from jointsat.operations.contact_plans import (
    DOPPLER_COLUMNS,
    PassDoppler,
    Span,
    choose_link,
    doppler_window,
    rows_csv,
    tables_csv,
    tables_json,
)
from jointsat.timelib import format_readable

__all__ = ["ROW_COLUMNS", "PassDoppler", "doppler", "stream", "ut1_utc_s"]

ROW_COLUMNS = DOPPLER_COLUMNS
"""The columns of a pass's rows, in CSV and JSON alike."""


def doppler(
    elements: ElementsOption = None,
    stations: StationsOption = None,
    satellite: SatelliteOption = None,
    station: StationOption = None,
    start: StartOption = None,
    end: EndOption = None,
    frequency_hz: Annotated[
        float | None,
        typer.Option(
            "--frequency-hz",
            metavar="F",
            help="The link's frequency at the satellite, in hertz (e.g. 437.8e6); with "
            "--from-store, default: the stored link's (with its calibration offset).",
        ),
    ] = None,
    uplink: Annotated[
        bool,
        typer.Option(
            "--uplink",
            help="Tell the frequency to transmit so that the satellite receives F "
            "(default: the frequency the station receives F sent at).",
        ),
    ] = False,
    link: Annotated[
        str | None,
        typer.Option(
            "--link",
            metavar="NAME",
            help="With --from-store: the satellite's stored link to tune (default: its first "
            "downlink, or uplink with --uplink); an uplink link implies --uplink. With --url, "
            "the only way to tune another link than the first downlink.",
        ),
    ] = None,
    step_s: StepOption = 1.0,
    output_format: Annotated[
        RowFormat,
        typer.Option(
            "--format",
            "-f",
            help="csv: a header line, then one row per sample, pass after pass; json: "
            "the passes, each with its AOS, LOS and rows.",
        ),
    ] = RowFormat.CSV,
    output: OutputOption = None,
    rigctld: Annotated[
        str | None,
        typer.Option(
            "--rigctld",
            metavar="HOST:PORT",
            help="Stream the table to a radio's rigctld (hamlib): each row's F HZ (to the "
            "hertz) at its time; instead of writing it.",
        ),
    ] = None,
    from_store: FromStoreOption = None,
    database_url: common.DatabaseUrl = None,
    url: ServerUrl = None,
    token: ServerToken = None,
    no_wait: NoWaitOption = False,
) -> None:
    """Tell the frequency to tune through a satellite's passes over a station (Doppler table)."""
    if from_store is None and link is not None:
        raise typer.BadParameter(
            "--link names a stored link: give --from-store", param_hint="'--link'"
        )
    if from_store is None and frequency_hz is None:
        raise typer.BadParameter("give the link's frequency", param_hint="'--frequency-hz'")
    if frequency_hz is not None and not frequency_hz > 0.0:
        raise typer.BadParameter(
            f"{frequency_hz} is not a positive number of hertz", param_hint="'--frequency-hz'"
        )
    address = None if rigctld is None else _address(rigctld, "rigctld")
    errors = Console(stderr=True)
    api = remote_contact(url, token, from_store, database_url)
    if api is not None:
        if frequency_hz is not None or uplink:
            raise typer.BadParameter(
                "the server tunes the satellite's stored links: name one with --link, or "
                "compute here from the store (--database-url)",
                param_hint="'--frequency-hz' / '--uplink'",
            )
        with common.reporting_errors(errors):
            document = api.get(
                f"/contacts/{from_store}/doppler", format="json", step_s=step_s, link=link
            ).body
            if address is None:
                if output_format is RowFormat.JSON:
                    emit(json.dumps(document, indent=2) + "\n", output)
                else:
                    rows = [r for p in document["passes"] for r in p["rows"]]
                    emit(rows_csv(DOPPLER_COLUMNS, rows), output)
                return
            with RigctldClient(*address) as client:
                sent = stream_document(
                    document,
                    lambda row: client.set_frequency(row["frequency_hz"]),
                    wait=not no_wait,
                )
            errors.print(
                f"{sent} frequencies sent to rigctld at {client.address} over "
                f"{len(document['passes'])} pass(es)",
                highlight=False,
            )
        return
    with common.reporting_errors(errors):
        contact = read_input(
            elements, stations, satellite, station, start, end, from_store, database_url, errors
        )
        tuned_hz, up = frequency_hz, uplink
        if from_store is not None and (frequency_hz is None or link is not None):
            try:
                tuning = choose_link(contact.links, link, True if uplink else None)
            except JointsatError as exc:
                raise JointsatError(
                    f"{exc}: name one with --link, or give --frequency-hz"
                ) from None
            up = tuning.uplink
            tuned_hz = tuning.frequency_hz if frequency_hz is None else frequency_hz
        assert tuned_hz is not None
        tables = doppler_tables(
            contact.orbit, contact.station, contact.windows, tuned_hz, step_s, up, errors
        )
        if address is None:
            text = tables_csv(tables) if output_format is RowFormat.CSV else tables_json(tables)
            emit(text, output)
            return
        with RigctldClient(*address) as client:
            sent = stream(tables, client.set_frequency, wait=not no_wait)
        errors.print(
            f"{sent} frequencies sent to rigctld at {client.address} over {len(tables)} pass(es)",
            highlight=False,
        )


def doppler_tables(
    orbit: Any,
    station: Any,
    windows: Sequence[Span],
    frequency_hz: float,
    step_s: float,
    uplink: bool,
    errors: Console,
) -> list[PassDoppler]:
    """Return each window's Doppler table, UT1 - UTC from the IERS tables (warned when unknown)."""
    tables = []
    unknown_dut1: list[datetime] = []
    for window in windows:
        dut1_s = ut1_utc_s(window.aos)
        if dut1_s is None:
            unknown_dut1.append(window.aos)
            dut1_s = 0.0
        tables.append(
            doppler_window(
                orbit, station, window, frequency_hz, step_s, uplink=uplink, ut1_utc_s=dut1_s
            )
        )
    if unknown_dut1:
        common.warn(
            errors,
            f"UT1-UTC unknown for {format_readable(unknown_dut1[0])} UTC "
            "(past astropy's IERS tables): 0 used, range rate off by up to ~0.1 m/s "
            "per 0.02 s of it",
        )
    return tables


def stream(
    tables: Sequence[PassDoppler],
    set_frequency: Callable[[float], None],
    *,
    wait: bool = True,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Send each row's frequency at its time; return how many were sent.

    Paced as ``jointsat pointing`` streams (:func:`jointsat.hamlib.pace`), with no lead:
    a row whose successor's time has come is skipped; without ``wait`` all go at once.
    """
    sent = 0
    for p in tables:
        frequencies = p.table.frequency_hz
        if not (frequencies == frequencies).all():  # NaN: the orbit cannot be propagated
            raise JointsatError(
                f"the frequency is unknown in the pass at {format_readable(p.found.aos)} UTC"
            )
        times = (p.found.aos.timestamp() + p.table.time_s).tolist()

        def send(k: int, frequencies: Any = frequencies) -> None:
            set_frequency(float(frequencies[k]))

        sent += pace(times, send, wait=wait, clock=clock, sleep=sleep)
    return sent
