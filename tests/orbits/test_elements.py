"""Test element-set ingest and export against sgp4's own readers and real data files."""

from __future__ import annotations

import json
import math
import re
import string
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from importlib.resources import files
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sgp4 import omm as sgp4_omm
from sgp4.alpha5 import to_alpha5
from sgp4.api import WGS72, Satrec
from sgp4.io import compute_checksum, fix_checksum, verify_checksum
from tests.support.data import orbit_file

from jointsat.errors import ElementsError, UnknownFormatError
from jointsat.orbits.elements import (
    Elements,
    ElementsFormat,
    ParsedElements,
    detect_format,
    parse_elements,
    write_elements,
)

MALFORMED = Path(__file__).parent / "data" / "malformed"
VALLADO = "SGP4-VER.TLE"
REAL_TLE_FILES = [
    "stations.tle",
    "tle-CATNR-25544.txt",
    "alpha5_T0000_from_python-sgp4_issue77.tle",
    "cheops.tle",
    "stations-tle-2020-06-25.txt",
]
ISS = 25544

# twoline2rv initialises sgp4 at the epoch (jdsatepoch + jdsatepochF) - 2433281.5, rounded
# through a Julian date near 2.4e6 (whose ulp is 40 microseconds), where Elements.satrec()
# passes the exact days since 1949. Near-Earth SGP4 hardly notices, but deep-space SDP4
# evaluates its Sun, Moon and resonance terms at that epoch: Vallado's 23333 ends 4.1 mm
# apart after three days. test_tle_matches_twoline2rv_from_its_initial_epoch shows that
# nothing else differs.
one_millimetre_km = 1e-6
one_micrometre_per_second_km_s = 1e-9
five_millimetres_km = 5e-6
two_micrometres_per_second_km_s = 2e-9
JD_1949_12_31 = 2433281.5
PROPAGATION_DAYS = (0.0, 1.0, 3.0)


def read_data(name: str) -> str:
    """Return the text of a reference data file (Vallado's from the sgp4 package)."""
    if name == VALLADO:
        return (files("sgp4") / VALLADO).read_text(encoding="utf-8")
    return orbit_file(name).read_text(encoding="utf-8")


def tle_line_pairs(text: str) -> list[tuple[int, str, str]]:
    """Return (line number, line 1, line 2) of each TLE, found without jointsat's parser."""
    lines = text.splitlines()
    return [(n + 1, line, lines[n + 1]) for n, line in enumerate(lines) if line.startswith("1 ")]


def only(elements: tuple[Elements, ...], norad_cat_id: int) -> Elements:
    """Return the one element set of a catalog number."""
    (found,) = [e for e in elements if e.norad_cat_id == norad_cat_id]
    return found


def summary(result: ParsedElements) -> tuple[object, ...]:
    """Return what a parse found in a comparable form (exceptions compare by identity)."""
    return result.format, result.elements, [str(problem) for problem in result.problems]


def assert_same_motion(
    ours: Satrec,
    theirs: Satrec,
    label: str,
    position_km: float = one_millimetre_km,
    velocity_km_s: float = one_micrometre_per_second_km_s,
) -> None:
    """Assert that two propagators give the same state at the epoch and days after it."""
    for days in PROPAGATION_DAYS:
        jd, fr = theirs.jdsatepoch + days, theirs.jdsatepochF
        error, position, velocity = ours.sgp4(jd, fr)
        expected_error, expected_position, expected_velocity = theirs.sgp4(jd, fr)
        assert error == expected_error, f"{label} +{days} d"
        if expected_error == 0:
            assert position == pytest.approx(expected_position, rel=0, abs=position_km), label
            assert velocity == pytest.approx(expected_velocity, rel=0, abs=velocity_km_s), label


# TLE against sgp4's own reader.


@pytest.mark.parametrize("name", [VALLADO, *REAL_TLE_FILES])
def test_tle_propagates_like_twoline2rv(name: str) -> None:
    pairs = tle_line_pairs(read_data(name))
    assert pairs
    for number, line1, line2 in pairs:
        ours = Elements.from_tle(line1, line2, verify_checksum=False).satrec()
        theirs = Satrec.twoline2rv(line1, line2)
        assert (ours.jdsatepoch, ours.jdsatepochF) == (theirs.jdsatepoch, theirs.jdsatepochF)
        label = f"{name}:{number}"
        if theirs.method == "n":
            assert_same_motion(ours, theirs, label)
        else:
            assert_same_motion(
                ours, theirs, label, five_millimetres_km, two_micrometres_per_second_km_s
            )


