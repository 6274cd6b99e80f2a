"""/healthz: the database answers, migrations at head, a worker pass in the last 5 minutes; 200 or 503."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine.runtime.worker import Heartbeat, PassCounts, record_pass
from engine.store.migrate import head_revision, upgrade
from web import create_app


@pytest.fixture
def health(db, clock):
    """GET /healthz on an app over the test database (SQLite and PostgreSQL), at the clock's time."""
    app = create_app({"TESTING": True, "SECRET_KEY": "test", "DATABASE_URL": db.url, "CLOCK": clock})
    yield app.test_client().get
    app.extensions["estateflow.db"].engine.dispose()


def beat(db, at, name="worker"):
    record_pass(db.factory, Heartbeat("web1", name, 4242, at - timedelta(hours=1)), at, 3, PassCounts(handled=2))


def test_without_any_worker_pass_the_site_is_failing(health):
    response = health("/healthz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "failing" and body["failed"] == ["worker"]
    assert body["database"] == {"ok": True}
    assert body["migrations"] == {"ok": True, "current": head_revision(), "expected": head_revision()}
    assert body["worker"]["ok"] is False and body["worker"]["last_pass_at"] is None


def test_a_recent_worker_pass_makes_it_healthy(health, db, clock):
    beat(db, clock.now() - timedelta(minutes=1))
    response = health("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok" and body["failed"] == []
    assert body["worker"] == {"ok": True, "last_pass_at": "2026-03-02T00:59:00+00:00", "seconds_ago": 60,
                              "limit_seconds": 300}


def test_a_pass_older_than_five_minutes_means_the_worker_stopped(health, db, clock):
    beat(db, clock.now() - timedelta(minutes=6))
    response = health("/healthz")
    assert response.status_code == 503
    assert response.get_json()["failed"] == ["worker"]
    assert response.get_json()["worker"]["seconds_ago"] == 360


def test_the_newest_pass_of_any_worker_counts(health, db, clock):
    beat(db, clock.now() - timedelta(hours=2), name="old-host-worker")
    beat(db, clock.now() - timedelta(seconds=30), name="worker")
    assert health("/healthz").status_code == 200


def test_a_second_pass_of_the_same_worker_updates_its_row(db, clock):
    beat(db, clock.now() - timedelta(minutes=3))
    beat(db, clock.now())
    with db.engine.connect() as connection:
        rows = connection.exec_driver_sql("SELECT host, name, pid, handled FROM worker_passes").all()
    assert [tuple(r) for r in rows] == [("web1", "worker", 4242, 2)]


def test_migrations_behind_the_code_fail(tmp_path, clock):
    url = f"sqlite:///{tmp_path}/behind.db"
    upgrade(url, "0004")
    app = create_app({"TESTING": True, "SECRET_KEY": "test", "DATABASE_URL": url, "CLOCK": clock})
    response = app.test_client().get("/healthz")
    app.extensions["estateflow.db"].engine.dispose()
    assert response.status_code == 503
    body = response.get_json()
    assert body["failed"] == ["migrations", "worker"]
    assert body["migrations"] == {"ok": False, "current": "0004", "expected": head_revision()}


def test_a_database_that_does_not_answer_fails_every_check(clock):
    url = "postgresql+psycopg://nobody@127.0.0.1:9/nowhere?connect_timeout=2"
    app = create_app({"TESTING": True, "SECRET_KEY": "test", "DATABASE_URL": url, "CLOCK": clock})
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["failed"] == ["database", "migrations", "worker"]
    assert "nobody" not in response.get_data(as_text=True)


def test_no_login_no_cookie_no_caching(health, db, clock):
    beat(db, clock.now())
    response = health("/healthz")
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    assert response.headers["Cache-Control"] == "no-store"
    assert response.mimetype == "application/json"


def test_only_checks_and_times_are_shown(health, db, clock):
    beat(db, clock.now())
    body = health("/healthz").get_json()
    assert set(body) == {"status", "failed", "database", "migrations", "worker"}
    text = str(body)
    assert "web1" not in text and "4242" not in text  # not even the worker's host or pid


def test_a_database_never_migrated_fails_migrations(tmp_path, clock):
    app = create_app({"TESTING": True, "SECRET_KEY": "test", "DATABASE_URL": f"sqlite:///{tmp_path}/new.db",
                      "CLOCK": clock})
    body = app.test_client().get("/healthz").get_json()
    app.extensions["estateflow.db"].engine.dispose()
    assert body["failed"] == ["migrations", "worker"] and body["migrations"]["current"] is None
