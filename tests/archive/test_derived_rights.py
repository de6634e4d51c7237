"""Check the rule for derived products: seen only by who sees every source.

The issue's rule is stated on the sources ("visible to a caller only if every source
is; its embargo and public release are the latest of its sources'"). The derived
product is stored with its own owners and release times, which the store filters on
like any product's; the property below checks, on random sources, callers and times,
that those never give the product to a caller who does not see every source, and
that its embargo and public release are the latest of the sources'.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jointsat.archive.rights import (
    Caller,
    DataTerms,
    ReleaseTimes,
    derived_over_area,
    derived_owners,
    derived_release_times,
    may_see,
    release_times,
    sees_area,
    sees_derived,
)
from jointsat.errors import ArchiveInputError

START = datetime(2024, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)
PARTNERS = (1, 2, 3, 4)

terms = st.builds(
    DataTerms,
    embargo_days=st.integers(0, 400),
    public_release_days=st.none() | st.integers(0, 800),
)
source = st.tuples(
    st.sets(st.sampled_from(PARTNERS), min_size=1, max_size=3),
    st.integers(0, 300).map(lambda d: START + d * DAY),
)
callers = st.sampled_from(
    [Caller(admin=True), Caller.public(), *(Caller(partner_id=p) for p in (*PARTNERS, 9))]
)


@given(
    st.lists(source, min_size=1, max_size=4),
    st.fixed_dictionaries({p: terms for p in PARTNERS}),
    callers,
    st.integers(0, 1500).map(lambda d: START + d * DAY),
)
def test_a_derived_product_opens_to_nobody_who_does_not_see_every_source(
    sources: list[tuple[set[int], datetime]],
    agreement: dict[int, DataTerms],
    caller: Caller,
    now: datetime,
) -> None:
    given_sources = [(owners, release_times(owners, end, agreement)) for owners, end in sources]
    owners = derived_owners(o for o, _ in given_sources)
    times = derived_release_times(t for _, t in given_sources)
    every = all(may_see(caller, o, t, now) for o, t in given_sources)
    assert sees_derived(caller, given_sources, now) == every
    if may_see(caller, owners, times, now):
        assert every
    # the embargo and public release are the latest of the sources'
    assert times.members_from == max(t.members_from for _, t in given_sources)
    publics = [t.public_from for _, t in given_sources]
    if None in publics:
        assert times.public_from is None
    else:
        assert times.public_from == max(p for p in publics if p is not None)
    # and it opens at that moment: a member who owns no source sees it then, not before
    stranger = Caller(partner_id=9)
    assert may_see(stranger, owners, times, times.members_from)
    assert not may_see(stranger, owners, times, times.members_from - timedelta(seconds=1))


def test_an_owner_of_one_source_waits_for_the_others() -> None:
    mine = ({1}, ReleaseTimes(START + 10 * DAY, None))
    theirs = ({2}, ReleaseTimes(START + 40 * DAY, START + 100 * DAY))
    owners = derived_owners([mine[0], theirs[0]])
    times = derived_release_times([mine[1], theirs[1]])
    assert owners == frozenset()
    assert times == ReleaseTimes(START + 40 * DAY, None)
    partner1 = Caller(partner_id=1)
    assert not may_see(partner1, owners, times, START + 39 * DAY)
    assert may_see(partner1, owners, times, START + 40 * DAY)
    assert not may_see(Caller.public(), owners, times, START + 1000 * DAY)
    assert may_see(Caller(admin=True), owners, times, START)
    # a product of one source is under that source's terms exactly
    assert derived_owners([{1, 2}]) == {1, 2}
    assert derived_release_times([theirs[1]]) == theirs[1]


def test_a_derived_product_needs_a_source() -> None:
    with pytest.raises(ArchiveInputError):
        derived_owners([])
    with pytest.raises(ArchiveInputError):
        derived_release_times([])
    assert sees_derived(Caller(admin=True), [], START)
    assert not sees_derived(Caller(partner_id=1), [], START)


@given(
    st.lists(source, min_size=1, max_size=3),
    st.fixed_dictionaries({p: terms for p in PARTNERS}),
    callers,
    st.integers(0, 1500).map(lambda d: START + d * DAY),
    st.sampled_from(PARTNERS),
    st.sampled_from(["private", "consortium", "unknown"]),
)
def test_a_result_over_an_area_opens_to_nobody_who_does_not_see_the_area(
    sources: list[tuple[set[int], datetime]],
    agreement: dict[int, DataTerms],
    caller: Caller,
    now: datetime,
    area_owner: int,
    visibility: str,
) -> None:
    given_sources = [(owners, release_times(owners, end, agreement)) for owners, end in sources]
    owners, times = derived_over_area(
        derived_owners(o for o, _ in given_sources),
        derived_release_times(t for _, t in given_sources),
        (area_owner, visibility),
    )
    if may_see(caller, owners, times, now):
        assert sees_derived(caller, given_sources, now)
        assert sees_area(caller, area_owner, visibility)
    assert times.public_from is None  # areas are never public
    if visibility != "consortium":  # private, or unknown: the rule fails closed
        assert not may_see(Caller(partner_id=9), owners, times, now)
    assert derived_over_area(owners, times, None) == (owners, times)
