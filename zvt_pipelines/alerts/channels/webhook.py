"""Generic webhook: the alert as JSON, signed with HMAC-SHA256 of the body.

Header `X-ZVT-Signature: sha256=<hex>`; the receiver recomputes
`hmac.new(secret, body, sha256).hexdigest()` over the raw body and compares in constant
time. `X-ZVT-Delivery` carries `<alert id>` so a receiver can drop duplicates.

Environment: ZVT_WEBHOOK_URL, ZVT_WEBHOOK_SECRET, optional ZVT_WEBHOOK_TIMEOUT (seconds).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from zvt_pipelines.alerts.channels.base import Message, float_env, require
from zvt_pipelines.alerts.channels.http import post

SIGNATURE_HEADER = "X-ZVT-Signature"


def sign(secret: str, body: bytes) -> str:
    """The signature header value of `body` under `secret`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str | None) -> bool:
    """True when `header` is the valid signature of `body` (constant-time comparison)."""
    return header is not None and hmac.compare_digest(sign(secret, body), header)


def webhook_body(message: Message) -> bytes:
    """Canonical JSON (sorted keys, compact) of the alert plus its stored id and recipient."""
    payload = {**message.alert.to_json(), "alert_id": message.alert_id}
    if message.recipient:
        payload["recipient"] = message.recipient
    return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()


@dataclass
class WebhookChannel:
    url: str
    secret: str = field(repr=False)
    timeout: float = 10.0
    name: str = "webhook"
    supports_chart: bool = False

    def send(self, message: Message) -> None:
        body = webhook_body(message)
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(self.secret, body),
            "X-ZVT-Delivery": str(message.alert_id or ""),
            "User-Agent": "zvt-pipelines-alerts",
        }
        post(self.name, message.recipient or self.url, body, headers, self.timeout)

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> WebhookChannel:
        values = require(env, "ZVT_WEBHOOK_URL", "ZVT_WEBHOOK_SECRET")
        return cls(
            url=values["ZVT_WEBHOOK_URL"],
            secret=values["ZVT_WEBHOOK_SECRET"],
            timeout=float_env(env, "ZVT_WEBHOOK_TIMEOUT", 10.0),
        )
