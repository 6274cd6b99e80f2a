"""create_app: configuration layers, the refused development key, cookie flags."""

from __future__ import annotations

import pytest

from web import create_app


def test_not_testing_unless_told(tmp_path):
    app = create_app({"SECRET_KEY": "a real secret", "DATABASE_URL": f"sqlite:///{tmp_path}/x.db"})
    assert not app.testing


def test_the_development_secret_key_is_refused_outside_debug_and_testing(tmp_path):
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/x.db"})


def test_prefixed_environment_variables_are_read(tmp_path, monkeypatch):
    monkeypatch.setenv("ESTATEFLOW_PER_PAGE", "7")
    monkeypatch.setenv("ESTATEFLOW_SECRET_KEY", "from the environment")
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/x.db"})
    assert app.config["PER_PAGE"] == 7 and app.config["SECRET_KEY"] == "from the environment"


def test_session_cookie_is_httponly_and_samesite(auth):
    response = auth.login("frontdesk")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_static_css_is_served_and_no_cdn(client):
    response = client.get("/static/style.css")
    assert response.status_code == 200
    response.close()  # the file is streamed; close it, or the open file is reported at exit
    page = client.get("/login").get_data(as_text=True)
    assert "http://" not in page and "https://" not in page
