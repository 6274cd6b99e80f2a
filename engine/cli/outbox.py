"""The `estateflow send` command: drain the notification outbox, once or in a loop.

The sender comes from the environment (see engine.runtime.senders.sender_from_env and
docs/notifications.md). The lead registers SEND_COMMANDS with the CLI.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

import click

from engine.cli.common import URL_OPTION, opened

if TYPE_CHECKING:  # kept out of the import: `estateflow validate` starts without SQLAlchemy
    from sqlalchemy.orm import Session, sessionmaker

    from engine.runtime.outbox import DrainResult

__all__ = ["SEND_COMMANDS", "send", "send_pass", "show_logs"]


def show_logs() -> None:
    """Make log lines visible on stderr (the log sender, retry warnings), unless logging is set up already."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def send_pass(batch: int = 100) -> Callable[[sessionmaker[Session], bool], DrainResult]:
    """One outbox pass as `send`, `tick --send` and `worker` run it: `run(factory, always)` drains up to
    `batch` messages with the sender of the environment and prints what it did (when anything
    happened, or `always`). A bad sender setting prints one line and exits 1 here, before any pass."""
    from engine.runtime.outbox import RetryPolicy, drain
    from engine.runtime.senders import sender_from_env
    from engine.runtime.sms import sms_sender_from_env

    try:
        sender, policy, sms = sender_from_env(), RetryPolicy.from_env(), sms_sender_from_env()
    except ValueError as error:
        click.echo(f"cannot send: {error}", err=True)
        sys.exit(1)

    def run(factory: sessionmaker[Session], always: bool = False) -> DrainResult:
        result = drain(factory, sender, batch=batch, policy=policy, sms=sms)
        if always or result.sent or result.retrying or result.failed or result.cancelled:
            click.echo(str(result))
        return result

    return run


@click.command()
@URL_OPTION
@click.option("--loop", "interval", type=click.FloatRange(min=0.1), default=None, metavar="SECONDS",
              help="Keep running: a pass every SECONDS (stop with Ctrl-C or SIGTERM).")
@click.option("--batch", type=click.IntRange(min=1), default=100, show_default=True,
              help="At most N notifications per pass.")
def send(url: str | None, interval: float | None, batch: int) -> None:
    """Send the notifications waiting in the outbox (sender: $ESTATEFLOW_SENDER, default log)."""
    run = send_pass(batch)
    show_logs()
    stop = threading.Event()
    if interval is not None and threading.current_thread() is threading.main_thread():
        # SIGTERM (systemd, docker stop) ends the loop between passes: a message being sent is
        # finished and recorded, not left 'sending' until its lease runs out and then sent twice.
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with opened(url, "send") as factory:
        try:
            while not stop.is_set():
                result = run(factory, interval is None)
                if interval is None:
                    break
                # A full batch means more may be due: go on at once rather than after a pause.
                if len(result.sent) + len(result.retrying) + len(result.failed) < batch:
                    stop.wait(interval)
        except KeyboardInterrupt:
            pass


SEND_COMMANDS = [send]
