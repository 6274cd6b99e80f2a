"""estateflow's engine: YAML workflow definitions in, checked and recorded transitions out.

    load_definition / Loader      the YAML pipeline (engine/loader.py lists its stages)
    create / fire / available     the runtime (engine/runtime.py), inside a caller's transaction
    REGISTRY / publish_folder     published, immutable definition versions (engine/registry.py)

Never imports Flask: the web UI (web/) and the CLI (engine/cli.py) only call in here.
"""

from engine.errors import DefinitionError, EngineError, Problem, TransitionError
from engine.loader import Loader, compile_document, load_definition, load_folder, load_roles
from engine.registry import REGISTRY, publish_folder
from engine.runtime import Actor, Availability, ItemView, available, create, fire

__all__ = [
    "REGISTRY",
    "Actor",
    "Availability",
    "DefinitionError",
    "EngineError",
    "ItemView",
    "Loader",
    "Problem",
    "TransitionError",
    "available",
    "compile_document",
    "create",
    "fire",
    "load_definition",
    "load_folder",
    "load_roles",
    "publish_folder",
]
