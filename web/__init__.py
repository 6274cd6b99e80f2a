"""The staff web UI (Flask): it translates HTTP to engine calls and engine results to pages.

    create_app(config=None) -> Flask

Settings come, in order, from web/config.py, instance/config.py (optional), the
ESTATEFLOW_* environment variables (ESTATEFLOW_DATABASE_URL, ESTATEFLOW_SECRET_KEY)
and the `config` mapping (tests). Each module wires itself in its `init_app(app)`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask
from flask_wtf.csrf import CSRFProtect

from web.config import DEV_SECRET_KEY, Config

csrf = CSRFProtect()


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: settings, database, login, CSRF, error pages, blueprints."""
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_object(Config)
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env("ESTATEFLOW")
    if config:
        app.config.update(config)
    if app.config["SECRET_KEY"] == DEV_SECRET_KEY and not (app.debug or app.testing):
        raise RuntimeError("SECRET_KEY is the development default: set ESTATEFLOW_SECRET_KEY "
                           "(or SECRET_KEY in instance/config.py) before serving")

    from web import auth, db, errors, items, pages, workflows

    db.init_app(app)
    auth.init_app(app)
    csrf.init_app(app)
    errors.init_app(app)
    pages.init_app(app)
    app.register_blueprint(auth.bp)
    app.register_blueprint(items.bp)
    app.register_blueprint(workflows.bp)
    return app
