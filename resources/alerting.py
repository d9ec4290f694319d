"""Alerting as a Dagster resource: builds the core dispatcher and its channels from config.

Secrets arrive only as `EnvVar`s (see `build_alerting_resource`); each channel field maps
to the environment variable of the same role the core documents (ZVT_SLACK_TOKEN, ...), and
a channel is on when its first field is set.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import timedelta
from functools import cache

import dagster as dg

from zvt_pipelines.alerts.channels.registry import channels_from_env
from zvt_pipelines.alerts.dispatcher import Dispatcher, RetryPolicy
from zvt_pipelines.alerts.market_watch import MarketRules
from zvt_pipelines.alerts.preferences import load_preferences
from zvt_pipelines.alerts.routing import RoutingTable
from zvt_pipelines.alerts.store import AlertStore
from zvt_pipelines.alerts.throttle_store import StoredThrottle
from zvt_pipelines.storage import alert_models  # noqa: F401 - registers the alert tables
from zvt_pipelines.storage.database import Database

# resource field -> environment variable (the core reads channels from these names)
CHANNEL_FIELDS = {
    "smtp_host": "ZVT_SMTP_HOST",
    "smtp_port": "ZVT_SMTP_PORT",
    "smtp_user": "ZVT_SMTP_USER",
    "smtp_password": "ZVT_SMTP_PASSWORD",
    "smtp_starttls": "ZVT_SMTP_STARTTLS",
    "email_from": "ZVT_ALERT_EMAIL_FROM",
    "email_to": "ZVT_ALERT_EMAIL_TO",
    "slack_token": "ZVT_SLACK_TOKEN",
    "slack_channel": "ZVT_SLACK_CHANNEL",
    "slack_base_url": "ZVT_SLACK_BASE_URL",
    "discord_webhook_url": "ZVT_DISCORD_WEBHOOK_URL",
    "twilio_account_sid": "ZVT_TWILIO_ACCOUNT_SID",
    "twilio_auth_token": "ZVT_TWILIO_AUTH_TOKEN",
    "twilio_from": "ZVT_TWILIO_FROM",
    "twilio_to": "ZVT_TWILIO_TO",
    "twilio_base_url": "ZVT_TWILIO_BASE_URL",
    "webhook_url": "ZVT_WEBHOOK_URL",
    "webhook_secret": "ZVT_WEBHOOK_SECRET",
    "ntfy_url": "ZVT_NTFY_URL",
    "ntfy_token": "ZVT_NTFY_TOKEN",
}
SETTING_FIELDS = {
    "dagster_base_url": "ZVT_DAGSTER_URL",
    "preferences_path": "ZVT_ALERT_PREFERENCES",
}


class AlertingResource(dg.ConfigurableResource):
    """Alert store, routing, throttle and channels; `dispatcher()` yields a ready Dispatcher."""

    database_url: str
    dagster_base_url: str = "http://localhost:3000"
    preferences_path: str | None = None
    critical_channels: list[str] = ["sms", "slack"]
    high_channels: list[str] = ["slack", "email"]
    warning_channels: list[str] = ["slack"]
    info_channels: list[str] = ["email"]
    info_mode: str = "digest"
    cooldown_minutes: float = 15.0
    retry_attempts: int = 3
    retry_initial_delay: float = 0.5
    percent_move: float = 0.05
    percent_window: int = 60
    volume_z: float = 6.0
    volume_window: int = 120
    smtp_host: str | None = None
    smtp_port: str | None = None
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_starttls: str | None = None
    email_from: str | None = None
    email_to: str | None = None
    slack_token: str | None = None
    slack_channel: str | None = None
    slack_base_url: str | None = None
    discord_webhook_url: str | None = None
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    twilio_from: str | None = None
    twilio_to: str | None = None
    twilio_base_url: str | None = None
    webhook_url: str | None = None
    webhook_secret: str | None = None
    ntfy_url: str | None = None
    ntfy_token: str | None = None

    def routing(self) -> RoutingTable:
        return RoutingTable.from_mapping(
            {
                "critical": {"channels": self.critical_channels},
                "high": {"channels": self.high_channels},
                "warning": {"channels": self.warning_channels},
                "info": {"channels": self.info_channels, "mode": self.info_mode},
            }
        )

    def market_rules(self) -> MarketRules:
        return MarketRules(
            self.percent_move, self.percent_window, self.volume_z, self.volume_window
        )

    def run_link(self, run_id: str) -> str:
        return f"{self.dagster_base_url.rstrip('/')}/runs/{run_id}"

    @contextmanager
    def dispatcher(self) -> Iterator[Dispatcher]:
        """A dispatcher over the migrated trading database and the configured channels; its
        throttle windows live in that database, so every tick and restart shares them."""
        env = {var: value for name, var in CHANNEL_FIELDS.items() if (value := getattr(self, name))}
        users = load_preferences(self.preferences_path) if self.preferences_path else []
        database = _migrated(self.database_url)
        dispatcher = Dispatcher(
            AlertStore(database),
            channels_from_env(env),
            routing=self.routing(),
            throttle=StoredThrottle(database, cooldown=timedelta(minutes=self.cooldown_minutes)),
            users=users,
            retry=RetryPolicy(attempts=self.retry_attempts, initial_delay=self.retry_initial_delay),
        )
        try:
            yield dispatcher
        finally:
            dispatcher.close()


@cache
def _migrated(url: str) -> Database:
    """One migrated database (engine and pool) per URL and process, shared by every tick."""
    database = Database(url)
    database.upgrade()
    return database


def build_alerting_resource(
    database_url: str, env: Mapping[str, str] = os.environ
) -> AlertingResource:
    """The resource with every channel variable that is set in `env` wired as an `EnvVar`.

    Unset variables are left out (an `EnvVar` of an unset variable fails at load time), so
    only configured channels are switched on and no secret value is copied into config.
    """
    wired = {
        name: dg.EnvVar(var)
        for name, var in {**CHANNEL_FIELDS, **SETTING_FIELDS}.items()
        if env.get(var)
    }
    return AlertingResource(database_url=database_url, **wired)
