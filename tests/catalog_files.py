"""Catalog files for the sync tests: the research catalog as shipped, and edited copies."""

import copy
import json
from pathlib import Path
from typing import Any

from kiebot_core.domain.registry import shipped_document

SHARED_MODELS = Path(__file__).resolve().parents[2] / "shared" / "kie" / "models.json"
"""The KIE research catalog the shipped machine layer is generated from."""

FLUX = "flux-2/flex-text-to-image"
NEW = "flux-2/flex-text-to-image-turbo"
GONE = "sora-watermark-remover"
UNPRICED = "wan/2-6-flash-image-to-video"


def research() -> dict[str, Any]:
    """A fresh copy of the research catalog (``kie/models.json``)."""
    data: dict[str, Any] = json.loads(SHARED_MODELS.read_text(encoding="utf-8"))
    return data


def model(catalog: dict[str, Any], model_id: str) -> dict[str, Any]:
    found: dict[str, Any] = next(m for m in catalog["models"] if m["id"] == model_id)
    return found


def newer() -> dict[str, Any]:
    """A newer research catalog: one model added (with its texts), one removed, a price up."""
    catalog = research()
    flux = model(catalog, FLUX)
    for row in flux["price"]["table"]:
        if row["when"] == {"resolution": "1K"}:
            row["credits"] = 16.0
    added = copy.deepcopy(flux)
    added["id"] = NEW
    catalog["models"].append(added)
    catalog["models"] = [m for m in catalog["models"] if m["id"] != GONE]
    texts = copy.deepcopy(dict(shipped_document().ui_models[FLUX]))
    texts["title"] = {"en": "Flux 2 Flex Turbo", "ru": "Flux 2 Flex Турбо"}  # noqa: RUF001
    catalog["ui_models"] = {NEW: texts}
    return catalog


def write(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path
