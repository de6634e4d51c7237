"""Read red and near-infrared reflectance over a partner's area from optical products.

:func:`read_scene` reads three kinds of product, told apart by their content (an
archive's blobs have no file extension):

* **Theia/MUSCATE L2A** (VENuS, Sentinel-2 by MAJA), a folder or a zip archive (magic
  bytes ``PK``): one GeoTIFF per band, ``*_FRE_B<n>.tif`` (flat reflectance, corrected
  for the slopes too) read when present, else ``*_SRE_B<n>.tif`` (surface reflectance);
  ``MASKS/*_CLM_*``, ``*_MG2_*``, ``*_EDG_*`` and ``*_SAT_*``; and ``*_MTD_ALL.xml``, whose
  ``Radiometric_Informations/REFLECTANCE_QUANTIFICATION_VALUE`` scales the integers
  to reflectance (read, never assumed), whose ``SPECIAL_VALUE name="nodata"`` marks
  missing pixels and whose ``Product_Characteristics/ACQUISITION_DATE`` (UTC) dates the
  scene. Red and near infrared are B7 (667 nm) and B11 (865 nm) for ``PLATFORM`` VENUS,
  B4 and B8 for SENTINEL2*, else the bands whose ``Wavelength/CENTRAL`` is nearest 665
  and 842 nm.
* **A multispectral GeoTIFF** (magic bytes ``II*\\0``, ``MM\\0*``, or BigTIFF's) whose
  bands say which is red and which near infrared: a band description ``red``/``nir``
  or a band tag ``eo:common_name`` (or ``common_name``). Integer bands need a scale:
  GDAL's band scale and offset, or a ``REFLECTANCE_QUANTIFICATION_VALUE`` tag. The
  date is the tag ``ACQUISITION_DATE``, ``datetime`` or ``TIFFTAG_DATETIME``.
* **A STAC Item** (JSON) whose assets' bands carry ``eo:common_name`` red and nir
  (``eo:bands`` of STAC 1.0 or ``bands`` of 1.1), asset hrefs relative to the item's
  file; scales from ``raster:bands`` (``scale``, ``offset``, ``nodata``) or the files'
  own; the date is ``properties.datetime`` (or ``start_datetime``).

The area is a GeoJSON Polygon or MultiPolygon (bare, a Feature or a FeatureCollection)
in WGS-84 longitude and latitude, or in the CRS its ``crs`` member names
(``{"type": "name", "properties": {"name": "EPSG:32631"}}`` or the string). The area is
reprojected to the raster's CRS, never the raster: a geographic area's edges, straight
in longitude and latitude (RFC 7946), are first cut into pieces of at most
:data:`DENSIFY_DEG` so that they stay straight in degrees once projected. Only the
window of pixels covering the area is read; a pixel is inside when its centre is
(``rasterio.features.geometry_mask``).

Masks (CNES/CESBIO's MAJA formats): every CLM bit flags a cloud or a cloud shadow. For
VENuS ("Format of VENuS L2A produced by MUSCATE", CESBIO multitemp blog, as quoted in
eoreader's ``venus_product.py``): bit 0 all clouds except the thinnest and all shadows,
1 all clouds except the thinnest, 2 shadows of detected clouds, 3 shadows of clouds
outside the image, 4 clouds by mono-temporal thresholds, 5 by multi-temporal
thresholds, 6 thinnest clouds, 7 high clouds by stereoscopy. For Sentinel-2 ("Theia's
Sentinel-2 L2A product format"): 0 and 1 as VENuS, 2 mono-temporal, 3 multi-temporal,
4 thinnest clouds, 5 shadows of detected clouds, 6 shadows of clouds outside the image,
7 high clouds by 1.38 um. MG2 (the same for both, SNAP's MUSCATE reader and CESBIO's
``majamask``): bit 0 water, 1 all clouds, 2 snow, 3 cloud shadows, 4 topographic
shadows, 5 hidden areas (terrain), 6 sun too low, 7 sun tangent. Masked here: every
CLM bit (as ``cloud`` or ``shadow``), MG2 bits 1 (``cloud``), 2 (``snow``), 3, 4 and 5
(``shadow``); water (bit 0) is a surface and kept, and so are bits 6 and 7, which flag
the slope correction's accuracy, not the reflectance. EDG non-zero is ``edge``; the SAT
bit of the red or near-infrared band is ``saturation`` (one bit per band, in the order
of the MTD's bands of that resolution: B4 is bit 2 and B8 bit 3 of Sentinel-2's R1;
B7 bit 6 and B11 bit 10 of VENuS's XS, whose 12 bands need a 16-bit mask or two
bytes; when the bit cannot be there, any non-zero SAT masks the pixel); the ``nodata``
value, a non-finite reflectance or red + nir = 0 is ``nodata``. Each masked pixel of
the area is counted once, under the first of edge, nodata, saturation, cloud, shadow,
snow.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import numpy as np
import rasterio
import rasterio.features
import rasterio.io
import rasterio.windows
import scipy
from affine import Affine
from numpy.typing import NDArray
from rasterio.crs import CRS
from rasterio.errors import CRSError, RasterioError
from rasterio.warp import transform_geom

from jointsat.analysis.ndvi import ndvi
from jointsat.errors import AnalysisInputError

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

DENSIFY_DEG = 0.0005
"""Longest piece of a geographic area's edge before it is projected, degrees (~50 m)."""

