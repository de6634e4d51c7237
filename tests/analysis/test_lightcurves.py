"""Test reading light curves: real Kepler and TESS files, CHEOPS-like and broken variants, CSV.

The oracle is the file itself, read directly with astropy: the rows, the quality flags,
the non-finite values and the header's time reference, counted here independently of
the reader.
"""

from __future__ import annotations

import importlib.metadata
import shutil
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from tests.support.data import shared

from jointsat.analysis.lightcurves import library_versions, read_light_curve
from jointsat.errors import AnalysisInputError

KEPLER6 = shared("lightcurves/kplr010874614-2009131105131_llc.fits")
TESS = shared("lightcurves/tess2018206045859-s0001-0000000358108509-0120-s_lc.fits")
KEPLER_BJDREF = 2454833.0  # BJDREFI + BJDREFF of Kepler's files
TESS_BJDREF = 2457000.0
exact_days = 1e-9


def _table(path: Path) -> tuple[fits.Header, fits.FITS_rec]:
    with fits.open(path) as hdus:
        return hdus[1].header.copy(), hdus[1].data.copy()


def _rewrite(source: Path, target: Path, edit: object) -> Path:
    """Copy a FITS file with its light-curve table changed by ``edit(header, columns)``."""
    with fits.open(source) as hdus:
        header = hdus[1].header.copy()
        columns = {name: np.array(hdus[1].data[name]) for name in hdus[1].columns.names}
        edit(header, columns)  # type: ignore[operator]
        table = fits.BinTableHDU.from_columns(
            [
                fits.Column(name=n, array=a, format="D" if a.dtype.kind == "f" else "J")
                for n, a in columns.items()
            ],
            header=header,
        )
        fits.HDUList([hdus[0].copy(), table]).writeto(target)
    return target


def test_kepler_counts_match_a_direct_count_of_the_file() -> None:
    header, data = _table(KEPLER6)
    curve = read_light_curve(KEPLER6)
    flagged = data["SAP_QUALITY"] != 0
    finite = (
        np.isfinite(data["TIME"])
        & np.isfinite(data["PDCSAP_FLUX"])
        & np.isfinite(data["PDCSAP_FLUX_ERR"])
    )
    assert curve.points_read == len(data)
    assert curve.dropped_quality == int(np.count_nonzero(flagged))
    assert curve.dropped_nonfinite == int(np.count_nonzero(~flagged & ~finite))
    assert curve.points == int(np.count_nonzero(~flagged & finite))
    assert curve.flux_column == "PDCSAP_FLUX"
    assert header["TIMESYS"] == "TDB"
    assert "BJDREFI" in curve.time_system
    kept = ~flagged & finite
    assert np.allclose(
        curve.time_bjd_tdb, data["TIME"][kept] + KEPLER_BJDREF, rtol=0, atol=exact_days
    )
    assert np.median(curve.flux) == pytest.approx(1.0, abs=1e-12)
    ratio = curve.flux / data["PDCSAP_FLUX"][kept]  # normalisation only: one factor for all
    assert np.ptp(ratio) / ratio.mean() < 1e-12
    assert np.allclose(
        curve.flux_err / curve.flux, data["PDCSAP_FLUX_ERR"][kept] / data["PDCSAP_FLUX"][kept]
    )
    assert curve.name == "KIC 10874614"


def test_tess_quality_column_and_reference_are_read_from_the_file() -> None:
    _, data = _table(TESS)
    curve = read_light_curve(TESS)
    flagged = data["QUALITY"] != 0
    finite = (
        np.isfinite(data["TIME"])
        & np.isfinite(data["PDCSAP_FLUX"])
        & np.isfinite(data["PDCSAP_FLUX_ERR"])
    )
    assert curve.dropped_quality == int(np.count_nonzero(flagged))
    assert curve.dropped_nonfinite == int(np.count_nonzero(~flagged & ~finite))
    assert curve.time_bjd_tdb[0] == pytest.approx(
        data["TIME"][~flagged & finite][0] + TESS_BJDREF, abs=exact_days
    )
    assert np.all(np.diff(curve.time_bjd_tdb) > 0)


