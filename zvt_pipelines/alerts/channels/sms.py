"""SMS through the Twilio SDK (`client.messages.create`), kept to one 160-character segment.

Environment: ZVT_TWILIO_ACCOUNT_SID, ZVT_TWILIO_AUTH_TOKEN, ZVT_TWILIO_FROM (sender number),
ZVT_TWILIO_TO (comma-separated numbers); optional ZVT_TWILIO_BASE_URL (default
https://api.twilio.com, a local fake in tests).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from zvt_pipelines.alerts.channels.base import Message, require
from zvt_pipelines.errors import ChannelError

SEGMENT = 160


def sms_text(message: Message) -> str:
    """The summary line, cut to one SMS segment."""
    text = message.alert.summary()
    return text if len(text) <= SEGMENT else text[: SEGMENT - 3] + "..."


@dataclass
class SmsChannel:
    account_sid: str
    auth_token: str = field(repr=False)
    sender: str = ""
    recipients: list[str] = field(default_factory=list)
    base_url: str | None = None
    timeout: float = 10.0
    name: str = "sms"
    supports_chart: bool = False

    def send(self, message: Message) -> None:
        from twilio.base.exceptions import TwilioException, TwilioRestException
        from twilio.http.http_client import TwilioHttpClient
        from twilio.rest import Client

        client = Client(
            self.account_sid, self.auth_token, http_client=TwilioHttpClient(timeout=self.timeout)
        )
        if self.base_url:
            client.api.base_url = self.base_url.rstrip("/")
        body = sms_text(message)
        for number in [message.recipient] if message.recipient else self.recipients:
            try:
                client.messages.create(to=number, from_=self.sender, body=body)
            except TwilioRestException as exc:
                retryable = exc.status >= 500 or exc.status == 429
                raise ChannelError(
                    self.name, f"Twilio HTTP {exc.status} code {exc.code}", retryable=retryable
                ) from None
            except (TwilioException, OSError) as exc:
                raise ChannelError(
                    self.name, f"cannot reach Twilio: {type(exc).__name__}"
                ) from None

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> SmsChannel:
        values = require(
            env,
            "ZVT_TWILIO_ACCOUNT_SID",
            "ZVT_TWILIO_AUTH_TOKEN",
            "ZVT_TWILIO_FROM",
            "ZVT_TWILIO_TO",
        )
        return cls(
            account_sid=values["ZVT_TWILIO_ACCOUNT_SID"],
            auth_token=values["ZVT_TWILIO_AUTH_TOKEN"],
            sender=values["ZVT_TWILIO_FROM"],
            recipients=[n.strip() for n in values["ZVT_TWILIO_TO"].split(",") if n.strip()],
            base_url=env.get("ZVT_TWILIO_BASE_URL") or None,
        )
