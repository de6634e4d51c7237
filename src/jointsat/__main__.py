"""Run the command line as ``python -m jointsat``."""

from jointsat.cli import app

if __name__ == "__main__":  # not again in a process spawned for a local Dask cluster
    app(prog_name="jointsat")
