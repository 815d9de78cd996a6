"""`python -m mlspec`."""

from mlspec.cli import run

run()
