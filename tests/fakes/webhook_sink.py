"""A local HTTP sink on 127.0.0.1 that records POSTs: the base of the webhook, Discord, ntfy,
Slack and Twilio fakes.

Tests script the next answers (`fail_next(500)`), or take the whole endpoint down
(`down = True`, every request answered 503), and read `requests` to see exactly what arrived.
Only requests answered with 2xx are counted as `accepted`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit


@dataclass
class Received:
    """One request as the server saw it, with the status it was answered."""

    method: str
    path: str
    headers: Message  # case-insensitive, as HTTP header names are
    body: bytes
    status: int = 0
    answer: bytes = b""
    at: float = field(default_factory=time.monotonic)

    def json(self) -> Any:
        return json.loads(self.body)


Handler = Callable[[Received], tuple[int, dict[str, str], bytes]]


def ok_json(payload: Any = None, status: int = 200) -> tuple[int, dict[str, str], bytes]:
    return (
        status,
        {"Content-Type": "application/json"},
        json.dumps(payload or {"ok": True}).encode(),
    )


@dataclass
class RecordingServer:
    """A threaded HTTP server; `handle` answers accepted requests (default 200 `{"ok": true}`)."""

    handle: Handler = field(default=lambda _r: ok_json())
    down: bool = False
    requests: list[Received] = field(default_factory=list)
    _faults: deque = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def fail_next(self, *statuses: int) -> None:
        """Answer the next requests with these statuses (then normally)."""
        self._faults.extend(statuses)

    @property
    def accepted(self) -> list[Received]:
        return [r for r in self.requests if 200 <= r.status < 300]

    def start(self) -> RecordingServer:
        sink = self

        class _Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                received = Received(self.command, self.path, self.headers, self.rfile.read(length))
                with sink._lock:
                    sink.requests.append(received)
                    fault = 503 if sink.down else (sink._faults.popleft() if sink._faults else None)
                if fault is not None:
                    status, headers, body = (
                        fault,
                        {"Content-Type": "application/json"},
                        json.dumps({"ok": False, "error": "fake_outage", "status": fault}).encode(),
                    )
                else:
                    status, headers, body = sink.handle(received)
                received.status, received.answer = status, body
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_POST = do_GET = do_PUT = _serve

            def log_message(self, *_args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> RecordingServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def signature_valid(secret: str, received: Received, header: str = "X-ZVT-Signature") -> bool:
    """Check the HMAC-SHA256 signature the way a receiver would: recompute over the raw body."""
    expected = "sha256=" + hmac.new(secret.encode(), received.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, received.headers.get(header, ""))


def path_of(received: Received) -> str:
    return urlsplit(received.path).path
