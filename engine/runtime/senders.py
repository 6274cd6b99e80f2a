"""Who delivers a notification: the senders the outbox's drain hands each claimed message to.

    Message, Recipient     one claimed outbox row and the people it goes to (engine/runtime/outbox.py)
    Sender                 the protocol: send(message) delivers or raises (any exception is a failed attempt)
    LogSender              the default: one log line, nothing personal in it
    SmtpSender             mail to the recipients' addresses
    WebhookSender          a JSON POST to a gateway, signed with a shared secret when one is set
    sender_from_env()      the one ESTATEFLOW_SENDER names, set up from the environment
    safe_error(error)      an error reduced to its kind and codes, safe to log and store

Text messages to residents have their own senders (engine/runtime/sms.py), built on these.
Logs and errors never hold personal data: no body, no addresses (an SMTP reply can quote one).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import mimetypes
import os
import smtplib
import ssl
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol

from engine.runtime.resident_consent import mask as mask_phone

__all__ = [
    "LogSender", "Message", "Recipient", "SendError", "Sender", "SmtpSender", "WebhookSender", "safe_error",
    "sender_from_env",
]

log = logging.getLogger("estateflow.outbox")  # the drain's logger: a send and its outcome log under one name


class SendError(Exception):
    """A delivery that did not happen; its text must carry no personal data (it is logged)."""


@dataclass(frozen=True, slots=True)
class Recipient:
    """A person told: a holder of the row's role in its estate, or the person the row names (or a stand-in)."""

    user_id: int
    name: str
    email: str | None
    phone: str | None


@dataclass(frozen=True, slots=True)
class Message:
    """One outbox row ready to send."""

    id: int
    item_id: int | None
    """None: a message about no item (a report e-mailed by `estateflow report send`)."""
    number: str
    """The item's number; empty when there is no item."""
    estate_id: str
    role: str | None
    subject: str
    body: str
    attempt: int
    recipients: tuple[Recipient, ...]
    user_id: int | None = None
    """The person the row is for (None: a role's row)."""
    phone: str | None = None
    """A text message to a resident (engine/runtime/resident_messages.py): the number; role and user_id are None."""
    template: str | None = None
    """The resident template's id (with `phone`)."""
    attachment_name: str | None = None
    attachment: bytes | None = None
    """A file sent with the e-mail (a report's XLSX); the e-mail sender attaches it, the others name it."""

    def label(self) -> str:
        """How logs name the message: nothing personal (the subject is the workflow title and the number,
        or a resident template's label; a resident's number is masked)."""
        if self.phone is not None:
            to = f"resident {mask_phone(self.phone)}, template {self.template}"
        else:
            to = f"role {self.role}" if self.role is not None else f"user {self.user_id}"
        about = f"item {self.number}" if self.item_id is not None else "no item"
        return f"notification {self.id} ({to}, estate {self.estate_id}, {about})"


class Sender(Protocol):
    """Delivers a message or raises (any exception counts as a failed attempt)."""

    name: str

    def send(self, message: Message) -> None:
        """Deliver `message` to its recipients."""
        ...


class LogSender:
    """The default: one log line per notification (trials; deployments without a gateway yet)."""

    name = "log"

    def send(self, message: Message) -> None:
        """Log who would be told about what; the body and addresses stay out of the log."""
        told = "the resident" if message.phone is not None else f"{len(message.recipients)} recipient(s)"
        log.info("%s: %s (%s)", message.label(), message.subject, told)


class SmtpSender:
    """Mail to the email addresses of the users holding the role in the estate."""

    name = "smtp"

    def __init__(self, host: str, port: int = 25, *, from_addr: str, user: str | None = None,
                 password: str | None = None, starttls: bool = False, timeout: float = 30.0) -> None:
        self.host, self.port, self.from_addr = host, port, from_addr
        self.user, self.password, self.starttls, self.timeout = user, password, starttls, timeout

    def send(self, message: Message) -> None:
        """One mail to every recipient with an address; none on file is a failed attempt (retried)."""
        to = [r.email for r in message.recipients if r.email]
        if not to:
            to_whom = f"role {message.role}" if message.role is not None else f"user {message.user_id}"
            raise SendError(f"no email address on file for {to_whom} in estate {message.estate_id}")
        mail = EmailMessage()
        mail["Subject"] = message.subject
        mail["From"] = self.from_addr
        mail["To"] = ", ".join(to)
        mail["X-Estateflow-Delivery"] = str(message.id)
        mail.set_content(message.body)
        if message.attachment is not None:
            name = message.attachment_name or "attachment"
            maintype, _, subtype = (mimetypes.guess_type(name)[0] or "application/octet-stream").partition("/")
            mail.add_attachment(message.attachment, maintype=maintype, subtype=subtype, filename=name)
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self.user:
                smtp.login(self.user, self.password or "")
            smtp.send_message(mail, self.from_addr, to)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # urllib would follow a 301/302 as a GET without the body and call that success.
    def redirect_request(self, *_args: object, **_kwargs: object) -> None:
        return None


