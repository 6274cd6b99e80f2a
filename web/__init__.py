"""The staff web UI (Flask): it translates HTTP to engine calls and engine results to pages.

    create_app(config=None) -> Flask

Settings come, in order, from web/config.py, instance/config.py (optional), the
ESTATEFLOW_* environment variables (ESTATEFLOW_DATABASE_URL, ESTATEFLOW_SECRET_KEY; also
read from ./estateflow.env when present, the environment winning)
and the `config` mapping (tests). Each module wires itself in its `init_app(app)`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask
from flask_wtf.csrf import CSRFProtect

from engine.reports.dashboard import Panels
from engine.settings import load_env_file
from web.config import Config, check_secret_key, serve_behind

csrf = CSRFProtect()


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: settings, database, login, CSRF, error pages, blueprints."""
    load_env_file()  # ./estateflow.env, as the CLI reads it; real environment variables win
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_object(Config)
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env("ESTATEFLOW")
    if config:
        app.config.update(config)
    check_secret_key(app)
    serve_behind(app)
    # The home page's report panels, kept a few minutes per process (engine/reports/dashboard.py).
    app.extensions["estateflow.report_panels"] = Panels()

    from web import (
        account,
        admin,
        admin_data,
        admin_logs,
        admin_units,
        admin_users,
        auth,
        authoring,
        authoring_publish,
        db,
        errors,
        files,
        health,
        items,
        migrations,
        pages,
        reports,
        residents_messages,
        security,
        units,
        versions,
        workflows,
    )

    # First: its NUL check runs before any other request hook, its `int` converter before any route.
    security.init_app(app)
    db.init_app(app)
    auth.init_app(app)
    admin_data.init_app(app)  # before CSRF: it sets the import confirmation's form size before the form is read
    files.init_app(app)  # the request size bound (uploads)
    csrf.init_app(app)
    errors.init_app(app)
    pages.init_app(app)
    health.init_app(app)
    account.init_app(app)
    admin_logs.init_app(app)
    residents_messages.init_app(app)
    for module in (auth, items, workflows, account, units, admin, admin_units, admin_users, admin_data, admin_logs,
                   files, residents_messages, reports, versions, migrations, authoring, authoring_publish):
        app.register_blueprint(module.bp)
    return app
