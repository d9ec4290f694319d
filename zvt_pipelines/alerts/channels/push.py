"""Mobile push through an ntfy-compatible server: POST the text to `<server>/<topic>`.

Headers carry the title, a priority 1..5 mapped from severity and tags. Environment:
ZVT_NTFY_URL (e.g. https://ntfy.sh/my-topic), optional ZVT_NTFY_TOKEN (bearer token).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from zvt_pipelines.alerts.alert import Severity
from zvt_pipelines.alerts.channels.base import Message, require
from zvt_pipelines.alerts.channels.http import post

PRIORITIES = {Severity.INFO: "2", Severity.WARNING: "3", Severity.HIGH: "4", Severity.CRITICAL: "5"}


@dataclass
class PushChannel:
    url: str
    token: str | None = field(default=None, repr=False)
    timeout: float = 10.0
    name: str = "push"
    supports_chart: bool = False

    def send(self, message: Message) -> None:
        alert = message.alert
        headers = {
            # HTTP headers are latin-1; ntfy documents RFC 2047 for other text, ASCII is enough here
            "Title": alert.title.encode("ascii", "replace").decode()[:250],
            "Priority": PRIORITIES[alert.severity],
            "Tags": f"{alert.type.value},{alert.severity.name.lower()}",
            "Content-Type": "text/plain; charset=utf-8",
        }
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        url = message.recipient or self.url
        post(self.name, url, alert.body.encode(), headers, self.timeout)

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> PushChannel:
        return cls(
            url=require(env, "ZVT_NTFY_URL")["ZVT_NTFY_URL"], token=env.get("ZVT_NTFY_TOKEN")
        )