@pytest.mark.parametrize("name", [VALLADO, *REAL_TLE_FILES])
def test_tle_matches_twoline2rv_from_its_initial_epoch(name: str) -> None:
    for number, line1, line2 in tle_line_pairs(read_data(name)):
        e = Elements.from_tle(line1, line2, verify_checksum=False)
        theirs = Satrec.twoline2rv(line1, line2)
        ours = e.satrec()
        ours.sgp4init(
            WGS72,
            "i",
            ours.satnum,
            (e.epoch_jd + e.epoch_fr) - JD_1949_12_31,  # rounded as twoline2rv rounds it
            ours.bstar,
            ours.ndot,
            ours.nddot,
            ours.ecco,
            ours.argpo,
            ours.inclo,
            ours.mo,
            ours.no_kozai,
            ours.nodeo,
        )
        ours.jdsatepoch, ours.jdsatepochF = e.epoch_jd, e.epoch_fr
        assert_same_motion(ours, theirs, f"{name}:{number}")


@pytest.mark.parametrize("name", [VALLADO, *REAL_TLE_FILES])
def test_tle_fields_equal_twoline2rv(name: str) -> None:
    radians_per_degree = math.pi / 180.0
    for number, line1, line2 in tle_line_pairs(read_data(name)):
        e = Elements.from_tle(line1, line2, verify_checksum=False)
        sat = Satrec.twoline2rv(line1, line2)
        label = f"{name}:{number}"
        assert (e.epoch_jd, e.epoch_fr) == (sat.jdsatepoch, sat.jdsatepochF), label
        assert e.norad_cat_id == sat.satnum, label
        assert e.eccentricity == sat.ecco, label
        assert e.inclination_deg * radians_per_degree == sat.inclo, label
        assert e.raan_deg * radians_per_degree == sat.nodeo, label
        assert e.arg_of_pericenter_deg * radians_per_degree == sat.argpo, label
        assert e.mean_anomaly_deg * radians_per_degree == sat.mo, label
        assert e.mean_motion_rev_per_day / (1440.0 / (2.0 * math.pi)) == sat.no_kozai, label
        assert e.mean_motion_dot / (1440.0 * 1440.0 / (2.0 * math.pi)) == sat.ndot, label
        # twoline2rv multiplies the mantissa by a power of ten: an ulp or two from the decimal.
        assert e.mean_motion_ddot / (1440.0**3 / (2.0 * math.pi)) == pytest.approx(
            sat.nddot, rel=1e-15
        ), label
        assert e.bstar == pytest.approx(sat.bstar, rel=1e-15), label
        assert (e.element_set_no, e.rev_at_epoch) == (sat.elnum, sat.revnum), label
        assert (e.ephemeris_type, e.classification_type) == (sat.ephtype, sat.classification), label
        assert e.object_id[2:4] + e.object_id[5:] == sat.intldesg, label


def test_vallado_checksum_errors_are_reported_and_skipped() -> None:
    text = read_data(VALLADO)
    pairs = tle_line_pairs(text)
    known_bad = {"33333", "33334", "33335"}
    result = parse_elements(text, source=VALLADO)
    assert result.format is ElementsFormat.TLE
    assert [(p.source, p.location) for p in result.problems] == [
        (VALLADO, f"line {n}") for n, line1, _ in pairs if line1[2:7] in known_bad
    ]
    for problem, (_, line1, _) in zip(
        result.problems, [p for p in pairs if p[1][2:7] in known_bad], strict=True
    ):
        assert problem.reason == (
            f"bad checksum: expected {compute_checksum(line1)}, found {line1[68]}"
        )
    good = [int(line1[2:7]) for _, line1, _ in pairs if line1[2:7] not in known_bad]
    assert [e.norad_cat_id for e in result.elements] == good


def test_vallado_checksum_errors_read_without_verification() -> None:
    for number, line1, line2 in tle_line_pairs(read_data(VALLADO)):
        if line1[2:7] in {"33333", "33334", "33335"}:
            with pytest.raises(ElementsError, match="bad checksum"):
                Elements.from_tle(line1, line2, source=VALLADO, line_number=number)
            elements = Elements.from_tle(line1, line2, verify_checksum=False)
            assert elements.norad_cat_id == int(line1[2:7])


def test_vallado_blank_ephemeris_type_reads_as_zero() -> None:
    (line1, line2) = next((a, b) for _, a, b in tle_line_pairs(read_data(VALLADO)) if "11801" in a)
    assert line1[62] == " "
    assert Elements.from_tle(line1, line2).ephemeris_type == 0


def test_vallado_exponent_fields_keep_their_numbers() -> None:
    pairs = {line1[2:7]: (line1, line2) for _, line1, line2 in tle_line_pairs(read_data(VALLADO))}
    e = Elements.from_tle(*pairs["16925"])  # "-30915-6" and " 18784-3"
    assert (e.mean_motion_ddot, e.bstar, e.mean_motion_dot) == (-0.30915e-6, 0.18784e-3, 0.02550794)
    e = Elements.from_tle(*pairs["21897"])  # "-13525-3", " 00000-0"
    assert (e.bstar, e.mean_motion_ddot, e.mean_motion_dot) == (-0.13525e-3, 0.0, -0.00001273)