MASK_REASONS = ("edge", "nodata", "saturation", "cloud", "shadow", "snow")
"""Why a pixel of the area is masked, in the order a pixel is counted under."""

COG_BLOCK_PX = 128
"""Tile size of the NDVI COG, pixels (small, so that a window of a few hundred pixels
still gets overviews)."""

MUSCATE_RED_NIR = {"VENUS": ("B7", "B11"), "SENTINEL2": ("B4", "B8")}
"""Red and near-infrared band ids by the MTD's PLATFORM (prefix)."""

RED_NM, NIR_NM = 665.0, 842.0

# CLM bits by platform: (cloud bits, shadow bits), bit 0 (clouds or shadows) aside: it
# is a shadow's when a shadow bit is set, else a cloud's. MG2 bits are the same for all.
_CLM_BITS = {
    "VENUS": ((1, 4, 5, 6, 7), (2, 3)),
    "SENTINEL2": ((1, 2, 3, 4, 7), (5, 6)),
}
_MG2_CLOUD, _MG2_SNOW, _MG2_SHADOW = (1,), (2,), (3, 4, 5)

_TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
_ZIP_MAGIC = b"PK"


@dataclass(frozen=True, eq=False)
class Scene:
    """One product's red and near-infrared reflectance over an area's window.

    ``red`` and ``nir`` are reflectances (0..1, float64) of the window of pixels that
    covers the area; ``inside`` marks the pixels whose centre is in the area, ``valid``
    those of them that no mask flags and whose reflectances are finite (with a non-zero
    sum). ``masked_counts`` counts the area's masked pixels by reason
    (:data:`MASK_REASONS`; the counts add up to ``inside.sum() - valid.sum()``).
    ``transform`` is the window's affine transform, ``crs`` the raster's CRS
    (``EPSG:n`` or WKT). ``source_format`` is ``muscate``, ``geotiff`` or ``stac``;
    ``red_band`` and ``nir_band`` name what was read (``FRE_B7``, a band's number or
    asset); ``reflectance_scale`` is what integers were multiplied by (1 / the
    quantification value) and ``reflectance_offset`` what was added.
    """

    name: str
    acquired: datetime
    red: FloatArray
    nir: FloatArray
    valid: BoolArray
    inside: BoolArray
    masked_counts: dict[str, int]
    transform: Affine
    crs: str
    source_format: str = ""
    red_band: str = ""
    nir_band: str = ""
    reflectance_scale: float = 1.0
    reflectance_offset: float = 0.0
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        """Return the window's (rows, columns)."""
        return (int(self.red.shape[0]), int(self.red.shape[1]))


@dataclass(frozen=True)
class _Band:
    """Where one band lies (a GDAL path and band index) and how to scale it."""

    path: str
    index: int
    label: str
    scale: float
    offset: float
    nodata: float | None


@dataclass(frozen=True)
class _BitMask:
    """A mask raster and which reason each of its bits means."""

    path: str
    # (reason, bits: any set flags the pixel, () = any non-zero value; unless: bits that,
    # set, take the flag away)
    reasons: tuple[tuple[str, tuple[int, ...], tuple[int, ...]], ...]


@dataclass(frozen=True)
class _Product:
    name: str
    acquired: datetime
    fmt: str
    red: _Band
    nir: _Band
    masks: tuple[_BitMask, ...] = ()
    tags: dict[str, str] = field(default_factory=dict)


# --------------------------------------------------------------------------- public


def read_scene(
    path: Path | str,
    aoi: Mapping[str, Any],
    *,
    name: str | None = None,
    acquired: datetime | None = None,
) -> Scene:
    """Read the red and near-infrared reflectance and masks of a product over an area.

    ``path`` is a MUSCATE L2A folder or zip (FRE bands read when present, else SRE), a
    GeoTIFF or a STAC Item (see the module's notes); ``aoi`` a GeoJSON geometry, Feature
    or FeatureCollection (WGS-84 unless its ``crs`` member says otherwise). ``name``
    defaults to the product's identifier (the MTD's, the item's id, the file's name);
    ``acquired`` replaces the product's date (needed for a GeoTIFF without one). Only
    the window covering the area is read.

    Raise :class:`AnalysisInputError` for a path that is none of these, a product
    without red or near-infrared band, without scale or date, an area that is not a
    polygon or misses the raster.
    """
    source = Path(path)
    aoi_crs, geometries = _aoi_geometries(aoi)
    product = _identify(source)
    if acquired is not None:
        product = _with_date(product, acquired)
    return _read_window(product, aoi_crs, geometries, name or product.name, str(source))


