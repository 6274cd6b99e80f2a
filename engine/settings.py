"""Deployment settings: every ESTATEFLOW_* variable in one table, and the site's estateflow.env.

    SETTINGS                 every setting: name, default, what it does (docs/deployment.md and
                             `estateflow init` list them from here)
    load_env_file(path)      read ./estateflow.env into os.environ; real environment variables win

Commands and the web app read the environment (os.environ) after `load_env_file` has run,
so a deployer sets everything in one file and can still override a value per process.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ENV_FILE", "SETTINGS", "Setting", "load_env_file", "secret_key_problem"]

ENV_FILE = "estateflow.env"
"""Read from the current directory (the site folder `estateflow init` writes) when present."""


@dataclass(frozen=True, slots=True)
class Setting:
    """One environment variable: its name, its default (as text, '' for none) and what it does."""

    name: str
    default: str
    help: str
    group: str = "general"


SETTINGS: tuple[Setting, ...] = (
    Setting("ESTATEFLOW_DATABASE_URL", "sqlite:///instance/estateflow.db",
            "The database: postgresql+psycopg://USER:PASSWORD@HOST/DB for several workers or hosts.", "general"),
    Setting("ESTATEFLOW_WORKFLOWS", "workflows", "The definitions folder (roles.yaml, workflows, estates/).",
            "general"),
    Setting("ESTATEFLOW_SECRET_KEY", "",
            "Signs sessions and CSRF tokens: at least 32 random characters; `serve` refuses to start without it.",
            "web"),
    Setting("ESTATEFLOW_BIND", "127.0.0.1:8000", "Where `estateflow serve` listens (HOST:PORT).", "web"),
    Setting("ESTATEFLOW_WORKERS", "2", "How many gunicorn worker processes `estateflow serve` starts.", "web"),
    Setting("ESTATEFLOW_PROXY_HOPS", "0",
            "How many reverse proxies (nginx) stand in front: their X-Forwarded-* headers are trusted.", "web"),
    Setting("ESTATEFLOW_HTTPS", "0", "1 when the site is served over HTTPS: the session cookie is marked Secure.",
            "web"),
    Setting("ESTATEFLOW_SESSION_IDLE_HOURS", "8",
            "A login ends after this many hours without a request (a counter PC left logged in).", "logins"),
    Setting("ESTATEFLOW_SESSION_MAX_HOURS", "24",
            "A login ends this many hours after it began, however active: covers a 24-hour duty shift.", "logins"),
    Setting("ESTATEFLOW_LOGIN_MAX_FAILURES", "5",
            "Wrong passwords in a row for one account from one address before it must wait.", "logins"),
    Setting("ESTATEFLOW_LOGIN_WAIT_SECONDS", "30",
            "The first wait after those failures; it doubles with each further wrong password.", "logins"),
    Setting("ESTATEFLOW_LOGIN_WAIT_MAX_SECONDS", "900", "The longest wait (15 minutes).", "logins"),
    Setting("ESTATEFLOW_LOGIN_ADDRESS_MAX_FAILURES", "100",
            "Wrong passwords from one address, across accounts, before that address must wait; raise it for "
            "a large office behind one address.", "logins"),
    Setting("ESTATEFLOW_LOGIN_ADDRESS_WINDOW_MINUTES", "15",
            "The window those address failures are counted in, and the longest wait it imposes.", "logins"),
    Setting("ESTATEFLOW_THREADS", "1",
            "Threads per `estateflow serve` worker: 1 runs sync workers, more runs gthread workers.", "web"),
    Setting("ESTATEFLOW_WORKER_INTERVAL", "60",
            "Seconds between two passes of `estateflow worker` (time limits, then notifications).", "worker"),
    Setting("ESTATEFLOW_SENDER", "log", "How notifications are delivered: log, smtp or webhook.", "notifications"),
    Setting("ESTATEFLOW_SMTP_HOST", "", "The mail server (with ESTATEFLOW_SENDER=smtp).", "notifications"),
    Setting("ESTATEFLOW_SMTP_PORT", "", "Its port (default 587 with STARTTLS, else 25).", "notifications"),
    Setting("ESTATEFLOW_SMTP_FROM", "", "The sender address of notification mails.", "notifications"),
    Setting("ESTATEFLOW_SMTP_USER", "", "SMTP login, if the server needs one.", "notifications"),
    Setting("ESTATEFLOW_SMTP_PASSWORD", "", "SMTP password.", "notifications"),
    Setting("ESTATEFLOW_SMTP_STARTTLS", "0", "1 to use STARTTLS.", "notifications"),
    Setting("ESTATEFLOW_WEBHOOK_URL", "", "Where the webhook sender POSTs JSON (with ESTATEFLOW_SENDER=webhook).",
            "notifications"),
    Setting("ESTATEFLOW_WEBHOOK_SECRET", "", "Signs each webhook body (HMAC-SHA256), if set.", "notifications"),
    Setting("ESTATEFLOW_WEBHOOK_TIMEOUT", "10", "Seconds to wait for the webhook to answer.", "notifications"),
    Setting("ESTATEFLOW_SMS_SENDER", "log",
            "How text messages to residents are delivered: log (the number masked) or webhook.", "notifications"),
    Setting("ESTATEFLOW_SMS_WEBHOOK_URL", "", "Where the SMS gateway webhook POSTs each message (with "
            "ESTATEFLOW_SMS_SENDER=webhook).", "notifications"),
    Setting("ESTATEFLOW_SMS_WEBHOOK_SECRET", "", "Signs each SMS webhook body (HMAC-SHA256) and checks the "
            "gateway's signed reply reports (POST /sms/inbound, off without it).", "notifications"),
    Setting("ESTATEFLOW_SMS_WEBHOOK_TIMEOUT", "10", "Seconds to wait for the SMS gateway to answer.", "notifications"),
    Setting("ESTATEFLOW_SEND_MAX_ATTEMPTS", "10", "Delivery attempts before a notification is given up.",
            "notifications"),
    Setting("ESTATEFLOW_SEND_RETRY_BASE", "30", "Seconds before the first retry; doubles each time.",
            "notifications"),
    Setting("ESTATEFLOW_SEND_RETRY_CAP", "3600", "The longest wait between retries, in seconds.", "notifications"),
    Setting("ESTATEFLOW_FILES_DIR", "instance/files",
            "Where attached photos and documents are kept (outside the database); back it up with the database "
            "(`estateflow backup` copies it).", "files"),
    Setting("ESTATEFLOW_FILES_QUOTA_MB", "2048",
            "The attached files one estate may keep, in MB; past it uploads are refused with a note to call "
            "ESTATEFLOW_FILES_CONTACT.", "files"),
    Setting("ESTATEFLOW_FILES_CONTACT", "系统管理员",
            "Who staff are told to call when an estate's file quota is full (e.g. 信息部 王工 8801).", "files"),
    Setting("ESTATEFLOW_ACCESS_LOG_DAYS", "365",
            "Days the access log (who saw residents' data in full, exports, PIPL acts) is kept; at least 183 "
            "(six months), whatever is set.", "privacy"),
    Setting("ESTATEFLOW_RESIDENT_RETENTION_DAYS", "1095",
            "Days after moving out a resident's name and phone are kept: `estateflow resident anonymise "
            "--retention` anonymises everyone past it.", "privacy"),
)


def load_env_file(path: Path | str = ENV_FILE) -> bool:
    """Set each variable of `path` (KEY=VALUE lines, # comments) that the environment does not already
    have; returns whether the file was there. Real environment variables always win."""
    from dotenv import dotenv_values  # well kept, and handles quoting and escapes as shells do

    file = Path(path)
    if not file.is_file():
        return False
    for name, value in dotenv_values(file).items():
        if value is not None and name not in os.environ:
            os.environ[name] = value
    return True


SECRET_KEY_MIN_LENGTH = 32
# Values that have been written down somewhere (old defaults, docs, tutorials, tests): anyone
# could sign a session with them. Compared lower-cased, stripped.
_KNOWN_SECRET_KEYS = frozenset({
    "dev", "development", "test", "testing", "bench", "secret", "secret-key", "secret_key", "changeme",
    "change-me", "change_me", "please-change-me", "your-secret-key", "a real secret", "from the environment",
    "estateflow", "demo1234",
})


def secret_key_problem(value: str | None) -> str | None:
    """Why `value` must not sign sessions (one English line), or None when it is usable.

    The one rule for every way of starting the web app: `estateflow serve` refuses to start
    and `create_app` (hence `flask run`) refuses to build the app.
    """
    how = "set ESTATEFLOW_SECRET_KEY to at least 32 random characters " \
          "(python -c 'import secrets; print(secrets.token_hex(32))')"
    if not value:
        return f"ESTATEFLOW_SECRET_KEY is not set: {how}"
    if value.strip().lower() in _KNOWN_SECRET_KEYS:
        return f"ESTATEFLOW_SECRET_KEY is a known development value: {how}"
    if len(value) < SECRET_KEY_MIN_LENGTH:
        return f"ESTATEFLOW_SECRET_KEY is too short ({len(value)} characters): {how}"
    if len(set(value)) < 8:  # 'xxxx...' or '0000...': a placeholder, not a secret
        return f"ESTATEFLOW_SECRET_KEY looks like a placeholder: {how}"
    return None