def test_columns_after_69_are_ignored() -> None:
    _, line1, line2 = tle_line_pairs(read_data("stations.tle"))[0]
    assert Elements.from_tle(line1 + "  0.0  1440.0  360.0", line2 + " x") == Elements.from_tle(
        line1, line2
    )


# One record, whatever the format.


def test_iss_is_the_same_in_every_format() -> None:
    names = ["stations.tle", "stations.json", "stations.csv"]
    names += ["derived_iss_omm.kvn", "derived_iss_omm.xml"]
    found = [only(parse_elements(read_data(n), source=n).elements, ISS) for n in names]
    assert found == [found[0]] * len(names)
    assert found[0].epoch == datetime(2024, 5, 9, 8, 48, 19, 938816, tzinfo=UTC)
    assert (found[0].epoch_jd, found[0].epoch_fr) == (2460439.5, 0.36689744)


def test_stations_are_the_same_as_tle_json_and_csv() -> None:
    tle, omm_json, omm_csv = (
        parse_elements(read_data(n)) for n in ("stations.tle", "stations.json", "stations.csv")
    )
    assert len(tle.elements) == 27
    assert tle.elements == omm_json.elements == omm_csv.elements
    assert tle.problems == omm_json.problems == omm_csv.problems == ()


def test_tle_and_omm_xml_of_2020_agree() -> None:
    tle = parse_elements(read_data("stations-tle-2020-06-25.txt"))
    xml = parse_elements(read_data("stations-omm-2020-06-25.xml"))
    assert [e.norad_cat_id for e in tle.elements] == [25544, 42982, 43021]
    assert tle.elements == xml.elements


