"""Decide who may see an archived product, from its owners' agreements and its age.

Rules (docs/archive.md):
- The consortium admin sees every product.
- The owning partners' users see their products at once.
- Every other consortium member sees a product once the embargo has passed, counted
  from the end of the acquisition. With several owners the longest embargo among
  their agreements holds (the most restrictive owner wins, as for visibility).
- The public (a caller with no token) sees a product once its public-release delay
  has passed, when every owner's agreement sets one (the longest holds); a product
  whose owners do not all release it is never public. Members see a public product
  too, even when the embargo is longer than the release delay.

``grant`` names the rule under which a caller sees a product (admin, owner, member,
public), which the API shows as each product's ``visible_as``.

A derived product (an analysis's result, docs/analysis.md) is seen only by a caller
who sees every one of its sources: it is owned by the partners that own *every*
source (``derived_owners``), and it opens to members and to the public at the latest
of its sources' times (``derived_release_times``: never public if one source never
is). Under those two, the rules above give the derived product to nobody who does not
see each source; ``sees_derived`` states the rule on the sources themselves.

Mission design (docs/store.md, "Design studies") follows the same idea for what is
derived from a partner's areas of interest:
- an area is seen by the admin, by its owning partner's users, and, when its
  visibility is ``consortium``, by every member (never by the public);
- a design study is seen only by a caller who sees *every* area it used, like a
  derived product and its sources; seeing it, the caller sees its provenance too;
- an analysis's result over a stored area is under the area's rule as well
  (``derived_over_area``): never public, and over a private area its owner's alone.

Everything here is pure: ``now`` is an argument. The store keeps each product's two
release times (``release_times``) in columns, so that searches filter in SQL by the
same rule ``may_see`` states.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from jointsat.errors import ArchiveInputError


@dataclass(frozen=True)
class DataTerms:
    """What one partner's agreement says of its data: the embargo and the public release."""

    embargo_days: int = 0
    public_release_days: int | None = None  # None: never public


NO_AGREEMENT = DataTerms()
"""The terms of a partner without an agreement: no embargo, never public."""


@dataclass(frozen=True)
class Caller:
    """Who asks: the admin, a partner's user, or the public (no token)."""

    partner_id: int | None = None
    admin: bool = False

    @classmethod
    def public(cls) -> Caller:
        """Return the caller without a token."""
        return cls()

    @property
    def is_public(self) -> bool:
        """Return whether the caller has no token."""
        return not self.admin and self.partner_id is None


@dataclass(frozen=True)
class ReleaseTimes:
    """When a product opens to the other members and to the public (None: never)."""

    members_from: datetime
    public_from: datetime | None


def release_times(
    owners: Iterable[int], acquired_end: datetime, terms: Mapping[int, DataTerms]
) -> ReleaseTimes:
    """Return when a product acquired until ``acquired_end`` opens to members and public."""
    if acquired_end.tzinfo is None:
        raise ArchiveInputError("acquired_end must be timezone-aware (UTC)")
    owned = [terms.get(o, NO_AGREEMENT) for o in set(owners)]
    if not owned:
        raise ArchiveInputError("a product needs at least one owning partner")
    members_from = acquired_end + timedelta(days=max(t.embargo_days for t in owned))
    releases = [t.public_release_days for t in owned]
    if any(days is None for days in releases):
        return ReleaseTimes(members_from, None)
    public_from = acquired_end + timedelta(days=max(d for d in releases if d is not None))
    return ReleaseTimes(min(members_from, public_from), public_from)


class Grant(StrEnum):
    """The rule that lets a caller see a product (docs/archive.md)."""

    ADMIN = "admin"  # the consortium admin sees everything
    OWNER = "owner"  # a user of an owning partner, at once
    MEMBER = "member"  # another member, the embargo over (or the product public)
    PUBLIC = "public"  # anyone, the public release passed


def grant(
    caller: Caller, owners: Iterable[int], times: ReleaseTimes, now: datetime
) -> Grant | None:
    """Return the rule under which ``caller`` sees the product at ``now``; None: hidden.

    A member's own products are ``owner``'s whatever their age; another member's are
    ``member``'s (members see a public product through its ``members_from``, which is
    never after ``public_from``); the public's are only ever ``public``'s.
    """
    if caller.admin:
        return Grant.ADMIN
    if caller.partner_id is not None:
        if caller.partner_id in set(owners):
            return Grant.OWNER
        return Grant.MEMBER if now >= times.members_from else None
    if times.public_from is not None and now >= times.public_from:
        return Grant.PUBLIC
    return None