def test_non_finite_points_are_dropped_after_the_quality_flags_and_counted(tmp_path: Path) -> None:
    def spoil(header: fits.Header, columns: dict[str, np.ndarray]) -> None:
        good = np.flatnonzero(columns["SAP_QUALITY"] == 0)
        columns["PDCSAP_FLUX"][good[:5]] = np.nan
        columns["PDCSAP_FLUX_ERR"][good[5:8]] = np.inf
        columns["TIME"][good[8:10]] = np.nan
        bad = np.flatnonzero(columns["SAP_QUALITY"] != 0)
        columns["PDCSAP_FLUX"][bad[:4]] = np.nan  # flagged anyway: counted as flagged

    path = _rewrite(KEPLER6, tmp_path / "spoilt.fits", spoil)
    plain, spoilt = read_light_curve(KEPLER6), read_light_curve(path)
    assert spoilt.dropped_nonfinite == plain.dropped_nonfinite + 10
    assert spoilt.dropped_quality == plain.dropped_quality
    assert spoilt.points == plain.points - 10


def test_an_archived_blob_without_extension_is_recognised_by_its_content(tmp_path: Path) -> None:
    blob = tmp_path / "3f2a9c"
    shutil.copyfile(KEPLER6, blob)
    curve = read_light_curve(blob, name="Kepler-6")
    assert curve.name == "Kepler-6"
    assert np.array_equal(curve.time_bjd_tdb, read_light_curve(KEPLER6).time_bjd_tdb)


def test_flux_falls_back_to_sap_then_to_cheops_flux_and_fluxerr(tmp_path: Path) -> None:
    def sap_only(header: fits.Header, columns: dict[str, np.ndarray]) -> None:
        del columns["PDCSAP_FLUX"], columns["PDCSAP_FLUX_ERR"]

    def cheops(header: fits.Header, columns: dict[str, np.ndarray]) -> None:
        columns["FLUX"] = columns.pop("SAP_FLUX")
        columns["FLUXERR"] = columns.pop("SAP_FLUX_ERR")
        del columns["PDCSAP_FLUX"], columns["PDCSAP_FLUX_ERR"]
        columns["QUALITY"] = columns.pop("SAP_QUALITY")

    sap = read_light_curve(_rewrite(KEPLER6, tmp_path / "sap.fits", sap_only))
    assert sap.flux_column == "SAP_FLUX"
    flux = read_light_curve(_rewrite(KEPLER6, tmp_path / "cheops.fits", cheops))
    assert flux.flux_column == "FLUX"
    assert np.allclose(flux.flux, sap.flux)
    assert np.allclose(flux.flux_err, sap.flux_err)
    assert flux.dropped_quality == sap.dropped_quality


@pytest.mark.parametrize(
    ("keyword", "value", "named"),
    [("TIMESYS", "UTC", "TIMESYS"), ("TIMEREF", "LOCAL", "TIMEREF")],
)
def test_times_not_in_bjd_tdb_are_refused_naming_the_header(
    tmp_path: Path, keyword: str, value: str, named: str
) -> None:
    def change(header: fits.Header, columns: dict[str, np.ndarray]) -> None:
        header[keyword] = value

    path = _rewrite(KEPLER6, tmp_path / "time.fits", change)
    with pytest.raises(AnalysisInputError, match=rf"{named}.*{value}"):
        read_light_curve(path)


def test_a_file_without_a_time_reference_is_refused(tmp_path: Path) -> None:
    def strip(header: fits.Header, columns: dict[str, np.ndarray]) -> None:
        for key in ("BJDREFI", "BJDREFF"):
            del header[key]

    with pytest.raises(AnalysisInputError, match="BJDREF"):
        read_light_curve(_rewrite(KEPLER6, tmp_path / "noref.fits", strip))


