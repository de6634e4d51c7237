"""Test reading element and stations files and writing passes as CSV and JSON."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

import jointsat
from jointsat.errors import ElementsError, InputError, JointsatError, StationsError
from jointsat.files import (
    read_demo_elements,
    read_demo_stations,
    read_elements,
    read_stations,
    read_text,
    write_text,
)
from jointsat.orbits.passes import Passes, SatelliteId
from jointsat.orbits.stations import Station
from jointsat.pass_output import PASS_COLUMNS, format_passes_csv, format_passes_json

DATA = Path(jointsat.__file__).parent / "data"
ISS_3LE = """\
ISS (ZARYA)
1 25544U 98067A   24130.36689744  .00016024  00000+0  27777-3 0  9992
2 25544  51.6381 147.8590 0003466 150.4670 338.5502 15.51043222452521
"""
BROKEN_3LE = """\
ISS (BROKEN)
1 25544U 98067A   24130.36689744  .00016024  00000+0  27777-3 0  9992
2 25544  5X.6381 147.8590 0003466 150.4670 338.5502 15.51043222452521
"""


def test_read_text_names_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.tle"
    with pytest.raises(InputError, match="no such file") as caught:
        read_text(path)
    assert caught.value.source == str(path)
    assert str(path) in str(caught.value)


def test_read_text_refuses_a_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="directory"):
        read_text(tmp_path)


def test_read_text_refuses_bytes_that_are_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes("name\nTromsø\n".encode("latin-1"))
    with pytest.raises(InputError, match=r"latin1\.csv line 2: not UTF-8 text \(byte 0xf8\)"):
        read_text(path)


def test_read_text_drops_a_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufeffname\nTromsø\n".encode())
    assert read_text(path) == "name\nTromsø\n"


def test_read_stations_names_the_file_in_errors(tmp_path: Path) -> None:
    path = tmp_path / "sites.csv"
    path.write_text("name,lat_deg,lon_deg,alt_m\nA,1,2,3\nB,x,2,3\n")
    with pytest.raises(StationsError, match=r"sites\.csv line 3: column 'lat_deg'"):
        read_stations(path)


def test_read_stations_reads_json_files(tmp_path: Path) -> None:
    path = tmp_path / "sites.json"
    path.write_text('[{"name": "A", "lat_deg": 1, "lon_deg": 2, "alt_m": 3}]')
    assert read_stations(str(path)) == (Station("A", 1.0, 2.0, 3.0),)


def test_read_elements_concatenates_files_in_order() -> None:
    paths = [DATA / "cheops.tle", str(DATA / "stations.tle")]
    read = read_elements(paths)
    assert read.sources == (str(paths[0]), str(paths[1]))
    assert [len(p.elements) for p in read.parsed] == [2, 27]
    assert [e.norad_cat_id for e in read.elements[:3]] == [44874, 44874, 25544]
    assert read.problems == ()


def test_read_elements_collects_problems_naming_each_file(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.tle", tmp_path / "bad.tle"
    good.write_text(ISS_3LE)
    bad.write_text(ISS_3LE + BROKEN_3LE)
    read = read_elements([good, bad])
    assert [e.norad_cat_id for e in read.elements] == [25544, 25544]
    assert len(read.problems) == 1
    assert read.problems[0].source == str(bad)


def test_read_elements_strict_raises_the_first_problem(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tle"
    bad.write_text(ISS_3LE + BROKEN_3LE)
    with pytest.raises(ElementsError) as caught:
        read_elements([bad], strict=True)
    assert caught.value.source == str(bad)


def test_read_elements_names_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"missing\.tle: no such file"):
        read_elements([DATA / "cheops.tle", tmp_path / "missing.tle"])


def test_demo_data_is_readable_from_the_package() -> None:
    assert len(read_demo_stations()) == 21
    demo = read_demo_elements()
    assert len({e.norad_cat_id for e in demo.elements}) == 28
    assert demo.problems == ()


def test_write_text_names_a_path_it_cannot_write(tmp_path: Path) -> None:
    path = tmp_path / "no" / "such" / "dir.csv"
    with pytest.raises(JointsatError, match=r"dir\.csv: cannot write"):
        write_text(path, "x")


START = datetime(2024, 5, 10, tzinfo=UTC)


def _two_passes() -> Passes:
    def floats(*values: float) -> NDArray[np.float64]:
        return np.array(values, dtype=float)

    return Passes(
        start=START,
        end=START + timedelta(days=1),
        satellites=(SatelliteId(25544, "ISS (ZARYA)"), SatelliteId(44874, "CHEOPS")),
        stations=(
            Station("Kiruna KI2S", 67.857, 20.964, 402.3),
            Station("Perth, WA", -31.8, 115.9),
        ),
        satellite=np.array([0, 1]),
        station=np.array([1, 0]),
        aos_s=floats(0.0, 3600.0),
        tca_s=floats(120.25, 3900.0),
        los_s=floats(300.5, 4200.0004),
        max_elevation_deg=floats(12.34567, 80.0),
        aos_azimuth_deg=floats(10.0, 359.9994),
        tca_azimuth_deg=floats(20.0, 90.0),
        los_azimuth_deg=floats(30.0, 180.0),
        sunlit=np.array([True, False]),
        truncated=np.array([True, False]),
        elements_age_days=floats(1.25, 40.0),
        stale=np.array([False, True]),
        freshness=(),
    )


def test_passes_csv_has_the_documented_header_and_formatting() -> None:
    lines = format_passes_csv(_two_passes()).splitlines()
    assert lines[0] == (
        "satellite,norad_id,station,aos,tca,los,max_elevation_deg,aos_azimuth_deg,"
        "los_azimuth_deg,duration_s,sunlit,truncated,tca_azimuth_deg,elements_age_days,stale"
    )
    assert lines[1:] == [
        'ISS (ZARYA),25544,"Perth, WA",2024-05-10T00:00:00.000Z,2024-05-10T00:02:00.250Z,'
        "2024-05-10T00:05:00.500Z,12.346,10.000,30.000,300.500,true,true,20.000,1.250,false",
        "CHEOPS,44874,Kiruna KI2S,2024-05-10T01:00:00.000Z,2024-05-10T01:05:00.000Z,"
        "2024-05-10T01:10:00.000Z,80.000,359.999,180.000,600.000,false,false,90.000,40.000,true",
    ]


def test_passes_json_matches_the_csv_rows() -> None:
    passes = _two_passes()
    records = json.loads(format_passes_json(passes))
    rows = list(csv.DictReader(io.StringIO(format_passes_csv(passes))))
    assert [list(record) for record in records] == [list(PASS_COLUMNS)] * 2
    assert records[0]["norad_id"] == 25544
    assert records[0]["sunlit"] is True
    assert records[1]["truncated"] is False
    for record, row in zip(records, rows, strict=True):
        for key, value in record.items():
            if isinstance(value, bool):
                assert row[key] == ("true" if value else "false")
            elif isinstance(value, float):
                assert float(row[key]) == value
            else:
                assert row[key] == str(value)


def test_no_passes_give_a_header_only_csv_and_an_empty_json_list() -> None:
    full = _two_passes()
    columns = {f.name: getattr(full, f.name) for f in fields(full)}
    empty = replace(full, **{k: v[:0] for k, v in columns.items() if isinstance(v, np.ndarray)})
    assert len(empty) == 0
    assert format_passes_csv(empty) == ",".join(PASS_COLUMNS) + "\n"
    assert json.loads(format_passes_json(empty)) == []
