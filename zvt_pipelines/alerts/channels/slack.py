"""Slack through slack-sdk's `WebClient.chat_postMessage` with Block Kit blocks.

Environment: ZVT_SLACK_TOKEN (bot token), ZVT_SLACK_CHANNEL (channel id or name); optional
ZVT_SLACK_BASE_URL (default https://slack.com/api/, a local fake in tests).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from zvt_pipelines.alerts.alert import Severity
from zvt_pipelines.alerts.channels.base import Message, require
from zvt_pipelines.errors import ChannelError

EMOJI = {
    Severity.INFO: ":information_source:",
    Severity.WARNING: ":warning:",
    Severity.HIGH: ":large_orange_diamond:",
    Severity.CRITICAL: ":rotating_light:",
}
PERMANENT_ERRORS = {
    "invalid_auth",
    "not_authed",
    "account_inactive",
    "channel_not_found",
    "not_in_channel",
    "is_archived",
    "token_revoked",
    "missing_scope",
}


def slack_blocks(message: Message) -> list[dict[str, Any]]:
    """Header, body and a context line with type, instrument and value against threshold."""
    alert = message.alert
    context = [f"*{alert.severity.name}*", alert.type.value]
    if alert.instrument:
        context.append(alert.instrument)
    if alert.value is not None and alert.threshold is not None:
        context.append(f"value {alert.value:g} vs {alert.threshold:g}")
    context.append(alert.at.strftime("%Y-%m-%d %H:%M:%S UTC"))
    return [
        {
            "type": "header",
            "text": {
                "type": "plain_text",
                "text": f"{EMOJI[alert.severity]} {alert.title}"[:150],
                "emoji": True,
            },
        },
        {"type": "section", "text": {"type": "mrkdwn", "text": alert.body[:3000]}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(context)}]},
    ]


@dataclass
class SlackChannel:
    token: str = field(repr=False)
    channel: str = ""
    base_url: str = "https://slack.com/api/"
    timeout: float = 10.0
    name: str = "slack"
    supports_chart: bool = False

    def send(self, message: Message) -> None:
        from slack_sdk import WebClient
        from slack_sdk.errors import SlackApiError, SlackClientError

        client = WebClient(token=self.token, base_url=self.base_url, timeout=int(self.timeout))
        try:
            client.chat_postMessage(
                channel=message.recipient or self.channel,
                text=message.alert.summary(),
                blocks=slack_blocks(message),
            )
        except SlackApiError as exc:
            error = exc.response.get("error") if exc.response is not None else None
            status = exc.response.status_code if exc.response is not None else 0
            retryable = error not in PERMANENT_ERRORS and (
                status >= 500 or status == 429 or status == 200
            )
            raise ChannelError(
                self.name, f"Slack API error {error!r} (HTTP {status})", retryable=retryable
            ) from None
        except (SlackClientError, OSError) as exc:
            raise ChannelError(
                self.name, f"cannot reach Slack: {type(exc).__name__}: {exc}"
            ) from None

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> SlackChannel:
        values = require(env, "ZVT_SLACK_TOKEN", "ZVT_SLACK_CHANNEL")
        return cls(
            token=values["ZVT_SLACK_TOKEN"],
            channel=values["ZVT_SLACK_CHANNEL"],
            base_url=env.get("ZVT_SLACK_BASE_URL") or "https://slack.com/api/",
        )
