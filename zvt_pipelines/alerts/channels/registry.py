"""Build the configured channels from environment variables.

A channel is on when its marker variable is set (ZVT_SMTP_HOST, ZVT_SLACK_TOKEN,
ZVT_DISCORD_WEBHOOK_URL, ZVT_TWILIO_ACCOUNT_SID, ZVT_WEBHOOK_URL, ZVT_NTFY_URL); a channel
that is on but misses another of its variables is a configuration error naming them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from zvt_pipelines.alerts.channels.base import Channel
from zvt_pipelines.alerts.channels.discord import DiscordChannel
from zvt_pipelines.alerts.channels.email import EmailChannel
from zvt_pipelines.alerts.channels.push import PushChannel
from zvt_pipelines.alerts.channels.slack import SlackChannel
from zvt_pipelines.alerts.channels.sms import SmsChannel
from zvt_pipelines.alerts.channels.webhook import WebhookChannel

MARKERS = {
    "email": ("ZVT_SMTP_HOST", EmailChannel),
    "slack": ("ZVT_SLACK_TOKEN", SlackChannel),
    "discord": ("ZVT_DISCORD_WEBHOOK_URL", DiscordChannel),
    "sms": ("ZVT_TWILIO_ACCOUNT_SID", SmsChannel),
    "webhook": ("ZVT_WEBHOOK_URL", WebhookChannel),
    "push": ("ZVT_NTFY_URL", PushChannel),
}


def channels_from_env(env: Mapping[str, str] = os.environ) -> dict[str, Channel]:
    """Every channel whose marker variable is set, keyed by channel name."""
    return {
        name: factory.from_env(env)
        for name, (marker, factory) in MARKERS.items()
        if env.get(marker)
    }
