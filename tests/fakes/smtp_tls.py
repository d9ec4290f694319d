"""An SMTP server on 127.0.0.1 that demands STARTTLS and a login, with a throwaway CA.

`trustme` makes a certificate authority and a certificate for 127.0.0.1 in memory; the
server (aiosmtpd, `require_starttls=True`) refuses mail before STARTTLS and offers AUTH
only over TLS. `ca_file` is the CA in PEM for the client to trust (e.g. SSL_CERT_FILE).
"""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


@dataclass
class Delivery:
    """One accepted message and how it came: the TLS cipher and the logged-in user."""

    sender: str
    recipients: list[str]
    message: EmailMessage
    cipher: tuple | None
    login: str | None


@dataclass
class _Handler:
    received: list[Delivery] = field(default_factory=list)

    async def handle_DATA(self, _server, session, envelope) -> str:  # noqa: ANN001 - aiosmtpd API
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        login = session.auth_data.login.decode() if session.authenticated else None
        cipher = session.ssl.get("cipher") if session.ssl else None
        self.received.append(
            Delivery(envelope.mail_from, list(envelope.rcpt_tos), parsed, cipher, login)
        )
        return "250 Message accepted for delivery"


class _Accounts:
    """aiosmtpd authenticator: accepts exactly one user and password (LOGIN and PLAIN)."""

    def __init__(self, user: str, password: str) -> None:
        self.user, self.password = user.encode(), password.encode()
        self.attempts: list[str] = []

    def __call__(self, _server, _session, _envelope, mechanism, auth_data) -> AuthResult:  # noqa: ANN001
        self.attempts.append(mechanism)
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == self.user
            and auth_data.password == self.password
        )
        # handled=False: aiosmtpd itself answers a failure with 535, as a real server does
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class TlsSmtpServer:
    """`with TlsSmtpServer(tmp_path, "alerts", "s3cret") as server:`; read `server.received`."""

    def __init__(self, folder: Path, user: str, password: str) -> None:
        ca = trustme.CA()
        self.ca_file = folder / "smtp-test-ca.pem"
        ca.cert_pem.write_to_path(str(self.ca_file))
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1").configure_cert(context)
        self.handler = _Handler()
        self.accounts = _Accounts(user, password)
        self.port = _free_port()
        self.controller = Controller(
            self.handler,
            hostname="127.0.0.1",
            port=self.port,
            tls_context=context,
            require_starttls=True,
            authenticator=self.accounts,
            auth_require_tls=True,
        )

    @property
    def received(self) -> list[Delivery]:
        return self.handler.received

    def __enter__(self) -> TlsSmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.controller.stop()
