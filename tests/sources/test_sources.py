"""Prove the element sources' rules against fake servers on 127.0.0.1, counting requests.

CelesTrak: a query at most once in 2 hours (the cache answers), conditional when asked
again, blocked at the first error answer until unblocked, across processes (a new
client, the same store). Space-Track: one login per client (again once when its
session expires), 20 requests a minute and 300 an hour counted in the store, a query at
most once an hour, the account never in a message. A timeout, a cut-off or a malformed
answer changes nothing stored.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from tests.sources.fake import Fake, serving

from jointsat.errors import SourceBlockedError, SourceError
from jointsat.settings import Credentials, Settings
from jointsat.sources.http import Transport
from jointsat.sources.refresh import open_source, refresh, refresh_consortium
from jointsat.sources.source import Query
from jointsat.store.consortium import Arrival, add_element_sets, add_satellite, satellites
from jointsat.store.database import open_engine, session_factory
from jointsat.store.sources import cached_query, log_request, source_state, unblock
from jointsat.store.tables import ElementSetRecord, SourceRequest

NOW = datetime(2024, 5, 10, 12, 0, tzinfo=UTC)
ISS = 25544


@pytest.fixture
def session(store_url: str) -> Iterator[Session]:
    engine = open_engine(store_url)
    with session_factory(engine)() as made:
        yield made
    engine.dispose()


@pytest.fixture
def fake() -> Iterator[Fake]:
    with serving() as running:
        yield running


def _settings(fake: Fake, **changes: object) -> Settings:
    changes.setdefault("spacetrack_credentials", Credentials(fake.identity, fake.password))
    return Settings(
        database_url="unused",
        celestrak_url=fake.base,
        spacetrack_url=fake.base,
        **changes,  # type: ignore[arg-type]
    )


def _client(kind: str, fake: Fake, timeout_s: float = 10.0, **changes: object):  # type: ignore[no-untyped-def]
    return open_source(kind, _settings(fake, **changes), Transport(timeout_s))


def _stored(session: Session) -> list[tuple[int, datetime, str, bool]]:
    rows = session.scalars(select(ElementSetRecord).order_by(ElementSetRecord.id))
    return [(r.satellite_id, r.epoch, r.source_kind, r.chosen) for r in rows]


def test_celestrak_asks_a_query_once_in_two_hours_then_conditionally(
    session: Session, fake: Fake
) -> None:
    report = refresh(session, _client("celestrak", fake), Query(group="stations"), NOW, add=True)
    assert fake.count("/NORAD/elements/gp.php") == 1
    assert report.received == len(fake.records) == report.stored
    iss = next(s for s in satellites(session) if s.norad_id == ISS)
    assert [e.source_kind for e in iss.element_sets] == ["celestrak"]
    assert '"NORAD_CAT_ID": 25544' in (iss.element_sets[0].raw or "")
    # Another process (a new client) within 2 hours: the store's cache answers.
    for minutes in (1, 60, 119):
        later = NOW + timedelta(minutes=minutes)
        cached = refresh(session, _client("celestrak", fake), Query(group="stations"), later)
        assert "1 of 1 queries answered from the store" in cached.summary()
    assert fake.count() == 1
    # After 2 hours: asked again, conditionally; the 304 changes nothing.
    again = refresh(
        session, _client("celestrak", fake), Query(group="stations"), NOW + timedelta(hours=2)
    )
    assert fake.count() == 2
    assert fake.seen[-1].headers["if-none-match"] == fake.etag()
    assert fake.seen[-1].headers["if-modified-since"]
    assert again.received == report.received
    assert again.stored == 0
    assert "answered from the store" not in again.summary()


def test_celestrak_blocks_itself_at_the_first_error_until_unblocked(
    session: Session, fake: Fake, caplog: pytest.LogCaptureFixture
) -> None:
    fake.fault = 403
    with pytest.raises(SourceBlockedError, match=r"403.*jointsat elements unblock celestrak"):
        refresh(session, _client("celestrak", fake), Query(catnrs=(ISS, 20580)), NOW)
    assert fake.count() == 1  # stopped at once: not the second catalog number
    assert "403" in caplog.text
    fake.fault = None
    # Blocked across processes, hours later, and for SupGP too (the same servers).
    for kind in ("celestrak", "supgp"):
        with pytest.raises(SourceBlockedError, match="blocked since"):
            refresh(session, _client(kind, fake), Query(name="ISS"), NOW + timedelta(days=1))
    assert fake.count() == 1
    assert source_state(session, "celestrak").blocked_reason.startswith("127.0.0.1")
    assert unblock(session, "celestrak")
    refresh(session, _client("supgp", fake), Query(name="ISS"), NOW + timedelta(days=1))
    assert fake.count("/NORAD/elements/supplemental/sup-gp.php") == 1
    assert fake.count() == 2


def test_a_redirect_is_an_error_answer_not_followed(session: Session, fake: Fake) -> None:
    fake.fault = 301
    with pytest.raises(SourceBlockedError, match="301"):
        refresh(session, _client("celestrak", fake), Query(group="stations"), NOW)
    assert fake.count() == 1


@pytest.mark.parametrize("fault", ["hang", "partial", "malformed"])
def test_a_failed_answer_changes_nothing_stored(session: Session, fake: Fake, fault: str) -> None:
    query = Query(group="stations")
    refresh(session, _client("celestrak", fake), query, NOW, add=True)
    before = _stored(session)
    body = cached_query(session, "celestrak", _client("celestrak", fake).paths(query)[0])
    assert body is not None
    kept = (body.body, body.answered_at)
    fake.records = [{**r, "EPOCH": "2024-05-11T00:00:00"} for r in fake.records]  # news
    fake.fault = fault
    later = NOW + timedelta(hours=3)
    with pytest.raises(SourceError) as raised:
        refresh(session, _client("celestrak", fake, timeout_s=0.3), query, later)
    assert not isinstance(raised.value, SourceBlockedError)
    session.expire_all()
    assert _stored(session) == before
    row = cached_query(session, "celestrak", _client("celestrak", fake).paths(query)[0])
    assert row is not None
    assert (row.body, row.answered_at) == kept
    assert source_state(session, "celestrak").blocked_at is None


def test_space_track_logs_in_once_and_asks_a_query_once_an_hour(
    session: Session, fake: Fake
) -> None:
    client = _client("spacetrack", fake)
    refresh(session, client, Query(catnrs=(ISS,)), NOW, add=True)
    refresh(session, client, Query(name="ISS"), NOW + timedelta(minutes=1))
    refresh(session, client, Query(catnrs=(20580, ISS)), NOW + timedelta(minutes=2))
    assert fake.count("/ajaxauth/login") == 1
    assert fake.count("/basicspacedata/") == 3
    refresh(session, _client("spacetrack", fake), Query(catnrs=(ISS,)), NOW + timedelta(minutes=59))
    assert fake.count() == 4  # the cache answered: no login, no query
    refresh(session, _client("spacetrack", fake), Query(catnrs=(ISS,)), NOW + timedelta(hours=1))
    assert fake.count("/ajaxauth/login") == 2  # a new client logs in once
    assert fake.count("/basicspacedata/") == 4


def test_space_track_logs_in_again_once_when_its_session_expires(
    session: Session, fake: Fake
) -> None:
    fake.session_queries = 1  # each login session answers one query, then 401
    client = _client("spacetrack", fake)
    for minute, catnr in enumerate((ISS, 48274, 49044)):
        refresh(session, client, Query(catnrs=(catnr,)), NOW + timedelta(minutes=minute), add=True)
    assert [s.path.split("/")[1] for s in fake.seen] == [
        "ajaxauth",  # the first login
        "basicspacedata",
        "basicspacedata",  # 401: expired
        "ajaxauth",
        "basicspacedata",  # sent again: answered
        "basicspacedata",  # 401
        "ajaxauth",
        "basicspacedata",
    ]
    assert [s.method for s in fake.seen].count("POST") == 3
    assert source_state(session, "spacetrack").blocked_at is None
    assert {s.norad_id for s in satellites(session)} == {ISS, 48274, 49044}
    # Every request counted for the limits, the logins and the refused queries too.
    assert session.scalar(select(func.count()).select_from(SourceRequest)) == len(fake.seen)


def test_a_401_right_after_a_fresh_login_blocks_space_track(session: Session, fake: Fake) -> None:
    client = _client("spacetrack", fake)
    refresh(session, client, Query(catnrs=(ISS,)), NOW, add=True)
    fake.session_queries = 0  # from now on no session answers a query
    with pytest.raises(SourceBlockedError, match="401"):
        refresh(session, client, Query(catnrs=(48274,)), NOW + timedelta(minutes=1), add=True)
    assert fake.count("/ajaxauth/login") == 2  # logged in again once, not more
    assert fake.count("/basicspacedata/") == 3  # answered, 401 (expired), 401 (fresh: blocks)
    assert source_state(session, "spacetrack").blocked_at is not None
    with pytest.raises(SourceBlockedError, match="unblock spacetrack"):
        refresh(session, client, Query(catnrs=(49044,)), NOW + timedelta(minutes=2))
    assert fake.count() == 5
    # A fresh client whose very first query is refused is blocked at once, as before.
    unblock(session, "spacetrack")
    with pytest.raises(SourceBlockedError, match="401"):
        refresh(
            session, _client("spacetrack", fake), Query(catnrs=(49044,)), NOW + timedelta(hours=1)
        )
    assert fake.count() == 7  # a login and its refused query


@pytest.mark.parametrize(
    ("earlier", "spread"), [(20, timedelta(seconds=59)), (300, timedelta(minutes=59))]
)
def test_space_track_limits_count_requests_of_every_process(
    session: Session, fake: Fake, earlier: int, spread: timedelta
) -> None:
    for i in range(earlier):  # other processes' requests, in the store
        log_request(session, "spacetrack", NOW - spread + i * spread / earlier)
    with pytest.raises(SourceError, match=f"{earlier} requests in the last"):
        refresh(session, _client("spacetrack", fake), Query(catnrs=(ISS,)), NOW)
    assert fake.count() == 0
    # One limit's window later the oldest requests no longer count.
    refresh(session, _client("spacetrack", fake), Query(catnrs=(ISS,)), NOW + spread)
    assert fake.count() == 2  # a login and a query


def test_space_track_never_shows_the_account(session: Session, fake: Fake) -> None:
    wrong = Credentials(fake.identity, "not-" + fake.password)
    with pytest.raises(SourceError) as raised:
        refresh(
            session,
            _client("spacetrack", fake, spacetrack_credentials=wrong),
            Query(catnrs=(ISS,)),
            NOW,
        )
    assert fake.password not in str(raised.value)
    assert fake.identity not in str(raised.value)
    assert fake.password not in repr(_settings(fake))
    with pytest.raises(SourceError, match="needs an account"):
        refresh(
            session, _client("spacetrack", fake, spacetrack_credentials=None), Query(name="X"), NOW
        )


def test_space_track_has_no_groups(fake: Fake) -> None:
    with pytest.raises(SourceError, match="no groups"):
        _client("spacetrack", fake).paths(Query(group="stations"))


def test_at_equal_epoch_the_preferred_source_is_used_and_every_set_kept(
    session: Session, fake: Fake
) -> None:
    refresh(session, _client("celestrak", fake), Query(catnrs=(ISS,)), NOW, add=True)
    refresh(session, _client("spacetrack", fake), Query(catnrs=(ISS,)), NOW)
    refresh(session, _client("supgp", fake), Query(catnrs=(ISS,)), NOW)
    (iss,) = satellites(session)
    session.refresh(iss)
    assert [e.source_kind for e in iss.element_history] == ["celestrak", "spacetrack", "supgp"]
    assert [e.source_kind for e in iss.element_sets] == ["supgp"]  # one per epoch: preferred
    # An upload at that epoch wins by default; a configured order may put CelesTrak first.
    sets = [e for e in iss.element_sets]
    from jointsat.store.convert import elements_of

    upload = elements_of(sets[0])
    assert add_element_sets(iss, [upload], Arrival("mine.tle", NOW)) == 1
    session.commit()
    session.refresh(iss)
    assert [e.source_kind for e in iss.element_sets] == ["upload"]
    assert len(iss.element_history) == 4


def test_the_consortium_refresh_asks_for_its_satellites_only(session: Session, fake: Fake) -> None:
    add_satellite(session, name="ISS", norad_id=ISS, daily_demand_s=None, imager=None, operators={})
    session.commit()
    report = refresh_consortium(session, _client("celestrak", fake), NOW)
    assert [s.query for s in fake.seen] == [{"CATNR": str(ISS), "FORMAT": "json"}]
    assert report.stored == 1
    assert report.satellites == 1
    assert source_state(session, "celestrak").refresh_summary == report.summary()
    assert session.scalar(select(func.count()).select_from(SourceRequest)) == 1
