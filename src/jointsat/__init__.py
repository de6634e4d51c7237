"""jointsat: a platform for joint satellite missions."""

__version__ = "0.1.0"
