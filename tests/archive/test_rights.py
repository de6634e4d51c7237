"""Check the archive's rights: the pure rule, and the store's SQL filter against it.

The pure rule is checked against the issue's words on hand-picked cases; the SQL
filter (``store.products.visible_to``) is then checked against the pure rule on random
products, owners, agreements and times, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from jointsat.archive.blobs import Blob
from jointsat.archive.metadata import ProductMetadata
from jointsat.archive.rights import Caller, DataTerms, Grant, grant, may_see, release_times
from jointsat.errors import ArchiveInputError
from jointsat.store.database import open_engine, session_factory
from jointsat.store.products import StoredFile, record_product, visible_to
from jointsat.store.tables import Agreement, Partner, Product, Satellite, SatelliteOperator

END = datetime(2024, 5, 10, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
TERMS = {1: DataTerms(30, 365), 2: DataTerms(0, None), 3: DataTerms(90, 10)}


def test_owners_see_at_once_others_after_the_embargo_the_public_after_release() -> None:
    times = release_times([1], END, TERMS)
    assert times.members_from == END + 30 * DAY
    assert times.public_from == END + 365 * DAY
    owner, other, public, admin = Caller(1), Caller(2), Caller.public(), Caller(admin=True)
    assert may_see(owner, [1], times, END)
    assert may_see(admin, [1], times, END)
    assert not may_see(other, [1], times, END + 30 * DAY - timedelta(seconds=1))
    assert may_see(other, [1], times, END + 30 * DAY)
    assert not may_see(public, [1], times, END + 364 * DAY)
    assert may_see(public, [1], times, END + 365 * DAY)


def test_the_grant_names_the_rule_that_opens_the_product() -> None:
    times = release_times([1], END, TERMS)  # members after 30 days, the public after 365
    owner, other, public, admin = Caller(1), Caller(2), Caller.public(), Caller(admin=True)
    cases = [
        (admin, END, Grant.ADMIN),
        (owner, END, Grant.OWNER),
        (owner, END + 400 * DAY, Grant.OWNER),  # its own product, however old
        (other, END + 29 * DAY, None),
        (other, END + 30 * DAY, Grant.MEMBER),
        (other, END + 400 * DAY, Grant.MEMBER),  # public by then, but a member all the same
        (public, END + 364 * DAY, None),
        (public, END + 365 * DAY, Grant.PUBLIC),
    ]
    assert [grant(who, [1], times, at) for who, at, _ in cases] == [g for _, _, g in cases]
    # The public is never told it owns or shares a product; an owner-less caller
    # (a partner's user) is never shown "public".
    never_public = release_times([2], END, TERMS)
    assert grant(public, [2], never_public, END + 4000 * DAY) is None
    assert grant(Caller(1), [2], never_public, END) is Grant.MEMBER


def test_the_most_restrictive_owner_wins_and_members_see_what_is_public() -> None:
    joint = release_times([1, 2], END, TERMS)
    assert joint.members_from == END + 30 * DAY  # the longer embargo
    assert joint.public_from is None  # partner 2 never releases
    early_public = release_times([3], END, TERMS)
    assert early_public.public_from == END + 10 * DAY
    assert early_public.members_from == END + 10 * DAY  # not behind the public
    assert release_times([99], END, TERMS).public_from is None  # no agreement: never public


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ArchiveInputError, match="owning partner"):
        release_times([], END, TERMS)
    with pytest.raises(ArchiveInputError, match="timezone"):
        release_times([1], END.replace(tzinfo=None), TERMS)


@pytest.fixture
def sessions(store_url: str, tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    engine = open_engine(store_url)
    factory = session_factory(engine)
    with factory.begin() as session:
        for pid, terms in TERMS.items():
            partner = Partner(id=pid, code=f"p{pid}", name=f"P{pid}", contribution_share=0.3)
            session.add(
                Agreement(
                    partner=partner,
                    embargo_days=terms.embargo_days,
                    public_release_days=terms.public_release_days,
                )
            )
        session.add(Partner(id=4, code="p4", name="P4", contribution_share=0.1))  # no agreement
        session.flush()
        session.add(
            Satellite(
                norad_id=44874,
                name="CHEOPS",
                operators=[SatelliteOperator(partner_id=1, fraction=1.0)],
            )
        )
    yield factory
    engine.dispose()


products = st.lists(
    st.tuples(
        st.sets(st.sampled_from(["p1", "p2", "p3", "p4"]), min_size=1, max_size=3),
        st.integers(min_value=0, max_value=400),  # acquisition end, days before END
    ),
    min_size=1,
    max_size=8,
)
callers = st.sampled_from(
    [Caller.public(), Caller(admin=True), Caller(1), Caller(2), Caller(3), Caller(4)]
)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(made=products, caller=callers, offset_days=st.integers(min_value=-10, max_value=800))
def test_the_sql_filter_agrees_with_the_pure_rule(
    sessions: sessionmaker[Session],
    made: list[tuple[set[str], int]],
    caller: Caller,
    offset_days: int,
) -> None:
    now = END + offset_days * DAY
    with sessions() as session:
        session.query(Product).delete()
        session.commit()
        for n, (owners, age) in enumerate(made):
            metadata = ProductMetadata(
                satellite=44874,
                instrument="CCD",
                acquired_start=END - (age + 1) * DAY,
                acquired_end=END - age * DAY,
                owners=tuple(sorted(owners)),
            )
            blob = Blob(f"{n:064x}", 1)
            record_product(session, metadata, [StoredFile("f", blob)], now=END)
        rows = session.scalars(select(Product)).all()
        expected = {
            p.id
            for p in rows
            if may_see(
                caller,
                p.owner_ids,
                release_times(p.owner_ids, p.acquired_end, TERMS),
                now,
            )
        }
        found = set(session.scalars(select(Product.id).where(visible_to(caller, now))))
        assert found == expected
        # The grant agrees with the rule, and the public is only ever granted "public".
        for p in rows:
            times = release_times(p.owner_ids, p.acquired_end, TERMS)
            granted = grant(caller, p.owner_ids, times, now)
            assert (granted is not None) == (p.id in expected)
            if caller.is_public and granted is not None:
                assert granted is Grant.PUBLIC
