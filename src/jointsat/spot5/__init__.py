"""CNES's SPOT5 photograph-selection benchmark: read instances, check, solve.

A benchmark harness for jointsat's CP-SAT use, apart from the product's planning.
"""

from jointsat.errors import Spot5Error
from jointsat.spot5.instance import Constraint, Photo, Spot5, check, format_answer, gain, read_spot5
from jointsat.spot5.solve import Spot5Result, solve

__all__ = [
    "Constraint",
    "Photo",
    "Spot5",
    "Spot5Error",
    "Spot5Result",
    "check",
    "format_answer",
    "gain",
    "read_spot5",
    "solve",
]
