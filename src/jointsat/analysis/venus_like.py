"""Build VENuS-like L2A products (Theia/MUSCATE layout) from reflectance arrays.

No package ships a VENuS product, so the demo and the tests make their own from a real
Sentinel-2 tile (:func:`load_demo_tile`, or the shared test data): :func:`seeded_season`
turns one tile into a season of dates, with a phenology (NDVI rising then falling) and
seeded clouds, shadows, snow, edges and saturated pixels whose pixels it knows; and
:func:`build_product` writes one date as a MUSCATE L2A product, a folder or a zip:

``VENUS-XS_<yyyymmdd-hhmmss>-000_L2A_<SITE>_C_V3-1/``
  ``..._MTD_ALL.xml`` with the element names of MUSCATE's metadata
  (``Muscate_Metadata_Document``: ``Dataset_Identification/IDENTIFIER``,
  ``Product_Characteristics/ACQUISITION_DATE`` and ``PLATFORM`` VENUS,
  ``Geoposition_Informations`` with ``HORIZONTAL_CS_CODE`` and the XS group's
  ``ULX ULY XDIM YDIM NROWS NCOLS``, ``Radiometric_Informations`` with
  ``REFLECTANCE_QUANTIFICATION_VALUE``, ``SPECIAL_VALUE name="nodata"`` and the 12
  ``Spectral_Band_Informations``); ``..._SRE_B<n>.tif`` and ``..._FRE_B<n>.tif``
  (int16, value = reflectance x quantification, the nodata value on edges);
  ``MASKS/..._CLM_XS.tif``, ``_MG2_XS.tif``, ``_EDG_XS.tif`` (uint8) and
  ``_SAT_XS.tif`` (uint16: one bit per band, B1 bit 0 to B12 bit 11).

Only the bands given are written: B7 (red) and B11 (near infrared), plus any in
``extra_bands`` (the demo tile's blue and green as B3 and B4); the MTD still lists all
12 VENuS bands (420 to 910 nm), as a reader of red and near infrared needs no more.
The mask bits are those :mod:`jointsat.analysis.optical` documents (CESBIO's
"Format of VENuS L2A produced by MUSCATE"): CLM 0 clouds and shadows, 1 clouds except
the thinnest, 2 shadows of detected clouds, 3 shadows of clouds outside the image, 4
and 5 clouds by mono- and multi-temporal thresholds, 6 thinnest clouds, 7 high clouds;
MG2 0 water, 1 clouds, 2 snow, 3 cloud shadows. The tile is placed in UTM zone 31N
(EPSG:32631) near Lusignan in western France (:data:`DEMO_TRANSFORM`), with VENuS's
5 m pixels instead of Sentinel-2's 10 m: the place is arbitrary, the pixels real.

This is an edge module (it writes files); it is meant for demos and tests, not for
anything that claims to be a real VENuS product.
"""

from __future__ import annotations

import math
import shutil
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple
from xml.etree import ElementTree

import numpy as np
import rasterio
from affine import Affine
from numpy.typing import NDArray
from rasterio.crs import CRS

from jointsat.analysis.ndvi import ndvi
from jointsat.errors import AnalysisInputError

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
UInt8Array = NDArray[np.uint8]
UInt16Array = NDArray[np.uint16]

DEMO_CRS = "EPSG:32631"
"""The CRS the VENuS-like products are placed in (WGS 84 / UTM zone 31N)."""

DEMO_TRANSFORM = Affine(5.0, 0.0, 280_000.0, 0.0, -5.0, 5_142_000.0)
"""Their grid: 5 m pixels, upper-left corner at 46.396 N 0.138 E (near Lusignan)."""

DEMO_TILE_FILE = "s2_tile_100.npz"
"""The bundled 100 x 100 Sentinel-2 window (jointsat/data, see its ATTRIBUTION.md)."""

VENUS_BANDS_NM = {
    "B1": 420.0, "B2": 443.0, "B3": 490.0, "B4": 555.0, "B5": 620.0, "B6": 620.0,
    "B7": 667.0, "B8": 702.0, "B9": 742.0, "B10": 782.0, "B11": 865.0, "B12": 910.0,
}  # fmt: skip
"""VENuS's 12 bands and their central wavelengths, nm (VSSC camera)."""

