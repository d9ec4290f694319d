"""A fake Twilio REST API on 127.0.0.1: POST /2010-04-01/Accounts/{sid}/Messages.json with
HTTP Basic auth (sid:token) and form fields To, From, Body; answers 201 with a message JSON.

Point the real SDK at it with `client.api.base_url = fake.base_url`.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass, field
from urllib.parse import parse_qs

from tests.fakes.webhook_sink import Received, RecordingServer, ok_json, path_of


@dataclass
class FakeTwilio:
    account_sid: str = "AC00000000000000000000000000000000"
    auth_token: str = "twilio-test-token"
    server: RecordingServer = field(init=False)

    def __post_init__(self) -> None:
        self.server = RecordingServer(handle=self._handle)

    def _handle(self, received: Received) -> tuple[int, dict[str, str], bytes]:
        expected = (
            "Basic " + base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        )
        if received.headers.get("Authorization") != expected:
            return ok_json({"code": 20003, "message": "Authenticate", "status": 401}, status=401)
        if path_of(received) != f"/2010-04-01/Accounts/{self.account_sid}/Messages.json":
            return ok_json({"code": 20404, "message": "not found", "status": 404}, status=404)
        form = {k: v[0] for k, v in parse_qs(received.body.decode()).items()}
        if not form.get("To") or not form.get("Body"):
            return ok_json(
                {"code": 21604, "message": "'To' and 'Body' are required", "status": 400},
                status=400,
            )
        sid = "SM" + uuid.uuid4().hex
        return ok_json(
            {
                "sid": sid,
                "account_sid": self.account_sid,
                "to": form["To"],
                "from": form.get("From"),
                "body": form["Body"],
                "status": "queued",
                "num_segments": "1",
                "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json",
            },
            status=201,
        )

    @property
    def messages(self) -> list[dict[str, str]]:
        """The form fields of every message Twilio accepted."""
        return [
            {k: v[0] for k, v in parse_qs(r.body.decode()).items()} for r in self.server.accepted
        ]

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def __enter__(self) -> FakeTwilio:
        self.server.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.stop()
