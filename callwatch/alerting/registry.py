"""The alert channel types, by the ``type`` name the alerts file uses.

A new channel is a ``Channel`` subclass with its pydantic config model, added here.
"""

from __future__ import annotations

from typing import Final

from callwatch.alerting.alertmanager import AlertmanagerChannel
from callwatch.alerting.base import Channel
from callwatch.alerting.email import EmailChannel
from callwatch.alerting.log import LogChannel
from callwatch.alerting.webhook import WebhookChannel

REGISTRY: Final[dict[str, type[Channel]]] = {
    channel.channel_type: channel
    for channel in (AlertmanagerChannel, WebhookChannel, EmailChannel, LogChannel)
}