def write_ndvi_cog(scene: Scene) -> bytes:
    """Return the scene's per-pixel NDVI as a cloud-optimised GeoTIFF (the file's bytes).

    One float32 band, NaN (the nodata value) where a pixel is not valid (outside the
    area, masked, or undefined), the window's transform and the raster's CRS; written
    by GDAL's COG driver: DEFLATE with the floating-point predictor,
    :data:`COG_BLOCK_PX` tiles, overviews by averaging when the window spans more than
    one tile. Tags name the scene and its acquisition time (ISO 8601).
    """
    values = ndvi(scene.red, scene.nir)
    values = np.where(scene.valid, values, np.nan).astype(np.float32)
    rows, cols = values.shape
    profile: dict[str, Any] = {
        "driver": "COG",
        "width": cols,
        "height": rows,
        "count": 1,
        "dtype": "float32",
        "crs": CRS.from_user_input(scene.crs),
        "transform": scene.transform,
        "nodata": float("nan"),
        "compress": "DEFLATE",
        "predictor": 3,
        "blocksize": COG_BLOCK_PX,
        "overview_resampling": "average",
    }
    with rasterio.io.MemoryFile() as memory:
        with memory.open(**profile) as dst:
            dst.write(values, 1)
            dst.set_band_description(1, "ndvi")
            dst.update_tags(
                NAME=scene.name,
                ACQUISITION_DATE=scene.acquired.isoformat(),
                INDEX="NDVI = (nir - red) / (nir + red)",
                RED_BAND=scene.red_band,
                NIR_BAND=scene.nir_band,
            )
        return bytes(memory.read())


def library_versions() -> dict[str, str]:
    """Return the versions of the libraries the reading and statistics depend on."""
    return {
        "rasterio": str(rasterio.__version__),
        "gdal": str(rasterio.__gdal_version__),
        "proj": str(rasterio.__proj_version__),
        "numpy": str(np.__version__),
        "scipy": str(scipy.__version__),
    }


# --------------------------------------------------------------------------- area


def aoi_footprint(aoi: Mapping[str, Any]) -> dict[str, Any]:
    """Return the area as one GeoJSON geometry in WGS-84 longitude and latitude.

    A derived product's footprint: the area's polygons (a MultiPolygon when there are
    several), reprojected from the CRS its ``crs`` member names, if any.
    """
    crs, geometries = _aoi_geometries(aoi, densify=False)  # the area as drawn, not densified
    wgs84 = CRS.from_user_input("OGC:CRS84")
    if crs != wgs84:
        geometries = [_as_lists(transform_geom(crs, wgs84, g)) for g in geometries]
    polygons: list[Any] = []
    for g in geometries:
        polygons.extend(g["coordinates"] if g["type"] == "MultiPolygon" else [g["coordinates"]])
    if len(polygons) == 1:
        return {"type": "Polygon", "coordinates": polygons[0]}
    return {"type": "MultiPolygon", "coordinates": polygons}


def _as_lists(geometry: Mapping[str, Any]) -> dict[str, Any]:
    """Return a geometry with its coordinates as nested lists (GDAL gives tuples)."""

    def lists(value: Any) -> Any:
        return [lists(v) for v in value] if isinstance(value, list | tuple) else float(value)

    return {"type": geometry["type"], "coordinates": lists(geometry["coordinates"])}


def _aoi_geometries(
    aoi: Mapping[str, Any], *, densify: bool = True
) -> tuple[CRS, list[dict[str, Any]]]:
    if not isinstance(aoi, Mapping):
        raise AnalysisInputError("the area must be a GeoJSON object (a mapping)")
    crs = _aoi_crs(aoi.get("crs"))
    kind = aoi.get("type")
    if kind == "FeatureCollection":
        features = aoi.get("features")
        if not isinstance(features, list) or not features:
            raise AnalysisInputError("the area's FeatureCollection has no features")
        geometries = [_feature_geometry(f, f"features[{i}]") for i, f in enumerate(features)]
    elif kind == "Feature":
        geometries = [_feature_geometry(aoi, "the Feature")]
    else:
        geometries = [_polygonal(aoi, "the area")]
    if densify and crs.is_geographic:
        geometries = [_densified(g) for g in geometries]
    return crs, geometries


def _aoi_crs(member: object) -> CRS:
    if member is None:
        return CRS.from_user_input("OGC:CRS84")
    text: object = member
    if isinstance(member, Mapping):  # {"type": "name", "properties": {"name": ...}}
        properties = member.get("properties")
        properties = properties if isinstance(properties, Mapping) else {}
        code = properties.get("code")  # the 2008 draft's {"type": "EPSG", ...}
        text = properties.get("name") or (f"EPSG:{code}" if code is not None else None)
    if not isinstance(text, str) or not text:
        raise AnalysisInputError(f"the area's crs member {member!r} names no CRS")
    try:
        return CRS.from_user_input(text)
    except (CRSError, RasterioError) as error:
        raise AnalysisInputError(f"the area's CRS {text!r} is unknown: {error}") from None


def _feature_geometry(feature: object, where: str) -> dict[str, Any]:
    if not isinstance(feature, Mapping) or feature.get("type") != "Feature":
        raise AnalysisInputError(f"{where} is not a GeoJSON Feature")
    return _polygonal(feature.get("geometry"), f"{where}.geometry")


