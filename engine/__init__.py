"""estateflow's engine: YAML workflow definitions in, checked and recorded transitions out.

    load_definition / Loader      the YAML pipeline (engine/loader.py lists its stages)
    create / fire / available     the runtime (engine/runtime.py), inside a caller's transaction
    REGISTRY / publish_folder     published, immutable definition versions (engine/registry.py)

Never imports Flask: the web UI (web/) and the CLI (engine/cli.py) only call in here.
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
    "Loader": "engine.loader",
    "compile_document": "engine.loader",
    "load_definition": "engine.loader",
    "load_folder": "engine.loader",
    "load_roles": "engine.loader",
    "REGISTRY": "engine.registry",
    "publish_folder": "engine.registry",
    "Actor": "engine.runtime",
    "Availability": "engine.runtime",
    "ItemView": "engine.runtime",
    "available": "engine.runtime",
    "create": "engine.runtime",
    "fire": "engine.runtime",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'engine' has no attribute {name!r}")
