"""jointsat: a platform for joint satellite missions.

The public library API lives in :mod:`jointsat.api`; its names are also
reachable here (``jointsat.find_passes``), loaded on first use so that
``import jointsat`` stays free of work.
"""

import importlib
from typing import Any

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    api = importlib.import_module("jointsat.api")
    if name in api.__all__:
        return getattr(api, name)
    raise AttributeError(f"module 'jointsat' has no attribute {name!r}")
