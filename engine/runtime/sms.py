"""Sending text messages to residents: the SMS gateway webhook and the log sender.

`estateflow send` drains the outbox with two senders: the staff's (ESTATEFLOW_SENDER) and this
one for the rows that are text messages to residents (engine/runtime/resident_messages.py),
so a resident's number never reaches the staff's mail server or webhook.

    ESTATEFLOW_SMS_SENDER           log (default: a log line, the number masked) or webhook
    ESTATEFLOW_SMS_WEBHOOK_URL      the gateway's http(s) URL (required for webhook)
    ESTATEFLOW_SMS_WEBHOOK_SECRET   signs each body: X-Estateflow-Signature: sha256=<HMAC-SHA256 hex>;
                                    also the secret the gateway signs its opt-out reports with
                                    (web/residents_messages.py, POST /sms/inbound)
    ESTATEFLOW_SMS_WEBHOOK_TIMEOUT  seconds, default 10

Failed attempts are retried by the outbox like any notification (RetryPolicy); the log lines
name a message by outbox id, masked number, template and item number, never its text.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Mapping

from engine.runtime.senders import LogSender, Message, Sender, WebhookSender

__all__ = ["SmsWebhookSender", "sign", "sms_sender_from_env"]


def sign(secret: str, body: bytes) -> str:
    """`sha256=` and the hex HMAC-SHA256 of `body` under `secret` (both ways: our requests, the gateway's)."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


class SmsWebhookSender(WebhookSender):
    """A JSON POST per text message to the SMS gateway; any 2xx is success, the rest a failed attempt."""

    name = "sms_webhook"

    def payload(self, message: Message) -> bytes:
        """The request body: the number and the text (the gateway's whole job), the template and the item."""
        document = {"id": message.id, "estate": message.estate_id, "item_id": message.item_id,
                    "number": message.number, "template": message.template, "label": message.subject,
                    "phone": message.phone, "text": message.body}
        return json.dumps(document, ensure_ascii=False).encode("utf-8")


def sms_sender_from_env(env: Mapping[str, str] | None = None) -> Sender:
    """The resident-message sender ESTATEFLOW_SMS_SENDER names (log, the default; webhook).

    Raises:
        ValueError: an unknown sender or a missing or malformed setting.
    """
    env = os.environ if env is None else env
    kind = (env.get("ESTATEFLOW_SMS_SENDER") or "log").strip().lower()
    if kind == "log":
        return LogSender()
    if kind == "webhook":
        url = env.get("ESTATEFLOW_SMS_WEBHOOK_URL")
        if not url:
            raise ValueError("ESTATEFLOW_SMS_SENDER=webhook needs ESTATEFLOW_SMS_WEBHOOK_URL")
        if not url.lower().startswith(("http://", "https://")):
            raise ValueError("ESTATEFLOW_SMS_WEBHOOK_URL must be an http:// or https:// URL")
        return SmsWebhookSender(url, secret=env.get("ESTATEFLOW_SMS_WEBHOOK_SECRET") or None,
                                timeout=float(env.get("ESTATEFLOW_SMS_WEBHOOK_TIMEOUT") or 10))
    raise ValueError(f"ESTATEFLOW_SMS_SENDER must be log or webhook, not {kind!r}")
