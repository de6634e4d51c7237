"""A scheduled contact's outputs for its station: pointing plan, Doppler table, ephemeris.

``GET /contacts/{id}/pointing`` (CSV, JSON or CCSDS TDM), ``/doppler`` (CSV or
JSON) and ``/oem`` (CCSDS OEM KVN, for antennas that point from ephemerides) compute
what ``jointsat pointing --from-store``, ``jointsat doppler --from-store`` and
``jointsat elements export --format oem`` would for the contact: the same stored
orbit, station, rotator and links (:mod:`jointsat.store.contact_outputs`), the same
planning (:mod:`jointsat.operations.contact_plans`), so their rows agree.

A contact is seen by whoever may see both its station and its satellite (the rule
of the schedules' contacts, :mod:`jointsat.service.access`); any other caller is
answered 404, as for a contact that does not exist.
"""

from __future__ import annotations

import math
from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse

from jointsat.errors import JointsatError
from jointsat.iers import ut1_utc_s
from jointsat.operations.contact_plans import (
    choose_link,
    doppler_window,
    plan_window,
    plans_csv,
    plans_document,
    plans_tdm,
    tables_csv,
    tables_document,
)
from jointsat.orbits.export import sample_oem
from jointsat.orbits.oem import format_oem
from jointsat.service.access import sees_satellite, sees_station
from jointsat.service.deps import NowDep, SessionDep, UserDep
from jointsat.service.exports import CSV_TYPE, file_response
from jointsat.service.problems import ProblemError
from jointsat.service.schemas import PathId
from jointsat.store.consortium import satellite_visibilities, station_visibilities
from jointsat.store.contact_outputs import StoredContact, contact_model, load_contact
from jointsat.store.tables import User

router = APIRouter(prefix="/contacts", tags=["contacts"])

KVN_TYPE = "text/plain; charset=utf-8"
MAX_SAMPLES = 100_000
"""The most rows a pointing plan or Doppler table is computed with."""
MAX_OEM_STATES = 20_000
"""The most states an OEM is sampled with."""


class PointingFormat(StrEnum):
    """Name the formats of a contact's pointing plan."""

    CSV = "csv"
    JSON = "json"
    TDM = "tdm"


class TableFormat(StrEnum):
    """Name the formats of a contact's Doppler table."""

    CSV = "csv"
    JSON = "json"


NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such contact, or its station or satellite is hidden from the caller"},
    409: {"description": "The satellite has nothing to predict from, or cannot be predicted"},
}
FILES: dict[int | str, dict[str, Any]] = {
    **NOT_FOUND,
    200: {
        "description": "The table (CSV, JSON) or message (TDM, OEM: KVN text)",
        "content": {CSV_TYPE: {}, KVN_TYPE: {}, "application/json": {}},
    },
}
StepQuery = Annotated[
    float, Query(ge=0.1, le=600.0, description="Seconds between rows (and at LOS)")
]


def _contact(session: SessionDep, user: User, contact_id: int) -> StoredContact:
    """Return the contact's stored model, or 404 if absent or hidden; 409 if unpredictable."""
    record = load_contact(session, contact_id)
    if record is None or not (
        sees_station(user, record.station, station_visibilities(session))
        and sees_satellite(user, record.satellite, satellite_visibilities(session))
    ):
        raise ProblemError(404, "Not found", f"no contact with id {contact_id}")
    try:
        return contact_model(record)
    except JointsatError as exc:
        raise ProblemError(409, "Conflict", str(exc)) from None


def _check_samples(contact: StoredContact, step_s: float, most: int) -> None:
    samples = math.ceil(contact.window.duration_s / step_s) + 1
    if samples > most:
        raise ProblemError(
            422,
            "Invalid request",
            f"{samples} samples asked; at most {most}: raise step_s",
        )


def _header(contact: StoredContact) -> dict[str, Any]:
    record = contact.record
    return {
        "contact_id": record.id,
        "satellite_id": record.satellite_id,
        "norad_id": record.satellite.norad_id,
        "satellite": record.satellite.name,
        "station_id": record.station_id,
        "station": record.station.name,
    }


