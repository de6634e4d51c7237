"""Reading optical products over a partner's area (jointsat.analysis.optical).

The products are VENuS-like MUSCATE L2A zips built from the real Sentinel-2 tile with
a seeded season (tests.support.optical); the builder knows which pixels its clouds,
shadows, snow, edges and saturation touched, and the tests hold the reader to exactly
those pixels. The area is checked against a point-in-polygon test of the pixel centres
that shares nothing with GDAL's rasterisation.
"""

from __future__ import annotations

import json
import shutil
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from rasterio.io import MemoryFile
from rasterio.transform import from_origin
from rasterio.warp import transform as project
from tests.support.optical import (
    Season,
    area_pixels,
    partner_aoi,
    quantised,
    s2_tile,
    season_products,
    utm_of,
    window_of,
)

from jointsat.analysis import optical
from jointsat.analysis.ndvi import ndvi, scene_statistics
from jointsat.analysis.venus_like import (
    DEMO_CRS,
    DEMO_TRANSFORM,
    build_product,
    load_demo_tile,
    product_name,
    seeded_season,
)
from jointsat.errors import AnalysisInputError

NDVI_TOL = 1e-12  # NDVI units: the same pixels, the same arithmetic up to rounding
REFLECTANCE_TOL = 1e-12


@pytest.fixture(scope="module")
def season(tmp_path_factory: pytest.TempPathFactory) -> Season:
    return season_products(tmp_path_factory.mktemp("season"))


@pytest.fixture(scope="module")
def tile_inside() -> np.ndarray:
    return area_pixels(partner_aoi(), (300, 300))


def embedded(scene: optical.Scene, values: np.ndarray) -> np.ndarray:
    """Put a window's boolean array back in the whole tile."""
    whole = np.zeros((300, 300), dtype=bool)
    whole[window_of(scene.transform, scene.shape)] = values
    return whole


def utm_rectangle(col0: int, row0: int, col1: int, row1: int) -> dict[str, Any]:
    (x0, y0), (x1, y1) = utm_of(col0, row0), utm_of(col1, row1)
    ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
    return {
        "type": "Polygon",
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::32631"}},
        "coordinates": [ring],
    }


# --------------------------------------------------------------------------- the area


def test_projection_puts_a_known_point_where_utm_tables_do() -> None:
    # 45 N on zone 31's central meridian (3 E): northing = 0.9996 x the meridian arc
    # of WGS-84 to 45 degrees (4,984,944.38 m), easting the false easting.
    x, y = project("EPSG:4326", DEMO_CRS, [3.0], [45.0])
    assert x[0] == pytest.approx(500_000.0, abs=1e-3)
    assert y[0] == pytest.approx(4_982_950.40, abs=0.01)


def test_wgs84_area_holds_exactly_the_pixels_whose_centres_are_inside(
    season: Season, tile_inside: np.ndarray
) -> None:
    scene = optical.read_scene(season.products[2], partner_aoi())
    assert embedded(scene, scene.inside).sum() == tile_inside.sum() > 30_000
    assert np.array_equal(embedded(scene, scene.inside), tile_inside)
    # The window is the area's bounding box, not the tile: the pentagon spans columns
    # 20.1-260.2 and rows 30.1-270.2 of the grid (pixels 20-260 and 30-270).
    rows, cols = window_of(scene.transform, scene.shape)
    assert (rows.start, rows.stop, cols.start, cols.stop) == (30, 271, 20, 261)
    assert scene.red.shape == scene.nir.shape == scene.valid.shape == (241, 241)
    assert scene.crs == "EPSG:32631"


def test_utm_rectangle_on_pixel_edges_reads_exactly_its_pixels(season: Season) -> None:
    date = season.dates[2]
    scene = optical.read_scene(season.products[2], utm_rectangle(37, 52, 137, 112))
    assert scene.shape == (60, 100)
    assert scene.inside.all()
    assert scene.transform == DEMO_TRANSFORM @ rasterio.Affine.translation(37, 52)
    expected = quantised(date.red[52:112, 37:137], season.quantification)
    assert np.abs(scene.red - expected).max() <= REFLECTANCE_TOL


