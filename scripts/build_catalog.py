"""Regenerate the registry's machine layer from the KIE research catalog.

Usage: ``uv run python scripts/build_catalog.py [path/to/models.json]``
(default ``../shared/kie/models.json``). Writes
``packages/kiebot-core/src/kiebot_core/data/catalog.json``, which ships inside kiebot-core;
the package never reads ``../shared`` at run time. Run it again whenever models.json changes
and commit both the script's output and any change to the billing tables, which live in
``kiebot_core.domain.catalog_source`` (``kiebot models sync`` converts a newer models.json with
the same rules, without a release).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from kiebot_core.domain.catalog_source import machine_layer

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT.parent / "shared" / "kie" / "models.json"
TARGET = ROOT / "packages" / "kiebot-core" / "src" / "kiebot_core" / "data" / "catalog.json"


def build(source: Path) -> dict[str, Any]:
    """Return the machine layer built from the research catalog at ``source``."""
    return machine_layer(json.loads(source.read_text(encoding="utf-8")))


def main() -> None:
    """Write the machine layer next to the core package's other data files."""
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else SOURCE
    try:
        catalog = build(source)
    except ValueError as problem:
        raise SystemExit(str(problem)) from None
    text = json.dumps(catalog, ensure_ascii=False, indent=1) + "\n"
    TARGET.write_text(text, encoding="utf-8")
    print(f"wrote {len(catalog['models'])} models to {TARGET.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
