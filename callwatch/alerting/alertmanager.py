"""Prometheus Alertmanager (``POST /api/v2/alerts``), honouring its client contract.

Alertmanager expects its clients to behave like Prometheus: re-send every
firing alert regularly with ``endsAt`` a few intervals ahead (if the client
dies, the alert then resolves by itself instead of firing forever), and send
``endsAt`` = now once it resolves. It deduplicates on the label set, so the
labels are exactly what identifies one alert: one per (call, rule).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Final, Literal

import httpx
from pydantic import Field, HttpUrl

from callwatch.alerting.base import Channel, ChannelConfig, DeliveryError, Outgoing
from streams.alerting.delivery import ChannelKind

ALERTNAME: Final = "CallwatchPolicyViolation"
# endsAt of a firing alert = now + this many re-send intervals, as Prometheus does.
ENDS_AT_INTERVALS: Final = 4


class AlertmanagerConfig(ChannelConfig):
    type: Literal["alertmanager"]
    url: HttpUrl = Field(description="Alertmanager's base URL, e.g. http://127.0.0.1:9093")
    resend_interval_seconds: float = Field(60, gt=0, le=3600)


class AlertmanagerChannel(Channel):
    channel_type: ClassVar = "alertmanager"
    config_model: ClassVar = AlertmanagerConfig
    batches: ClassVar = True
    config: AlertmanagerConfig

    _client: httpx.AsyncClient | None = None

    @property
    def kind(self) -> ChannelKind:
        return ChannelKind(
            latest_only=True, resend_ms=int(self.config.resend_interval_seconds * 1000)
        )

    def endpoint(self) -> str:
        return str(self.config.url).rstrip("/") + "/api/v2/alerts"

    def alert(self, item: Outgoing) -> dict[str, Any]:
        message, intent = item.message, item.work.intent
        now = datetime.fromtimestamp(item.now_ms / 1000, tz=UTC)
        starts = _parse(intent.get("violation_at")) or now
        if message.firing:
            ends = now + timedelta(seconds=ENDS_AT_INTERVALS * self.config.resend_interval_seconds)
        else:
            ends = now
        return {
            "labels": {
                "alertname": ALERTNAME,
                "call_id": message.call_id,
                "rule": message.rule,
                "severity": message.severity,
            },
            "annotations": {
                "summary": message.title,
                "description": message.what,
                "policy": message.policy,
                "action": message.action,
                "call_url": message.call_url,
                "acknowledge": message.acknowledge,
                "alert_id": message.alert_id,
            },
            "startsAt": _iso(min(starts, ends)),  # Alertmanager refuses startsAt after endsAt
            "endsAt": _iso(ends),
            "generatorURL": message.call_url,
        }

    async def send(self, items: Sequence[Outgoing]) -> None:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.context.timeout_seconds)
        try:
            response = await self._client.post(
                self.endpoint(), json=[self.alert(item) for item in items]
            )
        except httpx.HTTPError as exc:
            raise DeliveryError(f"Alertmanager unreachable ({type(exc).__name__})") from None
        if response.status_code != 200:
            raise DeliveryError(
                f"Alertmanager answered HTTP {response.status_code}: {response.text[:200]}",
                channel_down=response.status_code != 400,  # 400: these alerts, not the server
            )

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def _parse(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
