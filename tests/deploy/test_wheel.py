"""Install from a wheel, as a deployer does: build it, install it into a fresh virtualenv, and run
the commands from a site written by `estateflow init`, far from the repository.

The wheel is built once per session from a copy of the sources (setuptools' build/ folder
in the repository could carry stale files into it); pip's cache makes the installation
quick after the first run. Every command has a bounded wait.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("pyproject.toml", "README.md", "engine", "web", "schemas", "workflows")
PASSWORD = "a-long-password"
TIMEOUT = 600


@dataclass(frozen=True)
class Installed:
    """A virtualenv with the wheel installed, and a site written by its `estateflow init`."""

    bin: Path
    site: Path

    def run(self, *args: str, stdin: str | None = None, ok: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a program of the virtualenv inside the site, with no ESTATEFLOW_* variable of ours."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("ESTATEFLOW_")}
        result = subprocess.run([str(self.bin / args[0]), *args[1:]], cwd=self.site, env=env, input=stdin,
                                capture_output=True, text=True, timeout=TIMEOUT)
        if ok:
            assert result.returncode == 0, f"{args}: {result.stdout}\n{result.stderr}"
        return result

    def estateflow(self, *args: str, stdin: str | None = None, ok: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run("estateflow", *args, stdin=stdin, ok=ok)


def _pip(*args: str, cwd: Path | None = None) -> None:
    subprocess.run([sys.executable, "-m", "pip", *args], check=True, cwd=cwd, capture_output=True,
                   timeout=TIMEOUT)


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel of the project, built from a copy of its sources."""
    source = tmp_path_factory.mktemp("source")
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(ROOT / name, source / name)
    out = tmp_path_factory.mktemp("dist")
    _pip("wheel", "--no-deps", "--quiet", "--wheel-dir", str(out), str(source))
    [built] = out.glob("estateflow-*.whl")
    return built


@pytest.fixture(scope="session")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    """A fresh virtualenv with the wheel (and its dependencies) installed, and `estateflow init site` run."""
    home = tmp_path_factory.mktemp("deploy")
    venv.create(home / "venv")  # without pip of its own: ours installs into it (--python), quicker
    bin_dir = home / "venv" / "bin"
    _pip("--python", str(bin_dir / "python"), "install", "--quiet", str(wheel))
    subprocess.run([str(bin_dir / "estateflow"), "init", "site"], cwd=home, check=True, capture_output=True,
                   timeout=TIMEOUT)
    yield Installed(bin_dir, home / "site")


def test_the_wheel_holds_the_schema_workflows_templates_static_files_and_migrations(wheel: Path) -> None:
    import zipfile

    names = set(zipfile.ZipFile(wheel).namelist())
    for expected in ("estateflow/schemas/workflow.schema.json", "estateflow/workflows/roles.yaml",
                     "estateflow/workflows/estates/plaza/complaint.yaml", "web/templates/auth/login.html",
                     "estateflow/workflows/scenarios/complaint/usual_minor.yaml",
                     "web/static/style.css", "engine/store/migrations/env.py",
                     "engine/store/migrations/script.py.mako", "engine/store/migrations/versions/0001_initial.py"):
        assert expected in names


def test_the_installed_package_is_used_not_the_repository(installed: Installed) -> None:
    where = installed.run("python", "-c", "import engine, web; print(engine.__file__, web.__file__)").stdout
    assert str(ROOT) not in where
    assert "site-packages" in where


@pytest.fixture(scope="session")
def ready(installed: Installed) -> dict[str, subprocess.CompletedProcess[str]]:
    """The site set up as docs/deployment.md says, once: migrate, publish, the demo, a first estate and user.
    Each command's result, by name, for the tests to read."""
    return {
        "upgrade": installed.estateflow("db", "upgrade"),
        "publish": installed.estateflow("publish"),
        "demo": installed.estateflow("demo"),
        "estate": installed.estateflow("estate", "add", "sunshine", "--name", "阳光花园二期"),
        "user": installed.estateflow("user", "add", "clerk1", "--name", "前台", "--estate", "sunshine",
                                     "--role", "frontdesk", "--password-stdin", stdin=PASSWORD + "\n"),
    }


def test_init_wrote_a_site_that_validates_and_draws(installed: Installed) -> None:
    site = installed.site
    assert (site / "workflows" / "roles.yaml").is_file()
    assert (site / "workflows" / "estates" / "plaza" / "complaint.yaml").is_file()
    assert "ESTATEFLOW_SECRET_KEY=" in (site / "estateflow.env").read_text(encoding="utf-8")
    assert "no problems" in installed.estateflow("validate").stdout
    assert installed.estateflow("graph", "complaint").stdout.startswith("stateDiagram-v2")


def test_migrate_publish_demo_and_the_first_accounts(installed: Installed,
                                                     ready: dict[str, subprocess.CompletedProcess[str]]) -> None:
    assert "published" in ready["publish"].stdout
    assert (installed.site / "instance" / "estateflow.db").is_file()  # the database the site's estateflow.env names
    assert "items" in ready["demo"].stdout
    assert "added" in ready["estate"].stdout
    assert "added" in ready["user"].stdout
    assert PASSWORD not in ready["user"].stdout + ready["user"].stderr
    installed.estateflow("check")  # exit 0: the demo's items keep every invariant


def test_the_web_app_renders_the_login_page_and_logs_in_with_the_installed_templates(
        installed: Installed, ready: dict[str, subprocess.CompletedProcess[str]]) -> None:
    script = (
        "import re\n"
        "from web import create_app\n"
        "client = create_app().test_client()\n"  # settings from ./estateflow.env, as `serve` would
        "page = client.get('/login')\n"
        "assert page.status_code == 200, page.status_code\n"
        "token = re.search(r'name=\"csrf_token\"[^>]*value=\"([^\"]+)\"', page.text).group(1)\n"
        f"answer = client.post('/login', data={{'username': 'clerk1', 'password': '{PASSWORD}', 'csrf_token': token}})\n"
        "assert answer.status_code == 302, answer.status_code\n"
        "print('登录' in page.text)\n"
    )
    assert installed.run("python", "-c", script).stdout.strip() == "True"


def test_serve_and_worker_are_there(installed: Installed) -> None:
    assert "gunicorn" in installed.estateflow("serve", "--help").stdout
    assert "SIGTERM" in installed.estateflow("worker", "--help").stdout
