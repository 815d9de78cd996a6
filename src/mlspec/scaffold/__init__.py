"""`mlspec init`: a starter repository that validates and compiles as it stands.

The files are the project's own examples, shipped in the package:
`specs/examples/small.yaml` (as platform.yaml), `examples/ci/mlspec.yml` (as the
GitHub workflow) and an example policy with its test.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from mlspec.spec.schema import schema_text

SCHEMA_FILE = "platform.schema.json"
MODELINE = f"# yaml-language-server: $schema={SCHEMA_FILE}\n"


@dataclass(frozen=True)
class Scaffolded:
    written: tuple[str, ...]


class ScaffoldError(Exception):
    """The target already holds files `init` would overwrite."""


def _starter_spec() -> str:
    text = resources.files("mlspec.scaffold").joinpath("platform.yaml").read_text("utf-8")
    lines = text.splitlines(keepends=True)
    body = [line for line in lines if "yaml-language-server" not in line]
    return MODELINE + "".join(body)


def files() -> dict[str, str]:
    """Relative path -> content of everything `init` writes."""
    package = resources.files("mlspec.scaffold")
    return {
        "platform.yaml": _starter_spec(),
        SCHEMA_FILE: schema_text(),
        ".github/workflows/mlspec.yml": package.joinpath("workflow.yml").read_text("utf-8"),
        "policies/team_owners.rego": package.joinpath("team_owners.rego").read_text("utf-8"),
        "policies/team_owners_test.rego": package.joinpath("team_owners_test.rego").read_text(
            "utf-8"
        ),
    }


def init(target: Path, force: bool = False) -> Scaffolded:
    planned = files()
    existing = sorted(p for p in planned if (target / p).exists())
    if existing and not force:
        raise ScaffoldError("would overwrite " + ", ".join(existing) + " (use --force)")
    for relative, content in sorted(planned.items()):
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    return Scaffolded(tuple(sorted(planned)))
