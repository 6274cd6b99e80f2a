"""`estateflow serve`: refuses unusable secret keys in one line; really serves the UI with gunicorn, then stops.

The server runs as a real process on a free loopback port, against the test database;
every wait is bounded, and the process is always stopped (killed if it will not stop).
"""

from __future__ import annotations

import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engine.runtime.worker import Heartbeat, PassCounts, record_pass

ROOT = Path(__file__).resolve().parents[2]
KEY = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a6978"


def environment(**settings: str) -> dict[str, str]:
    """This process's environment without any ESTATEFLOW_ setting, plus `settings`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ESTATEFLOW_", "FLASK_"))}
    return {**env, **settings}


@pytest.mark.parametrize(("key", "reason"), [
    (None, "is not set"),
    ("dev", "known development value"),
    ("short-but-random-Zq8", "too short"),
])
def test_serve_refuses_an_unusable_secret_key_in_one_line(tmp_path, key, reason):
    env = environment(ESTATEFLOW_DATABASE_URL=f"sqlite:///{tmp_path}/x.db")
    if key is not None:
        env["ESTATEFLOW_SECRET_KEY"] = key
    done = subprocess.run([sys.executable, "-m", "engine", "serve", "--bind", "127.0.0.1:1"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stdout == ""
    [line] = done.stderr.splitlines()
    assert line.startswith("cannot serve: ESTATEFLOW_SECRET_KEY ") and reason in line


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def get(port: int, path: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


@contextmanager
def serving(url: str, *options: str, **settings: str) -> Iterator[tuple[int, dict[str, str]]]:
    """`estateflow serve` on a free port until the block ends; yields the port and, after the stop, its
    stdout, stderr and exit status."""
    port = free_port()
    env = environment(ESTATEFLOW_DATABASE_URL=url, ESTATEFLOW_SECRET_KEY=KEY, **settings)
    server = subprocess.Popen([sys.executable, "-m", "engine", "serve", "--bind", f"127.0.0.1:{port}", *options],
                              cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    logs: dict[str, str] = {}
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, f"serve exited: {server.communicate()[1]}"
            assert time.monotonic() < deadline, "serve did not answer within 60 s"
            try:
                if get(port, "/login")[0] == 200:
                    break
            except OSError:
                time.sleep(0.2)
        yield port, logs
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            logs["out"], logs["err"] = server.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            logs["out"], logs["err"] = server.communicate()
            pytest.fail("serve did not stop on SIGTERM within 30 s")
        logs["status"] = str(server.returncode)


def test_serve_answers_login_and_healthz_then_stops(db):
    with serving(db.url, "--workers", "2") as (port, logs):
        status, headers, page = get(port, "/login")
        assert status == 200 and "登录" in page.decode()
        assert not re.search(r"\d", headers.get("server", "")), "no version numbers in Server"
        assert get(port, "/healthz")[0] == 503  # no worker pass yet
        now = datetime.now(UTC)
        record_pass(db.factory, Heartbeat("test", "worker", 1, now), now, 1, PassCounts())
        status, headers, _ = get(port, "/healthz")
        assert status == 200 and "set-cookie" not in headers
        # Without ESTATEFLOW_PROXY_HOPS no forwarded header is believed, gunicorn's included.
        _, headers, _ = get(port, "/login?q=13812345678", **{"X-Forwarded-Proto": "https"})
        assert "Secure" not in headers["set-cookie"]
    assert logs["status"] == "0"
    assert '"GET /login HTTP/1.1" 200' in logs["out"]  # the access log, on stdout
    assert '"GET /healthz HTTP/1.1" 503' in logs["out"]
    assert "13812345678" not in logs["out"] + logs["err"]  # query strings never reach the log
    assert "Using worker: sync" in logs["err"]
    assert "Traceback" not in logs["err"]


def test_threads_switch_to_gthread_workers_and_https_marks_the_cookie_secure(tmp_path, sqlite_template):
    path = tmp_path / "serve.db"
    path.write_bytes(sqlite_template.read_bytes())
    with serving(f"sqlite:///{path}", "--workers", "1", "--threads", "4", ESTATEFLOW_HTTPS="1") as (port, logs):
        status, headers, _ = get(port, "/login")
        assert status == 200 and "Secure" in headers["set-cookie"]
    assert "Using worker: gthread" in logs["err"] and logs["status"] == "0"
