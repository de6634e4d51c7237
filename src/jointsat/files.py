"""Read and write jointsat's files: element sets, stations and tables of passes.

This is the I/O edge. The orbit core parses and formats text; this module
opens the files, decodes them and names them in every error. Passes are
written by :mod:`jointsat.pass_output`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from jointsat.errors import ElementsError, InputError, JointsatError
from jointsat.orbits.elements import Elements, ParsedElements, parse_elements
from jointsat.orbits.ephemeris import Ephemeris
from jointsat.orbits.propagation import OrbitRecord
from jointsat.orbits.stations import Station, parse_stations

StrPath = str | os.PathLike[str]

DEMO_ELEMENT_FILES = ("stations.tle", "cheops.tle")
"""Name the element files bundled in ``jointsat/data`` for the demo."""

DEMO_STATIONS_FILE = "agency_stations.csv"
"""Name the stations file bundled in ``jointsat/data`` for the demo."""

BUNDLED_FILES = {
    "stations.tle": 'element sets (3LE) of CelesTrak\'s "stations" group: 27 objects (ISS, '
    "CSS, ...), epochs 2024-05-08/09",
    "cheops.tle": "element sets (TLE) of CHEOPS (NORAD 44874), epochs 2020-10-26 and 2024-09-16",
    "agency_stations.csv": "21 agency ground stations from NASA's Directory of Station "
    "Locations, 10 degree minimum elevation (stations CSV, docs/formats.md)",
    "demo_areas.geojson": "the demo partners' areas of interest: hand-drawn boxes around "
    "their regions (GeoJSON, RFC 7946)",
    "s2_tile_100.npz": "a 100 x 100 pixel window of a real Sentinel-2 10 m tile (blue, green, "
    "red, near infrared; reflectance x 10,000) for the demo's VENuS-like products",
    "kplr010874614-2009131105131_llc.fits": "a real Kepler light curve of Kepler-6 (a hot "
    "Jupiter, P = 3.2347 d), quarter 0, for the demo's transit search (Kepler FITS)",
    "ATTRIBUTION.md": "where these files come from, and their licences",
}
"""Name and describe the files bundled in ``jointsat/data`` (``jointsat data``)."""


@dataclass(frozen=True)
class ElementFiles:
    """Hold the element sets parsed from several files, file by file, in the order given."""

    sources: tuple[str, ...]
    parsed: tuple[ParsedElements, ...]

    @property
    def elements(self) -> tuple[Elements, ...]:
        """Return every element set read, file after file."""
        return tuple(e for parsed in self.parsed for e in parsed.elements)

    @property
    def ephemerides(self) -> tuple[Ephemeris, ...]:
        """Return every ephemeris (OEM) read, file after file."""
        return tuple(e for parsed in self.parsed for e in parsed.ephemerides)

    @property
    def orbits(self) -> tuple[OrbitRecord, ...]:
        """Return what the pass engine predicts from: the element sets, then the ephemerides."""
        return (*self.elements, *self.ephemerides)

    @property
    def problems(self) -> tuple[ElementsError, ...]:
        """Return every element set that could not be read, file after file."""
        return tuple(p for parsed in self.parsed for p in parsed.problems)


def read_text(path: StrPath) -> str:
    """Return a file's UTF-8 text, raising :class:`InputError` naming the path if it fails."""
    source = os.fspath(path)
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise InputError("no such file", source=source) from None
    except IsADirectoryError:
        raise InputError("is a directory, not a file", source=source) from None
    except OSError as exc:
        raise InputError(f"cannot read the file ({exc.strerror})", source=source) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputError(
            f"not UTF-8 text (byte 0x{data[exc.start]:02x})", source=source, location=f"line {line}"
        ) from None


def read_elements(paths: Sequence[StrPath], *, strict: bool = False) -> ElementFiles:
    """Read element sets (TLE or OMM, any mix) and ephemerides (OEM) from several files.

    Each problem names its file as given. With ``strict`` the first
    unreadable element set raises :class:`ElementsError`.
    """
    return parse_element_files(
        [(os.fspath(path), read_text(path)) for path in paths], strict=strict
    )


def parse_element_files(
    named_texts: Sequence[tuple[str, str]], *, strict: bool = False
) -> ElementFiles:
    """Parse the texts of several element files, given as (source, text) pairs."""
    return ElementFiles(
        sources=tuple(source for source, _ in named_texts),
        parsed=tuple(
            parse_elements(text, source=source, strict=strict) for source, text in named_texts
        ),
    )


def read_stations(path: StrPath) -> tuple[Station, ...]:
    """Read ground stations from a CSV or JSON file (see :func:`parse_stations`)."""
    return parse_stations(read_text(path), source=os.fspath(path))


def read_demo_elements() -> ElementFiles:
    """Read the element sets bundled with the package for the demo."""
    return parse_element_files([_demo_file(name) for name in DEMO_ELEMENT_FILES])


def read_demo_stations() -> tuple[Station, ...]:
    """Read the agency ground stations bundled with the package for the demo."""
    source, text = _demo_file(DEMO_STATIONS_FILE)
    return parse_stations(text, source=source)


DEMO_AREAS_FILE = "demo_areas.geojson"
"""Name the demo partners' areas of interest bundled in ``jointsat/data``."""


def read_demo_areas() -> tuple[str, str]:
    """Return the source name and GeoJSON text of the demo partners' areas of interest."""
    return _demo_file(DEMO_AREAS_FILE)


def bundled_file(name: str) -> Path:
    """Return the path of a file bundled in ``jointsat/data`` (one of ``BUNDLED_FILES``)."""
    if name not in BUNDLED_FILES:
        raise InputError("not a file bundled with jointsat", source=name)
    return Path(str(resources.files("jointsat") / "data" / name))


def _demo_file(name: str) -> tuple[str, str]:
    """Return the source name and text of a data file bundled in ``jointsat/data``."""
    text = (resources.files("jointsat") / "data" / name).read_text(encoding="utf-8")
    return f"jointsat/data/{name}", text


def write_text(path: StrPath, text: str) -> None:
    """Write text to a file as UTF-8, raising :class:`JointsatError` naming the path if it fails."""
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise JointsatError(f"{os.fspath(path)}: cannot write ({exc.strerror})") from None