def may_see(caller: Caller, owners: Iterable[int], times: ReleaseTimes, now: datetime) -> bool:
    """Return whether ``caller`` may see (find, read, download) the product at ``now``."""
    return grant(caller, owners, times, now) is not None


# --- derived products: an analysis's results under its sources' terms -----------------


def derived_owners(source_owners: Iterable[Iterable[int]]) -> frozenset[int]:
    """Return the owners of a product derived from sources with these owners: those of all.

    A partner owning only some of the sources must not see the result before it may see
    the others; an empty set leaves the product to the admin until its release times.
    """
    sets = [frozenset(owners) for owners in source_owners]
    if not sets:
        raise ArchiveInputError("a derived product needs at least one source")
    return frozenset.intersection(*sets)


def derived_release_times(sources: Iterable[ReleaseTimes]) -> ReleaseTimes:
    """Return when a product derived from sources released at these times opens: the latest.

    Its members' release is the latest of its sources'; it is public only if every
    source is, from the latest public release.
    """
    times = list(sources)
    if not times:
        raise ArchiveInputError("a derived product needs at least one source")
    members_from = max(t.members_from for t in times)
    publics = [t.public_from for t in times]
    if any(p is None for p in publics):
        return ReleaseTimes(members_from, None)
    return ReleaseTimes(members_from, max(p for p in publics if p is not None))


NEVER = datetime(9999, 12, 31, tzinfo=UTC)
"""The release time of what is never released (a result over a private area, to members)."""


def derived_over_area(
    owners: frozenset[int], times: ReleaseTimes, area: tuple[int, str] | None
) -> tuple[frozenset[int], ReleaseTimes]:
    """Return a derived product's owners and release times once its area's rule applies.

    A result computed over a stored area of interest (``area``: its owner and
    visibility; None: none) reveals the area: it is never public (areas never are),
    and over a ``private`` area (or one whose visibility is unknown: the rule fails
    closed) only the area's owner among the product's owners sees it, and members never.
    """
    if area is None:
        return owners, times
    owner, visibility = area
    if visibility == AREA_CONSORTIUM:
        return owners, ReleaseTimes(times.members_from, None)
    return owners & {owner}, ReleaseTimes(NEVER, None)


def sees_derived(
    caller: Caller, sources: Iterable[tuple[Iterable[int], ReleaseTimes]], now: datetime
) -> bool:
    """Return whether ``caller`` may see what is derived from ``sources`` ((owners, times) each).

    Only when it sees every source; a result of no source is the admin's alone.
    """
    given = list(sources)
    if not given:
        return caller.admin
    return all(may_see(caller, owners, times, now) for owners, times in given)


# --- mission design: areas of interest and the studies derived from them --------------

AREA_PRIVATE = "private"
AREA_CONSORTIUM = "consortium"
AREA_VISIBILITIES = (AREA_PRIVATE, AREA_CONSORTIUM)
"""Who sees an area besides the admin and its owner: nobody else, or every member."""


def sees_area(caller: Caller, owner: int, visibility: str) -> bool:
    """Return whether ``caller`` sees an area owned by partner ``owner``.

    The admin and the owner's users always do; another member only a ``consortium``
    area; the public never. A visibility other than the two known ones hides the area
    (the rule fails closed).
    """
    if caller.admin:
        return True
    if caller.partner_id is None:
        return False
    return caller.partner_id == owner or visibility == AREA_CONSORTIUM


def sees_study(caller: Caller, areas: Iterable[tuple[int, str]]) -> bool:
    """Return whether ``caller`` sees a study that used ``areas`` ((owner, visibility) each).

    Only when it sees every one of them: a study's figures are derived from each area,
    so a study over a hidden area would reveal it. A study without areas is the admin's.
    """
    used = list(areas)
    if not used:
        return caller.admin
    return all(sees_area(caller, owner, visibility) for owner, visibility in used)