def _polygonal(geometry: object, where: str) -> dict[str, Any]:
    if not isinstance(geometry, Mapping):
        raise AnalysisInputError(f"{where} is not a GeoJSON geometry")
    kind = geometry.get("type")
    if kind not in ("Polygon", "MultiPolygon"):
        raise AnalysisInputError(f"{where} is a {kind}: the area must be a Polygon or MultiPolygon")
    coordinates = geometry.get("coordinates")
    if not isinstance(coordinates, list | tuple):
        raise AnalysisInputError(f"{where} has no list of coordinates")
    try:
        polygons = [coordinates] if kind == "Polygon" else list(coordinates)
        rings = [np.asarray(ring, dtype=float) for polygon in polygons for ring in polygon]
    except (TypeError, ValueError):
        raise AnalysisInputError(f"{where} has malformed coordinates") from None
    if not rings or any(r.ndim != 2 or r.shape[0] < 4 or r.shape[1] < 2 for r in rings):
        raise AnalysisInputError(f"{where}: each ring needs at least four [x, y] positions")
    if not all(np.isfinite(r[:, :2]).all() for r in rings):
        raise AnalysisInputError(f"{where} has a coordinate that is not a finite number")
    return {"type": kind, "coordinates": coordinates}


def _densified(geometry: dict[str, Any]) -> dict[str, Any]:
    polygons = (
        [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]
    )
    result = [
        [_densified_ring(np.asarray(ring, dtype=float)[:, :2]) for ring in p] for p in polygons
    ]
    return {"type": "MultiPolygon", "coordinates": result}


def _densified_ring(ring: FloatArray) -> list[list[float]]:
    points: list[FloatArray] = []
    for a, b in itertools.pairwise(ring):
        pieces = max(1, math.ceil(float(np.max(np.abs(b - a))) / DENSIFY_DEG))
        steps = np.arange(pieces, dtype=float)[:, None] / pieces
        points.append(a + steps * (b - a))
    points.append(ring[-1:])
    return np.concatenate(points).tolist()  # type: ignore[no-any-return]


def _bounds(geometries: Iterable[Mapping[str, Any]]) -> tuple[float, float, float, float]:
    xs: list[float] = []
    ys: list[float] = []

    def walk(node: Any) -> Iterator[Sequence[float]]:
        if isinstance(node, list | tuple) and node and isinstance(node[0], int | float):
            yield node
        elif isinstance(node, list | tuple):
            for child in node:
                yield from walk(child)

    for geometry in geometries:
        for x, y, *_ in walk(geometry["coordinates"]):
            xs.append(float(x))
            ys.append(float(y))
    return min(xs), min(ys), max(xs), max(ys)


# --------------------------------------------------------------------------- products


