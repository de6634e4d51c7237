"""Decide what a user may see and change, from roles and the partners' agreements.

Rules:
- A consortium admin sees and changes everything.
- A partner's users see their partner's stations and satellites; operators (not
  viewers) change them.
- Others' stations and satellites are seen as their owners' agreements allow:
  ``consortium`` or ``public`` visibility lets every member see them, ``private`` hides
  them (the API then answers 404, not 403, so as not to reveal that they exist).
- A joint satellite is private if any of its operators' agreements makes it private:
  the most restrictive operator wins.
- Observation requests are a partner's own: its users see them, its operators create,
  change and delete them (viewers only read), the admin sees and changes all. Another
  partner's request is answered 404, whatever the verb.
- Plans: only the admin makes one; every member lists and reads them, and sees the
  figures that say how fair and how good a plan is (status, bound, gap, levels, each
  partner's gains and shares). Of the observations, a partner sees its own in full
  (request, target, times, satellite; the satellite left out where its agreement
  hides it) and another partner's only as a busy slot (satellite, times, partner; no
  request or target), and only on satellites it may see; the rest are counted, not
  shown. The admin sees every observation in full.
- Areas of interest and design studies (``jointsat.archive.rights``): an area is seen
  by the admin, its partner's users, and every member when it is ``consortium``; a
  study only by who sees every area it used. Its partner's operators and the admin
  add and delete an area; operators and the admin start studies; the study's partner's
  operators (or, for the admin's, the admin) delete one. A hidden area or study is a
  404, whatever the verb.
- Events (``sees_event``): a user sees an event when it sees everything the event is
  about: its satellite, its station, its product (``archive.rights``: an embargoed
  product's event reaches its owners only, until the embargo passes), and, for a
  partner's own matter (``partner_id``: its analysis run), only that partner's users
  and the admin. An event naming a row that is gone is the admin's alone (the rule
  fails closed). Subscriptions act as their users, so the same rule decides what
  each webhook, e-mail and stream is sent.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import datetime

from jointsat.archive.rights import Caller, may_see, sees_area, sees_study
from jointsat.store.deliveries import EventSubjects
from jointsat.store.tables import (
    AreaRecord,
    DesignStudyRecord,
    EventRecord,
    GroundStation,
    ObservationRecord,
    Role,
    Satellite,
    User,
    Visibility,
)


def sees(user: User, owners: Iterable[int], visibilities: Iterable[Visibility]) -> bool:
    """Return whether the user may see an asset owned by ``owners`` under ``visibilities``."""
    if user.role is Role.ADMIN:
        return True
    owner_ids = set(owners)
    if user.partner_id in owner_ids:
        return True
    return all(v is not Visibility.PRIVATE for v in visibilities)


def changes(user: User, owners: Iterable[int]) -> bool:
    """Return whether the user may change an asset owned by ``owners``."""
    if user.role is Role.ADMIN:
        return True
    return user.role is Role.OPERATOR and user.partner_id in set(owners)


def sees_station(user: User, station: GroundStation, visibility: dict[int, Visibility]) -> bool:
    """Return whether the user may see the station."""
    owner = station.partner_id
    return sees(user, [owner], [visibility.get(owner, Visibility.CONSORTIUM)])


def sees_satellite(user: User, satellite: Satellite, visibility: dict[int, Visibility]) -> bool:
    """Return whether the user may see the satellite (the most restrictive operator wins)."""
    owners = [o.partner_id for o in satellite.operators]
    return sees(user, owners, [visibility.get(p, Visibility.CONSORTIUM) for p in owners])


def sees_request(user: User, partner_id: int) -> bool:
    """Return whether the user may see a request of the partner: the admin, or its own users."""
    return user.role is Role.ADMIN or user.partner_id == partner_id


class ObservationView(enum.StrEnum):
    """Say how much of a plan's observation a user sees."""

    FULL = "full"  # request, target, times and satellite
    OWN_HIDDEN_SATELLITE = "own, satellite hidden"  # its own, on a satellite it may not see
    BUSY = "busy"  # satellite, times and partner only
    HIDDEN = "hidden"  # nothing: counted only


def observation_view(
    user: User, observation: ObservationRecord, visibility: dict[int, Visibility]
) -> ObservationView:
    """Return how much of the observation the user sees (module docstring: the rule)."""
    if user.role is Role.ADMIN:
        return ObservationView.FULL
    satellite_seen = sees_satellite(user, observation.satellite, visibility)
    if observation.partner_id == user.partner_id:
        return ObservationView.FULL if satellite_seen else ObservationView.OWN_HIDDEN_SATELLITE
    return ObservationView.BUSY if satellite_seen else ObservationView.HIDDEN


def design_caller(user: User) -> Caller:
    """Return the user as the rights of mission design see it: the admin, or a partner's."""
    return Caller(partner_id=user.partner_id, admin=user.role is Role.ADMIN)


def sees_area_record(user: User, area: AreaRecord) -> bool:
    """Return whether the user may see the stored area."""
    return sees_area(design_caller(user), area.partner_id, area.visibility.value)


def sees_study_record(user: User, study: DesignStudyRecord) -> bool:
    """Return whether the user may see the stored study: it sees every area it used."""
    used = [(link.area.partner_id, link.area.visibility.value) for link in study.area_links]
    return sees_study(design_caller(user), used)


def sees_event(user: User, event: EventRecord, subjects: EventSubjects, now: datetime) -> bool:
    """Return whether the user may see the event at ``now`` (module docstring: the rule).

    ``subjects``: the rows events name (``store.deliveries.event_subjects``).
    """
    if user.role is Role.ADMIN:
        return True
    if event.partner_id is not None and event.partner_id != user.partner_id:
        return False
    if event.satellite_id is not None:
        satellite = subjects.satellites.get(event.satellite_id)
        if satellite is None or not sees_satellite(user, satellite, subjects.satellite_visibility):
            return False
    if event.station_id is not None:
        station = subjects.stations.get(event.station_id)
        if station is None or not sees_station(user, station, subjects.station_visibility):
            return False
    if event.product_id is not None:
        product = subjects.products.get(event.product_id)
        if product is None or not may_see(design_caller(user), product[0], product[1], now):
            return False
    return True
