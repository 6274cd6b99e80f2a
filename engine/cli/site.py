"""`estateflow init DIR`: a starting site for a deployment.

    init                      the click command
    write_site(folder)        DIR/workflows (the shipped definitions), DIR/estateflow.env, DIR/instance/
    env_file_text(...)        the commented estateflow.env: every setting of engine.settings.SETTINGS

Every command run inside DIR then reads ./estateflow.env and ./workflows, as in the
repository; the site needs nothing but the installed package.
"""

from __future__ import annotations

import os
import secrets
import sys
from dataclasses import dataclass
from importlib.resources.abc import Traversable
from pathlib import Path

import click

from engine.settings import ENV_FILE, SETTINGS, Setting

__all__ = ["Site", "env_file_text", "init", "write_site"]

DATABASE_URL = "sqlite:///instance/estateflow.db"
"""Relative to the site folder, where every command runs: the site can be moved or copied whole."""

_GROUP_TITLES = {
    "general": "The database and the definitions",
    "web": "The web server (estateflow serve)",
    "logins": "Logins and sessions",
    "worker": "The worker (estateflow worker: time limits and notifications)",
    "notifications": "Notifications (delivered by the worker)",
    "files": "Attached files (photos and documents of items)",
}


@dataclass(frozen=True)
class Site:
    """What `write_site` wrote."""

    folder: Path
    workflow_files: int


def _values(secret_key: str) -> dict[str, str]:
    """The settings a site needs a value for; every other one stays commented at its default."""
    return {"ESTATEFLOW_SECRET_KEY": secret_key, "ESTATEFLOW_DATABASE_URL": DATABASE_URL}


def _setting_lines(setting: Setting, values: dict[str, str]) -> list[str]:
    if setting.name not in values:
        return [f"# {setting.help}", f"# {setting.name}={setting.default}"]
    default = f" (default: {setting.default})" if setting.default else ""
    return [f"# {setting.help}{default}", f"{setting.name}={values[setting.name]}"]


def env_file_text(secret_key: str, settings: tuple[Setting, ...] = SETTINGS) -> str:
    """The site's estateflow.env: every setting, by group, with its help and default."""
    lines = [
        "# estateflow settings of this site, read by every `estateflow` command run in this folder",
        "# and by the web app. A real environment variable of the same name wins over this file.",
        "# Lines starting with # are comments: remove the # to set a value. docs/deployment.md",
        "# describes each setting. Keep this file private: it holds the secret key (chmod 600).",
    ]
    groups = list(dict.fromkeys(s.group for s in settings))
    for group in groups:
        lines += ["", f"# --- {_GROUP_TITLES.get(group, group)} ---", ""]
        for setting in (s for s in settings if s.group == group):
            lines += [*_setting_lines(setting, _values(secret_key)), ""]
        lines.pop()
    return "\n".join(lines) + "\n"


def _copy_tree(source: Traversable, target: Path) -> int:
    """Copy the YAML files of a resource folder (and its subfolders); returns how many."""
    target.mkdir(parents=True, exist_ok=True)
    copied = 0
    for entry in sorted(source.iterdir(), key=lambda e: e.name):
        if entry.is_dir() and not entry.name.startswith(("_", ".")):
            copied += _copy_tree(entry, target / entry.name)
        elif entry.is_file() and entry.name.endswith(".yaml"):
            (target / entry.name).write_bytes(entry.read_bytes())
            copied += 1
    return copied


def _write_private(path: Path, text: str) -> None:
    """Write `path` readable by its owner only (it holds the secret key)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(text)


def write_site(folder: Path) -> Site:
    """Write a starting site into `folder`, which must be missing or empty.

    Raises:
        FileExistsError: `folder` is a file, or a folder with something in it.
    """
    from engine.language.shipped import WORKFLOWS, shipped

    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise FileExistsError(str(folder))
    folder.mkdir(parents=True, exist_ok=True)
    copied = _copy_tree(shipped(WORKFLOWS), folder / "workflows")
    (folder / "instance").mkdir()
    _write_private(folder / ENV_FILE, env_file_text(secrets.token_hex(32)))
    return Site(folder, copied)


@click.command()
@click.argument("directory", type=click.Path(path_type=Path))
def init(directory: Path) -> None:
    """Write a starting site in DIRECTORY (missing or empty): workflows/ copied from the shipped
    definitions, a commented estateflow.env listing every setting (with a new secret key), and
    instance/ for the SQLite database. Run every other command inside DIRECTORY."""
    try:
        site = write_site(directory)
    except FileExistsError:
        click.echo(f"{directory} is not empty: estateflow init writes a new site into a missing or empty folder",
                   err=True)
        sys.exit(1)
    except OSError as error:
        click.echo(f"cannot write the site in {directory}: {error.strerror or type(error).__name__}", err=True)
        sys.exit(1)
    click.echo(f"site written in {site.folder}: workflows/ ({site.workflow_files} files), {ENV_FILE}, instance/")
    click.echo(f"next: cd {site.folder} && estateflow db upgrade && estateflow publish "
               "(docs/deployment.md: the first accounts, serve, worker)")