@pytest.mark.parametrize("name", ["sample_omm.csv", "sample_omm.xml", "sample_omm.json"])
def test_vanguard_omm_propagates_like_sgp4_omm(name: str) -> None:
    path = orbit_file(name)
    with path.open(encoding="utf-8") as file:
        if name.endswith(".csv"):
            records = list(sgp4_omm.parse_csv(file))
        elif name.endswith(".xml"):
            records = list(sgp4_omm.parse_xml(file))
        else:
            records = json.load(file)
    (elements,) = parse_elements(path.read_text(encoding="utf-8"), source=name).elements
    (fields,) = records
    theirs = Satrec()
    sgp4_omm.initialize(theirs, fields)
    assert elements.object_name == "VANGUARD 1"
    epoch = datetime.fromisoformat(fields["EPOCH"])
    since_midnight = epoch - epoch.replace(hour=0, minute=0, second=0, microsecond=0)
    assert (elements.epoch_jd, elements.epoch_fr) == (
        epoch.toordinal() + 1721424.5,
        float(Fraction(since_midnight // timedelta(microseconds=1), 86_400 * 10**6)),
    )
    # sgp4.omm.initialize keeps the epoch split that sgp4init rounds (by up to 0.16
    # microseconds, a millimetre and a half at Vanguard's perigee); satrec() does not.
    assert_same_motion(
        elements.satrec(), theirs, name, five_millimetres_km, two_micrometres_per_second_km_s
    )


def test_crlf_line_ends_read_the_same() -> None:
    for name in ("stations.tle", "stations.csv", "derived_iss_omm.kvn", "sample_omm.xml"):
        text = read_data(name)
        assert summary(parse_elements(text.replace("\n", "\r\n"))) == summary(parse_elements(text))


def test_json_may_hold_one_object() -> None:
    record = json.loads(read_data("stations.json"))[0]
    result = parse_elements(json.dumps(record))
    assert result.elements == (Elements.from_omm(record),)


def test_kvn_may_hold_several_omms() -> None:
    kvn = read_data("derived_iss_omm.kvn")
    result = parse_elements(f"COMMENT two messages\n{kvn}\n{kvn}")
    assert result.format is ElementsFormat.OMM_KVN
    assert len(result.elements) == 2
    assert result.elements[0] == result.elements[1]


def test_omm_values_may_be_text_or_numbers() -> None:
    record = json.loads(read_data("stations.json"))[0]
    assert Elements.from_omm({k: str(v) for k, v in record.items()}) == Elements.from_omm(record)


@pytest.mark.parametrize(
    "epoch",
    [
        "2024-05-09T08:48:19.938816",
        "2024-05-09T08:48:19.938816Z",
        "2024-05-09T08:48:19.93881600",
        "2024-130T08:48:19.938816",
    ],
)
def test_omm_epoch_spellings(epoch: str) -> None:
    record = json.loads(read_data("stations.json"))[0]
    assert Elements.from_omm(record | {"EPOCH": epoch}) == Elements.from_omm(record)


def test_omm_epoch_beyond_microseconds_is_split_exactly() -> None:
    record = json.loads(read_data("stations.json"))[0] | {"EPOCH": "2024-05-09T00:00:00.0000001"}
    e = Elements.from_omm(record)
    assert e.epoch_jd == 2460439.5
    assert e.epoch_fr == float(Fraction(1, 10**7) / 86400)


@pytest.mark.parametrize(("two_digits", "year"), [("56", 2056), ("57", 1957), ("00", 2000)])
def test_two_digit_tle_years(two_digits: str, year: int) -> None:
    _, line1, line2 = tle_line_pairs(read_data("stations.tle"))[0]
    line1 = fix_checksum(line1[:18] + two_digits + "001.50000000" + line1[32:])
    e = Elements.from_tle(line1, line2)
    assert e.epoch == datetime(year, 1, 1, 12, tzinfo=UTC)
    assert e.epoch_jd == date(year, 1, 1).toordinal() + 1721424.5
    assert e.epoch_fr == 0.5


# Export.


def test_to_tle_writes_celestrak_lines() -> None:
    text = read_data("stations.tle")
    for (_, line1, line2), elements in zip(
        tle_line_pairs(text), parse_elements(text).elements, strict=True
    ):
        assert elements.to_tle() == (line1, line2)


def test_to_omm_writes_celestrak_json() -> None:
    records = json.loads(read_data("stations.json"))
    elements = parse_elements(read_data("stations.tle")).elements
    assert [e.to_omm() for e in elements] == records


def test_to_tle_of_every_tle_reads_back() -> None:
    for name in (VALLADO, *REAL_TLE_FILES):
        for _, line1, line2 in tle_line_pairs(read_data(name)):
            e = Elements.from_tle(line1, line2, verify_checksum=False)
            lines = e.to_tle()
            verify_checksum(*lines)
            assert Elements.from_tle(*lines) == e
            assert Elements.from_omm(e.to_omm()) == e


angles_deg = st.integers(0, 3_599_999).map(lambda k: k / 1e4)


def exponent_field_value(sign: int, mantissa: int, exponent: int) -> float:
    """Return the float that a TLE exponent field such as "-11606-4" writes, exactly rounded."""
    return sign * float(Fraction(mantissa, 10**5) * Fraction(10) ** exponent)


exponent_field_values = st.one_of(
    st.just(0.0),
    st.builds(
        exponent_field_value,
        st.sampled_from([1, -1]),
        st.integers(10_000, 99_999),
        st.integers(-9, 9),
    ),
)
names = st.text(string.ascii_uppercase + string.digits + " ()-/", max_size=24).map(str.strip)
tle_elements = st.builds(
    Elements,
    object_name=names.filter(lambda name: not name.startswith("0 ")),
    object_id=st.one_of(
        st.just(""),
        st.builds(
            "{}-{:03d}{}".format,
            st.integers(1957, 2056),
            st.integers(1, 999),
            st.text("ABCDEFGHJKLMNPQRSTUVWXYZ", min_size=1, max_size=3),
        ),
    ),
    norad_cat_id=st.integers(0, 339_999),
    epoch_jd=st.integers(date(1957, 1, 1).toordinal(), date(2056, 12, 31).toordinal()).map(
        lambda ordinal: ordinal + 1721424.5
    ),
    epoch_fr=st.integers(0, 10**8 - 1).map(lambda k: k / 1e8),
    mean_motion_rev_per_day=st.integers(1, 10**10 - 1).map(lambda k: k / 1e8),
    eccentricity=st.integers(0, 10**7 - 1).map(lambda k: k / 1e7),
    inclination_deg=st.integers(0, 1_800_000).map(lambda k: k / 1e4),
    raan_deg=angles_deg,
    arg_of_pericenter_deg=angles_deg,
    mean_anomaly_deg=angles_deg,
    bstar=exponent_field_values,
    mean_motion_dot=st.integers(-(10**8) + 1, 10**8 - 1).map(lambda k: k / 1e8),
    mean_motion_ddot=exponent_field_values,
    ephemeris_type=st.integers(0, 9),
    classification_type=st.sampled_from("UCS"),
    element_set_no=st.integers(0, 9999),
    rev_at_epoch=st.integers(0, 99_999),
)


@settings(max_examples=300, deadline=None)
@given(tle_elements)
def test_tle_round_trip(elements: Elements) -> None:
    line1, line2 = elements.to_tle()
    assert len(line1) == len(line2) == 69
    verify_checksum(line1, line2)
    assert Elements.from_tle(line1, line2, elements.object_name) == elements
    sat = Satrec.twoline2rv(line1, line2)
    assert (sat.satnum, sat.jdsatepoch, sat.jdsatepochF, sat.ecco) == (
        elements.norad_cat_id,
        elements.epoch_jd,
        elements.epoch_fr,
        elements.eccentricity,
    )


def finite(low: float, high: float, *, exclude_max: bool = False) -> st.SearchStrategy[float]:
    """Draw floats in [low, high] (or [low, high))."""
    return st.floats(low, high, exclude_max=exclude_max, allow_nan=False)


any_finite = st.floats(allow_nan=False, allow_infinity=False)
omm_elements = st.builds(
    Elements,
    object_name=names,
    object_id=names,
    norad_cat_id=st.integers(0, 999_999_999),
    epoch_jd=st.integers(date(1900, 1, 1).toordinal(), date(2200, 1, 1).toordinal()).map(
        lambda ordinal: ordinal + 1721424.5
    ),
    epoch_fr=st.integers(0, 86_400 * 10**6 - 1).map(lambda us: us / 86_400e6),
    mean_motion_rev_per_day=finite(0.0, 1e3).filter(lambda n: n > 0),
    eccentricity=finite(0.0, 1.0, exclude_max=True),
    inclination_deg=finite(0.0, 180.0),
    raan_deg=finite(0.0, 360.0, exclude_max=True),
    arg_of_pericenter_deg=finite(0.0, 360.0, exclude_max=True),
    mean_anomaly_deg=finite(0.0, 360.0, exclude_max=True),
    bstar=any_finite,
    mean_motion_dot=any_finite,
    mean_motion_ddot=any_finite,
    ephemeris_type=st.integers(0, 9),
    classification_type=st.sampled_from(string.ascii_uppercase),
    element_set_no=st.integers(0, 10**6),
    rev_at_epoch=st.integers(0, 10**7),
)


@settings(max_examples=300, deadline=None)
@given(omm_elements)
def test_omm_round_trip(elements: Elements) -> None:
    fields = elements.to_omm()
    assert list(fields) == list(json.loads(read_data("stations.json"))[0])
    assert Elements.from_omm(fields) == elements
    assert Elements.from_omm(json.loads(json.dumps(fields))) == elements


# Catalog numbers: Alpha-5 in TLEs, nine digits in OMMs.


def test_alpha5_tle_reads_and_writes_back() -> None:
    name = "alpha5_T0000_from_python-sgp4_issue77.tle"
    (elements,) = parse_elements(read_data(name), source=name).elements
    assert elements.norad_cat_id == 270000
    line1, line2 = elements.to_tle()
    assert line1[2:7] == line2[2:7] == "T0000"
    assert Satrec.twoline2rv(line1, line2).satnum == 270000
    original1, original2 = read_data(name).splitlines()
    assert line2 == original2
    # CelesTrak now writes a zero exponent as "+0" where this older set has "-0".
    assert line1[:68] == original1[:68].replace(" 00000-0 ", " 00000+0 ")


@pytest.mark.parametrize("number", [0, 5, 99_999, 100_000, 180_000, 234_567, 270_000, 339_999])
def test_alpha5_agrees_with_sgp4(number: int) -> None:
    e = replace(parse_elements(read_data("stations.tle")).elements[0], norad_cat_id=number)
    line1, line2 = e.to_tle()
    assert line1[2:7] == line2[2:7] == to_alpha5(number)
    assert Elements.from_tle(line1, line2).norad_cat_id == number


@pytest.mark.parametrize("number", [340_000, 400_000, 123_456_789, 799_501_299])
def test_to_tle_refuses_numbers_above_alpha5(number: int) -> None:
    e = replace(parse_elements(read_data("stations.tle")).elements[0], norad_cat_id=number)
    with pytest.raises(ElementsError, match=f"{number}.*no valid TLE exists for it"):
        e.to_tle()
    # python-sgp4 refuses such a number too (its issue #169): there is no TLE to compare.
    with pytest.raises(ValueError, match="339999"):
        to_alpha5(number)


@pytest.mark.parametrize("number", [ISS, 270_000, 339_999])
def test_write_elements_round_trips_tle_and_omm(number: int) -> None:
    record = json.loads(read_data("stations.json"))[0] | {"NORAD_CAT_ID": number}
    e = Elements.from_omm(record)
    tle = write_elements([e], ElementsFormat.TLE)
    name, line1, line2 = tle.splitlines()
    assert (name, line1[2:7]) == (e.object_name, to_alpha5(number))
    assert Satrec.twoline2rv(line1, line2).satnum == number
    (back,) = parse_elements(tle, strict=True).elements
    assert back.norad_cat_id == number
    assert back.to_tle() == e.to_tle()
    omm = write_elements([e], ElementsFormat.OMM_JSON)
    assert json.loads(omm) == [record]
    assert parse_elements(omm, strict=True).elements == (e,)


@pytest.mark.parametrize("number", [400_000, 799_501_299])
def test_write_elements_refuses_a_tle_without_one_and_writes_its_omm(number: int) -> None:
    record = json.loads(read_data("stations.json"))[0]
    iss = Elements.from_omm(record)
    e = Elements.from_omm(record | {"NORAD_CAT_ID": number})
    with pytest.raises(ElementsError, match=f"element set {number} .*no valid TLE") as refused:
        write_elements([iss, e], ElementsFormat.TLE)
    assert "339999 (Alpha-5 Z9999)" in str(refused.value)
    assert "write OMM" in str(refused.value)
    omm = write_elements([iss, e], ElementsFormat.OMM_JSON)
    assert json.loads(omm) == [record, record | {"NORAD_CAT_ID": number}]
    assert parse_elements(omm, strict=True).elements == (iss, e)
    with pytest.raises(ElementsError, match="cannot write OMM KVN"):
        write_elements([e], ElementsFormat.OMM_KVN)


@pytest.mark.parametrize("number", [123_456_789, "123456789", 999_999_999])
def test_nine_digit_omm_catalog_numbers_load(number: int | str) -> None:
    record = json.loads(read_data("stations.json"))[0]
    e = Elements.from_omm(record | {"NORAD_CAT_ID": number})
    assert e.norad_cat_id == int(number)
    assert e.to_omm()["NORAD_CAT_ID"] == int(number)
    iss = Elements.from_omm(record)
    assert e.satrec().sgp4(2460440.5, 0.0) == iss.satrec().sgp4(2460440.5, 0.0)


# Format detection.


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("alpha5_T0000_from_python-sgp4_issue77.tle", ElementsFormat.TLE),
        ("cheops.tle", ElementsFormat.TLE),
        ("derived_iss_omm.kvn", ElementsFormat.OMM_KVN),
        ("derived_iss_omm.xml", ElementsFormat.OMM_XML),
        ("sample_omm.csv", ElementsFormat.OMM_CSV),
        ("sample_omm.json", ElementsFormat.OMM_JSON),
        ("sample_omm.xml", ElementsFormat.OMM_XML),
        ("stations-omm-2020-06-25.xml", ElementsFormat.OMM_XML),
        ("stations-tle-2020-06-25.txt", ElementsFormat.TLE),
        ("stations.csv", ElementsFormat.OMM_CSV),
        ("stations.json", ElementsFormat.OMM_JSON),
        ("stations.tle", ElementsFormat.TLE),
        ("tle-CATNR-25544.txt", ElementsFormat.TLE),
        (VALLADO, ElementsFormat.TLE),
    ],
)
def test_detect_format_of_real_files(name: str, expected: ElementsFormat) -> None:
    text = read_data(name)
    assert detect_format(text, source=name) is expected
    result = parse_elements(text, source=name)
    assert result.format is expected
    assert result.elements
    assert summary(parse_elements(text, source=name, format=expected)) == summary(result)