RED_BAND, NIR_BAND = "B7", "B11"
NODATA = -10000
"""The nodata value of MUSCATE reflectance files (``SPECIAL_VALUE name="nodata"``)."""

DEFAULT_QUANTIFICATION = 10000
"""MUSCATE's VENuS L2A quantification since 2019 (reflectance = value / 10000)."""

# CLM bits (VENuS) and MG2 bits, as values.
CLM_CLOUDS_AND_SHADOWS = 1 << 0
CLM_CLOUDS = 1 << 1
CLM_SHADOWS = 1 << 2
CLM_SHADOWS_OUTSIDE = 1 << 3
CLM_MONO_TEMPORAL = 1 << 4
CLM_MULTI_TEMPORAL = 1 << 5
CLM_THIN_CLOUDS = 1 << 6
CLM_HIGH_CLOUDS = 1 << 7
MG2_WATER = 1 << 0
MG2_CLOUDS = 1 << 1
MG2_SNOW = 1 << 2
MG2_SHADOWS = 1 << 3


def load_demo_tile() -> NDArray[np.uint16]:
    """Return the bundled Sentinel-2 window: (4, 100, 100) uint16, B02 B03 B04 B08 x 10000."""
    source = resources.files("jointsat") / "data" / DEMO_TILE_FILE
    with source.open("rb") as f, np.load(f) as archive:
        return np.asarray(archive["reflectance"], dtype=np.uint16)


def product_name(acquired: datetime, site: str = "LUSIGNAN") -> str:
    """Return a MUSCATE-style VENuS L2A product name for a time (UTC) and site."""
    moment = acquired.astimezone(UTC)
    return f"VENUS-XS_{moment:%Y%m%d-%H%M%S}-000_L2A_{site}_C_V3-1"


