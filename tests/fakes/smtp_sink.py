"""An SMTP sink on 127.0.0.1 (aiosmtpd) that keeps every message `smtplib` sends, parsed."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller


@dataclass
class Envelope:
    sender: str
    recipients: list[str]
    message: EmailMessage


@dataclass
class _Handler:
    received: list[Envelope] = field(default_factory=list)

    async def handle_DATA(self, _server, _session, envelope) -> str:  # noqa: ANN001 - aiosmtpd API
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        self.received.append(Envelope(envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class SmtpSink:
    """Start with `with SmtpSink() as sink:`; read `sink.received`."""

    def __init__(self) -> None:
        self.handler = _Handler()
        self.port = _free_port()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    @property
    def received(self) -> list[Envelope]:
        return self.handler.received

    def __enter__(self) -> SmtpSink:
        self.controller.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.controller.stop()
