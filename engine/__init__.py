"""estateflow's engine: YAML workflow definitions in, checked and recorded transitions out.

    load_definition / Loader      the YAML pipeline (engine/language/loader.py lists its stages)
    create / fire / available     the runtime (engine/runtime/items.py), inside a caller's transaction
    REGISTRY / publish_folder     published, immutable definition versions (engine/runtime/registry.py)

Never imports Flask: the web UI (web/) and the CLI (engine/cli/main.py) only call in here.
"""

from __future__ import annotations

import importlib
from typing import Any

# Names are imported on first use (PEP 562), so `estateflow validate` never pays for the
# store and runtime (SQLAlchemy) it does not need.
_EXPORTS = {
    "DefinitionError": "engine.errors",
    "EngineError": "engine.errors",
    "Problem": "engine.errors",
    "TransitionError": "engine.errors",
    "Loader": "engine.language.loader",
    "compile_document": "engine.language.loader",
    "load_definition": "engine.language.loader",
    "load_folder": "engine.language.loader",
    "load_roles": "engine.language.loader",
    "REGISTRY": "engine.runtime.registry",
    "publish_folder": "engine.runtime.registry",
    "Actor": "engine.access.actor",
    "Availability": "engine.access.permissions",
    "ItemView": "engine.runtime.items",
    "available": "engine.runtime.items",
    "create": "engine.runtime.items",
    "fire": "engine.runtime.items",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'engine' has no attribute {name!r}")
