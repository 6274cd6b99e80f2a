"""engine/ never imports Flask: web/ translates HTTP to engine calls, nothing more."""

import subprocess
import sys
from pathlib import Path

ENGINE = Path(__file__).resolve().parents[2] / "engine"


def test_every_engine_module_imports_without_flask():
    modules = sorted(
        ".".join(path.relative_to(ENGINE.parent).with_suffix("").parts)
        for path in ENGINE.rglob("*.py")
        if "migrations" not in path.parts and path.name != "__main__.py"
    )
    # A child process where `import flask` fails: any engine module needing it fails too.
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'flask' or name.startswith('flask.'):\n"
        "            raise ImportError('flask is not for engine/')\n"
        "sys.meta_path.insert(0, Block())\n"
        f"for name in {modules!r}:\n"
        "    __import__(name)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ENGINE.parent)
    assert result.returncode == 0, result.stderr
    assert len(modules) > 10
