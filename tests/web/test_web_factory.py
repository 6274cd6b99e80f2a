"""create_app: configuration layers, the refused secret keys, proxies and Secure cookies, cookie flags."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from flask import request

from engine.settings import secret_key_problem
from web import create_app

KEY = "k3y-for-the-factory-tests-0123456789abcdef"


@pytest.fixture
def make_app(tmp_path, web_template):
    """Build a (non-testing unless told) app on a copy of the seeded database, with these settings."""
    apps = []

    def make(**config):
        path = tmp_path / f"web{len(apps)}.db"
        shutil.copyfile(web_template, path)
        app = create_app({"SECRET_KEY": KEY, "DATABASE_URL": f"sqlite:///{path}", **config})
        # What the app believes about the request, after ProxyFix.
        app.add_url_rule("/_seen", "seen", lambda: {"address": request.remote_addr, "host": request.host,
                                                    "scheme": request.scheme})
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.extensions["estateflow.db"].engine.dispose()


def test_not_testing_unless_told(make_app):
    assert not make_app().testing


@pytest.mark.parametrize(("key", "reason"), [
    (None, "is not set"),
    ("", "is not set"),
    ("dev", "known development value"),
    ("a real secret", "known development value"),
    ("s3cr3t-but-only-29-characters", "too short (29 characters)"),
    ("x" * 40, "placeholder"),
])
def test_a_missing_short_or_known_secret_key_is_refused(tmp_path, key, reason):
    assert reason in secret_key_problem(key)
    for debug in (False, True):  # debug included: a forged cookie would log in as 系统管理员
        with pytest.raises(RuntimeError, match=reason.replace("(", r"\(").replace(")", r"\)")):
            create_app({"SECRET_KEY": key, "DEBUG": debug, "DATABASE_URL": f"sqlite:///{tmp_path}/x.db"})


def test_a_random_key_of_32_characters_is_accepted():
    assert secret_key_problem("0123456789abcdef0123456789abcdef") is None


def test_testing_takes_the_tests_own_key_but_not_none(tmp_path):
    url = f"sqlite:///{tmp_path}/x.db"
    assert create_app({"TESTING": True, "SECRET_KEY": "test", "DATABASE_URL": url}).testing
    with pytest.raises(RuntimeError, match="not set"):
        create_app({"TESTING": True, "DATABASE_URL": url})


def test_prefixed_environment_variables_are_read(tmp_path, monkeypatch):
    monkeypatch.setenv("ESTATEFLOW_PER_PAGE", "7")
    monkeypatch.setenv("ESTATEFLOW_SECRET_KEY", "from-the-environment-0123456789abcdef")
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/x.db"})
    assert app.config["PER_PAGE"] == 7 and app.config["SECRET_KEY"] == "from-the-environment-0123456789abcdef"


@pytest.mark.parametrize("debug", ["0", "1"])
def test_flask_run_without_a_key_refuses_in_one_line(tmp_path, debug):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ESTATEFLOW_", "FLASK_"))}
    env.update(FLASK_DEBUG=debug, ESTATEFLOW_DATABASE_URL=f"sqlite:///{tmp_path}/x.db")
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "web", "run", "--port", "0"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if "ESTATEFLOW_SECRET_KEY" in line]
    assert len(lines) == 1 and "is not set" in lines[0]


def test_session_cookie_is_httponly_and_samesite(auth):
    response = auth.login("frontdesk")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def _session_cookie(client, **headers):
    response = client.get("/login", headers=headers)
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    assert cookies, "GET /login sets the session cookie (its CSRF token)"
    return cookies[0]


def test_over_plain_http_the_session_cookie_is_not_secure(make_app):
    assert "Secure" not in _session_cookie(make_app().test_client())


def test_estateflow_https_marks_the_session_cookie_secure(make_app, monkeypatch):
    monkeypatch.setenv("ESTATEFLOW_HTTPS", "1")
    app = make_app()
    assert app.config["SESSION_COOKIE_SECURE"] and app.config["REMEMBER_COOKIE_SECURE"]
    assert "Secure" in _session_cookie(app.test_client())


def test_a_request_forwarded_as_https_by_a_trusted_proxy_gets_a_secure_cookie(make_app):
    app = make_app(PROXY_HOPS=1)
    assert "Secure" in _session_cookie(app.test_client(), **{"X-Forwarded-Proto": "https"})
    assert "Secure" not in _session_cookie(app.test_client(), **{"X-Forwarded-Proto": "http"})


def test_without_proxy_hops_forwarded_headers_are_not_believed(make_app):
    client = make_app().test_client()
    headers = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example"}
    assert client.get("/_seen", headers=headers).get_json() == {
        "address": "127.0.0.1", "host": "localhost", "scheme": "http"}
    assert "Secure" not in _session_cookie(client, **headers)


def test_proxy_hops_believe_that_many_proxies(make_app, monkeypatch):
    monkeypatch.setenv("ESTATEFLOW_PROXY_HOPS", "1")
    client = make_app().test_client()
    headers = {"X-Forwarded-For": "198.51.100.7, 203.0.113.9", "X-Forwarded-Proto": "https",
               "X-Forwarded-Host": "wuye.example.cn"}
    # One proxy: only the address it appended is believed, not what the client claimed before it.
    assert client.get("/_seen", headers=headers).get_json() == {
        "address": "203.0.113.9", "host": "wuye.example.cn", "scheme": "https"}


def test_proxy_hops_must_be_a_small_number(tmp_path):
    with pytest.raises(RuntimeError, match="ESTATEFLOW_PROXY_HOPS"):
        create_app({"TESTING": True, "SECRET_KEY": "test", "PROXY_HOPS": "two",
                    "DATABASE_URL": f"sqlite:///{tmp_path}/x.db"})


def test_static_css_is_served_and_no_cdn(client):
    response = client.get("/static/style.css")
    assert response.status_code == 200
    response.close()  # the file is streamed; close it, or the open file is reported at exit
    page = client.get("/login").get_data(as_text=True)
    assert "http://" not in page and "https://" not in page


def test_by_default_no_proxy_is_believed_and_cookies_are_not_forced_secure(tmp_path: Path):
    app = create_app({"TESTING": True, "SECRET_KEY": "test", "DATABASE_URL": f"sqlite:///{tmp_path}/x.db"})
    assert app.config["HTTPS"] is False and app.config["PROXY_HOPS"] == 0
