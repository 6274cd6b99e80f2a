"""`estateflow serve` (the staff UI under gunicorn) and `estateflow worker` (time limits and notifications).

    serve [--bind HOST:PORT] [--workers N] [--threads N]
        refuses to start without a usable ESTATEFLOW_SECRET_KEY (engine.settings.secret_key_problem),
        then runs gunicorn in this process, handing it the app by name: engine/ never imports
        Flask or web/, gunicorn imports `web:create_app()` in each worker.
    worker [--interval SECONDS] [--name NAME]
        one loop of `tick` then `send` passes (their code: engine/cli/timers.py, engine/cli/outbox.py),
        each completed pass recorded as the worker's heartbeat (engine.runtime.worker) for /healthz.
        SIGTERM or Ctrl-C stops it between passes, exit 0.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import click

from engine.cli.common import URL_OPTION, opened
from engine.cli.outbox import send_pass, show_logs
from engine.cli.timers import tick_pass
from engine.settings import secret_key_problem

__all__ = ["ACCESS_LOG_FORMAT", "APP", "serve", "worker"]

APP = "web:create_app()"
"""What gunicorn imports in each worker process."""

ACCESS_LOG_FORMAT = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms'
"""gunicorn's default format logs the request line and the referrer, both with their query strings:
lists are searched by residents' phone numbers and names, so those would land in the log. %(U)s is
the path alone; nothing else here comes from what staff type."""

log = logging.getLogger("estateflow.worker")


@click.command("serve")
@click.option("--bind", envvar="ESTATEFLOW_BIND", default="127.0.0.1:8000", show_default=True, metavar="HOST:PORT",
              help="Where to listen (also $ESTATEFLOW_BIND); behind nginx, keep it on 127.0.0.1.")
@click.option("--workers", envvar="ESTATEFLOW_WORKERS", type=click.IntRange(1, 64), default=2, show_default=True,
              help="Worker processes (also $ESTATEFLOW_WORKERS): about one or two per CPU core.")
@click.option("--threads", envvar="ESTATEFLOW_THREADS", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Threads per worker (also $ESTATEFLOW_THREADS): 1 runs sync workers, more runs gthread workers.")
@click.option("--timeout", type=click.IntRange(5, 3600), default=60, show_default=True,
              help="Seconds a request may take before its worker is restarted.")
def serve(bind: str, workers: int, threads: int, timeout: int) -> None:
    """Serve the staff web UI with gunicorn (needs ESTATEFLOW_SECRET_KEY; stop with Ctrl-C or SIGTERM)."""
    problem = secret_key_problem(os.environ.get("ESTATEFLOW_SECRET_KEY"))
    if problem:
        click.echo(f"cannot serve: {problem}", err=True)
        sys.exit(1)
    # gunicorn sets up only its own loggers: the app's lines (logins, health, unexpected errors) need
    # a handler too, or its INFO lines (login.failed, login.succeeded) are lost. Forked workers inherit it.
    show_logs()
    logging.getLogger("alembic").setLevel(logging.WARNING)  # its plugin set-up lines say nothing to an operator
    options = {
        "bind": [bind],
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread" if threads > 1 else "sync",
        "timeout": timeout,
        "accesslog": "-",
        "access_log_format": ACCESS_LOG_FORMAT,
        "errorlog": "-",
        "proc_name": "estateflow",
        # The app's ProxyFix (ESTATEFLOW_PROXY_HOPS) is the one place that decides which forwarded
        # headers to believe; gunicorn would otherwise trust X-Forwarded-Proto from 127.0.0.1 on its own.
        "forwarded_allow_ips": "",
        # gunicorn 25.1+ opens a control socket at one fixed path in $HOME: two sites on one host would
        # share it, and nothing here uses it (systemd and signals manage the server).
        "control_socket_disable": True,
    }
    _run_gunicorn(options)


def _run_gunicorn(options: dict[str, Any]) -> None:
    """Run gunicorn's arbiter in this process with `options`, the app imported by name in each worker
    (gunicorn's documented custom-application hook; imported here so `worker` does not load it)."""
    from gunicorn.app.base import BaseApplication  # type: ignore[import-untyped]  # no stubs shipped
    from gunicorn.util import import_app  # type: ignore[import-untyped]

    class Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for name, value in options.items():
                if name in self.cfg.settings:  # an older gunicorn lacks the newest settings
                    self.cfg.set(name, value)

        def load(self) -> Any:
            return import_app(APP)

    Server().run()


def _stop_on_signals() -> threading.Event:
    """An Event set by SIGTERM or the first Ctrl-C; a second Ctrl-C interrupts at once."""
    stop = threading.Event()

    def handle(signum: int, _frame: Any) -> None:
        stop.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    return stop


@click.command("worker")
@URL_OPTION
@click.option("--workflows", "workflows_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="The definitions folder whose calendar.yaml files count working time until "
                   "`estateflow publish` stores them in the database (default: $ESTATEFLOW_WORKFLOWS, "
                   "else workflows/).")
@click.option("--interval", envvar="ESTATEFLOW_WORKER_INTERVAL", type=click.FloatRange(min=0.1), default=60.0,
              show_default=True, metavar="SECONDS", help="Seconds between passes (also $ESTATEFLOW_WORKER_INTERVAL).")
@click.option("--name", default="worker", show_default=True,
              help="This worker's name in the heartbeat; two workers on one host need different names.")
def worker(url: str | None, workflows_dir: Path | None, interval: float, name: str) -> None:
    """Fire due time limits and send notifications, a pass every SECONDS (stop with SIGTERM or Ctrl-C)."""
    from sqlalchemy.exc import OperationalError

    from engine.clock import SystemClock
    from engine.errors import Conflict
    from engine.org.audit import access_log_days, prune_access_log
    from engine.runtime.worker import Heartbeat, PassCounts, record_pass
    from engine.store.db import transaction

    show_logs()
    ticking, sending = tick_pass(workflows_dir), send_pass()
    stop = _stop_on_signals()
    clock = SystemClock()
    heartbeat = Heartbeat.start(name, clock.now())
    passes = 0
    pruned_at = None  # the access log is pruned on the first pass, then once a day
    click.echo(f"worker '{heartbeat.name}' on {heartbeat.host} (pid {heartbeat.pid}): a pass every {interval:g} s")
    with opened(url, "run the worker") as factory:
        try:
            while not stop.is_set():
                try:
                    report = ticking(factory, False)
                    result = sending(factory, False)
                    passes += 1
                    record_pass(factory, heartbeat, clock.now(), passes, PassCounts(
                        handled=report.handled, tick_failed=report.failed, sent=len(result.sent),
                        send_failed=len(result.retrying) + len(result.failed)))
                    now = clock.now()
                    if pruned_at is None or now - pruned_at >= timedelta(days=1):
                        with transaction(factory) as session:
                            gone = prune_access_log(session, now, access_log_days())
                        pruned_at = now
                        if gone:
                            log.info("access log: %d row(s) past retention removed", gone)
                except (OperationalError, Conflict) as error:
                    # The database is down or busy: no heartbeat for this pass (so /healthz turns
                    # 503 if it lasts), and the next pass tries again instead of the worker dying.
                    reason = str(getattr(error, "orig", None) or error).splitlines()[0]
                    log.warning("pass %d not completed, the database did not answer: %s", passes + 1, reason)
                stop.wait(interval)
        except KeyboardInterrupt:
            click.echo("worker interrupted", err=True)
            sys.exit(130)
    click.echo(f"worker stopped after {passes} pass(es)")
