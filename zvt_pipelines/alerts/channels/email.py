"""Email over SMTP (`smtplib`): a plain-text part and an HTML part with the price chart inline.

The chart is a related image referenced from the HTML as `cid:<content id>`, so mail clients
show it without fetching anything. Environment: ZVT_SMTP_HOST, ZVT_ALERT_EMAIL_FROM,
ZVT_ALERT_EMAIL_TO (comma-separated); optional ZVT_SMTP_PORT (default 587 with STARTTLS,
25 without), ZVT_SMTP_USER, ZVT_SMTP_PASSWORD, ZVT_SMTP_STARTTLS (default true),
ZVT_SMTP_TIMEOUT.
"""

from __future__ import annotations

import html
import os
import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import make_msgid

from zvt_pipelines.alerts.alert import Severity
from zvt_pipelines.alerts.channels.base import Message, float_env, require
from zvt_pipelines.errors import AlertConfigError, ChannelError

COLOURS = {
    Severity.INFO: "#3498db",
    Severity.WARNING: "#f1c40f",
    Severity.HIGH: "#e67e22",
    Severity.CRITICAL: "#e74c3c",
}


def build_email(message: Message, sender: str, recipients: list[str]) -> EmailMessage:
    """The MIME message: text/plain, text/html and (when there is a chart) an inline PNG."""
    alert = message.alert
    mail = EmailMessage()
    mail["Subject"] = alert.summary()[:200]
    mail["From"] = sender
    mail["To"] = ", ".join(recipients)
    mail["X-ZVT-Dedup-Key"] = alert.dedup_key
    mail.set_content(f"{alert.summary()}\n\n{alert.body}\n")
    rows = "".join(
        f"<tr><td>{html.escape(k)}</td><td>{html.escape(str(v))}</td></tr>"
        for k, v in (
            ("type", alert.type.value),
            ("instrument", alert.instrument),
            ("value", alert.value),
            ("threshold", alert.threshold),
            ("at", alert.at.isoformat()),
        )
        if v is not None
    )
    chart_id = make_msgid(domain="zvt.alerts") if message.chart_png else None
    chart = f'<p><img src="cid:{chart_id[1:-1]}" alt="recent prices"></p>' if chart_id else ""
    body = html.escape(alert.body).replace("\n", "<br>")
    mail.add_alternative(
        f'<html><body><h3 style="color:{COLOURS[alert.severity]}">{html.escape(alert.title)}</h3>'
        f"<p>{body}</p>{chart}<table>{rows}</table></body></html>",
        subtype="html",
    )
    if chart_id and message.chart_png:
        mail.get_payload()[1].add_related(
            message.chart_png, maintype="image", subtype="png", cid=chart_id, filename="chart.png"
        )
    return mail


@dataclass
class EmailChannel:
    host: str
    sender: str
    recipients: list[str]
    port: int = 587
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    starttls: bool = True
    timeout: float = 10.0
    name: str = "email"
    supports_chart: bool = True

    def send(self, message: Message) -> None:
        to = [message.recipient] if message.recipient else self.recipients
        mail = build_email(message, self.sender, to)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self.user:
                    smtp.login(self.user, self.password or "")
                smtp.send_message(mail, to_addrs=to)
        except smtplib.SMTPAuthenticationError as exc:
            raise ChannelError(
                self.name, f"SMTP login refused ({exc.smtp_code})", retryable=False
            ) from None
        except smtplib.SMTPRecipientsRefused as exc:
            raise ChannelError(
                self.name, f"recipients refused: {sorted(exc.recipients)}", retryable=False
            ) from None
        except smtplib.SMTPResponseException as exc:
            raise ChannelError(
                self.name,
                f"SMTP {exc.smtp_code}: {exc.smtp_error!r}",
                retryable=exc.smtp_code >= 400 and exc.smtp_code < 500,
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise ChannelError(self.name, f"SMTP {self.host}:{self.port}: {exc}") from None

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> EmailChannel:
        values = require(env, "ZVT_SMTP_HOST", "ZVT_ALERT_EMAIL_FROM", "ZVT_ALERT_EMAIL_TO")
        starttls = env.get("ZVT_SMTP_STARTTLS", "true").strip().lower()
        if starttls not in ("true", "false", "1", "0", "yes", "no"):
            raise AlertConfigError(
                f"environment variable ZVT_SMTP_STARTTLS={starttls!r}: expected true or false"
            )
        use_tls = starttls in ("true", "1", "yes")
        port = env.get("ZVT_SMTP_PORT") or ("587" if use_tls else "25")
        if not port.isdigit():
            raise AlertConfigError(
                f"environment variable ZVT_SMTP_PORT={port!r}: expected a port number"
            )
        return cls(
            host=values["ZVT_SMTP_HOST"],
            port=int(port),
            sender=values["ZVT_ALERT_EMAIL_FROM"],
            recipients=[r.strip() for r in values["ZVT_ALERT_EMAIL_TO"].split(",") if r.strip()],
            user=env.get("ZVT_SMTP_USER"),
            password=env.get("ZVT_SMTP_PASSWORD"),
            starttls=use_tls,
            timeout=float_env(env, "ZVT_SMTP_TIMEOUT", 10.0),
        )
