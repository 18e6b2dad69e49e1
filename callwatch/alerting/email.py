"""E-mail over SMTP, with STARTTLS or implicit TLS and authentication as configured.

Each message gets a ``Message-ID`` derived from the alert id and the channel,
so a repeat after a worker restart carries the same id and mail clients and
archives can recognise it. smtplib runs in a thread with a socket timeout: no
extra dependency, and a stuck server cannot hold the event loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import smtplib
import ssl
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field, SecretStr, model_validator

from callwatch.alerting.base import (
    AlertsConfigError,
    Channel,
    ChannelConfig,
    ChannelContext,
    DeliveryError,
    Outgoing,
    read_secret,
)


class EmailConfig(ChannelConfig):
    type: Literal["email"]
    host: str = Field(min_length=1)
    port: int = Field(587, ge=1, le=65535)
    tls: Literal["starttls", "implicit", "none"] = "starttls"
    ca_file: Path | None = Field(None, description="CA bundle to trust (a private relay)")
    username: str | None = None
    password_env: str | None = None
    password_file: Path | None = None
    sender: str = Field(alias="from", min_length=3)
    to: list[str] = Field(min_length=1)

    @model_validator(mode="after")
    def _credentials_need_tls(self) -> EmailConfig:
        has_password = self.password_env is not None or self.password_file is not None
        if self.username and not has_password:
            raise ValueError("'username' needs 'password_env' or 'password_file'")
        if has_password and not self.username:
            raise ValueError("a password is given but no 'username'")
        if self.username and self.tls == "none":
            raise ValueError("refusing to send SMTP credentials without TLS: set tls to"
                             " starttls or implicit")
        return self


def message_id(alert_id: str, channel: str, sender: str) -> str:
    digest = hashlib.sha256(f"{alert_id}|{channel}".encode()).hexdigest()[:32]
    domain = sender.rpartition("@")[2].strip("> ") or "callwatch.invalid"
    return f"<{digest}.callwatch@{domain}>"


class EmailChannel(Channel):
    channel_type: ClassVar = "email"
    config_model: ClassVar = EmailConfig
    config: EmailConfig

    def __init__(self, name: str, config: ChannelConfig, context: ChannelContext) -> None:
        super().__init__(name, config, context)
        self._password: SecretStr | None = read_secret(
            name, "password", self.config.password_env, self.config.password_file
        )
        self._tls = self._tls_context() if self.config.tls != "none" else None

    def _tls_context(self) -> ssl.SSLContext:
        ca_file = self.config.ca_file
        try:
            return ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
        except (OSError, ssl.SSLError) as exc:
            raise AlertsConfigError(
                f"channel {self.name!r}: cannot use the CA file {ca_file}: {exc}"
            ) from None

    def email(self, item: Outgoing) -> EmailMessage:
        message = item.message
        email = EmailMessage()
        email["Subject"] = message.title
        email["From"] = self.config.sender
        email["To"] = ", ".join(self.config.to)
        email["Date"] = formatdate(item.now_ms / 1000, usegmt=True)
        email["Message-ID"] = message_id(message.alert_id, self.name, self.config.sender)
        email["X-Callwatch-Alert-Id"] = message.alert_id
        email["X-Callwatch-Dedup-Key"] = message.dedup_key
        if message.possible_repeat:
            email["X-Callwatch-Possible-Repeat"] = "yes"
        original = item.work.intent.get("notice_of")
        if original:  # an announcement or reminder threads under the alert it follows
            parent = message_id(str(original), self.name, self.config.sender)
            email["In-Reply-To"] = parent
            email["References"] = parent
        if message.firing and message.severity == "critical":
            email["Importance"] = "high"
            email["X-Priority"] = "1"
        email.set_content(message.body)
        return email

    async def send(self, items: Sequence[Outgoing]) -> None:
        for item in items:
            await asyncio.to_thread(self._send_sync, self.email(item))

    def _send_sync(self, email: EmailMessage) -> None:
        config, timeout = self.config, self.context.timeout_seconds
        try:
            smtp: smtplib.SMTP
            if config.tls == "implicit":
                smtp = smtplib.SMTP_SSL(config.host, config.port, timeout=timeout,
                                        context=self._tls)
            else:
                smtp = smtplib.SMTP(config.host, config.port, timeout=timeout)
            with smtp:
                smtp.ehlo()
                if config.tls == "starttls":
                    smtp.starttls(context=self._tls)
                    smtp.ehlo()
                if config.username and self._password is not None:
                    smtp.login(config.username, self._password.get_secret_value())
                smtp.send_message(email)
        except smtplib.SMTPRecipientsRefused:
            raise DeliveryError("SMTP server refused every recipient", channel_down=False) from None
        except smtplib.SMTPDataError as exc:  # this message, after a good session
            raise DeliveryError(f"SMTP server refused the message ({exc.smtp_code})",
                                channel_down=False) from None
        except smtplib.SMTPResponseException as exc:
            raise DeliveryError(f"SMTP server answered {exc.smtp_code}") from None
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"SMTP server unreachable ({type(exc).__name__})") from None
