"""A fake Slack Web API on 127.0.0.1: `chat.postMessage` checks the bearer token and answers
like Slack (`{"ok": true, "channel", "ts", "message"}`, or `{"ok": false, "error"}`).

Point slack-sdk at it with `WebClient(token=..., base_url=f"{fake.base_url}/api/")`.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

from tests.fakes.webhook_sink import Received, RecordingServer, ok_json, path_of


@dataclass
class FakeSlack:
    token: str = "xoxb-test-token"
    server: RecordingServer = field(init=False)

    def __post_init__(self) -> None:
        self.server = RecordingServer(handle=self._handle)

    def _handle(self, received: Received) -> tuple[int, dict[str, str], bytes]:
        if received.headers.get("Authorization") != f"Bearer {self.token}":
            return ok_json({"ok": False, "error": "invalid_auth"})
        if path_of(received) != "/api/chat.postMessage":
            return ok_json({"ok": False, "error": "unknown_method"}, status=404)
        payload = json.loads(received.body)
        if not payload.get("channel"):
            return ok_json({"ok": False, "error": "channel_not_found"})
        ts = f"{time.time():.6f}"
        return ok_json(
            {
                "ok": True,
                "channel": payload["channel"],
                "ts": ts,
                "message": {"text": payload.get("text"), "blocks": payload.get("blocks")},
            }
        )

    @property
    def posted(self) -> list[dict]:
        """The chat.postMessage payloads Slack accepted."""
        return [
            r.json()
            for r in self.server.accepted
            if path_of(r) == "/api/chat.postMessage" and json.loads(r.answer).get("ok")
        ]

    @property
    def api_base(self) -> str:
        return f"{self.server.base_url}/api/"

    def __enter__(self) -> FakeSlack:
        self.server.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.stop()
