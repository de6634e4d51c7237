"""Test parsing ground stations from CSV and JSON text."""

from __future__ import annotations

import json
from importlib import resources

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jointsat.errors import StationsError
from jointsat.orbits.stations import HorizonMask, Station, parse_stations

CSV_TEXT = """\
name,lat_deg,lon_deg,alt_m,min_elevation_deg
Kiruna KI2S,67.8571252,20.9643417,402.275,10
"Perth, Australia",-31.802,115.885,22.16,
"""

KIRUNA = Station("Kiruna KI2S", 67.8571252, 20.9643417, 402.275, 10.0)
PERTH = Station("Perth, Australia", -31.802, 115.885, 22.16, None)


def test_csv_gives_each_row_as_a_station() -> None:
    assert parse_stations(CSV_TEXT) == (KIRUNA, PERTH)


def test_csv_min_elevation_column_is_optional() -> None:
    text = "name,lat_deg,lon_deg,alt_m\nA,1.5,2.5,3.5\n"
    assert parse_stations(text) == (Station("A", 1.5, 2.5, 3.5, None),)


def test_csv_ignores_extra_columns_column_order_blank_lines_and_bom() -> None:
    text = (
        "\ufeffstdn_code, alt_m ,name,lon_deg,lat_deg,note\n"
        "\n"
        "KI2S,402.275,Kiruna KI2S,20.9643417,67.8571252,an extra cell,and another\n"
        "   \n"
    )
    assert parse_stations(text) == (Station("Kiruna KI2S", 67.8571252, 20.9643417, 402.275),)


def test_json_gives_the_same_stations_as_csv() -> None:
    records = [
        {"name": "Kiruna KI2S", "lat_deg": 67.8571252, "lon_deg": 20.9643417, "alt_m": 402.275,
         "min_elevation_deg": 10},
        {"name": "Perth, Australia", "lat_deg": -31.802, "lon_deg": 115.885, "alt_m": 22.16,
         "min_elevation_deg": None, "comment": "ignored"},
    ]  # fmt: skip
    assert parse_stations(json.dumps(records)) == parse_stations(CSV_TEXT)


def test_json_reads_a_horizon_mask() -> None:
    text = json.dumps(
        [
            {
                "name": "Weilheim",
                "lat_deg": 47.88,
                "lon_deg": 11.08,
                "alt_m": 663.4,
                "horizon_mask": {"azimuth_deg": [0, 180], "elevation_deg": [5, 12.5]},
            }
        ]
    )
    (station,) = parse_stations(text)
    assert station.horizon_mask == HorizonMask((0.0, 180.0), (5.0, 12.5))
    assert station.min_elevation_deg is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name,lat_deg,alt_m\nA,1,2\n", ["line 1", "missing column 'lon_deg'"]),
        ("name,lat_deg,lon_deg,alt_m\nA,1,2,3\nB,1,east,3\n", ["line 3", "'lon_deg'", "'east'"]),
        ("name,lat_deg,lon_deg,alt_m\nA,1,2,3\nB,1,2\n", ["line 3", "'alt_m'", "missing"]),
        ("name,lat_deg,lon_deg,alt_m\nA,91.5,2,3\n", ["line 2", "lat_deg", "91.5", "outside"]),
        ("name,lat_deg,lon_deg,alt_m\nA,nan,2,3\n", ["line 2", "lat_deg"]),
        ("name,lat_deg,lon_deg,alt_m,min_elevation_deg\nA,1,2,3,95\n", ["line 2", "min_elev"]),
        ("name,lat_deg,lon_deg,alt_m\n\nA,1,2,3\nB,4,5,6\nA,7,8,9\n", ["line 5", "duplicate"]),
        ("name,lat_deg,lon_deg,alt_m\n,1,2,3\n", ["line 2", "'name'"]),
        ("", ["empty"]),
        (" \n\n", ["empty"]),
        ("name,lat_deg,lon_deg,alt_m\n", ["no stations"]),
    ],
)
def test_csv_errors_name_the_source_line_and_column(text: str, expected: list[str]) -> None:
    with pytest.raises(StationsError) as caught:
        parse_stations(text, source="sites.csv")
    message = str(caught.value)
    assert message.startswith("sites.csv")
    for part in expected:
        assert part in message


