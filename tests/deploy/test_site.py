"""`estateflow init DIR`, and ./estateflow.env read by the commands and the web app (the environment wins)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.cli.main import main
from engine.settings import SETTINGS


def init(folder: Path):  # noqa: ANN201
    return CliRunner().invoke(main, ["init", str(folder)])


def env_lines(folder: Path) -> list[str]:
    return (folder / "estateflow.env").read_text(encoding="utf-8").splitlines()


def test_init_writes_workflows_an_env_file_and_an_instance_folder(tmp_path: Path) -> None:
    result = init(tmp_path / "site")
    assert result.exit_code == 0, result.output
    site = tmp_path / "site"
    assert sorted(p.name for p in (site / "workflows").glob("*.yaml")) == sorted(
        p.name for p in (Path(__file__).resolve().parents[2] / "workflows").glob("*.yaml"))
    assert (site / "workflows" / "estates" / "plaza" / "complaint.yaml").is_file()
    assert (site / "instance").is_dir()
    assert stat.S_IMODE((site / "estateflow.env").stat().st_mode) == 0o600  # it holds the secret key


def test_the_env_file_lists_every_setting_commented_but_the_secret_key_and_the_database(tmp_path: Path) -> None:
    init(tmp_path / "site")
    lines = env_lines(tmp_path / "site")
    set_lines = {line.split("=", 1)[0]: line.split("=", 1)[1] for line in lines if line and not line.startswith("#")}
    assert set(set_lines) == {"ESTATEFLOW_SECRET_KEY", "ESTATEFLOW_DATABASE_URL"}
    assert len(set_lines["ESTATEFLOW_SECRET_KEY"]) >= 32
    assert set_lines["ESTATEFLOW_DATABASE_URL"] == "sqlite:///instance/estateflow.db"
    for setting in SETTINGS:
        if setting.name not in set_lines:
            assert f"# {setting.name}={setting.default}" in lines
        assert any(setting.help in line for line in lines)


def test_each_site_gets_its_own_secret_key(tmp_path: Path) -> None:
    init(tmp_path / "a")
    init(tmp_path / "b")
    keys = [next(line for line in env_lines(tmp_path / s) if line.startswith("ESTATEFLOW_SECRET_KEY=")) for s in "ab"]
    assert keys[0] != keys[1]


@pytest.mark.parametrize("existing", ["a file in it", "a file in its place"])
def test_init_refuses_a_folder_with_something_in_it(tmp_path: Path, existing: str) -> None:
    folder = tmp_path / "site"
    if existing == "a file in it":
        folder.mkdir()
        (folder / "notes.txt").write_text("keep me")
    else:
        folder.write_text("keep me")
    result = init(folder)
    assert result.exit_code == 1
    assert result.output.strip() == (f"{folder} is not empty: estateflow init writes a new site into a missing or "
                                     "empty folder")
    assert "Traceback" not in result.output


def test_init_accepts_an_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "site").mkdir()
    assert init(tmp_path / "site").exit_code == 0


def test_commands_read_the_env_file_of_the_current_folder_and_the_environment_wins(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "estateflow.env").write_text(
        "ESTATEFLOW_DATABASE_URL=sqlite:///from-file.db\nESTATEFLOW_WORKFLOWS=/nowhere/from-file\n")
    monkeypatch.setenv("ESTATEFLOW_WORKFLOWS", "/nowhere/from-environment")
    monkeypatch.delenv("ESTATEFLOW_DATABASE_URL", raising=False)
    # load_env_file writes os.environ: monkeypatch puts both back afterwards.
    monkeypatch.setattr(os, "environ", os.environ.copy())
    result = CliRunner().invoke(main, ["validate"])
    assert "/nowhere/from-environment/roles.yaml" in result.output
    assert os.environ["ESTATEFLOW_DATABASE_URL"] == "sqlite:///from-file.db"


def test_the_web_app_reads_the_env_file_of_the_current_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from web import create_app

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(os, "environ", os.environ.copy())
    monkeypatch.delenv("ESTATEFLOW_SECRET_KEY", raising=False)
    key = "f" * 16 + "0123456789abcdef0123456789abcdef"
    (tmp_path / "estateflow.env").write_text(f"ESTATEFLOW_SECRET_KEY={key}\n")
    assert create_app({"TESTING": True}).config["SECRET_KEY"] == key
