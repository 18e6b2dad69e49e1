"""What every alert channel is: a typed config, a kind, and ``send``.

A channel raises ``DeliveryError`` when the far end did not take a message; the
alerter then retries with backoff. The error text goes into logs and the
alerts index, so it must never contain a secret (no URLs with tokens, no
passwords): channels build it from status codes and exception types.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, SecretStr, model_validator

from callwatch.metrics import AlertChannel
from streams.alerting.delivery import MESSAGE_CHANNEL, ChannelKind, Work
from streams.alerting.message import Message

# Keys that would put a secret into the alerts file itself.
_INLINE_SECRETS = ("password", "secret", "token", "api_key")


class AlertsConfigError(ValueError):
    """The alerts configuration is unusable; the message says where and why."""


class DeliveryError(Exception):
    """The channel did not take the message (worth retrying).

    ``channel_down``: the channel itself is failing (unreachable, 5xx, timeout),
    so its other messages wait too. False when only this message was refused
    (a 4xx, a bad recipient): the others still go, and this one alone backs off.
    """

    def __init__(self, message: str, *, channel_down: bool = True) -> None:
        super().__init__(message)
        self.channel_down = channel_down


class ChannelConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    type: str

    @model_validator(mode="before")
    @classmethod
    def _no_inline_secrets(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key in _INLINE_SECRETS:
                if key in data:
                    raise ValueError(
                        f"'{key}' must not be written in the alerts file: give"
                        f" '{key}_env' (an environment variable) or '{key}_file' instead"
                    )
        return data


@dataclass(frozen=True, slots=True)
class ChannelContext:
    """Settings every channel shares (from the alerts file's dashboard and delivery parts)."""

    call_url_template: str
    timezone: str
    timeout_seconds: float


@dataclass(frozen=True, slots=True)
class Outgoing:
    work: Work
    message: Message
    now_ms: int


class Channel(ABC):
    channel_type: ClassVar[AlertChannel]
    config_model: ClassVar[type[ChannelConfig]]
    # Whether one ``send`` may carry several messages (Alertmanager takes a list).
    batches: ClassVar[bool] = False

    def __init__(self, name: str, config: ChannelConfig, context: ChannelContext) -> None:
        self.name = name
        self.config = config
        self.context = context

    @property
    def kind(self) -> ChannelKind:
        return MESSAGE_CHANNEL

    @abstractmethod
    async def send(self, items: Sequence[Outgoing]) -> None:
        """Deliver every item or raise ``DeliveryError``."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook, most channels hold nothing
        """Release connections."""


def read_secret(
    channel: str, what: str, env: str | None, file: Path | None
) -> SecretStr | None:
    """A secret from the environment variable or the file the config names, checked now.

    Read at start-up so a missing secret stops the worker, not the first alert.
    """
    if env is not None and file is not None:
        raise AlertsConfigError(f"channel {channel!r}: give {what}_env or {what}_file, not both")
    if env is not None:
        value = os.environ.get(env)
        if not value:
            raise AlertsConfigError(
                f"channel {channel!r}: environment variable {env} ({what}) is not set"
            )
        return SecretStr(value)
    if file is not None:
        try:
            value = file.read_text().strip()
        except OSError as exc:
            raise AlertsConfigError(
                f"channel {channel!r}: cannot read the {what} file {file}: {exc.strerror}"
            ) from None
        if not value:
            raise AlertsConfigError(f"channel {channel!r}: the {what} file {file} is empty")
        return SecretStr(value)
    return None