def test_area_given_in_a_feature_collection_with_a_crs_string(season: Season) -> None:
    rectangle = utm_rectangle(0, 0, 10, 10)
    collection = {
        "type": "FeatureCollection",
        "crs": "EPSG:32631",
        "features": [
            {"type": "Feature", "properties": {}, "geometry": {**rectangle, "crs": None}},
            {"type": "Feature", "properties": {}, "geometry": utm_rectangle(20, 0, 25, 4)},
        ],
    }
    scene = optical.read_scene(season.products[2], collection)
    assert scene.shape == (10, 25)
    assert scene.inside.sum() == 100 + 20


# --------------------------------------------------------------------------- masks


def test_every_masked_pixel_is_excluded_exactly_on_every_date(
    season: Season, tile_inside: np.ndarray
) -> None:
    aoi = partner_aoi()
    cloudy_dates = 0
    for date, product in zip(season.dates, season.products, strict=True):
        scene = optical.read_scene(product, aoi)
        truth_valid = tile_inside & date.clear
        assert np.array_equal(embedded(scene, scene.valid), truth_valid), date.acquired
        counts = scene.masked_counts
        assert sum(counts.values()) == int(scene.inside.sum() - scene.valid.sum())
        assert counts["edge"] == int((date.edg & tile_inside).sum())
        # The statistics are numpy's over the truth's pixels of the quantised truth.
        q = season.quantification
        red = quantised(date.red, q)[truth_valid]
        nir = quantised(date.nir, q)[truth_valid]
        values = (nir - red) / (nir + red)
        stats = scene_statistics(scene)
        assert stats.valid_pixels == values.size
        assert stats.area_pixels == tile_inside.sum()
        if values.size:
            assert stats.ndvi_mean == pytest.approx(values.mean(), abs=NDVI_TOL)
            assert stats.ndvi_median == pytest.approx(np.median(values), abs=NDVI_TOL)
            p10, p90 = np.percentile(values, [10, 90])
            assert (stats.ndvi_p10, stats.ndvi_p90) == pytest.approx((p10, p90), abs=NDVI_TOL)
        else:
            assert np.isnan(stats.ndvi_mean)
        cloudy_dates += int(counts["cloud"] > 0)
    assert cloudy_dates == round(0.4 * len(season.dates))


def test_mask_reasons_are_counted_by_their_bits(season: Season, tile_inside: np.ndarray) -> None:
    clear = [i for i, d in enumerate(season.dates) if not d.clm.any()]
    first, second = season.dates[clear[0]], season.dates[clear[1]]
    snow = optical.read_scene(season.products[clear[0]], partner_aoi())
    snowed = (first.mg2 & 4).astype(bool) & tile_inside
    assert snow.masked_counts["snow"] == int(snowed.sum()) > 0
    edged = optical.read_scene(season.products[clear[1]], partner_aoi())
    saturated = (second.sat & (1 << 10)).astype(bool) & tile_inside & ~second.edg
    assert edged.masked_counts["saturation"] == int(saturated.sum()) > 0
    # B1's saturation bit is not a band the NDVI reads: those pixels stay valid.
    b1_only = (second.sat == 1) & tile_inside & second.clear
    assert b1_only.any()
    assert embedded(edged, edged.valid)[b1_only].all()
    # Water (MG2 bit 0) is a surface, not a mask.
    water = (second.mg2 & 1).astype(bool) & tile_inside & second.clear
    assert water.any()
    assert embedded(edged, edged.valid)[water].all()


def test_shadows_of_detected_and_outside_clouds_and_thin_clouds_are_masked(
    season: Season, tile_inside: np.ndarray
) -> None:
    seen = {"thin": 0, "outside": 0, "shadow": 0}
    for date, product in zip(season.dates, season.products, strict=True):
        if not date.clm.any():
            continue
        scene = optical.read_scene(product, partner_aoi())
        valid = embedded(scene, scene.valid)
        thin = (date.clm == 64) & tile_inside  # the thinnest clouds alone (bit 6)
        outside = ((date.clm & 8) > 0) & tile_inside
        shadow = ((date.clm & 4) > 0) & tile_inside
        assert not valid[thin | outside | shadow].any()
        # A shadow (CLM bit 0 with bit 2 or 3) counts as a shadow, not as a cloud.
        assert scene.masked_counts["shadow"] == int((outside | shadow).sum())
        cloud = ((date.clm & (2 | 64)) > 0) & tile_inside
        assert scene.masked_counts["cloud"] == int(cloud.sum())
        seen["thin"] += int(thin.sum())
        seen["outside"] += int(outside.sum())
        seen["shadow"] += int(shadow.sum())
    assert min(seen.values()) > 0, seen


