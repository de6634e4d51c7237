"""Test :mod:`jointsat.iers` against astropy's own reading of the same IERS tables."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime, timedelta

import pytest
from astropy.time import Time
from astropy.utils import iers

from jointsat.iers import ut1_utc_s

one_millisecond = 1e-3  # astropy takes past dates from Bulletin B: they differ by < 0.2 ms


def astropy_ut1_utc_s(when: datetime) -> float | None:
    iers.conf.auto_download = False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value, status = iers.earth_orientation_table.get().ut1_utc(Time(when), return_status=True)
    return None if int(status) < 0 else float(value.to_value("s"))


@pytest.mark.parametrize(
    "when",
    [datetime(1990, 6, 1, 6, tzinfo=UTC)]
    + [datetime(2012, 1, 1, tzinfo=UTC) + timedelta(hours=61 * k) for k in range(200)],
    ids=lambda w: w.isoformat(),
)
def test_it_agrees_with_astropy(when: datetime) -> None:
    expected = astropy_ut1_utc_s(when)
    assert expected is not None
    assert ut1_utc_s(when) == pytest.approx(expected, abs=one_millisecond)


def test_a_leap_second_steps_at_midnight_not_through_the_day() -> None:
    before = ut1_utc_s(datetime(2016, 12, 31, 23, 59, 59, tzinfo=UTC))
    after = ut1_utc_s(datetime(2017, 1, 1, 0, 0, 1, tzinfo=UTC))
    noon = ut1_utc_s(datetime(2016, 12, 31, 12, tzinfo=UTC))
    assert before is not None
    assert after is not None
    assert noon is not None
    assert after - before == pytest.approx(1.0, abs=0.01)  # the leap second
    assert abs(before - noon) < 0.01  # the day's drift, about a millisecond
    assert before == pytest.approx(
        astropy_ut1_utc_s(datetime(2016, 12, 31, 23, 59, 59, tzinfo=UTC)), abs=one_millisecond
    )


def test_past_the_table_it_is_unknown() -> None:
    assert ut1_utc_s(datetime(2100, 1, 1, tzinfo=UTC)) is None
    assert ut1_utc_s(datetime(1950, 1, 1, tzinfo=UTC)) is None
