"""The login throttle: counted in the database, answered at once with 429 and the seconds to wait."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta

import pytest
from _backends import BACKENDS, backend_app
from sqlalchemy import func, select

from engine.access.logins import LoginRules, account_wait, record_failure, record_success, wait_seconds
from engine.cli.demo import PASSWORD
from engine.store.db import transaction
from engine.store.models import AddressFailure, LoginFailure
from web.auth import WRONG

OFFICE, HOME = "10.0.0.1", "10.0.0.2"


def waits(response):
    """The seconds a 429 answer asks to wait, checked against its page and Retry-After header."""
    assert response.status_code == 429
    seconds = int(response.headers["Retry-After"])
    assert f"请 {seconds} 秒后再试" in response.get_data(as_text=True)
    return seconds


def fail(who, times, username="frontdesk"):
    """`times` wrong passwords, each answered with the plain message."""
    for _ in range(times):
        response = who.login(username, "wrong password")
        assert response.status_code == 200 and WRONG in response.get_data(as_text=True)


def test_five_failures_then_429_with_the_seconds(browser):
    office = browser(OFFICE)
    fail(office, 5)
    assert waits(office.login("frontdesk", "wrong password")) == 30
    assert waits(office.login("frontdesk", PASSWORD)) == 30  # not even checked while waiting


def test_the_wait_doubles_with_each_further_failure_up_to_15_minutes(browser, clock):
    office = browser(OFFICE)
    fail(office, 5)
    seen = []
    for _ in range(7):
        wait = waits(office.login("frontdesk", "wrong password"))
        seen.append(wait)
        clock.advance(timedelta(seconds=wait - 1))
        assert waits(office.login("frontdesk", "wrong password")) == 1
        clock.advance(timedelta(seconds=1))
        fail(office, 1)
    assert seen == [30, 60, 120, 240, 480, 900, 900]


def test_a_correct_password_from_another_address_still_logs_in(browser):
    office = browser(OFFICE)
    fail(office, 5)
    assert waits(office.login()) == 30
    home = browser(HOME)
    assert home.login().headers["Location"] == "/"


def test_correct_passwords_never_count_and_reset_the_count(browser):
    office = browser(OFFICE)
    for _ in range(2):
        fail(office, 4)
        assert office.login().status_code == 302
        office.logout()
    for _ in range(6):
        assert office.login().status_code == 302
        office.logout()


def test_unknown_usernames_count_like_wrong_passwords(browser):
    office = browser(OFFICE)
    fail(office, 5, username="nobody")
    assert waits(office.login("nobody", "wrong password")) == 30


def test_the_account_is_counted_case_blind(browser):
    office = browser(OFFICE)
    for name in ("frontdesk", "FrontDesk", "FRONTDESK", "frontDesk", "Frontdesk"):
        fail(office, 1, username=name)
    assert waits(office.login("frontdesk", PASSWORD)) == 30


@pytest.mark.parametrize("app_config", [{"LOGIN_ADDRESS_MAX_FAILURES": 6}])
def test_an_address_is_refused_after_its_ceiling_across_accounts(browser, clock):
    office = browser(OFFICE)
    for name in ("frontdesk", "engineer", "finance"):
        fail(office, 2, username=name)
    assert waits(office.login("security", PASSWORD)) == 15 * 60
    assert browser(HOME).login("security").status_code == 302
    clock.advance(timedelta(minutes=15))
    assert office.login("security").status_code == 302


@pytest.mark.parametrize("app_config", [{"LOGIN_MAX_FAILURES": 3, "LOGIN_WAIT_SECONDS": 10}])
def test_the_limits_are_settings(browser):
    office = browser(OFFICE)
    fail(office, 3)
    assert waits(office.login()) == 10


def test_no_worker_sleeps_and_logs_name_no_one(browser, caplog, monkeypatch):
    monkeypatch.setattr("time.sleep", lambda seconds: pytest.fail(f"slept {seconds} s in a request"))
    office = browser(OFFICE)
    with caplog.at_level(logging.INFO, logger="estateflow.auth"):
        fail(office, 5)
        waits(office.login("frontdesk", "wrong password"))
        office.login("frontdesk", PASSWORD)
        browser(HOME).login()
    assert "login.failed" in caplog.text and "login.throttled" in caplog.text and "login.succeeded" in caplog.text
    assert "frontdesk" not in caplog.text.lower() and "wrong password" not in caplog.text and PASSWORD not in caplog.text


def test_parallel_guesses_all_count(browser, world):
    guessers = [browser(OFFICE) for _ in range(8)]
    tokens = [g.token() for g in guessers]
    start = threading.Barrier(len(guessers))
    statuses = []

    def guess(guesser, token):
        start.wait()
        response = guesser.client.post("/login", data={"username": "frontdesk", "password": "wrong password",
                                                       "csrf_token": token})
        statuses.append(response.status_code)

    threads = [threading.Thread(target=guess, args=pair) for pair in zip(guessers, tokens, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with world.factory() as session:
        counted = session.scalar(select(LoginFailure.failures))
    assert statuses.count(200) == counted and counted + statuses.count(429) == 8 and counted >= 5


@pytest.fixture(params=BACKENDS)
def any_app(request, clock):
    """The seeded app on SQLite, and on PostgreSQL when configured."""
    with backend_app(request, request.param, clock) as app:
        yield app


def test_the_throttle_holds_on_both_databases(any_app, browser, clock):
    office = browser(OFFICE, on=any_app)
    guessers = [browser(OFFICE, on=any_app) for _ in range(6)]
    tokens = [g.token() for g in guessers]
    start = threading.Barrier(len(guessers))
    statuses = []

    def guess(guesser, token):
        start.wait()
        statuses.append(guesser.client.post("/login", data={
            "username": "frontdesk", "password": "wrong password", "csrf_token": token}).status_code)

    threads = [threading.Thread(target=guess, args=pair) for pair in zip(guessers, tokens, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses.count(200) >= 5
    assert waits(office.login()) >= 30
    assert browser(HOME, on=any_app).login().headers["Location"] == "/"
    clock.advance(timedelta(minutes=15))
    assert office.login().headers["Location"] == "/"


# The engine side, on SQLite and PostgreSQL.

def count(db, model, column):
    with db.factory() as session:
        return session.scalar(select(func.sum(column)).select_from(model)) or 0


def test_parallel_failures_all_count_on_both_databases(db, clock):
    rules, threads_n = LoginRules(), 16
    start = threading.Barrier(threads_n)

    def guess():
        start.wait()
        with transaction(db.factory) as session:
            record_failure(session, "frontdesk", OFFICE, clock.now(), rules)

    threads = [threading.Thread(target=guess) for _ in range(threads_n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert count(db, LoginFailure, LoginFailure.failures) == threads_n
    assert count(db, AddressFailure, AddressFailure.failures) == threads_n


def test_the_ceiling_of_100_per_address_on_both_databases(db, clock):
    rules = LoginRules()
    with transaction(db.factory) as session:
        for n in range(100):
            record_failure(session, f"user{n % 25}", OFFICE, clock.now(), rules)  # 4 each: no account waits
    with db.factory() as session:
        assert wait_seconds(session, "someone", OFFICE, clock.now(), rules) == 15 * 60
        assert wait_seconds(session, "someone", HOME, clock.now(), rules) == 0
    clock.advance(timedelta(minutes=15))
    with db.factory() as session:
        assert wait_seconds(session, "someone", OFFICE, clock.now(), rules) == 0
    with transaction(db.factory) as session:  # a new window starts at the next failure, old rows pruned
        record_failure(session, "user0", OFFICE, clock.now(), rules)
    assert count(db, AddressFailure, AddressFailure.failures) == 1


def test_a_success_resets_and_old_counts_are_forgotten_on_both_databases(db, clock):
    rules = LoginRules()
    with transaction(db.factory) as session:
        for _ in range(5):
            record_failure(session, "frontdesk", OFFICE, clock.now(), rules)
        record_failure(session, "frontdesk", HOME, clock.now(), rules)
        record_success(session, "frontdesk", OFFICE)
    with db.factory() as session:
        assert wait_seconds(session, "frontdesk", OFFICE, clock.now(), rules) == 0
    assert count(db, LoginFailure, LoginFailure.failures) == 1  # HOME's failure stays
    clock.advance(rules.forget_after + timedelta(seconds=1))
    with transaction(db.factory) as session:
        record_failure(session, "engineer", OFFICE, clock.now(), rules)
    with db.factory() as session:
        assert session.scalars(select(LoginFailure.account)).all() == ["engineer"]


def test_the_wait_rule():
    rules = LoginRules()
    at = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
    wait = [account_wait(n, at, at, rules).total_seconds() for n in range(4, 12)]
    assert wait == [0, 30, 60, 120, 240, 480, 900, 900]
    assert account_wait(10_000, at, at, rules) == rules.longest_wait  # no overflow for a long-running guesser
    assert account_wait(5, at, at + timedelta(seconds=29.5), rules) == timedelta(seconds=0.5)