def test_duplicate_name_error_points_at_the_first_occurrence() -> None:
    text = "name,lat_deg,lon_deg,alt_m\nA,1,2,3\nB,4,5,6\nA,7,8,9\n"
    with pytest.raises(StationsError, match=r"line 4: .*'A' \(first at line 2\)"):
        parse_stations(text)


def _record(**changes: object) -> dict[str, object]:
    return {"name": "A", "lat_deg": 1.0, "lon_deg": 2.0, "alt_m": 3.0, **changes}


@pytest.mark.parametrize(
    ("records", "expected"),
    [
        ([_record(), _record(name="B", lat_deg="north")], ["record 2", "'lat_deg'", "number"]),
        ([_record(alt_m=True)], ["record 1", "'alt_m'", "not a number"]),
        ([_record(name=7)], ["record 1", "'name'", "not a string"]),
        ([{"name": "A", "lat_deg": 1.0, "lon_deg": 2.0}], ["record 1", "'alt_m'", "missing"]),
        ([_record(lon_deg=400.0)], ["record 1", "lon_deg", "outside"]),
        ([_record(), _record()], ["record 2", "duplicate"]),
        ([_record(), ["A", 1, 2, 3]], ["record 2", "object"]),
        ([_record(horizon_mask=[0, 5])], ["record 1", "horizon_mask"]),
        ([_record(horizon_mask={"azimuth_deg": [0]})], ["record 1", "elevation_deg"]),
        (
            [_record(horizon_mask={"azimuth_deg": [10, 5], "elevation_deg": [1, 2]})],
            ["record 1", "horizon mask azimuths"],
        ),
        ([], ["no stations"]),
        ({"stations": []}, ["a list"]),
    ],
)
def test_json_errors_name_the_source_record_and_field(records: object, expected: list[str]) -> None:
    with pytest.raises(StationsError) as caught:
        parse_stations(json.dumps(records), source="sites.json")
    message = str(caught.value)
    assert message.startswith("sites.json")
    for part in expected:
        assert part in message


def test_invalid_json_names_the_line() -> None:
    text = '[\n  {"name": "A", "lat_deg": 1,}\n]'
    with pytest.raises(StationsError, match=r"^s\.json line 2: not valid JSON"):
        parse_stations(text, source="s.json")


_names = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Z")),
    min_size=1,
    max_size=20,
)
_stations = st.lists(
    st.builds(
        Station,
        name=_names,
        lat_deg=st.floats(-90.0, 90.0),
        lon_deg=st.floats(-180.0, 360.0),
        alt_m=st.floats(-12_000.0, 100_000.0),
        min_elevation_deg=st.none() | st.floats(-90.0, 89.9),
    ),
    min_size=1,
    max_size=5,
    unique_by=lambda station: station.name,
)


@given(_stations)
def test_csv_and_json_written_from_stations_read_back_equal(stations: list[Station]) -> None:
    def cell(value: object) -> str:
        return "" if value is None else repr(value)

    def quoted(name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    csv_text = "name,lat_deg,lon_deg,alt_m,min_elevation_deg\n" + "".join(
        f"{quoted(s.name)},{s.lat_deg!r},{s.lon_deg!r},{s.alt_m!r},{cell(s.min_elevation_deg)}\n"
        for s in stations
    )
    json_text = json.dumps(
        [
            {
                "name": s.name,
                "lat_deg": s.lat_deg,
                "lon_deg": s.lon_deg,
                "alt_m": s.alt_m,
                "min_elevation_deg": s.min_elevation_deg,
            }
            for s in stations
        ]
    )
    assert parse_stations(csv_text) == tuple(stations)
    assert parse_stations(json_text) == tuple(stations)


def test_bundled_agency_stations_parse_with_readable_names_and_10_deg_mask() -> None:
    text = (resources.files("jointsat") / "data" / "agency_stations.csv").read_text("utf-8")
    stations = parse_stations(text)
    assert len(stations) == 21
    assert {s.min_elevation_deg for s in stations} == {10.0}
    names = {s.name for s in stations}
    assert {"Kiruna KI2S", "Perth USPS", "Perth PRTS", "Troll TR2S"} <= names
    kiruna = next(s for s in stations if s.name == "Kiruna KI2S")
    assert (kiruna.lat_deg, kiruna.lon_deg, kiruna.alt_m) == (67.8571252, 20.9643417, 402.275)
