"""The login throttle: wrong passwords counted in the database, answered with a wait, never a sleep.

    LoginRules(...)                                  the limits (ESTATEFLOW_LOGIN_* settings)
    wait_seconds(session, account, address, now, rules) -> int   0, or whole seconds to wait first
    record_failure(session, account, address, now, rules)        one more wrong password
    record_success(session, account, address)                    a correct password: that count starts over

Two rules. Per (account, client address): after `free_failures` consecutive wrong passwords,
attempts are refused for `first_wait`, doubling with each further failure up to `longest_wait`.
Per address, across accounts: `address_failures` wrong passwords in `address_window` refuse the
address until the window ends (a fixed window: simple, and an office behind one address keeps
working well below it). A refused attempt is not checked, so it neither counts nor tells
anything; a correct password never counts, and one from another address is not affected, so
nobody can lock a clerk out from elsewhere. Unknown usernames count like wrong passwords.

Counts live in the database so every worker and host shares them, and each failure is one
atomic upsert (INSERT ... ON CONFLICT DO UPDATE SET failures = failures + 1, on SQLite and
PostgreSQL alike): parallel guesses all count, with no read-modify-write to lose one.
Functions work inside the caller's transaction and never commit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, case, delete, literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from engine.store.models import AddressFailure, LoginFailure

__all__ = ["LoginRules", "account_wait", "record_failure", "record_success", "wait_seconds"]

failures_table = cast(Table, LoginFailure.__table__)
address_table = cast(Table, AddressFailure.__table__)


@dataclass(frozen=True, slots=True)
class LoginRules:
    """The throttle's limits."""

    free_failures: int = 5
    first_wait: timedelta = timedelta(seconds=30)
    longest_wait: timedelta = timedelta(minutes=15)
    address_failures: int = 100
    address_window: timedelta = timedelta(minutes=15)
    forget_after: timedelta = timedelta(hours=24)
    """A count with no failure for this long starts over. Far longer than `longest_wait`: otherwise a
    guesser at the cap would get `free_failures` fresh guesses after every wait."""


def account_wait(failures: int, last_failure_at: datetime, now: datetime, rules: LoginRules) -> timedelta:
    """How long (account, address) must still wait after `failures` consecutive failures, the last at
    `last_failure_at`; zero or negative means not at all."""
    if failures < rules.free_failures or now - last_failure_at >= rules.forget_after:
        return timedelta(0)
    # Seconds as a float, exponent bounded: timedelta * 2**n overflows for a long-running guesser.
    doubled = rules.first_wait.total_seconds() * 2.0 ** min(failures - rules.free_failures, 40)
    window = timedelta(seconds=min(doubled, rules.longest_wait.total_seconds()))
    return last_failure_at + window - now


def wait_seconds(session: Session, account: str, address: str, now: datetime, rules: LoginRules) -> int:
    """0 when an attempt may be checked now; else the whole seconds (at least 1) to wait first."""
    waits = [timedelta(0)]
    mine = session.execute(
        select(failures_table.c.failures, failures_table.c.last_failure_at)
        .where(failures_table.c.account == account, failures_table.c.address == address)
    ).first()
    if mine is not None:
        waits.append(account_wait(mine.failures, mine.last_failure_at, now, rules))
    everyone = session.execute(
        select(address_table.c.failures, address_table.c.window_start).where(address_table.c.address == address)
    ).first()
    if everyone is not None and everyone.failures >= rules.address_failures:
        waits.append(everyone.window_start + rules.address_window - now)
    longest = max(waits)
    return math.ceil(longest.total_seconds()) if longest > timedelta(0) else 0


def _insert(session: Session, table: Table) -> Any:
    # ON CONFLICT is dialect-specific in SQLAlchemy; both dialects spell it the same way.
    builder = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    return builder(table)


def record_failure(session: Session, account: str, address: str, now: datetime, rules: LoginRules) -> None:
    """Count one wrong password for (account, address) and for the address, atomically; prune old counts."""
    session.execute(delete(failures_table).where(failures_table.c.last_failure_at < now - rules.forget_after))
    session.execute(delete(address_table).where(address_table.c.window_start < now - rules.address_window))
    stale = failures_table.c.last_failure_at < now - rules.forget_after
    mine = _insert(session, failures_table).values(account=account, address=address, failures=1,
                                                   last_failure_at=now)
    session.execute(mine.on_conflict_do_update(
        index_elements=[failures_table.c.account, failures_table.c.address],
        set_={"failures": case((stale, 1), else_=failures_table.c.failures + 1), "last_failure_at": now},
    ))
    # A window that has run out starts again at this failure; every SET reads the row as it was.
    ended = address_table.c.window_start <= now - rules.address_window
    everyone = _insert(session, address_table).values(address=address, window_start=now, failures=1)
    session.execute(everyone.on_conflict_do_update(
        index_elements=[address_table.c.address],
        set_={"failures": case((ended, 1), else_=address_table.c.failures + 1),
              "window_start": case((ended, literal(now, address_table.c.window_start.type)),
                                   else_=address_table.c.window_start)},
    ))


def record_success(session: Session, account: str, address: str) -> None:
    """A correct password: the (account, address) count starts over (the address's total stays)."""
    session.execute(delete(failures_table).where(failures_table.c.account == account,
                                                 failures_table.c.address == address))
