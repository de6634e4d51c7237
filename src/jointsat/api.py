"""Re-export jointsat's public library API: ``from jointsat.api import find_passes``."""

from jointsat.errors import (
    ElementsError,
    InputError,
    JointsatError,
    StationsError,
    TimeWindowError,
    UnknownFormatError,
)
from jointsat.orbits.elements import Elements, ElementsFormat, ParsedElements, parse_elements
from jointsat.orbits.frames import (
    ecef_to_geodetic,
    geodetic_to_ecef,
    gmst82_rad,
    teme_to_ecef,
    topocentric,
)
from jointsat.orbits.passes import Pass, Passes, PropagationProblem, SatelliteId, find_passes
from jointsat.orbits.propagation import Satellite, group_satellites, propagate
from jointsat.orbits.stations import HorizonMask, Station, parse_stations
from jointsat.orbits.sun import is_sunlit, sun_elevation_deg, sun_position_km

__all__ = [
    "Elements",
    "ElementsError",
    "ElementsFormat",
    "HorizonMask",
    "InputError",
    "JointsatError",
    "ParsedElements",
    "Pass",
    "Passes",
    "PropagationProblem",
    "Satellite",
    "SatelliteId",
    "Station",
    "StationsError",
    "TimeWindowError",
    "UnknownFormatError",
    "ecef_to_geodetic",
    "find_passes",
    "geodetic_to_ecef",
    "gmst82_rad",
    "group_satellites",
    "is_sunlit",
    "parse_elements",
    "parse_stations",
    "propagate",
    "sun_elevation_deg",
    "sun_position_km",
    "teme_to_ecef",
    "topocentric",
]