def test_a_fits_table_without_time_is_refused(tmp_path: Path) -> None:
    def untime(header: fits.Header, columns: dict[str, np.ndarray]) -> None:
        columns["T"] = columns.pop("TIME")

    with pytest.raises(AnalysisInputError, match="TIME"):
        read_light_curve(_rewrite(KEPLER6, tmp_path / "notime.fits", untime))


def _write_csv(path: Path, rows: list[tuple[float, ...]], header: str) -> Path:
    path.write_text(
        header + "\n" + "\n".join(",".join(repr(float(v)) for v in r) for r in rows) + "\n"
    )
    return path


def test_csv_rows_are_read_sorted_normalised_and_counted(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    time = 2460000.0 + np.arange(80) * 0.02
    flux = 5000.0 + rng.normal(0.0, 1.0, time.size)
    rows = [(t, f, 1.0) for t, f in zip(time, flux, strict=True)]
    rows[10] = (rows[10][0], float("nan"), 1.0)
    rows.reverse()  # out of order: the reader sorts
    curve = read_light_curve(_write_csv(tmp_path / "lc.csv", rows, "time,flux,flux_err"))
    assert curve.points_read == 80
    assert curve.dropped_nonfinite == 1
    assert curve.dropped_quality == 0
    assert np.all(np.diff(curve.time_bjd_tdb) > 0)
    assert curve.time_bjd_tdb[0] == time[0]
    assert np.median(curve.flux) == pytest.approx(1.0)
    assert np.allclose(curve.flux_err, 1.0 / np.median(np.delete(flux, 69)))
    assert curve.time_system.startswith("BJD_TDB")


def test_csv_without_errors_takes_the_point_to_point_scatter(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    sigma_ppm = 500.0
    rows = [(2460000.0 + i * 0.01, 1.0 + rng.normal(0.0, sigma_ppm * 1e-6)) for i in range(2000)]
    curve = read_light_curve(_write_csv(tmp_path / "lc.csv", rows, "time,flux"))
    assert curve.flux_err[0] * 1e6 == pytest.approx(sigma_ppm, rel=0.1)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"", "empty"),
        (b"   \n\n", "empty"),
        (b"hello world\nthis is no light curve\n", "unknown light curve format"),
        (b"time,flux\n2460000.0,1.0\n2460000.1,abc\n", "row 3"),
        (
            b"time,flux\n" + b"".join(b"%r,1.0\n" % (2460000.0 + i) for i in range(20)),
            "at least 50",
        ),
        (b"\x00\x01\xff\xfe binary", "neither FITS nor a readable CSV"),
    ],
)
def test_bad_files_are_refused(tmp_path: Path, content: bytes, match: str) -> None:
    path = tmp_path / "bad"
    path.write_bytes(content)
    with pytest.raises(AnalysisInputError, match=match):
        read_light_curve(path)


@pytest.mark.parametrize("size", [2880, 20000])
def test_a_truncated_fits_file_is_refused(tmp_path: Path, size: int) -> None:
    path = tmp_path / "truncated"
    path.write_bytes(KEPLER6.read_bytes()[:size])
    with pytest.raises(AnalysisInputError, match=r"FITS|damaged"):
        read_light_curve(path)


def test_a_csv_of_constant_flux_without_errors_is_refused(tmp_path: Path) -> None:
    rows = [(2460000.0 + i * 0.01, 1.0) for i in range(100)]
    with pytest.raises(AnalysisInputError, match="does not scatter"):
        read_light_curve(_write_csv(tmp_path / "flat.csv", rows, "time,flux"))


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(AnalysisInputError, match="cannot read"):
        read_light_curve(tmp_path / "nothing.fits")


def test_library_versions_are_the_installed_ones() -> None:
    versions = library_versions()
    assert versions["numpy"] == np.__version__
    assert versions["transitleastsquares"] == importlib.metadata.version("transitleastsquares")
    assert set(versions) >= {"wotan", "transitleastsquares", "astropy", "numpy"}