def build_product(
    folder: Path | str,
    *,
    red: FloatArray,
    nir: FloatArray,
    acquired: datetime,
    cloud_mask: UInt8Array | None = None,
    mg2_mask: UInt8Array | None = None,
    edge_mask: NDArray[np.bool_] | None = None,
    saturation_mask: UInt16Array | None = None,
    transform: Affine = DEMO_TRANSFORM,
    crs: str = DEMO_CRS,
    quantification: int = DEFAULT_QUANTIFICATION,
    zip: bool = True,
    tile: str = "LUSIGNAN",
    flavours: tuple[str, ...] = ("SRE", "FRE"),
    extra_bands: Mapping[str, FloatArray] | None = None,
    write_quantification: bool = True,
) -> Path:
    """Write one VENuS-like L2A product in ``folder`` and return its path.

    ``red`` and ``nir`` are reflectances (written as B7 and B11, times
    ``quantification``, rounded, as int16); ``cloud_mask`` and ``mg2_mask`` the CLM
    and MG2 bytes (zero when None); ``edge_mask`` marks pixels outside the swath (EDG
    1, the nodata value in every band); ``saturation_mask`` the SAT bits (B1 bit 0 ...
    B12 bit 11). ``zip`` writes ``<name>.zip`` holding the folder ``<name>/`` (as Theia
    delivers them), else the folder. ``flavours`` chooses SRE and/or FRE files (the
    same values); ``extra_bands`` adds bands by id (``{"B3": blue}``).
    ``write_quantification=False`` leaves REFLECTANCE_QUANTIFICATION_VALUE out of the
    MTD (to test a reader's refusal).
    """
    acquired = _utc(acquired)
    red = np.asarray(red, dtype=np.float64)
    nir = np.asarray(nir, dtype=np.float64)
    if red.ndim != 2 or red.shape != nir.shape:
        raise AnalysisInputError(f"red {red.shape} and nir {nir.shape} must be one 2-D shape")
    shape = red.shape
    if not 0 < quantification < 32767:
        raise AnalysisInputError(f"quantification {quantification} does not fit int16 values")
    bad = [f for f in flavours if f not in ("SRE", "FRE")]
    if bad or not flavours:
        raise AnalysisInputError(f"flavours must be SRE and/or FRE, not {flavours}")
    edge = np.zeros(shape, bool) if edge_mask is None else np.asarray(edge_mask, bool)
    masks = {
        "CLM": _plane(cloud_mask, shape, np.uint8),
        "MG2": _plane(mg2_mask, shape, np.uint8),
        "EDG": edge.astype(np.uint8),
        "SAT": _plane(saturation_mask, shape, np.uint16),
    }
    bands = {RED_BAND: red, NIR_BAND: nir, **dict(extra_bands or {})}
    unknown = sorted(set(bands) - set(VENUS_BANDS_NM))
    if unknown:
        raise AnalysisInputError(f"not VENuS bands: {unknown}")
    name = product_name(acquired, tile)
    base = Path(folder)
    base.mkdir(parents=True, exist_ok=True)
    root = base / name
    if root.exists():
        shutil.rmtree(root)
    (root / "MASKS").mkdir(parents=True)
    profile = {
        "driver": "GTiff",
        "width": shape[1],
        "height": shape[0],
        "count": 1,
        "crs": CRS.from_user_input(crs),
        "transform": transform,
        "compress": "DEFLATE",
    }
    for band_id, values in bands.items():
        digital = _digital(np.asarray(values, dtype=np.float64), quantification, edge)
        for flavour in flavours:
            path = root / f"{name}_{flavour}_{band_id}.tif"
            with rasterio.open(path, "w", dtype="int16", nodata=NODATA, **profile) as dst:
                dst.write(digital, 1)
    for kind, plane in masks.items():
        with rasterio.open(
            root / "MASKS" / f"{name}_{kind}_XS.tif", "w", dtype=plane.dtype.name, **profile
        ) as dst:
            dst.write(plane, 1)
    cloud_percent = 100.0 * float(np.mean(masks["CLM"] != 0))
    mtd = _metadata(
        name, acquired, tile, shape, transform, crs, quantification, sorted(bands),
        flavours, cloud_percent, write_quantification,
    )  # fmt: skip
    (root / f"{name}_MTD_ALL.xml").write_bytes(mtd)
    if not zip:
        return root
    archive = base / f"{name}.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_STORED) as z:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                z.write(path, str(path.relative_to(base)).replace("\\", "/"))
    shutil.rmtree(root)
    return archive


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise AnalysisInputError(f"the time {moment.isoformat()} has no time zone")
    return moment.astimezone(UTC)


def _plane(
    values: NDArray[np.generic] | None, shape: tuple[int, ...], dtype: type[np.unsignedinteger]
) -> NDArray[np.unsignedinteger]:
    if values is None:
        return np.zeros(shape, dtype=dtype)
    plane = np.asarray(values)
    if plane.shape != shape:
        raise AnalysisInputError(f"a mask of shape {plane.shape} for bands of shape {shape}")
    return plane.astype(dtype)


def _digital(values: FloatArray, quantification: int, edge: BoolArray) -> NDArray[np.int16]:
    digital = np.clip(np.round(values * quantification), -32767, 32767)
    digital = np.where(np.isfinite(digital), digital, NODATA)
    return np.where(edge, NODATA, digital).astype(np.int16)