# Errors: the malformed corpus, and strict versus batch parsing.

# file: (location, reason, catalog numbers kept in a batch; None when nothing can be read)
MALFORMED_EXPECTATIONS: dict[str, tuple[str, str, list[int] | None]] = {
    "tle_bad_checksum.tle": ("line 5", "bad checksum: expected 2, found 5", [25544]),
    "tle_truncated_line.tle": ("line 3", "truncated line: 60 columns", [48274]),
    "tle_missing_line_2.tle": ("line 2", "TLE line 1 not followed by line 2", [48274]),
    "tle_line_2_without_line_1.tle": ("line 2", "TLE line 2 not preceded by line 1", [48274]),
    "tle_mismatched_catalog_numbers.tle": (
        "line 6",
        "catalog number 25545 does not match line 1's 25544",
        [48274],
    ),
    "tle_inclination_out_of_range.tle": (
        "line 6",
        "INCLINATION 191.6381 is out of range [0, 180]",
        [48274],
    ),
    "tle_unparseable_mean_motion.tle": (
        "line 3",
        "MEAN_MOTION: cannot read '15.51O43222' as a number",
        [48274],
    ),
    "tle_alpha5_letter_i.tle": ("line 4", "cannot read catalog number 'I0000'", [25544]),
    "omm_missing_mean_motion.json": (
        "record 2",
        "missing required field MEAN_MOTION",
        [25544, 49044],
    ),
    "omm_eccentricity_out_of_range.json": (
        "record 1",
        "ECCENTRICITY 1.2 is out of range [0, 1)",
        [48274],
    ),
    "omm_impossible_epoch.json": ("record 2", "EPOCH: cannot read '2024-02-30T", [25544]),
    "omm_not_a_number.csv": (
        "record 2",
        "INCLINATION: cannot read 'fifty-one' as a number",
        [25544, 49044],
    ),
    "omm_short_row.csv": ("record 1", "16 values for the header's 17 fields", [48274]),
    "omm_ten_digit_catalog_number.csv": (
        "record 2",
        "NORAD_CAT_ID 1234567890 is out of range [0, 999999999]",
        [25544],
    ),
    "omm_missing_epoch.xml": ("record 2", "missing required field EPOCH", [25544, 43021]),
    "omm_wrong_ref_frame.xml": ("record 1", "REF_FRAME 'GCRF' is not allowed", []),
    "omm_bad_value.kvn": ("record 1", "MEAN_ANOMALY: cannot read '338.55x02'", [25544]),
    "omm_not_keyword_value.kvn": ("record 2", "line 45 is not 'KEYWORD = value'", [25544]),
    "omm_broken_syntax.json": ("line 19", "invalid JSON", None),
    "garbage.txt": ("", "unknown format", None),
    "empty.txt": ("", "empty input", None),
}


