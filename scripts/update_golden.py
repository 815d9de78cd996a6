"""Regenerate golden/<example>/ from every spec in specs/examples/ (review the diff!).

    .venv/bin/python scripts/update_golden.py          # or: make golden

Each golden tree is exactly what `mlspec compile specs/examples/<example>.yaml
--out golden/<example>` writes: nothing is masked, the output has no volatile fields.
"""

from __future__ import annotations

import sys
from pathlib import Path

from mlspec import api
from mlspec.reporting import TextReporter
from mlspec.spec.frontend import SpecFile

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "specs" / "examples"
GOLDEN = ROOT / "golden"


def main() -> int:
    failed = False
    for spec_path in sorted(EXAMPLES.glob("*.yaml")):
        out = GOLDEN / spec_path.stem
        result = api.compile_to(SpecFile.read(spec_path), out)
        if not result.ok:
            sys.stderr.write(TextReporter().render(result.diagnostics, ""))
            failed = True
            continue
        state = "changed" if result.written and result.written.changed else "unchanged"
        print(f"{out.relative_to(ROOT)}: {len(result.files)} files, {state}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
