"""Discord through an incoming webhook: JSON `content` plus one embed coloured by severity.

Environment: ZVT_DISCORD_WEBHOOK_URL (https://discord.com/api/webhooks/<id>/<token>).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from zvt_pipelines.alerts.alert import Severity
from zvt_pipelines.alerts.channels.base import Message, require
from zvt_pipelines.alerts.channels.http import post

COLOURS = {
    Severity.INFO: 0x3498DB,
    Severity.WARNING: 0xF1C40F,
    Severity.HIGH: 0xE67E22,
    Severity.CRITICAL: 0xE74C3C,
}
EMBED_LIMIT = 4000


def discord_payload(message: Message) -> dict:
    """The webhook JSON: a one-line `content` and an embed with body and context fields."""
    alert = message.alert
    fields = [{"name": "type", "value": alert.type.value, "inline": True}]
    if alert.instrument:
        fields.append({"name": "instrument", "value": alert.instrument, "inline": True})
    if alert.value is not None and alert.threshold is not None:
        fields.append(
            {
                "name": "value / threshold",
                "value": f"{alert.value:g} / {alert.threshold:g}",
                "inline": True,
            }
        )
    return {
        "content": alert.summary()[:2000],
        "embeds": [
            {
                "title": alert.title[:256],
                "description": alert.body[:EMBED_LIMIT],
                "color": COLOURS[alert.severity],
                "timestamp": alert.at.isoformat(),
                "fields": fields,
            }
        ],
        "allowed_mentions": {"parse": []},
    }


@dataclass
class DiscordChannel:
    webhook_url: str = field(repr=False)
    timeout: float = 10.0
    name: str = "discord"
    supports_chart: bool = False

    def send(self, message: Message) -> None:
        body = json.dumps(discord_payload(message)).encode()
        post(self.name, self.webhook_url, body, {"Content-Type": "application/json"}, self.timeout)

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> DiscordChannel:
        return cls(webhook_url=require(env, "ZVT_DISCORD_WEBHOOK_URL")["ZVT_DISCORD_WEBHOOK_URL"])