def test_malformed_corpus_is_all_tested() -> None:
    assert sorted(p.name for p in MALFORMED.iterdir()) == sorted(MALFORMED_EXPECTATIONS)


@pytest.mark.parametrize("name", sorted(MALFORMED_EXPECTATIONS))
def test_malformed_input_is_reported(name: str) -> None:
    location, reason, kept = MALFORMED_EXPECTATIONS[name]
    text = (MALFORMED / name).read_text(encoding="utf-8")
    with pytest.raises(ElementsError) as raised:
        parse_elements(text, source=name, strict=True)
    error = raised.value
    assert (error.source, error.location) == (name, location)
    assert reason in error.reason
    assert str(error) == f"{name} {location}".strip() + f": {error.reason}"
    if kept is None:
        with pytest.raises(type(error)):
            parse_elements(text, source=name)
        return
    result = parse_elements(text, source=name)
    assert [e.norad_cat_id for e in result.elements] == kept
    assert [str(p) for p in result.problems] == [str(error)]


def test_unknown_formats_raise_unknown_format_error() -> None:
    for name in ("garbage.txt", "empty.txt"):
        with pytest.raises(UnknownFormatError):
            detect_format((MALFORMED / name).read_text(encoding="utf-8"), source=name)
    for text in ("", "  \n\n", "# only a comment\n", "<html></html>", "ISS (ZARYA)\n"):
        with pytest.raises(UnknownFormatError):
            parse_elements(text)


