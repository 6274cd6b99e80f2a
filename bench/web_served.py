"""The served mode of bench/web_bench.py (`--served`): the real server under a bounded loopback load.

A temporary PostgreSQL database (CREATE DATABASE estateflow_bench_<random>, dropped at the end
whatever happens) on the server of $ESTATEFLOW_TEST_PG_URL (else postgresql+psycopg://postgres@
127.0.0.1:5432/test), built as the in-process mode builds its SQLite file; then `estateflow serve
--workers 2` on a free 127.0.0.1 port, and `--clients` threads, each logged in as cs_supervisor with
its own session and keep-alive connection, sending requests to one route at a time:

    floor   GET /healthz           (trivial: three tiny queries, no template)
    inbox   GET /
    list    GET /items?page=N      (random page among the first 50)
    item    GET /items/<id>        (random item)
    fire    POST /items/<id>/fire/<name>  (with the session's CSRF token; each on a fresh item)

Each route stops after `--requests` requests or `--seconds` seconds, whichever comes first, so the
run ends by itself. Figures: requests per second and p50/p95/p99 latency, and each route's ratio to
the floor measured in the same run. Only 127.0.0.1 is ever contacted.
"""

from __future__ import annotations

import http.client
import os
import random
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from engine.runtime.worker import Heartbeat, PassCounts, record_pass
from engine.store.db import make_engine, make_session_factory
from engine.store.models import Item

ROOT = Path(__file__).resolve().parents[1]
PG_URL = os.environ.get("ESTATEFLOW_TEST_PG_URL") or "postgresql+psycopg://postgres@127.0.0.1:5432/test"
HOST = "127.0.0.1"
_TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


@contextmanager
def temporary_database() -> Iterator[str]:
    """A PostgreSQL database of the run's own, dropped at the end."""
    name = f"estateflow_bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


class Client:
    """One browser: a keep-alive connection and its cookies."""

    def __init__(self, port: int) -> None:
        self.connection = http.client.HTTPConnection(HOST, port, timeout=30)
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, form: dict[str, Any] | None = None) -> tuple[int, str]:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.connection.request(method, path, body=body, headers=headers)
        response = self.connection.getresponse()
        page = response.read().decode("utf-8", "replace")
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, value = header.split(";", 1)[0].partition("=")
            self.cookies[name.strip()] = value
        return response.status, page

    def login(self, username: str, password: str) -> str:
        """Log in through the form; the CSRF token of the logged-in session."""
        _, page = self.request("GET", "/login")
        status, _ = self.request("POST", "/login", {"username": username, "password": password,
                                                    "csrf_token": _TOKEN.search(page).group(1)})  # type: ignore[union-attr]
        if status != 302:
            raise SystemExit(f"login as {username}: HTTP {status}")
        _, page = self.request("GET", "/")
        return _TOKEN.search(page).group(1)  # type: ignore[union-attr]


def percentile(ordered: list[float], share: float) -> float:
    """Nearest-rank percentile of sorted samples."""
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def load(clients: list[Client], call: Callable[[Client], int], requests: int, seconds: float) -> dict[str, Any]:
    """Send requests from every client at once until `requests` were sent or `seconds` passed."""
    lock = threading.Lock()
    left = [requests]
    samples: list[float] = []
    statuses: dict[int, int] = {}
    stop_at = time.perf_counter() + seconds

    def run(client: Client) -> None:
        while True:
            with lock:
                if left[0] <= 0 or time.perf_counter() >= stop_at:
                    return
                left[0] -= 1
            started = time.perf_counter()
            status = call(client)
            elapsed = (time.perf_counter() - started) * 1000
            with lock:
                samples.append(elapsed)
                statuses[status] = statuses.get(status, 0) + 1

    started = time.perf_counter()
    threads = [threading.Thread(target=run, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    ordered = sorted(samples)
    if not ordered:
        return {"n": 0}
    return {"n": len(ordered), "rps": round(len(ordered) / wall, 1), "p50_ms": round(percentile(ordered, 0.5), 1),
            "p95_ms": round(percentile(ordered, 0.95), 1), "p99_ms": round(percentile(ordered, 0.99), 1),
            "statuses": {str(k): v for k, v in sorted(statuses.items())}}


@contextmanager
def serving(url: str, workers: int) -> Iterator[int]:
    """`estateflow serve` on a free loopback port until the block ends (killed if it will not stop)."""
    port = free_port()
    env = {**os.environ, "ESTATEFLOW_DATABASE_URL": url, "ESTATEFLOW_SECRET_KEY": secrets.token_hex(32)}
    server = subprocess.Popen([sys.executable, "-m", "engine", "serve", "--bind", f"{HOST}:{port}",
                               "--workers", str(workers)], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("estateflow serve did not start")
            try:
                with socket.create_connection((HOST, port), timeout=1):
                    break
            except OSError:
                time.sleep(0.2)
        yield port
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def run(args: Any, build: Callable[[str, int], None],
        targets: Callable[[str, int], list[tuple[int, str, int, dict[str, str]]]]) -> dict[str, Any]:
    """The whole served run; prints progress, returns the figures."""
    with temporary_database() as url:
        started = time.perf_counter()
        build(url, args.items)
        print(f"database: {args.items} items on PostgreSQL, built in {time.perf_counter() - started:.1f} s",
              file=sys.stderr)
        engine = make_engine(url)
        now = datetime.now(UTC)
        # A worker pass, so /healthz answers 200 (the floor) rather than 503.
        record_pass(make_session_factory(engine), Heartbeat("bench", "bench", os.getpid(), now), now, 1, PassCounts())
        with engine.connect() as connection:
            max_id = connection.execute(select(func.max(Item.id))).scalar_one()
        engine.dispose()
        fire = targets(url, args.requests)
        rng = random.Random(3)
        lock = threading.Lock()
        with serving(url, args.workers) as port:
            clients = [Client(port) for _ in range(args.clients)]
            tokens = {id(c): c.login("cs_supervisor", "demo1234") for c in clients}

            def get(path: Callable[[], str]) -> Callable[[Client], int]:
                return lambda client: client.request("GET", path())[0]

            def post(client: Client) -> int:
                with lock:
                    item_id, name, version, data = fire.pop()
                return client.request("POST", f"/items/{item_id}/fire/{name}",
                                      {"csrf_token": tokens[id(client)], "version": version, **data})[0]

            routes: dict[str, Callable[[Client], int]] = {
                "floor": get(lambda: "/healthz"),
                "inbox": get(lambda: "/"),
                "list": get(lambda: f"/items?page={rng.randint(1, 50)}"),
                "item": get(lambda: f"/items/{rng.randint(1, max_id)}"),
            }
            for client in clients:  # warm-up: templates compiled, connections opened in every worker
                for call in routes.values():
                    call(client)
            results = {name: load(clients, call, args.requests, args.seconds) for name, call in routes.items()}
            results["fire"] = load(clients, post, min(args.requests, len(fire)), args.seconds)
            for client in clients:
                client.connection.close()
    floor = results["floor"]
    for row in results.values():
        if row.get("n") and floor.get("n"):
            row["p50_vs_floor"] = round(row["p50_ms"] / floor["p50_ms"], 1)
            row["rps_vs_floor"] = round(row["rps"] / floor["rps"], 2)
    return results
