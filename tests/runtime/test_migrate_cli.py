"""`estateflow migrate`: the dry run's lines, the refusal of unmapped states, and a run killed by kill -9.

Version 2 of `timed` (tests/runtime/migration_v2/timed.yaml) renames `working` to `handling`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from engine.cli.main import main
from tests.runtime.test_item_migration import V2, publish_v2

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / "tests" / "data" / "good" / "runtime"


def migrate(world, *args):
    return CliRunner().invoke(main, ["migrate", "timed", "--estate", "demo", "--url", world.db.url,
                                     "--workflows", str(V2), *args])


def started(world, count=1):
    return [world.fire(world.create(workflow="timed", mode="none", unit=f"1-{i}"), "start") for i in range(count)]


def migrated_events(world):
    return [r for r in world.rows("item_history") if r["event"] == "migrated"]


def test_the_dry_run_prints_each_item_and_writes_nothing(world):
    [item] = started(world)
    publish_v2(world)
    before = world.snapshot()
    result = migrate(world, "--map", "working=handling", "--dry-run")
    assert result.exit_code == 0, result.output
    assert f"{item.number}: v1 → v2, working → handling (处理中 → 办理中)" in result.output
    assert "missing required fields: 类别" in result.output
    assert "deadline 办理中·超时升级 1（4小时）: 2026-03-02" in result.output
    assert "1 item(s) would move to version 2" in result.output
    assert world.snapshot() == before


def test_unmapped_states_print_their_items_and_exit_1(world):
    [item] = started(world)
    publish_v2(world)
    before = world.snapshot()
    result = migrate(world)
    assert result.exit_code == 1
    assert f"state working has no target in the new version (give --map working=NEW): {item.number}" in result.output
    assert "Traceback" not in result.output
    assert world.snapshot() == before


def test_a_bad_map_or_an_unknown_user_is_one_line(world):
    publish_v2(world)
    assert migrate(world, "--map", "working").exit_code == 2
    result = migrate(world, "--map", "working=handling", "--by", "nobody")
    assert (result.exit_code, result.output.strip()) == (1, "no such user: nobody")
    result = CliRunner().invoke(main, ["migrate", "timed", "--estate", "nowhere", "--url", world.db.url])
    assert (result.exit_code, result.output.strip()) == (1, "no such estate: nowhere")


def test_applying_records_the_user_given(world):
    [item] = started(world)
    publish_v2(world)
    result = migrate(world, "--map", "working=handling", "--by", "admin@demo")
    assert result.exit_code == 0, result.output
    assert "1 item(s) moved to version 2, 0 skipped" in result.output
    [event] = migrated_events(world)
    assert (event["item_id"], event["actor_id"]) == (item.id, world.users[("admin", "demo")])


def test_a_run_killed_after_its_first_batch_moves_every_item_once_when_run_again(world):
    items = started(world, 60)
    publish_v2(world)
    command = [sys.executable, "-m", "engine", "migrate", "timed", "--estate", "demo", "--map", "working=handling",
               "--batch", "5", "--url", world.db.url, "--workflows", str(WORKFLOWS)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("ESTATEFLOW_")}
    first = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # The command prints a line after each batch commits: kill it at the first one, while the next runs.
        line = first.stdout.readline() if first.stdout else ""
        while line and not line.startswith("committed:"):
            line = first.stdout.readline() if first.stdout else ""
        os.kill(first.pid, signal.SIGKILL)
    finally:
        first.communicate(timeout=30)
    moved = len(migrated_events(world))
    assert first.returncode == -signal.SIGKILL
    assert moved % 5 == 0 and 0 < moved < 60  # whole batches, and the kill came before the end
    again = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert f"{60 - moved} item(s) moved to version 2, 0 skipped" in again.stdout
    per_item = [r["item_id"] for r in migrated_events(world)]
    assert sorted(per_item) == sorted(item.id for item in items)  # every item exactly once
    assert {r["definition_version"] for r in world.rows("items")} == {2}
