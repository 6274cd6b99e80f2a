"""`estateflow worker`: tick then send in one loop, a heartbeat after each pass, SIGTERM/Ctrl-C between passes.

The worker runs as a real process (the command staff's servers run) on the test database;
its clock is the real one, so the items made at the test clock's time (March 2026) are long due.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / "tests" / "data" / "good" / "runtime"


def start_worker(url, *extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ESTATEFLOW_")}
    env.update(ESTATEFLOW_SENDER="log", ESTATEFLOW_WORKER_INTERVAL="0.2")
    return subprocess.Popen([sys.executable, "-m", "engine", "worker", "--url", url, "--workflows", str(WORKFLOWS),
                             *extra], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(condition, seconds=60.0):
    """Poll until `condition()` is true (bounded: a stuck worker fails the test, never hangs it)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def stop(process, signum):
    process.send_signal(signum)
    try:
        out, err = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        pytest.fail(f"the worker did not stop: {err}")
    return process.returncode, out, err


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_worker_escalates_sends_records_its_heartbeat_and_stops_on_a_signal(world, signum):
    item = world.create(workflow="timed", mode="ladder", unit="1-101", phone="13812345678")
    worker = start_worker(world.db.url, "--name", "test-worker")
    try:
        assert wait_for(lambda: any(r["passes"] >= 2 for r in world.rows("worker_passes"))), "no heartbeat"
    finally:
        status, out, err = stop(worker, signum)
    assert status == 0, err
    assert "Traceback" not in err
    assert out.splitlines()[-1].startswith("worker stopped after ")
    [beat] = world.rows("worker_passes")
    assert beat["name"] == "test-worker" and beat["pid"] == worker.pid and beat["passes"] >= 2
    # The ladder's three limits are long past: all escalated, and their notifications sent.
    assert {r["status"] for r in world.rows("item_deadlines", item_id=item.id)} == {"done"}
    outbox = world.rows("outbox", item_id=item.id)
    assert outbox and {r["status"] for r in outbox} == {"sent"}
    assert "13812345678" not in out + err  # the log sender names role, estate and number only


def test_a_database_that_does_not_answer_does_not_kill_the_worker():
    worker = start_worker("postgresql+psycopg://nobody@127.0.0.1:9/nowhere?connect_timeout=2")
    seen: list[str] = []

    def read_until_the_failed_pass() -> None:
        for line in worker.stderr:
            seen.append(line)
            if "pass 1 not completed" in line:
                return

    # Signal only once the first pass has failed: a loaded machine may take seconds to start Python.
    reader = threading.Thread(target=read_until_the_failed_pass, daemon=True)
    reader.start()
    reader.join(60)
    status, _out, err = stop(worker, signal.SIGTERM)
    err = "".join(seen) + err
    assert status == 0, err
    assert "pass 1 not completed, the database did not answer" in err
    assert "Traceback" not in err


def test_worker_interval_must_be_positive(db):
    done = subprocess.run([sys.executable, "-m", "engine", "worker", "--url", db.url, "--interval", "0"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "--interval" in done.stderr