def test_strict_raises_the_first_error_and_batch_reports_all() -> None:
    lines = read_data("stations.tle").splitlines()[:9]
    lines[1] = lines[1][:68] + str((int(lines[1][68]) + 1) % 10)  # ISS checksum, line 2
    lines[5] = lines[5][:50]  # CSS line 2 truncated, line 6
    text = "\n".join(lines)
    with pytest.raises(ElementsError, match="bad checksum") as raised:
        parse_elements(text, source="two.tle", strict=True)
    assert raised.value.location == "line 2"
    result = parse_elements(text, source="two.tle")
    assert [p.location for p in result.problems] == ["line 2", "line 6"]
    assert [e.norad_cat_id for e in result.elements] == [49044]


def test_orphan_name_lines_are_reported() -> None:
    lines = read_data("stations.tle").splitlines()[:6]
    result = parse_elements("\n".join(["STRAY NAME", *lines, "LAST NAME"]), source="n.tle")
    assert [(p.location, p.reason) for p in result.problems] == [
        ("line 1", "name line 'STRAY NAME' is not followed by a TLE"),
        ("line 8", "name line 'LAST NAME' is not followed by a TLE"),
    ]
    assert len(result.elements) == 2


def test_from_tle_names_its_lines() -> None:
    _, line1, line2 = tle_line_pairs(read_data("stations.tle"))[0]
    with pytest.raises(ElementsError) as raised:
        Elements.from_tle(line1, line2[:-1] + "0", source="f.tle", line_number=40)
    assert str(raised.value) == f"f.tle line 41: bad checksum: expected {line2[68]}, found 0"
    with pytest.raises(ElementsError, match="expected line 2 of a TLE") as raised:
        Elements.from_tle(line1, line1, line_number=7)
    assert raised.value.location == "line 8"


REQUIRED_OMM_FIELDS = [
    "EPOCH",
    "MEAN_MOTION",
    "ECCENTRICITY",
    "INCLINATION",
    "RA_OF_ASC_NODE",
    "ARG_OF_PERICENTER",
    "MEAN_ANOMALY",
    "NORAD_CAT_ID",
    "BSTAR",
    "MEAN_MOTION_DOT",
    "MEAN_MOTION_DDOT",
]


@pytest.mark.parametrize("field", REQUIRED_OMM_FIELDS)
def test_from_omm_requires_field(field: str) -> None:
    record = json.loads(read_data("stations.json"))[0]
    for missing in ({k: v for k, v in record.items() if k != field}, record | {field: " "}):
        with pytest.raises(ElementsError) as raised:
            Elements.from_omm(missing, source="x.json", location="record 7")
        assert str(raised.value) == f"x.json record 7: missing required field {field}"


