"""estateflow's engine: YAML workflow definitions in, checked and recorded transitions out.

Never imports Flask: the web UI (web/) and the CLI (engine/cli.py) only call in here.
"""

from engine.errors import DefinitionError, EngineError, Problem, TransitionError
from engine.loader import Loader, compile_document, load_definition, load_folder, load_roles

__all__ = [
    "DefinitionError",
    "EngineError",
    "Loader",
    "Problem",
    "TransitionError",
    "compile_document",
    "load_definition",
    "load_folder",
    "load_roles",
]