class WebhookSender:
    """A JSON POST to a gateway (SMS, WeChat...), optionally signed with a shared secret."""

    name = "webhook"

    def __init__(self, url: str, *, secret: str | None = None, timeout: float = 10.0) -> None:
        if not url.lower().startswith(("http://", "https://")):
            raise ValueError("ESTATEFLOW_WEBHOOK_URL must be an http:// or https:// URL")
        self.url, self.secret, self.timeout = url, secret, timeout
        self._opener = urllib.request.build_opener(_NoRedirect)

    def payload(self, message: Message) -> bytes:
        """The request body: the message and its recipients' addresses."""
        document = {
            "id": message.id, "role": message.role, "user_id": message.user_id, "estate": message.estate_id,
            "item_id": message.item_id,
            "number": message.number, "subject": message.subject, "body": message.body,
            # The file itself stays out of the JSON: a gateway (SMS, WeChat) gets its name only.
            "attachment_name": message.attachment_name,
            "recipients": [{"user_id": r.user_id, "name": r.name, "email": r.email, "phone": r.phone}
                           for r in message.recipients],
        }
        return json.dumps(document, ensure_ascii=False).encode("utf-8")

    def signature(self, body: bytes) -> str:
        """`sha256=` and the hex HMAC-SHA256 of the body under the shared secret."""
        assert self.secret is not None
        return "sha256=" + hmac.new(self.secret.encode("utf-8"), body, hashlib.sha256).hexdigest()

    def send(self, message: Message) -> None:
        """POST the payload; anything but a 2xx answer is a failed attempt."""
        body = self.payload(message)
        headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "estateflow",
                   "X-Estateflow-Delivery": str(message.id)}
        if self.secret:
            headers["X-Estateflow-Signature"] = self.signature(body)
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                response.read(65536)
        except urllib.error.HTTPError as error:
            error.close()
            raise SendError(f"HTTP {error.code} from the webhook") from None


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def sender_from_env(env: Mapping[str, str] | None = None) -> Sender:
    """The sender ESTATEFLOW_SENDER names (log, the default; smtp; webhook), set up from the environment.

    Raises:
        ValueError: an unknown sender or a missing or malformed setting.
    """
    env = os.environ if env is None else env
    kind = (env.get("ESTATEFLOW_SENDER") or "log").strip().lower()
    if kind == "log":
        return LogSender()
    if kind == "smtp":
        host, from_addr = env.get("ESTATEFLOW_SMTP_HOST"), env.get("ESTATEFLOW_SMTP_FROM")
        if not host or not from_addr:
            raise ValueError("ESTATEFLOW_SENDER=smtp needs ESTATEFLOW_SMTP_HOST and ESTATEFLOW_SMTP_FROM")
        starttls = _flag(env.get("ESTATEFLOW_SMTP_STARTTLS"))
        return SmtpSender(host, int(env.get("ESTATEFLOW_SMTP_PORT") or (587 if starttls else 25)),
                          from_addr=from_addr, user=env.get("ESTATEFLOW_SMTP_USER") or None,
                          password=env.get("ESTATEFLOW_SMTP_PASSWORD") or None, starttls=starttls)
    if kind == "webhook":
        url = env.get("ESTATEFLOW_WEBHOOK_URL")
        if not url:
            raise ValueError("ESTATEFLOW_SENDER=webhook needs ESTATEFLOW_WEBHOOK_URL")
        return WebhookSender(url, secret=env.get("ESTATEFLOW_WEBHOOK_SECRET") or None,
                             timeout=float(env.get("ESTATEFLOW_WEBHOOK_TIMEOUT") or 10))
    raise ValueError(f"ESTATEFLOW_SENDER must be log, smtp or webhook, not {kind!r}")


def safe_error(error: BaseException) -> str:
    """An error reduced to something safe to log and store: its kind and a code, never its text.

    Senders raise SendError with text they wrote themselves; any other exception may
    quote a recipient (SMTP replies do), so only its class name and numeric codes survive.
    """
    if isinstance(error, SendError):
        return str(error)[:500]
    parts = [type(error).__name__]
    for attribute in ("smtp_code", "code", "errno", "status"):
        value = getattr(error, attribute, None)
        if isinstance(value, int):
            parts.append(f"{attribute}={value}")
    reason = getattr(error, "reason", None)  # urllib.error.URLError wraps the socket error
    if isinstance(reason, BaseException):
        parts.append(f"({safe_error(reason)})")
    return " ".join(parts)
