"""Re-export the SPOT5 benchmark, now in :mod:`jointsat.spot5`, for the CLI."""

# TODO(issue13): CLI shim; delete once the CLI imports jointsat.spot5.
from jointsat.spot5 import check, format_answer, read_spot5, solve

__all__ = ["check", "format_answer", "read_spot5", "solve"]
