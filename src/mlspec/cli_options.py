"""Options that several commands share, declared once."""

from __future__ import annotations

from pathlib import Path

import click

policy_dirs_option = click.option(
    "--policy",
    "policy_dirs",
    multiple=True,
    metavar="DIR",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="Rego policies run after the built-in bundle (repeatable).",
)
data_files_option = click.option(
    "--data",
    "data_files",
    multiple=True,
    metavar="FILE",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="JSON or YAML document merged into the policies' `data` (repeatable).",
)
no_policy_option = click.option("--no-policy", is_flag=True, help="Skip the policies.")
opa_url_option = click.option(
    "--opa-url", metavar="URL", help="Evaluate the policies on this OPA server."
)
policy_timeout_option = click.option(
    "--policy-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    metavar="SECONDS",
    help="CPU seconds each environment's policy evaluation may use (default 60).",
)
