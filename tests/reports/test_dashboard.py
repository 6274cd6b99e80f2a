"""The home page's figures: a supervisor's overdue and due-today counts and report panels, a clerk's own figures, bounded work.

The organisation is tests/runtime/_access_org.py (the shipped workflows over estates `demo` and
`riverside`); the clock starts on Monday 2026-03-02 09:00 in Shanghai. Shipped complaint limits
(workflows/complaint.yaml): an important complaint must be reported up within 1 hour, a major one
the same day (by midnight), a minor one is solved within 2 days.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

import pytest
from sqlalchemy import event

from engine.reports.dashboard import Dashboard, DeskFigures, Panels, WorkflowDue, dashboard
from engine.reports.periods import week_label
from engine.reports.published import publish_reports
from engine.runtime import tick as ticking
from engine.store.db import transaction
from tests._loaders import loader_of
from tests.runtime._access_org import SHIPPED, Org


def at(text: str) -> datetime:
    """A Shanghai time such as '2026-03-02 10:00'."""
    return datetime.fromisoformat(text.replace(" ", "T") + "+08:00")


@pytest.fixture
def org(db: Any, clock: Any) -> Org:
    made = Org(db, clock)
    with transaction(db.factory) as session:  # the shipped reports too: some are on managers' home pages
        publish_reports(session, SHIPPED, loader=loader_of(SHIPPED), now=clock.now())
    return made


def figures(org: Org, username: str) -> Dashboard:
    return figures_of(org, org.actor(username))


def figures_of(org: Org, actor: Any) -> Dashboard:
    with org.db.factory() as session:
        return dashboard(session, actor, now=org.clock.now())


def complaint(org: Org, severity: str, by: str = "frontdesk", estate: str = "demo", **data: Any) -> Any:
    unit = "1-1-101" if estate == "riverside" else "3-1-502"
    return org.create("complaint", by=by, estate=estate, severity=severity, unit=unit, **data)


def advance(org: Org, until: datetime) -> None:
    """Move the clock to `until`, firing every deadline on the way (as the worker would)."""
    ticking.advance(org.db.factory, org.clock, until, calendars=org.calendars)


def test_a_supervisor_sees_today_s_due_and_overdue_complaints_of_their_estate_only(org):
    complaint(org, "important")            # reported up by 10:00
    complaint(org, "important")
    complaint(org, "major")                # by the end of today
    complaint(org, "minor")                # within 2 days: not today
    complaint(org, "important", by="riverside", estate="riverside")   # another estate: never counted
    complaint(org, "major", by="riverside", estate="riverside")

    assert figures(org, "cs_supervisor").due == (WorkflowDue("complaint", "业主投诉", overdue=0, due_today=3),)

    advance(org, at("2026-03-02 10:30"))   # the two important complaints escalate
    board = figures(org, "cs_supervisor")
    assert board.due == (WorkflowDue("complaint", "业主投诉", overdue=2, due_today=1),)
    assert board.desk is None              # a supervisor has no desk figures

    advance(org, at("2026-03-03 08:00"))   # past midnight: the major one is late too
    assert figures(org, "cs_supervisor").due == (WorkflowDue("complaint", "业主投诉", overdue=3, due_today=0),)


def test_a_deadline_passed_counts_as_overdue_before_the_worker_has_run(org):
    complaint(org, "important")
    org.clock.set(at("2026-03-02 10:01"))  # no tick: the flag is not set, the deadline has passed
    assert figures(org, "cs_supervisor").due == (WorkflowDue("complaint", "业主投诉", overdue=1, due_today=0),)


def test_a_withdrawn_complaint_is_no_longer_counted_even_when_it_was_late(org):
    late, _still_open = complaint(org, "important"), complaint(org, "important")
    advance(org, at("2026-03-02 10:30"))
    assert figures(org, "cs_supervisor").due == (WorkflowDue("complaint", "业主投诉", overdue=2, due_today=0),)
    org.fire(late, "withdraw", "cs_supervisor", {"withdraw_reason": "业主已自行解决"})
    org.fire(late, "confirm_withdraw", "frontdesk", {"withdraw_confirmation": "signed", "revisit_method": "phone",
                                                   "revisit_note": "业主确认撤诉"})
    assert figures(org, "cs_supervisor").due == (WorkflowDue("complaint", "业主投诉", overdue=1, due_today=0),)


def test_with_nothing_due_a_supervisor_sees_no_due_section(org):
    complaint(org, "minor")
    assert figures(org, "cs_supervisor").due == ()


def test_the_front_desk_gets_its_own_figures(org):
    org.clock.set(at("2026-03-01 20:00"))  # Sunday: last week
    complaint(org, "minor")
    org.clock.set(at("2026-03-02 09:00"))
    complaint(org, "minor")
    complaint(org, "important")
    complaint(org, "minor", by="housekeeper")    # someone else's registration
    board = figures(org, "frontdesk")
    assert board.desk == DeskFigures(registered_today=2, registered_this_week=2, assigned_open=0, assigned_overdue=0)
    assert board.due == () and board.reports == ()   # no management figures for the desk

    org.clock.set(at("2026-03-03 09:00"))  # Tuesday: none today, the two of Monday this week
    assert figures(org, "frontdesk").desk == DeskFigures(0, 2, 0, 0)
    assert figures(org, "riverside").desk == DeskFigures(0, 0, 0, 0)  # the other estate's desk: nothing of demo


def test_a_housekeeper_sees_the_open_items_assigned_to_them_and_which_are_late(org):
    mine = [complaint(org, "minor", by="frontdesk") for _ in range(2)]
    for item in mine:
        org.fire(item, "dispatch", "cs_supervisor", {"department": "customer_service", "handler": "housekeeper"})
    complaint(org, "minor", by="housekeeper")    # registered, not assigned
    board = figures(org, "housekeeper")
    assert board.desk == DeskFigures(registered_today=1, registered_this_week=1, assigned_open=2, assigned_overdue=0)

    advance(org, at("2026-03-05 09:00"))   # the 2-day limit of both has passed
    assert figures(org, "housekeeper").desk == DeskFigures(0, 1, 2, 2)


def test_a_supervisor_sees_the_first_table_of_the_reports_made_for_their_home_page(org):
    for severity in ("minor", "minor", "important"):
        complaint(org, severity)
    complaint(org, "minor", by="riverside", estate="riverside")
    reports = {r.report: r for r in figures(org, "cs_supervisor").reports}
    assert set(reports) == {"complaints_trend", "service_kpis"}   # workflows/reports: dashboard: [cs_supervisor...]
    trend = reports["complaints_trend"]
    assert len(trend.tables) == 1 and trend.estates == (("demo", "阳光花园"),)
    assert (trend.period.start, trend.period.end) == (date(2026, 1, 12), date(2026, 3, 8))   # eight weeks to this one
    weeks = {row.label: row.cells[0].value for row in trend.tables[0].rows if not row.total}
    assert len(weeks) == 8 and weeks[week_label(date(2026, 3, 2))] == 3       # 新增 this week, this estate only
    assert sum(weeks.values()) == 3
    assert figures(org, "frontdesk").reports == ()


def test_report_panels_are_kept_a_few_minutes_but_the_due_counts_are_always_fresh(org):
    panels = Panels(seconds=300)
    actor = org.actor("cs_supervisor")

    def board() -> Dashboard:
        with org.db.factory() as session:
            return dashboard(session, actor, now=org.clock.now(), panels=panels)

    def this_week(shown: Dashboard) -> Any:
        [trend] = [r for r in shown.reports if r.report == "complaints_trend"]
        return {row.label: row.cells[0].value for row in trend.tables[0].rows}[week_label(date(2026, 3, 2))]

    complaint(org, "important")
    assert this_week(board()) == 1
    complaint(org, "important")
    org.clock.set(at("2026-03-02 09:04"))
    kept = board()
    assert this_week(kept) == 1 and kept.due[0].due_today == 2   # the panel as counted at 09:00; the due counts now
    org.clock.set(at("2026-03-02 09:05"))
    assert this_week(board()) == 2                               # five minutes on: counted again


@contextmanager
def statements(org: Org) -> Iterator[list[str]]:
    """The SQL statements issued meanwhile."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    event.listen(org.db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(org.db.engine, "before_cursor_execute", record)


@pytest.mark.parametrize("username", ["cs_supervisor", "frontdesk"])
def test_the_number_of_statements_does_not_grow_with_the_items(org, username):
    complaint(org, "important")
    actor = org.actor(username)
    figures_of(org, actor)                 # definitions compiled and cached
    with statements(org) as few:
        figures_of(org, actor)
    for severity in ("important", "major", "minor") * 4:
        complaint(org, severity)
        complaint(org, severity, by="riverside", estate="riverside")
    advance(org, at("2026-03-02 11:00"))
    with statements(org) as many:
        board = figures_of(org, actor)
    assert len(many) == len(few)
    # The desk: its few counts. A manager: the due counts, then each home-page report (compute reads
    # the definitions per workflow and estate, then the period's items, history and deadlines in chunks).
    assert len(many) <= (6 if username == "frontdesk" else 60)
    assert not board.empty