# --------------------------------------------------------------------------- products


def test_quantification_is_read_from_the_metadata(season: Season, tmp_path: Path) -> None:
    date = season.dates[5]
    product = build_product(
        tmp_path, red=date.red, nir=date.nir, acquired=date.acquired, quantification=4000
    )
    scene = optical.read_scene(product, utm_rectangle(0, 0, 50, 40))
    assert scene.reflectance_scale == pytest.approx(1 / 4000)
    assert np.abs(scene.red - quantised(date.red[:40, :50], 4000)).max() <= REFLECTANCE_TOL
    assert np.abs(scene.red - quantised(date.red[:40, :50], 10000)).max() > 1e-5


def test_metadata_without_quantification_is_refused(season: Season, tmp_path: Path) -> None:
    date = season.dates[5]
    product = build_product(
        tmp_path, red=date.red, nir=date.nir, acquired=date.acquired, write_quantification=False
    )
    with pytest.raises(AnalysisInputError, match="REFLECTANCE_QUANTIFICATION_VALUE"):
        optical.read_scene(product, utm_rectangle(0, 0, 5, 5))


def test_flat_reflectance_is_read_when_present_else_surface(season: Season, tmp_path: Path) -> None:
    date = season.dates[5]
    both = build_product(
        tmp_path / "both", red=date.red, nir=date.nir, acquired=date.acquired, zip=False
    )
    for sre in both.glob("*_SRE_*.tif"):  # spoil SRE: only FRE may be read
        with rasterio.open(sre, "r+") as dst:
            dst.write(np.full((300, 300), 7, dtype=np.int16), 1)
    scene = optical.read_scene(both, utm_rectangle(0, 0, 20, 20))
    assert (scene.red_band, scene.nir_band) == ("FRE_B7", "FRE_B11")
    assert np.abs(scene.red - quantised(date.red[:20, :20], 10000)).max() <= REFLECTANCE_TOL
    sre_only = build_product(
        tmp_path / "sre", red=date.red, nir=date.nir, acquired=date.acquired, flavours=("SRE",)
    )
    scene = optical.read_scene(sre_only, utm_rectangle(0, 0, 20, 20))
    assert scene.red_band == "SRE_B7"
    assert scene.tags["platform"] == "VENUS"


def test_archive_blob_without_extension_reads_like_the_zip_and_folder(
    season: Season, tmp_path: Path
) -> None:
    blob = tmp_path / "3f9a0c"
    shutil.copy(season.products[4], blob)
    from_zip = optical.read_scene(season.products[4], partner_aoi())
    from_blob = optical.read_scene(blob, partner_aoi())
    assert from_blob.name == from_zip.name == product_name(season.dates[4].acquired)
    assert from_blob.acquired == season.dates[4].acquired.replace(microsecond=0)
    assert np.array_equal(from_blob.red, from_zip.red)
    assert np.array_equal(from_blob.valid, from_zip.valid)
    shutil.unpack_archive(season.products[4], tmp_path / "unpacked", format="zip")
    folder = next((tmp_path / "unpacked").iterdir())
    from_folder = optical.read_scene(folder, partner_aoi(), name="mine")
    assert from_folder.name == "mine"
    assert np.array_equal(from_folder.nir, from_zip.nir)


def test_reading_one_window_takes_little_time(season: Season) -> None:
    start = time.perf_counter()
    for product in season.products[:5]:
        optical.read_scene(product, partner_aoi())
    per_product_s = (time.perf_counter() - start) / 5
    assert per_product_s < 0.5


# --------------------------------------------------------------------------- COG


def test_ndvi_cog_is_cloud_optimised_with_the_scene_grid_and_values(season: Season) -> None:
    scene = optical.read_scene(season.products[3], partner_aoi())
    data = optical.write_ndvi_cog(scene)
    assert data[:4] in (b"II*\x00", b"MM\x00*")
    with MemoryFile(data) as memory, memory.open() as src:
        assert src.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
        assert src.profile["tiled"] is True
        assert src.overviews(1), "a 241-pixel window spans two 128-pixel tiles: overviews"
        assert src.crs.to_epsg() == 32631
        assert src.transform == scene.transform
        assert src.dtypes[0] == "float32"
        assert np.isnan(src.nodata)
        values = src.read(1)
    expected = ndvi(scene.red, scene.nir).astype(np.float32)
    assert np.array_equal(np.isnan(values), ~scene.valid)
    assert np.array_equal(values[scene.valid], expected[scene.valid])


