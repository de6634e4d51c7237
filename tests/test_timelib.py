"""timelib against python-sgp4's jday (the authority SGP4 itself uses) and round trips."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sgp4.api import jday

from jointsat import timelib

MICROSECOND_DAYS = 1e-6 / 86_400.0
# hypothesis wants naive bounds; the zone comes from ``timezones``.
moments = st.datetimes(
    min_value=datetime(1957, 10, 4),  # noqa: DTZ001
    max_value=datetime(2100, 1, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
)


@given(moments)
def test_split_julian_equals_sgp4s_jday(moment: datetime) -> None:
    second = moment.second + moment.microsecond * 1e-6
    jd, fr = jday(moment.year, moment.month, moment.day, moment.hour, moment.minute, second)
    ours = timelib.split_julian(moment)
    assert ours[0] == jd
    assert ours[1] == pytest.approx(fr, abs=MICROSECOND_DAYS / 100)


@given(moments)
def test_split_julian_round_trips_to_the_microsecond(moment: datetime) -> None:
    back = timelib.from_split_julian(*timelib.split_julian(moment))
    assert abs(back - moment) <= timedelta(microseconds=1)


def test_j2000_is_noon_of_the_first_of_january_2000() -> None:
    jd, fr = timelib.split_julian(datetime(2000, 1, 1, 12, tzinfo=UTC))
    assert jd + fr == timelib.JD_J2000


def test_a_zone_other_than_utc_is_the_same_instant() -> None:
    paris = timezone(timedelta(hours=2))
    here = datetime(2024, 5, 10, 2, 30, tzinfo=paris)
    assert timelib.split_julian(here) == timelib.split_julian(
        datetime(2024, 5, 10, 0, 30, tzinfo=UTC)
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-09T00:00:00Z", datetime(2024, 5, 9, tzinfo=UTC)),
        ("2024-05-09t01:02:03.5z", datetime(2024, 5, 9, 1, 2, 3, 500_000, tzinfo=UTC)),
        ("2024-05-09T02:00:00+02:00", datetime(2024, 5, 9, tzinfo=UTC)),
        (" 2024-05-09 00:00:00+00:00 ", datetime(2024, 5, 9, tzinfo=UTC)),
    ],
)
def test_iso_times_parse_to_utc(text: str, expected: datetime) -> None:
    parsed = timelib.parse_iso(text)
    assert parsed == expected
    assert parsed.tzinfo is UTC


def test_a_naive_time_is_refused_unless_it_is_taken_as_utc() -> None:
    with pytest.raises(ValueError, match=r"start .* no time zone"):
        timelib.parse_iso("2024-05-09T00:00:00", label="start")
    assert timelib.parse_iso("2024-05-09", naive_is_utc=True) == datetime(2024, 5, 9, tzinfo=UTC)


@pytest.mark.parametrize("text", ["", "tomorrow", "2024-13-01T00:00:00Z", "2024-05-09T25:00Z"])
def test_text_that_is_no_time_is_refused_naming_it(text: str) -> None:
    with pytest.raises(ValueError, match="not an ISO 8601 time"):
        timelib.parse_iso(text)


def test_a_time_out_of_range_in_utc_is_a_value_error_not_an_overflow() -> None:
    with pytest.raises(ValueError, match="out of range"):
        timelib.parse_iso("9999-12-31T23:59:59-14:00")
    with pytest.raises(ValueError, match="out of range"):
        timelib.parse_iso("0001-01-01T00:00:00+01:00")


def test_formats() -> None:
    moment = datetime(2024, 5, 9, 1, 2, 3, 456_789, tzinfo=timezone(timedelta(hours=1)))
    assert timelib.format_iso(moment) == "2024-05-09T00:02:03.456789Z"
    assert timelib.format_iso(moment.replace(microsecond=0)) == "2024-05-09T00:02:03Z"
    assert timelib.format_iso_ms(moment) == "2024-05-09T00:02:03.456Z"
    assert timelib.format_readable(moment) == "2024-05-09 00:02:03"


@given(moments, st.lists(st.floats(0.0, 30 * 86_400.0), min_size=1, max_size=20))
def test_an_origin_gives_the_julian_dates_of_its_offsets(
    start: datetime, offsets: list[float]
) -> None:
    origin = timelib.TimeOrigin.of(start)
    jd, fr = origin.julian(np.array(offsets))
    for t_s, whole, part in zip(offsets, jd, fr, strict=True):
        expected = timelib.split_julian(origin.at(t_s))
        assert (whole - expected[0]) + (part - expected[1]) == pytest.approx(0.0, abs=2e-11)
        assert origin.seconds(origin.at(t_s)) == pytest.approx(t_s, abs=1e-6)


def test_reading_as_written_keeps_the_zone_or_its_absence() -> None:
    paris = timezone(timedelta(hours=2))
    assert timelib.read_iso("2024-05-09T02:00:00+02:00").tzinfo == paris
    assert timelib.read_iso(" 2024-05-09t00:00:00z ").tzinfo is UTC
    assert timelib.read_iso("2024-05-09T00:00:00").tzinfo is None


@pytest.mark.parametrize("text", [" 2024-05-09T00:00:00Z", "2024-05-09T00:00:00z"])
def test_verbatim_reading_refuses_blanks_and_a_lower_case_zone(text: str) -> None:
    with pytest.raises(ValueError, match="not an ISO 8601 time"):
        timelib.read_iso(text, verbatim=True)
    assert timelib.read_iso(text) == datetime(2024, 5, 9, tzinfo=UTC)


@pytest.mark.parametrize(
    ("time", "text"),
    [
        (datetime(2024, 5, 9, 8, 48, 19, 938816, tzinfo=UTC), "2024-05-09T08:48:19.938Z"),
        (datetime(2024, 5, 9, 8, 48, 19, tzinfo=UTC), "2024-05-09T08:48:19.000Z"),
        (
            datetime(2024, 5, 9, 10, 48, 19, 999999, tzinfo=timezone(timedelta(hours=2))),
            "2024-05-09T08:48:19.999Z",
        ),
    ],
)
def test_pass_files_write_milliseconds_truncated_and_z(time: datetime, text: str) -> None:
    assert timelib.format_iso_ms(time) == text


@settings(max_examples=300, deadline=None)
@given(
    st.datetimes(
        min_value=datetime(1990, 1, 1),  # noqa: DTZ001  (hypothesis bounds are naive)
        max_value=datetime(2060, 1, 1),  # noqa: DTZ001
        timezones=st.just(UTC),
    ),
    st.lists(st.floats(min_value=0.0, max_value=1e6, allow_nan=False), min_size=1, max_size=50),
)
def test_vector_millisecond_times_are_the_scalar_ones(
    start: datetime, seconds: list[float]
) -> None:
    expected = [timelib.format_iso_ms(timelib.TimeOrigin.of(start).at(t)) for t in seconds]
    assert timelib.format_iso_ms_after(start, seconds) == expected
