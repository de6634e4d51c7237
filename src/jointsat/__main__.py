"""Run the command line as ``python -m jointsat``."""

from jointsat.cli import app

app(prog_name="jointsat")