# --------------------------------------------------------------------------- other inputs


def write_geotiff(path: Path, bands: dict[str, np.ndarray], **tags: str) -> None:
    transform = from_origin(280_000.0, 5_142_000.0, 5.0, 5.0)
    first = next(iter(bands.values()))
    with rasterio.open(
        path, "w", driver="GTiff", width=first.shape[1], height=first.shape[0],
        count=len(bands), dtype=first.dtype.name, crs=DEMO_CRS, transform=transform,
    ) as dst:  # fmt: skip
        for i, (label, values) in enumerate(bands.items(), start=1):
            dst.write(values, i)
            dst.set_band_description(i, label)
        dst.update_tags(**tags)


def test_geotiff_with_band_descriptions_and_gdal_scale(tmp_path: Path) -> None:
    tile = s2_tile().astype(np.uint16)
    path = tmp_path / "s2.tif"
    write_geotiff(
        path, {"blue": tile[0], "green": tile[1], "red": tile[2], "nir": tile[3]},
        ACQUISITION_DATE="2024-05-02T10:56:31Z",
    )  # fmt: skip
    with rasterio.open(path, "r+") as dst:
        dst.scales = (1e-4,) * 4
    scene = optical.read_scene(path, utm_rectangle(10, 10, 60, 40))
    assert scene.source_format == "geotiff"
    assert (scene.red_band, scene.nir_band) == ("band 3", "band 4")
    assert scene.acquired.isoformat() == "2024-05-02T10:56:31+00:00"
    assert np.abs(scene.nir - tile[3, 10:40, 10:60] * 1e-4).max() <= REFLECTANCE_TOL


def test_geotiff_with_common_name_tags_in_any_order(tmp_path: Path) -> None:
    tile = s2_tile().astype(np.float32) / 10000
    path = tmp_path / "any.tif"
    write_geotiff(path, {"x": tile[3], "y": tile[2]}, TIFFTAG_DATETIME="2024:05:02 10:56:31")
    with rasterio.open(path, "r+") as dst:
        dst.update_tags(1, **{"eo:common_name": "nir"})
        dst.update_tags(2, **{"eo:common_name": "red"})
    scene = optical.read_scene(path, utm_rectangle(0, 0, 30, 30))
    assert (scene.red_band, scene.nir_band) == ("band 2", "band 1")
    assert np.array_equal(scene.red, tile[2, :30, :30].astype(np.float64))


def test_geotiff_of_integers_without_scale_is_refused(tmp_path: Path) -> None:
    tile = s2_tile().astype(np.uint16)
    path = tmp_path / "noscale.tif"
    write_geotiff(path, {"red": tile[2], "nir": tile[3]}, ACQUISITION_DATE="2024-05-02")
    with pytest.raises(AnalysisInputError, match="scale"):
        optical.read_scene(path, utm_rectangle(0, 0, 5, 5))


@pytest.mark.parametrize("stac_version", ["1.0.0", "1.1.0"])
def test_stac_item_with_common_names_and_relative_hrefs(tmp_path: Path, stac_version: str) -> None:
    tile = s2_tile().astype(np.uint16)
    (tmp_path / "bands").mkdir()
    write_geotiff(tmp_path / "bands" / "B04.tif", {"b04": tile[2]})
    write_geotiff(tmp_path / "bands" / "B08.tif", {"b08": tile[3]})

    def asset(name: str, common: str) -> dict[str, Any]:
        if stac_version == "1.0.0":
            return {
                "href": f"./bands/{name}.tif",
                "eo:bands": [{"name": name, "common_name": common}],
                "raster:bands": [{"scale": 0.0001, "offset": 0, "nodata": 0}],
            }
        return {
            "href": f"bands/{name}.tif",
            "bands": [{"name": name, "eo:common_name": common, "raster:scale": 0.0001}],
        }

    item = {
        "type": "Feature",
        "stac_version": stac_version,
        "id": "S2-demo-item",
        "properties": {"datetime": "2024-05-02T10:56:31.024Z"},
        "geometry": None,
        "assets": {"B08": asset("B08", "nir"), "B04": asset("B04", "red")},
    }
    path = tmp_path / "item.json"
    path.write_text(json.dumps(item))
    scene = optical.read_scene(path, partner_aoi())
    assert scene.source_format == "stac"
    assert scene.name == "S2-demo-item"
    assert scene.acquired.isoformat() == "2024-05-02T10:56:31.024000+00:00"
    rows, cols = window_of(scene.transform, scene.shape)
    assert np.abs(scene.red - tile[2][rows, cols] * 1e-4).max() <= REFLECTANCE_TOL
    assert scene.valid.sum() == scene.inside.sum()