@router.get("/{contact_id}/pointing", response_class=Response, responses=FILES)
def contact_pointing(
    contact_id: PathId,
    session: SessionDep,
    user: UserDep,
    now: NowDep,
    output_format: Annotated[
        PointingFormat, Query(alias="format", description="csv, json or tdm (CCSDS TDM KVN)")
    ] = PointingFormat.CSV,
    step_s: StepQuery = 1.0,
) -> Response:
    """Return the contact's pointing plan for its station's rotator.

    The rows (``time``, ``azimuth_deg``, ``elevation_deg``, ``lag_deg``: the commanded
    axis angles and how far the antenna is off the satellite) every ``step_s`` from
    the contact's start, and at its end, as ``jointsat pointing --from-store`` writes
    them. The rotator is the station's stored model (the default one without it). JSON
    adds the rotator planned for (``rotator``: its ranges, rates and ``beamwidth_deg``)
    and the plan's mode, pre-positioning time and lag figures; TDM gives the
    satellite's true look angles (ANGLE_TYPE AZEL) as CCSDS 503.0-B-2 predicts.
    """
    contact = _contact(session, user, contact_id)
    _check_samples(contact, step_s, MAX_SAMPLES)
    try:
        plan = plan_window(contact.orbit, contact.station, contact.window, contact.rotator, step_s)
    except JointsatError as exc:
        raise ProblemError(409, "Conflict", str(exc)) from None
    stem = f"contact-{contact_id}-pointing"
    if output_format is PointingFormat.JSON:
        return JSONResponse({**_header(contact), **plans_document([plan], contact.rotator)})
    if output_format is PointingFormat.TDM:
        text = plans_tdm(
            [plan], station=contact.station.name, satellite=contact.satellite_name, created=now
        )
        return file_response(text, KVN_TYPE, f"{stem}.tdm")
    return file_response(plans_csv([plan]), CSV_TYPE, f"{stem}.csv")


@router.get("/{contact_id}/doppler", response_class=Response, responses=FILES)
def contact_doppler(
    contact_id: PathId,
    session: SessionDep,
    user: UserDep,
    link: Annotated[
        str | None,
        Query(
            max_length=200,
            description="The satellite's link (its name); default: its first downlink",
        ),
    ] = None,
    output_format: Annotated[
        TableFormat, Query(alias="format", description="csv or json")
    ] = TableFormat.CSV,
    step_s: StepQuery = 1.0,
) -> Response:
    """Return the contact's Doppler table for one of the satellite's links.

    The rows (``time``, ``range_rate_m_s``, ``frequency_hz``) every ``step_s`` from
    the contact's start, and at its end, as ``jointsat doppler --from-store`` writes
    them: for a downlink the frequency the station receives, for an uplink the one to
    transmit for the satellite to receive the link's; the link's frequency is its
    nominal one plus its calibration offset; light time included, UT1 - UTC from the
    bundled IERS tables (0 past them). A satellite without such a link is a 422.
    """
    contact = _contact(session, user, contact_id)
    _check_samples(contact, step_s, MAX_SAMPLES)
    try:
        tuning = choose_link(contact.links, link, None)
    except JointsatError as exc:
        raise ProblemError(422, "Invalid request", str(exc)) from None
    dut1_s = ut1_utc_s(contact.window.aos)
    try:
        table = doppler_window(
            contact.orbit,
            contact.station,
            contact.window,
            tuning.frequency_hz,
            step_s,
            uplink=tuning.uplink,
            ut1_utc_s=0.0 if dut1_s is None else dut1_s,
        )
    except JointsatError as exc:
        raise ProblemError(409, "Conflict", str(exc)) from None
    stem = f"contact-{contact_id}-doppler"
    if output_format is TableFormat.JSON:
        document = {
            **_header(contact),
            "link": tuning.name,
            "uplink": tuning.uplink,
            "nominal_frequency_hz": tuning.frequency_hz,
            "ut1_utc_s": dut1_s,
            **tables_document([table]),
        }
        return JSONResponse(document)
    return file_response(tables_csv([table]), CSV_TYPE, f"{stem}.csv")


@router.get("/{contact_id}/oem", response_class=Response, responses=FILES)
def contact_oem(
    contact_id: PathId,
    session: SessionDep,
    user: UserDep,
    now: NowDep,
    step_s: Annotated[
        float, Query(ge=1.0, le=600.0, description="Seconds between the OEM's states")
    ] = 10.0,
    margin_s: Annotated[
        float,
        Query(
            ge=0.0, le=3600.0, description="Seconds of states before the start and after the end"
        ),
    ] = 60.0,
) -> Response:
    """Return the satellite's ephemeris over the contact as a CCSDS OEM (KVN), for antennas
    that point from ephemerides (e.g. AWS Ground Station).

    States every ``step_s`` from ``margin_s`` before the contact's start to ``margin_s``
    after its end (the last one at that end), EME2000, UTC, Lagrange interpolation,
    sampled from the stored orbit as ``jointsat elements export --format oem`` does.
    """
    contact = _contact(session, user, contact_id)
    margin = timedelta(seconds=margin_s)
    start, end = contact.window.aos - margin, contact.window.los + margin
    if (end - start).total_seconds() / step_s + 1 > MAX_OEM_STATES:
        raise ProblemError(
            422, "Invalid request", f"more than {MAX_OEM_STATES} states asked: raise step_s"
        )
    try:
        samples = sample_oem(contact.orbit, contact.object_id, start, end, step_s)
    except JointsatError as exc:
        raise ProblemError(409, "Conflict", str(exc)) from None
    text = format_oem(
        samples,
        created=now,
        comments=[
            f"jointsat contact {contact_id}: {contact.satellite_name} over {contact.station.name}"
        ],
    )
    return file_response(text, KVN_TYPE, f"contact-{contact_id}.oem")
