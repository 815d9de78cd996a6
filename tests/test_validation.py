"""`mlspec validate` stays fast: it imports only what checking a spec needs, and the command
line spares its own process the work it has no use for (plugin discovery, collections)."""

from __future__ import annotations

import gc
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from mlspec import api, validation
from mlspec.cli import main
from tests.conftest import EXAMPLE, modules_loaded_by_validate

# Compiling, writing and publishing: validate needs none of them. (ruamel.yaml is the
# slow parser, for text libyaml refuses; the reference spec is not such a text.)
NOT_FOR_VALIDATE = ("mlspec.api", "mlspec.output", "mlspec.gitops", "mlspec.selection", "ruamel")


def _run_in_fresh_process(code: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    return done.stdout.strip()


@pytest.mark.parametrize("policy", [[], ["--no-policy"]], ids=["policies", "no-policy"])
def test_validate_imports_no_compile_or_write_machinery(policy: list[str]) -> None:
    assert modules_loaded_by_validate(NOT_FOR_VALIDATE, *policy) == []


def test_api_validate_is_the_light_entry_point() -> None:
    assert api.validate is validation.validate
    assert api.Checked is validation.Checked


@pytest.mark.parametrize(
    ("given", "expected"), [(None, "__all__"), ("", ""), ("logfire", "logfire")]
)
def test_the_command_line_skips_pydantic_plugins_unless_the_user_decides(
    given: str | None, expected: str
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"}
    if given is not None:
        env["PYDANTIC_DISABLE_PLUGINS"] = given
    code = (
        "import os, sys\n"
        "from mlspec import cli\n"
        "sys.argv = ['mlspec', '--version']\n"
        "try:\n"
        "    cli.run()\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('=' + os.environ['PYDANTIC_DISABLE_PLUGINS'])\n"
    )
    assert _run_in_fresh_process(code, env).splitlines()[-1] == "=" + expected


def test_the_command_line_leaves_no_garbage_collection_to_the_shutdown() -> None:
    code = (
        "import gc, sys\n"
        "from mlspec import cli\n"
        f"sys.argv = ['mlspec', 'validate', {str(EXAMPLE)!r}, '--no-policy']\n"
        "try:\n"
        "    cli.run()\n"
        "except SystemExit as exit:\n"
        "    assert exit.code == 0, exit.code\n"
        "print(gc.get_freeze_count() > 10_000)\n"
    )
    assert _run_in_fresh_process(code).splitlines()[-1] == "True"


def test_calling_main_in_a_host_process_leaves_its_collector_alone() -> None:
    frozen, enabled = gc.get_freeze_count(), gc.isenabled()
    result = CliRunner().invoke(main, ["validate", str(EXAMPLE), "--no-policy"])
    assert result.exit_code == 0, result.output
    assert (gc.get_freeze_count(), gc.isenabled()) == (frozen, enabled)
