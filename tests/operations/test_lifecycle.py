"""Check the contact lifecycle against its table, written out again here, and its invariants."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jointsat.errors import ContactReportError, ContactStateError
from jointsat.operations.lifecycle import (
    CLOCK_SLACK_S,
    REPORT_MARGIN_S,
    Actor,
    ContactState,
    Lifecycle,
    Move,
    Report,
    advance,
    transitions,
)

S = ContactState
START = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
END = START + timedelta(minutes=10)
SPAN = (START, END)

# The issue's table, by hand: every move allowed from each state.
ALLOWED = {
    S.SCHEDULED: {S.CONFIRMED, S.CANCELLED, S.EXECUTING, S.FAILED},
    S.CONFIRMED: {S.EXECUTING, S.CANCELLED, S.FAILED},
    S.EXECUTING: {S.COMPLETED, S.FAILED},
    S.COMPLETED: set(),
    S.FAILED: set(),
    S.CANCELLED: set(),
}
# Which move reaches each state, and who may make it.
MOVE_TO = {
    S.CONFIRMED: Move.CONFIRM,
    S.CANCELLED: Move.CANCEL,
    S.EXECUTING: Move.START,
    S.COMPLETED: Move.END,
    S.FAILED: Move.FAIL,
}
STATION_MAY = {Move.START, Move.END, Move.FAIL}


def _report(move: Move, at: datetime) -> Report:
    if move is Move.FAIL:
        return Report(at=at, reason="no carrier lock")
    if move in (Move.START, Move.END):
        return Report(at=at)
    return Report()


def _in(state: ContactState) -> Lifecycle:
    started = START if state in (S.EXECUTING, S.COMPLETED) else None
    return Lifecycle(state=state, started_at=started)


def test_the_transitions_are_the_issues_table() -> None:
    assert transitions() == {s: frozenset(t) for s, t in ALLOWED.items()}


@pytest.mark.parametrize("source", list(S))
@pytest.mark.parametrize("target", list(S))
@pytest.mark.parametrize("actor", list(Actor))
def test_every_pair_of_states_is_allowed_or_refused_as_the_table_says(
    source: ContactState, target: ContactState, actor: Actor
) -> None:
    if target is S.SCHEDULED:  # no move leads back to scheduled
        assert S.SCHEDULED not in ALLOWED[source]
        return
    move = MOVE_TO[target]
    now = END + timedelta(minutes=1)
    allowed = target in ALLOWED[source] and (actor is Actor.OPERATOR or move in STATION_MAY)
    if allowed:
        after = advance(_in(source), move, actor, _report(move, END), span=SPAN, now=now)
        assert after.state is target
        assert after.changed_at == now
    else:
        with pytest.raises(ContactStateError):
            advance(_in(source), move, actor, _report(move, END), span=SPAN, now=now)


def test_a_failure_needs_a_reason_and_keeps_it() -> None:
    now = START + timedelta(minutes=3)
    with pytest.raises(ContactReportError, match="reason"):
        advance(Lifecycle(), Move.FAIL, Actor.STATION, Report(at=now), span=SPAN, now=now)
    failed = advance(
        Lifecycle(),
        Move.FAIL,
        Actor.STATION,
        Report(at=now, reason=" rain fade "),
        span=SPAN,
        now=now,
    )
    assert (failed.state, failed.reason, failed.ended_at) == (S.FAILED, "rain fade", None)


@pytest.mark.parametrize(
    ("move", "report", "field"),
    [
        (Move.START, Report(at=START - timedelta(seconds=REPORT_MARGIN_S + 1)), "at"),
        (Move.START, Report(at=END + timedelta(seconds=REPORT_MARGIN_S + 1)), "at"),
        (Move.START, Report(at=START, bytes_received=5), "bytes_received"),
        (Move.START, Report(at=START, reason="why"), "reason"),
        (Move.CONFIRM, Report(reason="x" * 2001), "reason"),
    ],
)
def test_impossible_reports_are_refused_naming_the_field(
    move: Move, report: Report, field: str
) -> None:
    with pytest.raises(ContactReportError) as caught:
        advance(Lifecycle(), move, Actor.OPERATOR, report, span=SPAN, now=END + timedelta(hours=3))
    assert caught.value.location == field


def test_reports_from_the_future_past_the_clock_slack_are_refused() -> None:
    now = START + timedelta(seconds=30)
    ahead = now + timedelta(seconds=CLOCK_SLACK_S)
    assert advance(Lifecycle(), Move.START, Actor.STATION, Report(at=ahead), span=SPAN, now=now)
    with pytest.raises(ContactReportError, match="future"):
        advance(
            Lifecycle(),
            Move.START,
            Actor.STATION,
            Report(at=ahead + timedelta(seconds=1)),
            span=SPAN,
            now=now,
        )


def test_an_end_before_the_start_and_negative_bytes_are_refused() -> None:
    now = END + timedelta(minutes=5)
    running = advance(
        Lifecycle(),
        Move.START,
        Actor.STATION,
        Report(at=START + timedelta(minutes=2)),
        span=SPAN,
        now=now,
    )
    with pytest.raises(ContactReportError, match="before the reported start"):
        advance(running, Move.END, Actor.STATION, Report(at=START), span=SPAN, now=now)
    with pytest.raises(ContactReportError, match="negative"):
        advance(
            running, Move.END, Actor.STATION, Report(at=END, bytes_received=-1), span=SPAN, now=now
        )
    done = advance(
        running, Move.END, Actor.STATION, Report(at=END, bytes_received=7), span=SPAN, now=now
    )
    assert (done.started_at, done.ended_at, done.bytes_received) == (
        START + timedelta(minutes=2),
        END,
        7,
    )


STEP = st.tuples(
    st.sampled_from(list(Move)),
    st.sampled_from(list(Actor)),
    st.integers(min_value=-5400, max_value=5400),  # the report's offset from the start, s
    st.one_of(st.none(), st.integers(min_value=-3, max_value=10**12)),
    st.sampled_from([None, "", "antenna fault"]),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(STEP, max_size=12))
def test_any_sequence_of_moves_keeps_the_invariants(
    steps: list[tuple[Move, Actor, int, int | None, str | None]],
) -> None:
    """Whatever is tried: a refused move changes nothing, terminal stays terminal, start <= end."""
    life = Lifecycle()
    now = START - timedelta(hours=2)
    for move, actor, offset_s, count, reason in steps:
        now += timedelta(minutes=20)
        at = START + timedelta(seconds=offset_s)
        try:
            after = advance(
                life,
                move,
                actor,
                Report(at=at, bytes_received=count, reason=reason),
                span=SPAN,
                now=now,
            )
        except (ContactStateError, ContactReportError):
            continue  # refused: the lifecycle is as it was (it is immutable, nothing to undo)
        assert after.state in ALLOWED[life.state]
        assert actor is Actor.OPERATOR or move in STATION_MAY
        assert after.changed_at == now
        if life.state in (S.COMPLETED, S.FAILED, S.CANCELLED):
            pytest.fail(f"{move} moved a {life.state} contact")
        if after.started_at is not None and after.ended_at is not None:
            assert after.started_at <= after.ended_at
        if after.state is S.COMPLETED:
            assert after.started_at is not None
            assert after.ended_at is not None
        if after.state is S.FAILED:
            assert after.reason
        for moment in (after.started_at, after.ended_at):
            assert moment is None or moment <= now + timedelta(seconds=CLOCK_SLACK_S)
        assert after.bytes_received is None or after.bytes_received >= 0
        life = after