def test_from_omm_defaults_optional_fields() -> None:
    record = json.loads(read_data("stations.json"))[0]
    required = {k: v for k, v in record.items() if k in REQUIRED_OMM_FIELDS}
    e = Elements.from_omm(required)
    assert (e.object_name, e.object_id, e.ephemeris_type, e.classification_type) == ("", "", 0, "U")
    assert (e.element_set_no, e.rev_at_epoch) == (999, 0)


@pytest.mark.parametrize(
    ("field", "value", "valid"),
    [
        ("ECCENTRICITY", 0.0, True),
        ("ECCENTRICITY", 1.0, False),
        ("ECCENTRICITY", -1e-7, False),
        ("INCLINATION", 180.0, True),
        ("INCLINATION", 180.0001, False),
        ("INCLINATION", -0.0001, False),
        ("RA_OF_ASC_NODE", 360.0, False),
        ("ARG_OF_PERICENTER", 359.9999, True),
        ("MEAN_ANOMALY", -1.0, False),
        ("MEAN_MOTION", 0.0, False),
        ("MEAN_MOTION", 1e-8, True),
        ("EPHEMERIS_TYPE", 10, False),
        ("NORAD_CAT_ID", -1, False),
        ("REV_AT_EPOCH", -1, False),
        ("BSTAR", "1e999", False),
        ("BSTAR", "nan", False),
        ("NORAD_CAT_ID", "25544.0", False),
        ("NORAD_CAT_ID", True, False),
        ("CLASSIFICATION_TYPE", "UU", False),
        ("MEAN_ELEMENT_THEORY", "SGP4-XP", False),
        ("TIME_SYSTEM", "TT", False),
        ("EPOCH", "2024-05-09 08:48:19", False),
        ("EPOCH", "2024-05-09T24:00:00", False),
        ("EPOCH", "2023-366T00:00:00", False),
        ("EPOCH", "2024-366T00:00:00", True),
    ],
)
def test_from_omm_checks_values(field: str, value: object, valid: bool) -> None:
    record = json.loads(read_data("stations.json"))[0] | {field: value}
    if valid:
        Elements.from_omm(record)
        return
    with pytest.raises(ElementsError, match=field) as raised:
        Elements.from_omm(record, source="y.json", location="record 3")
    assert (raised.value.source, raised.value.location) == ("y.json", "record 3")


def test_parsed_elements_is_frozen() -> None:
    result = parse_elements(read_data("cheops.tle"))
    assert isinstance(result, ParsedElements)
    assert [e.epoch.year for e in result.elements] == [2020, 2024]
    with pytest.raises(AttributeError):
        result.elements = ()  # type: ignore[misc]


def test_a_field_given_twice_is_an_error() -> None:
    kvn = read_data("derived_iss_omm.kvn")
    second = kvn.replace("CCSDS_OMM_VERS = 2.0", "COMMENT the version line is missing")
    result = parse_elements(kvn + second, source="twice.kvn")
    assert [str(p) for p in result.problems] == [
        "twice.kvn record 1: field OBJECT_NAME appears twice"
    ]
    xml = read_data("derived_iss_omm.xml").replace(
        "</EPOCH>", "</EPOCH><EPOCH>2024-01-01T00:00</EPOCH>"
    )
    with pytest.raises(ElementsError, match="field EPOCH appears twice"):
        parse_elements(xml, strict=True)


def test_to_tle_rounds_to_its_columns() -> None:
    record = json.loads(read_data("stations.json"))[0] | {
        "EPOCH": "2024-12-31T23:59:59.9999999",
        "RA_OF_ASC_NODE": 359.99996,
        "MEAN_ANOMALY": 0.00004,
    }
    line1, line2 = Elements.from_omm(record).to_tle()
    assert line1[18:32] == "25001.00000000"
    assert (line2[17:25], line2[43:51]) == ("  0.0000", "  0.0000")
    e = Elements.from_tle(line1, line2)
    assert e.epoch == datetime(2025, 1, 1, tzinfo=UTC)
    assert (e.raan_deg, e.mean_anomaly_deg) == (0.0, 0.0)


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("MEAN_MOTION", 100.0, "MEAN_MOTION '100.00000000' does not fit the TLE's 11 columns"),
        ("MEAN_MOTION_DOT", 1.0, "MEAN_MOTION_DOT '1.00000000' does not fit"),
        ("BSTAR", 1e10, "too large for a TLE exponent field"),
        ("EPOCH", "2057-01-01T00:00:00", "epoch year 2057 is outside 1957-2056"),
        ("OBJECT_ID", "2024-001ABCD", "OBJECT_ID '2024-001ABCD' does not fit"),
    ],
)
def test_to_tle_refuses_what_it_cannot_carry(field: str, value: object, reason: str) -> None:
    record = json.loads(read_data("stations.json"))[0] | {field: value}
    with pytest.raises(ElementsError, match=re.escape(reason)):
        Elements.from_omm(record).to_tle()