def _metadata(
    name: str,
    acquired: datetime,
    tile: str,
    shape: tuple[int, ...],
    transform: Affine,
    crs: str,
    quantification: int,
    band_ids: list[str],
    flavours: tuple[str, ...],
    cloud_percent: float,
    write_quantification: bool,
) -> bytes:
    def sub(
        parent: ElementTree.Element, tag: str, text: object = None, **attrs: str
    ) -> ElementTree.Element:
        element = ElementTree.SubElement(parent, tag, attrs)
        if text is not None:
            element.text = str(text)
        return element

    epsg = CRS.from_user_input(crs).to_epsg()
    root = ElementTree.Element("Muscate_Metadata_Document")
    ident = sub(root, "Metadata_Identification")
    sub(ident, "METADATA_FORMAT", "METADATA_MUSCATE", version="1.16")
    sub(ident, "METADATA_PROFILE", "USER")
    sub(ident, "METADATA_INFORMATION", "EXPERTISE")
    dataset = sub(root, "Dataset_Identification")
    sub(dataset, "IDENTIFIER", name)
    sub(dataset, "AUTHORITY", "THEIA")
    sub(dataset, "PRODUCER", "MUSCATE")
    sub(dataset, "PROJECT", "VENUS")
    sub(dataset, "GEOGRAPHICAL_ZONE", tile, type="Site")
    sub(dataset, "TITLE", f"{name} (VENuS-like, built by jointsat from Sentinel-2 pixels)")
    characteristics = sub(root, "Product_Characteristics")
    sub(characteristics, "PRODUCT_ID", name)
    sub(characteristics, "ACQUISITION_DATE", acquired.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z")
    sub(characteristics, "PRODUCT_VERSION", "3.1")
    sub(characteristics, "PRODUCT_LEVEL", "L2A")
    sub(characteristics, "PLATFORM", "VENUS")
    sub(characteristics, "SPECTRAL_CONTENT", "XS")
    organisation = sub(sub(root, "Product_Organisation"), "Muscate_Product")
    images = sub(organisation, "Image_List")
    natures = {"SRE": "Surface_Reflectance", "FRE": "Flat_Reflectance"}
    for flavour in flavours:
        image = sub(images, "Image")
        properties = sub(image, "Image_Properties")
        sub(properties, "NATURE", natures[flavour])
        sub(properties, "FORMAT", "image/tiff")
        sub(properties, "ENCODING", "int16")
        files = sub(image, "Image_File_List")
        for band_id in band_ids:
            sub(files, "IMAGE_FILE", f"{name}_{flavour}_{band_id}.tif", band_id=band_id)
    mask_list = sub(organisation, "Mask_List")
    for kind, nature in (("CLM", "Cloud"), ("MG2", "Geophysics"), ("EDG", "Edge"),
                         ("SAT", "Saturation")):  # fmt: skip
        mask = sub(mask_list, "Mask")
        sub(sub(mask, "Mask_Properties"), "NATURE", nature)
        sub(sub(mask, "Mask_File_List"), "MASK_FILE", f"MASKS/{name}_{kind}_XS.tif", group_id="XS")
    geo = sub(root, "Geoposition_Informations")
    reference = sub(geo, "Coordinate_Reference_System")
    sub(reference, "GEO_TABLES", "EPSG", version="1.0")
    horizontal = sub(reference, "Horizontal_Coordinate_System")
    sub(horizontal, "HORIZONTAL_CS_TYPE", "PROJECTED")
    sub(horizontal, "HORIZONTAL_CS_NAME", CRS.from_user_input(crs).to_wkt().split('"')[1])
    sub(horizontal, "HORIZONTAL_CS_CODE", epsg if epsg is not None else "")
    group = sub(
        sub(sub(geo, "Geopositioning"), "Group_Geopositioning_List"),
        "Group_Geopositioning",
        group_id="XS",
    )
    sub(group, "ULX", f"{transform.c:g}")
    sub(group, "ULY", f"{transform.f:g}")
    sub(group, "XDIM", f"{transform.a:g}")
    sub(group, "YDIM", f"{transform.e:g}")
    sub(group, "NROWS", shape[0])
    sub(group, "NCOLS", shape[1])
    radiometry = sub(root, "Radiometric_Informations")
    if write_quantification:
        sub(radiometry, "REFLECTANCE_QUANTIFICATION_VALUE", quantification)
    specials = sub(radiometry, "Special_Values_List")
    sub(specials, "SPECIAL_VALUE", NODATA, name="nodata")
    spectral = sub(radiometry, "Spectral_Band_Informations_List")
    for band_id, central in VENUS_BANDS_NM.items():
        info = sub(spectral, "Spectral_Band_Informations", band_id=band_id)
        sub(info, "SPATIAL_RESOLUTION", f"{abs(transform.a):g}", unit="m")
        sub(sub(info, "Wavelength"), "CENTRAL", f"{central:g}", unit="nm")
    quality = sub(sub(sub(root, "Quality_Informations"), "Current_Product"),
                  "Product_Quality_List", level="N2")  # fmt: skip
    indices = sub(sub(quality, "Product_Quality"), "Global_Index_List")
    sub(indices, "QUALITY_INDEX", f"{cloud_percent:.0f}", name="CloudPercent")
    ElementTree.indent(root)
    return bytes(ElementTree.tostring(root, encoding="utf-8", xml_declaration=True))


# --------------------------------------------------------------------------- season


class SeasonDate(NamedTuple):
    """One date of a seeded season: what the product holds and what is true.

    ``red`` and ``nir`` are the reflectances seen (clouds, shadows and snow included);
    ``clm``, ``mg2``, ``edg`` (bool) and ``sat`` (uint16) the masks to write;
    ``true_ndvi`` the surface's NDVI under no cloud; ``clear`` the pixels that no
    cloud, shadow, snow, edge or saturation of the red or near-infrared band touched
    (the truth a reader's valid pixels must equal, within an area).
    """

    acquired: datetime
    red: FloatArray
    nir: FloatArray
    clm: UInt8Array
    mg2: UInt8Array
    true_ndvi: FloatArray
    edg: BoolArray
    sat: UInt16Array
    clear: BoolArray


@dataclass(frozen=True)
class Phenology:
    """A season's NDVI change: a double logistic from ``low`` to ``high`` and back.

    ``shift(t_d) = low + (high - low) * (1 / (1 + exp(-(t - green_up_d) / rate_up_d))
    - 1 / (1 + exp(-(t - senescence_d) / rate_down_d)))``, added to each pixel's NDVI.
    """

    low: float = -0.30
    high: float = 0.22
    green_up_d: float = 60.0
    rate_up_d: float = 12.0
    senescence_d: float = 150.0
    rate_down_d: float = 15.0

    def shift(self, t_d: FloatArray | float) -> FloatArray:
        t = np.asarray(t_d, dtype=np.float64)
        rise = 1.0 / (1.0 + np.exp(-(t - self.green_up_d) / self.rate_up_d))
        fall = 1.0 / (1.0 + np.exp(-(t - self.senescence_d) / self.rate_down_d))
        return np.asarray(self.low + (self.high - self.low) * (rise - fall), dtype=np.float64)


NDVI_LIMIT = 0.95
"""The seeded NDVI is clipped to [-NDVI_LIMIT, NDVI_LIMIT] (red and nir stay positive)."""


def seeded_season(
    reflectance_4band: NDArray[np.generic],
    dates: int,
    seed: int,
    cloudy_fraction: float = 0.4,
    *,
    start: datetime = datetime(2024, 3, 1, 10, 40, tzinfo=UTC),
    season_d: int = 210,
    phenology: Phenology = Phenology(),
) -> list[SeasonDate]:
    """Return a seeded season of ``dates`` acquisitions made from one 4-band tile.

    ``reflectance_4band`` is (4, rows, cols): blue, green, red, near infrared, x 10000
    (the shared ``S2_10m.json`` or :func:`load_demo_tile`). The dates fall on distinct
    random days of ``season_d`` days from ``start`` (10:40 UTC plus a few minutes). Each
    pixel's NDVI is its own plus ``phenology.shift(t)``, clipped to +-:data:`NDVI_LIMIT`,
    with red + nir kept: ``red = s (1 - ndvi) / 2``, ``nir = s (1 + ndvi) / 2``.

    ``round(cloudy_fraction * dates)`` dates get clouds: a third of them (at least one)
    wholly, the others partly (10 to 60 % of the tile in discs), each disc with a rim
    of thinnest cloud (CLM bit 6 only) and, for some, high cloud (bit 7); clouds are
    bright (reflectance 0.3 to 0.4 in both bands), thin clouds half-way; shadows (the
    discs shifted, where no cloud is) are dark (0.3 x the surface + 0.01). One partly
    cloudy date also gets the shadow of a cloud outside the image (CLM bit 3); the first
    date without clouds a snow patch (MG2 bit 2); the second an edge (the first eighth of
    the columns outside the swath) and saturated pixels (SAT bits of B11, masked; and of B1,
    not masked, as a reader of red and near infrared must ignore it). Water (NDVI
    below 0 at the tile's own date) carries MG2 bit 0 on every date and stays clear.
    """
    tile = np.asarray(reflectance_4band, dtype=np.float64)
    if tile.ndim != 3 or tile.shape[0] != 4:
        raise AnalysisInputError(f"the tile must be (4, rows, cols), not {tile.shape}")
    if dates < 2 or dates > season_d:
        raise AnalysisInputError(f"dates must be between 2 and {season_d}, not {dates}")
    if not 0.0 <= cloudy_fraction <= 1.0:
        raise AnalysisInputError(f"cloudy_fraction must be in [0, 1], not {cloudy_fraction}")
    rng = np.random.default_rng(seed)
    red0, nir0 = tile[2] / 10000.0, tile[3] / 10000.0
    total = red0 + nir0
    if np.any(total <= 0):
        raise AnalysisInputError("the tile has pixels with red + nir <= 0")
    base = ndvi(red0, nir0)
    water = base < 0.0
    shape = base.shape
    days = np.sort(rng.choice(season_d, size=dates, replace=False))
    minutes = rng.integers(0, 20, size=dates)
    n_cloudy = round(cloudy_fraction * dates)
    cloudy = set(rng.choice(dates, size=n_cloudy, replace=False).tolist()) if n_cloudy else set()
    cloudy_order = sorted(cloudy)
    whole = set(cloudy_order[::3]) if cloudy_order else set()
    outside_shadow_date = next((i for i in cloudy_order if i not in whole), None)
    clear_order = [i for i in range(dates) if i not in cloudy]
    snow_date = clear_order[0] if clear_order else None
    edge_date = clear_order[1] if len(clear_order) > 1 else None
    season = []
    pixel_index = np.indices(shape)
    rows, cols = pixel_index[0], pixel_index[1]
    for i, (day, minute) in enumerate(zip(days, minutes, strict=True)):
        acquired = start + timedelta(days=int(day), minutes=int(minute))
        true = np.clip(base + phenology.shift(float(day)), -NDVI_LIMIT, NDVI_LIMIT)
        red = total * (1.0 - true) / 2.0
        nir = total * (1.0 + true) / 2.0
        clm = np.zeros(shape, np.uint8)
        mg2 = np.where(water, MG2_WATER, 0).astype(np.uint8)
        edg = np.zeros(shape, bool)
        sat = np.zeros(shape, np.uint16)
        spoiled = np.zeros(shape, bool)
        if i in cloudy:
            cover = 1.0 if i in whole else float(rng.uniform(0.1, 0.6))
            thick, thin, high = _clouds(rng, shape, cover, rows, cols)
            shift_r, shift_c = int(rng.integers(8, 20)), int(rng.integers(-20, 20))
            shadow = _shifted(thick | thin, shift_r, shift_c) & ~(thick | thin)
            outside = np.zeros(shape, bool)
            if i == outside_shadow_date:
                radius = 0.3 * min(shape)
                outside = (rows - shape[0]) ** 2 + (cols + 0.1 * shape[1]) ** 2 < radius**2
                outside &= ~(thick | thin | shadow)
            brightness = rng.uniform(0.30, 0.40, size=shape)
            red = np.where(thick, brightness, red)
            nir = np.where(thick, brightness * 1.02, nir)
            red = np.where(thin, 0.5 * red + 0.5 * brightness, red)
            nir = np.where(thin, 0.5 * nir + 0.5 * brightness * 1.02, nir)
            dark = shadow | outside
            red = np.where(dark, 0.3 * red + 0.01, red)
            nir = np.where(dark, 0.3 * nir + 0.01, nir)
            detection = np.where(rng.random(shape) < 0.5, CLM_MONO_TEMPORAL, CLM_MULTI_TEMPORAL)
            clm |= np.where(thick, CLM_CLOUDS_AND_SHADOWS | CLM_CLOUDS | detection, 0).astype(
                np.uint8
            )
            clm |= np.where(thick & high, CLM_HIGH_CLOUDS, 0).astype(np.uint8)
            clm |= np.where(thin, CLM_THIN_CLOUDS, 0).astype(np.uint8)
            clm |= np.where(shadow, CLM_CLOUDS_AND_SHADOWS | CLM_SHADOWS, 0).astype(np.uint8)
            clm |= np.where(outside, CLM_CLOUDS_AND_SHADOWS | CLM_SHADOWS_OUTSIDE, 0).astype(
                np.uint8
            )
            mg2 |= np.where(thick | thin, MG2_CLOUDS, 0).astype(np.uint8)
            mg2 |= np.where(dark, MG2_SHADOWS, 0).astype(np.uint8)
            spoiled |= thick | thin | dark
        if i == snow_date:
            snow = (rows - 0.7 * shape[0]) ** 2 + (cols - 0.3 * shape[1]) ** 2 < (
                0.08 * min(shape)
            ) ** 2
            snow &= ~spoiled
            red = np.where(snow, 0.70, red)
            nir = np.where(snow, 0.64, nir)
            mg2 |= np.where(snow, MG2_SNOW, 0).astype(np.uint8)
            spoiled |= snow
        if i == edge_date:
            edg = cols < max(1, shape[1] // 8)
            picks = rng.choice(shape[0] * shape[1], size=60, replace=False)
            saturated = np.zeros(shape[0] * shape[1], bool)
            saturated[picks[:30]] = True
            saturated = saturated.reshape(shape) & ~edg
            other = np.zeros(shape[0] * shape[1], bool)
            other[picks[30:]] = True
            other = other.reshape(shape) & ~edg & ~saturated
            sat |= np.where(saturated, 1 << 10, 0).astype(np.uint16)  # B11
            sat |= np.where(other, 1 << 0, 0).astype(np.uint16)  # B1: not a band read
            nir = np.where(saturated, 3.0, nir)  # what a saturated detector gives
            spoiled |= edg | saturated
        season.append(SeasonDate(acquired, red, nir, clm, mg2, true, edg, sat, ~spoiled))
    return season


def _clouds(
    rng: np.random.Generator,
    shape: tuple[int, ...],
    cover: float,
    rows: NDArray[np.int_],
    cols: NDArray[np.int_],
) -> tuple[BoolArray, BoolArray, BoolArray]:
    """Return (thick, thin rim, high) cloud pixels covering about ``cover`` of the tile."""
    if cover >= 1.0:
        everything = np.ones(shape, bool)
        return everything, np.zeros(shape, bool), everything & (rng.random() < 0.5)
    thick = np.zeros(shape, bool)
    thin = np.zeros(shape, bool)
    high = np.zeros(shape, bool)
    size = min(shape)
    for _ in range(200):
        if float(np.mean(thick | thin)) >= cover:
            break
        r0, c0 = rng.uniform(0, shape[0]), rng.uniform(0, shape[1])
        radius = rng.uniform(0.05, 0.18) * size
        distance = np.hypot(rows - r0, cols - c0)
        disc = distance < radius
        rim = (distance >= radius) & (distance < radius + max(2.0, 0.02 * size))
        thick |= disc
        thin |= rim
        if rng.random() < 0.3:
            high |= disc
    thin &= ~thick
    return thick, thin, high


def _shifted(mask: BoolArray, dr: int, dc: int) -> BoolArray:
    out = np.zeros_like(mask)
    rows, cols = mask.shape
    src_r = slice(max(0, -dr), rows - max(0, dr))
    dst_r = slice(max(0, dr), rows - max(0, -dr))
    src_c = slice(max(0, -dc), cols - max(0, dc))
    dst_c = slice(max(0, dc), cols - max(0, -dc))
    out[dst_r, dst_c] = mask[src_r, src_c]
    return out


def season_truth_ndvi(date: SeasonDate, inside: BoolArray) -> float:
    """Return the mean true NDVI over the pixels ``inside`` marks (no cloud): the truth."""
    values = date.true_ndvi[np.asarray(inside, bool)]
    return float(values.mean()) if values.size else math.nan


def build_date(folder: Path | str, date: SeasonDate, **options: Any) -> Path:
    """Write one date of a seeded season as a product in ``folder``; return its path.

    Its reflectances and masks are the date's; ``options`` are :func:`build_product`'s
    others (``quantification``, ``zip``, ...).
    """
    return build_product(
        folder,
        red=date.red,
        nir=date.nir,
        acquired=date.acquired,
        cloud_mask=date.clm,
        mg2_mask=date.mg2,
        edge_mask=date.edg,
        saturation_mask=date.sat,
        **options,
    )