def _identify(source: Path) -> _Product:
    if source.is_dir():
        return _muscate(_FolderFiles(source))
    if not source.is_file():
        raise AnalysisInputError(f"{source}: no such product (neither a file nor a folder)")
    with source.open("rb") as f:
        head = f.read(4)
    if head.startswith(_ZIP_MAGIC):
        if not zipfile.is_zipfile(source):
            raise AnalysisInputError(f"{source}: starts like a zip archive but is not one")
        return _muscate(_ZipFiles(source))
    if head in _TIFF_MAGIC:
        return _geotiff(str(source), source.name)
    try:
        document = json.loads(source.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise AnalysisInputError(
            f"{source}: not a MUSCATE folder or zip, a GeoTIFF or a STAC Item (JSON)"
        ) from None
    return _stac(document, source)


def _with_date(product: _Product, acquired: datetime) -> _Product:
    return _Product(
        product.name, _aware(acquired, "acquired"), product.fmt, product.red, product.nir,
        product.masks, product.tags,
    )  # fmt: skip


def _aware(moment: datetime, where: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise AnalysisInputError(f"{where}: the time {moment.isoformat()} has no time zone")
    return moment.astimezone(UTC)


def _parse_time(text: str, where: str) -> datetime:
    value = text.strip()
    for pattern in ("%Y:%m:%d %H:%M:%S",):  # TIFFTAG_DATETIME
        try:
            return datetime.strptime(value, pattern).replace(tzinfo=UTC)
        except ValueError:
            pass
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise AnalysisInputError(f"{where}: {text!r} is not an ISO 8601 time") from None
    # MUSCATE writes UTC times without a zone: a naive time is UTC.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class _FolderFiles:
    """A MUSCATE product unpacked in a folder: relative names and GDAL paths."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.label = str(root)
        self.names = sorted(
            str(p.relative_to(root)).replace("\\", "/") for p in root.rglob("*") if p.is_file()
        )

    def read_text(self, member: str) -> str:
        return (self.root / member).read_text(encoding="utf-8")

    def gdal_path(self, member: str) -> str:
        return str(self.root / member)


class _ZipFiles:
    """A MUSCATE product as a zip archive (any name: GDAL's ``/vsizip/{...}`` form)."""

    def __init__(self, archive: Path) -> None:
        self.archive = archive.resolve()
        self.label = str(archive)
        with zipfile.ZipFile(self.archive) as z:
            self.names = sorted(n for n in z.namelist() if not n.endswith("/"))

    def read_text(self, member: str) -> str:
        with zipfile.ZipFile(self.archive) as z:
            return z.read(member).decode("utf-8")

    def gdal_path(self, member: str) -> str:
        return f"/vsizip/{{{self.archive}}}/{member}"


def _member(names: Sequence[str], suffix: str) -> str | None:
    pattern = re.compile(rf"(^|/)[^/]*_{suffix}\.tiff?$", re.IGNORECASE)
    found = [n for n in names if pattern.search(n)]
    return found[0] if found else None


def _muscate(files: _FolderFiles | _ZipFiles) -> _Product:
    mtds = [n for n in files.names if n.upper().endswith("_MTD_ALL.XML")]
    if not mtds:
        raise AnalysisInputError(
            f"{files.label}: no *_MTD_ALL.xml (not a MUSCATE L2A product, "
            "nor a GeoTIFF or a STAC Item)"
        )
    mtd_name = min(mtds, key=lambda n: n.count("/"))
    try:
        root = ElementTree.fromstring(files.read_text(mtd_name))
    except ElementTree.ParseError as error:
        raise AnalysisInputError(f"{files.label}: {mtd_name} is not XML: {error}") from None
    where = f"{files.label}: {mtd_name}"
    quantification = _number(root, ".//REFLECTANCE_QUANTIFICATION_VALUE", where)
    if quantification is None or not quantification > 0:
        raise AnalysisInputError(
            f"{where} gives no positive REFLECTANCE_QUANTIFICATION_VALUE: "
            "the reflectance scale cannot be assumed"
        )
    nodata = _number(root, ".//SPECIAL_VALUE[@name='nodata']", where)
    date_text = root.findtext(".//Product_Characteristics/ACQUISITION_DATE") or root.findtext(
        ".//ACQUISITION_DATE"
    )
    if not date_text:
        raise AnalysisInputError(f"{where} has no ACQUISITION_DATE")
    acquired = _parse_time(date_text, where)
    platform = (root.findtext(".//Product_Characteristics/PLATFORM") or "").strip().upper()
    identifier = (
        root.findtext(".//Dataset_Identification/IDENTIFIER")
        or root.findtext(".//PRODUCT_ID")
        or Path(mtd_name).name.removesuffix("_MTD_ALL.xml")
    ).strip()
    bands = _spectral_bands(root)
    red_id, nir_id = _muscate_red_nir(platform, bands, where)
    family = next((key for key in _CLM_BITS if platform.startswith(key)), None)
    if family is None:
        raise AnalysisInputError(
            f"{where}: PLATFORM {platform or '(none)'} is not VENUS or SENTINEL2*: "
            "its CLM bits are not known"
        )
    red = _muscate_band(files, red_id, quantification, nodata, where)
    nir = _muscate_band(files, nir_id, quantification, nodata, where)
    flavour = red.label.split("_")[0]
    grid = _grid(red.path)
    clm_path = _mask_member(files, "CLM", grid)
    mg2_path = _mask_member(files, "MG2", grid)
    edg_path = _mask_member(files, "EDG", grid)
    sat_path = _mask_member(files, "SAT", grid)
    if clm_path is None or mg2_path is None:
        raise AnalysisInputError(
            f"{where}: no MASKS/*_CLM_*.tif and *_MG2_*.tif on the bands' grid: "
            "clouds and shadows cannot be masked"
        )
    cloud_bits, shadow_bits = _CLM_BITS[family]
    masks = [
        _BitMask(
            clm_path,
            (
                ("cloud", cloud_bits, ()),
                ("shadow", shadow_bits, ()),
                ("cloud", (0,), shadow_bits),
            ),
        ),
        _BitMask(
            mg2_path,
            (("cloud", _MG2_CLOUD, ()), ("shadow", _MG2_SHADOW, ()), ("snow", _MG2_SNOW, ())),
        ),
    ]
    if edg_path:
        masks.append(_BitMask(edg_path, (("edge", (), ()),)))
    if sat_path:
        red_bit = _band_rank(bands, red_id)
        nir_bit = _band_rank(bands, nir_id)
        masks.append(_BitMask(sat_path, (("saturation", (red_bit, nir_bit), ()),)))
    tags = {
        "platform": platform,
        "reflectance": flavour,
        "quantification": f"{quantification:g}",
        "mtd": mtd_name,
    }
    return _Product(identifier, acquired, "muscate", red, nir, tuple(masks), tags)


def _number(root: ElementTree.Element, xpath: str, where: str) -> float | None:
    text = root.findtext(xpath)
    if text is None or not text.strip():
        return None
    try:
        return float(text)
    except ValueError:
        raise AnalysisInputError(f"{where}: {xpath} is {text!r}, not a number") from None


def _spectral_bands(root: ElementTree.Element) -> list[tuple[str, float | None, float | None]]:
    """Return (band id, central wavelength nm, resolution m) in the MTD's order."""
    result = []
    for info in root.iter("Spectral_Band_Informations"):
        band_id = (info.get("band_id") or "").strip().upper()
        if not band_id:
            continue
        central = info.findtext("Wavelength/CENTRAL")
        resolution = info.findtext("SPATIAL_RESOLUTION")
        result.append(
            (
                band_id,
                float(central) if central else None,
                float(resolution) if resolution else None,
            )
        )
    return result


def _muscate_red_nir(
    platform: str, bands: list[tuple[str, float | None, float | None]], where: str
) -> tuple[str, str]:
    for prefix, pair in MUSCATE_RED_NIR.items():
        if platform.startswith(prefix):
            return pair
    with_wavelength = [(b, c) for b, c, _ in bands if c is not None]
    if not with_wavelength:
        raise AnalysisInputError(
            f"{where}: PLATFORM {platform or '(none)'} and no band wavelengths: "
            "cannot tell the red and near-infrared bands"
        )
    red = min(with_wavelength, key=lambda bc: abs(bc[1] - RED_NM))
    nir = min(with_wavelength, key=lambda bc: abs(bc[1] - NIR_NM))
    if abs(red[1] - RED_NM) > 40 or abs(nir[1] - NIR_NM) > 60:
        raise AnalysisInputError(f"{where}: no band near 665 nm and 842 nm")
    return red[0], nir[0]


def _band_rank(bands: list[tuple[str, float | None, float | None]], band_id: str) -> int:
    """Return the band's SAT bit: its rank among the MTD's bands of its resolution."""
    resolution = {b: r for b, _, r in bands}
    if band_id not in resolution:
        digits = re.sub(r"\D", "", band_id)
        return max(int(digits) - 1, 0) if digits else 0
    same = [b for b, _, r in bands if r == resolution[band_id]]
    return same.index(band_id)


def _muscate_band(
    files: _FolderFiles | _ZipFiles,
    band_id: str,
    quantification: float,
    nodata: float | None,
    where: str,
) -> _Band:
    for flavour in ("FRE", "SRE"):
        member = _member(files.names, f"{flavour}_{band_id}")
        if member:
            return _Band(
                files.gdal_path(member), 1, f"{flavour}_{band_id}", 1.0 / quantification,
                0.0, nodata,
            )  # fmt: skip
    raise AnalysisInputError(f"{where}: no *_FRE_{band_id}.tif or *_SRE_{band_id}.tif")


def _grid(band_path: str) -> tuple[int, int, tuple[float, ...]]:
    with _open(band_path) as src:
        return (src.height, src.width, tuple(src.transform)[:6])


def _mask_member(
    files: _FolderFiles | _ZipFiles, kind: str, grid: tuple[int, int, tuple[float, ...]]
) -> str | None:
    pattern = re.compile(rf"(^|/)MASKS/[^/]*_{kind}_[^/]*\.tiff?$", re.IGNORECASE)
    candidates = [n for n in files.names if pattern.search(n)]
    for member in candidates:
        path = files.gdal_path(member)
        with _open(path) as src:
            if (src.height, src.width, tuple(src.transform)[:6]) == grid:
                return path
    return None


def _geotiff(path: str, label: str) -> _Product:
    with _open(path) as src:
        red_index = nir_index = None
        for i in range(1, src.count + 1):
            role = _common_name(src.descriptions[i - 1], src.tags(i))
            if role == "red" and red_index is None:
                red_index = i
            elif role in ("nir", "nir08") and (nir_index is None or role == "nir"):
                nir_index = i
        if red_index is None or nir_index is None:
            raise AnalysisInputError(
                f"{label}: no band described or tagged (eo:common_name) as red and nir"
            )
        tags = src.tags()
        red = _tiff_band(src, path, red_index, tags, label)
        nir = _tiff_band(src, path, nir_index, tags, label)
        date_text = (
            tags.get("ACQUISITION_DATE") or tags.get("datetime") or tags.get("TIFFTAG_DATETIME")
        )
    acquired = _parse_time(date_text, label) if date_text else None
    product_name = tags.get("NAME") or Path(label).stem
    return _Product(product_name, acquired or _NO_DATE, "geotiff", red, nir, (), {})


_NO_DATE = datetime.min.replace(tzinfo=UTC)


def _common_name(description: str | None, tags: Mapping[str, str]) -> str | None:
    """Return a band's ``eo:common_name`` tag, or its description if that is one.

    GDAL splits a metadata item at its first ``:`` or ``=``, so a tag written as
    ``eo:common_name=red`` reads back as ``eo`` = ``common_name=red``: both are taken.
    """
    for key, value in tags.items():
        name = key.strip().lower()
        if name in ("eo:common_name", "common_name"):
            return value.strip().lower()
        if name == "eo" and value.strip().lower().startswith("common_name="):
            return value.split("=", 1)[1].strip().lower()
    if description and description.strip().lower() in ("red", "nir", "nir08"):
        return description.strip().lower()
    return None


def _tiff_band(
    src: rasterio.io.DatasetReader,
    path: str,
    index: int,
    tags: Mapping[str, str],
    label: str,
    *,
    scale: float | None = None,
    offset: float | None = None,
    nodata: float | None = None,
) -> _Band:
    gdal_scale = float(src.scales[index - 1])
    gdal_offset = float(src.offsets[index - 1])
    quantification = tags.get("REFLECTANCE_QUANTIFICATION_VALUE")
    if scale is None:
        if gdal_scale != 1.0 or gdal_offset != 0.0:
            scale, offset = gdal_scale, gdal_offset if offset is None else offset
        elif quantification:
            try:
                scale = 1.0 / float(quantification)
            except (ValueError, ZeroDivisionError):
                raise AnalysisInputError(
                    f"{label}: REFLECTANCE_QUANTIFICATION_VALUE {quantification!r} is not a "
                    "positive number"
                ) from None
        elif np.issubdtype(np.dtype(src.dtypes[index - 1]), np.integer):
            raise AnalysisInputError(
                f"{label}: band {index} holds integers with no scale (GDAL scale/offset, "
                "a REFLECTANCE_QUANTIFICATION_VALUE tag or STAC raster:bands scale): "
                "the reflectance scale cannot be assumed"
            )
        else:
            scale = 1.0
    file_nodata = src.nodatavals[index - 1]
    return _Band(
        path,
        index,
        f"band {index}",
        float(scale),
        float(offset or 0.0),
        nodata if nodata is not None else (None if file_nodata is None else float(file_nodata)),
    )


def _stac(document: object, source: Path) -> _Product:
    if not isinstance(document, Mapping) or document.get("type") != "Feature":
        raise AnalysisInputError(f"{source}: JSON that is not a STAC Item (type Feature)")
    assets = document.get("assets")
    if not isinstance(assets, Mapping) or not assets:
        raise AnalysisInputError(f"{source}: the STAC Item has no assets")
    found: dict[str, tuple[str, Mapping[str, Any], int, Mapping[str, Any]]] = {}
    for key, asset in assets.items():
        if not isinstance(asset, Mapping):
            continue
        bands = asset.get("eo:bands") or asset.get("bands") or []
        raster = asset.get("raster:bands") or []
        for i, band in enumerate(bands if isinstance(bands, list) else []):
            if not isinstance(band, Mapping):
                continue
            role = str(band.get("common_name") or band.get("eo:common_name") or "").lower()
            extra = raster[i] if i < len(raster) and isinstance(raster[i], Mapping) else {}
            if role == "red" and "red" not in found:
                found["red"] = (str(key), asset, i, {**extra, **band})
            if role in ("nir", "nir08") and ("nir" not in found or role == "nir"):
                found["nir"] = (str(key), asset, i, {**extra, **band})
    missing = [role for role in ("red", "nir") if role not in found]
    if missing:
        raise AnalysisInputError(
            f"{source}: no asset band with eo:common_name {' and '.join(missing)}"
        )
    properties = document.get("properties") or {}
    date_text = properties.get("datetime") or properties.get("start_datetime")
    acquired = _parse_time(str(date_text), str(source)) if date_text else _NO_DATE
    red = _stac_band(found["red"], source)
    nir = _stac_band(found["nir"], source)
    name = str(document.get("id") or source.stem)
    return _Product(name, acquired, "stac", red, nir, (), {"red_asset": found["red"][0]})


def _stac_band(entry: tuple[str, Mapping[str, Any], int, Mapping[str, Any]], source: Path) -> _Band:
    key, asset, i, band = entry
    href = str(asset.get("href") or "")
    if re.match(r"^[a-z][a-z0-9+.-]*://", href, re.IGNORECASE) and not href.startswith("file://"):
        raise AnalysisInputError(f"{source}: asset {key} is remote ({href}): fetch it first")
    local = Path(href.removeprefix("file://"))
    path = local if local.is_absolute() else source.parent / local
    if not path.is_file():
        raise AnalysisInputError(f"{source}: asset {key}'s file {path} does not exist")

    def number(*names: str) -> float | None:
        for n in names:
            value = band.get(n)
            if isinstance(value, int | float) and not isinstance(value, bool):
                return float(value)
        return None

    scale = number("scale", "raster:scale")
    offset = number("offset", "raster:offset")
    nodata = number("nodata", "raster:nodata")
    with _open(str(path)) as src:
        if i >= src.count:
            raise AnalysisInputError(f"{source}: asset {key} has no band {i + 1}")
        result = _tiff_band(src, str(path), i + 1, src.tags(), str(path), scale=scale,
                            offset=offset, nodata=nodata)  # fmt: skip
    return _Band(result.path, result.index, f"{key}[{i}]", result.scale, result.offset,
                 result.nodata)  # fmt: skip


@contextmanager
def _open(path: str) -> Iterator[rasterio.io.DatasetReader]:
    try:
        with rasterio.open(path) as src:
            yield src
    except RasterioError as error:
        raise AnalysisInputError(f"{path}: cannot be read as a raster: {error}") from None


# --------------------------------------------------------------------------- window


def _read_window(
    product: _Product,
    aoi_crs: CRS,
    geometries: list[dict[str, Any]],
    name: str,
    label: str,
) -> Scene:
    if product.acquired == _NO_DATE:
        raise AnalysisInputError(f"{label}: no acquisition date in the product (pass acquired=...)")
    with _open(product.red.path) as src:
        if src.crs is None:
            raise AnalysisInputError(f"{label}: the raster has no CRS")
        raster_crs = src.crs
        transform = src.transform
        height, width = src.height, src.width
        projected = [transform_geom(aoi_crs, raster_crs, g) for g in geometries]
        window = _window(projected, transform, height, width, label)
        red = _scaled(src, product.red, window)
        nir_raw = None
        if product.nir.path == product.red.path:
            nir_raw = _scaled(src, product.nir, window)
    if nir_raw is None:
        with _open(product.nir.path) as src:
            if (src.height, src.width, src.transform) != (height, width, transform):
                raise AnalysisInputError(f"{label}: the red and near-infrared grids differ")
            nir_raw = _scaled(src, product.nir, window)
    nir = nir_raw
    win_transform = rasterio.windows.transform(window, transform)
    rows, cols = int(window.height), int(window.width)
    inside = rasterio.features.geometry_mask(
        projected, out_shape=(rows, cols), transform=win_transform, invert=True
    )
    if not inside.any():
        raise AnalysisInputError(f"{label}: the area covers no pixel centre of the raster")
    reasons = _reasons(product, window, (rows, cols), red, nir)
    masked_any = np.zeros((rows, cols), dtype=bool)
    counts: dict[str, int] = {}
    for reason in MASK_REASONS:
        flagged = reasons.get(reason, np.zeros((rows, cols), dtype=bool)) & inside
        counts[reason] = int((flagged & ~masked_any).sum())
        masked_any |= flagged
    valid = inside & ~masked_any
    return Scene(
        name=name,
        acquired=product.acquired,
        red=red.data,
        nir=nir.data,
        valid=valid,
        inside=inside,
        masked_counts=counts,
        transform=win_transform,
        crs=_crs_text(raster_crs),
        source_format=product.fmt,
        red_band=product.red.label,
        nir_band=product.nir.label,
        reflectance_scale=product.red.scale,
        reflectance_offset=product.red.offset,
        tags=dict(product.tags),
    )


def _crs_text(crs: CRS) -> str:
    epsg = crs.to_epsg()
    return f"EPSG:{epsg}" if epsg else str(crs.to_wkt())


def _window(
    geometries: list[dict[str, Any]], transform: Affine, height: int, width: int, label: str
) -> rasterio.windows.Window:
    left, bottom, right, top = _bounds(geometries)
    exact = rasterio.windows.from_bounds(left, bottom, right, top, transform=transform)
    tolerance = 1e-6  # pixels: an area on pixel edges gives exactly its pixels
    col0 = max(math.floor(exact.col_off + tolerance), 0)
    row0 = max(math.floor(exact.row_off + tolerance), 0)
    col1 = min(math.ceil(exact.col_off + exact.width - tolerance), width)
    row1 = min(math.ceil(exact.row_off + exact.height - tolerance), height)
    if col1 <= col0 or row1 <= row0:
        raise AnalysisInputError(
            f"{label}: the area ({left:.1f}, {bottom:.1f}, {right:.1f}, {top:.1f} in the "
            "raster's CRS) misses the raster"
        )
    return rasterio.windows.Window(col0, row0, col1 - col0, row1 - row0)


@dataclass(frozen=True)
class _Read:
    data: FloatArray
    nodata: BoolArray


def _scaled(src: rasterio.io.DatasetReader, band: _Band, window: rasterio.windows.Window) -> _Read:
    raw = src.read(band.index, window=window, boundless=False)
    missing = src.read_masks(band.index, window=window) == 0
    if band.nodata is not None and not math.isnan(band.nodata):
        missing |= raw == band.nodata
    values = raw.astype(np.float64) * band.scale + band.offset
    missing |= ~np.isfinite(values)
    return _Read(values, missing)


def _reasons(
    product: _Product,
    window: rasterio.windows.Window,
    shape: tuple[int, int],
    red: _Read,
    nir: _Read,
) -> dict[str, BoolArray]:
    with np.errstate(invalid="ignore"):
        nodata = red.nodata | nir.nodata | ((red.data + nir.data) == 0)
    reasons: dict[str, BoolArray] = {"nodata": nodata}
    for mask in product.masks:
        with _open(mask.path) as src:
            raw = src.read(window=window, boundless=False)
            bits_per_band = 8 * np.dtype(src.dtypes[0]).itemsize
        planes = raw.astype(np.int64)
        combined = np.zeros(shape, dtype=np.int64)
        for k, plane in enumerate(planes):  # several bands: bit i is bit i % n of band i // n
            combined |= plane << (bits_per_band * k)
        bits_available = bits_per_band * planes.shape[0]
        for reason, bits, unless in mask.reasons:
            if not bits:
                flagged = combined != 0
            elif any(b >= bits_available for b in bits):
                flagged = combined != 0  # the band's bit cannot be there: be safe
            else:
                flagged = (combined & sum(1 << b for b in bits)) != 0
            if unless:
                flagged &= (combined & sum(1 << b for b in unless)) == 0
            reasons[reason] = reasons.get(reason, np.zeros(shape, dtype=bool)) | flagged
    return reasons