# --------------------------------------------------------------------------- bad inputs


def test_area_that_misses_the_raster_is_refused(season: Season) -> None:
    far = utm_rectangle(400, 400, 410, 410)
    with pytest.raises(AnalysisInputError, match="misses the raster"):
        optical.read_scene(season.products[0], far)


def test_area_between_pixel_centres_is_refused(season: Season) -> None:
    sliver = utm_rectangle(10, 10, 11, 11)
    (x0, y0), (x1, _) = utm_of(10, 10), utm_of(10.3, 10)
    sliver["coordinates"] = [[[x0, y0], [x1, y0], [x1, y0 - 1], [x0, y0 - 1], [x0, y0]]]
    with pytest.raises(AnalysisInputError, match="no pixel centre"):
        optical.read_scene(season.products[0], sliver)


@pytest.mark.parametrize(
    ("aoi", "message"),
    [
        ({"type": "Point", "coordinates": [0.15, 46.39]}, "Polygon or MultiPolygon"),
        ({"type": "Polygon", "coordinates": [[[0, 0], [1, 1]]]}, "at least four"),
        ({"type": "FeatureCollection", "features": []}, "no features"),
        ({"type": "Polygon", "crs": "EPSG:999999", "coordinates": []}, "unknown"),
    ],
)
def test_bad_areas_are_refused(season: Season, aoi: dict[str, Any], message: str) -> None:
    with pytest.raises(AnalysisInputError, match=message):
        optical.read_scene(season.products[0], aoi)


def test_products_without_red_and_nir_or_of_no_known_kind_are_refused(tmp_path: Path) -> None:
    tile = s2_tile().astype(np.float32)
    path = tmp_path / "rgb.tif"
    write_geotiff(path, {"blue": tile[0], "green": tile[1]}, ACQUISITION_DATE="2024-05-02")
    with pytest.raises(AnalysisInputError, match="red and nir"):
        optical.read_scene(path, utm_rectangle(0, 0, 5, 5))
    text = tmp_path / "notes"
    text.write_text("not a product")
    with pytest.raises(AnalysisInputError, match="not a MUSCATE"):
        optical.read_scene(text, utm_rectangle(0, 0, 5, 5))
    not_stac = tmp_path / "list.json"
    not_stac.write_text("[1, 2]")
    with pytest.raises(AnalysisInputError, match="not a STAC Item"):
        optical.read_scene(not_stac, utm_rectangle(0, 0, 5, 5))
    with pytest.raises(AnalysisInputError, match="no such product"):
        optical.read_scene(tmp_path / "missing", utm_rectangle(0, 0, 5, 5))


def test_muscate_zip_without_cloud_masks_is_refused(season: Season, tmp_path: Path) -> None:
    stripped = tmp_path / "stripped"
    with zipfile.ZipFile(season.products[0]) as source, zipfile.ZipFile(stripped, "w") as out:
        for member in source.namelist():
            if "_CLM_" not in member:
                out.writestr(member, source.read(member))
    with pytest.raises(AnalysisInputError, match="CLM"):
        optical.read_scene(stripped, partner_aoi())


def test_library_versions_name_the_libraries() -> None:
    versions = optical.library_versions()
    assert set(versions) == {"rasterio", "gdal", "proj", "numpy", "scipy"}
    assert versions["rasterio"] == rasterio.__version__


def test_bundled_demo_tile_is_the_stated_crop_of_the_shared_tile(tmp_path: Path) -> None:
    tile = load_demo_tile()
    assert tile.dtype == np.uint16
    assert np.array_equal(tile, s2_tile()[:, 0:100, 200:300])
    date = seeded_season(tile, 4, seed=1, cloudy_fraction=0.5)[2]
    product = build_product(
        tmp_path, red=date.red, nir=date.nir, acquired=date.acquired, cloud_mask=date.clm,
        mg2_mask=date.mg2, edge_mask=date.edg, saturation_mask=date.sat, zip=False,
    )  # fmt: skip
    scene = optical.read_scene(product, utm_rectangle(0, 0, 100, 100))
    assert np.array_equal(scene.valid, date.clear)
