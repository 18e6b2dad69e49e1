"""The log channel: one structured line per message. Always available, needs nothing.

Without an alerts file it is the only channel, so the demo and the tests see
what the alerter would have sent.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import ClassVar, Literal

import orjson

from callwatch.alerting.base import Channel, ChannelConfig, Outgoing

log = logging.getLogger("callwatch.alerts")


class LogConfig(ChannelConfig):
    type: Literal["log"]


class LogChannel(Channel):
    channel_type: ClassVar = "log"
    config_model: ClassVar = LogConfig

    async def send(self, items: Sequence[Outgoing]) -> None:
        for item in items:
            message = item.message
            line = {
                "event": "alert",
                "alert_id": message.alert_id,
                "kind": message.kind,
                "severity": message.severity,
                "call_id": message.call_id,
                "rule": message.rule,
                "title": message.title,
                "action": message.action,
                "call_url": message.call_url,
                "escalation_tier": item.work.tier,
            }
            if message.possible_repeat:
                line["possible_repeat"] = True
            # WARNING: visible at the worker's default log level
            log.warning("%s", orjson.dumps(line).decode())
