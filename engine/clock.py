"""Where the engine gets the time from: an injectable clock.

The runtime, the timers and the scenario runner never call `datetime.now()`
themselves; they ask a `Clock`, so tests and scenarios can move time without
sleeping. Every clock returns an aware datetime in UTC; conversion to an
estate's local time happens where a rule needs it (guards, display).
`DEFAULT_TIMEZONE` is the zone an estate, a calendar or a page uses unless told otherwise.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol

__all__ = ["DEFAULT_TIMEZONE", "Clock", "FixedClock", "SystemClock", "utc"]

DEFAULT_TIMEZONE = "Asia/Shanghai"
"""The IANA zone of estates, calendars and dates shown when none is configured (mainland China)."""


class Clock(Protocol):
    """A source of the current time."""

    def now(self) -> datetime:
        """The current instant, aware, in UTC."""
        ...


def utc(moment: datetime) -> datetime:
    """`moment` as an aware UTC datetime; a naive one is refused (it has no meaning here)."""
    if moment.tzinfo is None:
        raise ValueError("a naive datetime has no time zone")
    return moment.astimezone(UTC)


class SystemClock:
    """The real time."""

    def now(self) -> datetime:
        """The current instant, aware, in UTC."""
        return datetime.now(UTC)


class FixedClock:
    """A clock that stands still until told to move (tests, scenarios)."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = utc(start) if start is not None else datetime(2026, 3, 2, 1, 0, tzinfo=UTC)

    def now(self) -> datetime:
        """The instant the clock was last set to."""
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        """Move forward by `delta` (never backward) and return the new instant."""
        if delta < timedelta(0):
            raise ValueError("a clock does not go backward")
        self._now += delta
        return self._now

    def set(self, moment: datetime) -> None:
        """Jump to `moment` (aware)."""
        self._now = utc(moment)
