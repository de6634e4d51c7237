"""Re-export the settings, which moved to :mod:`jointsat.settings`."""

from jointsat.settings import Settings  # TODO(issue13): shim, tests import it from here

__all__ = ["Settings"]
