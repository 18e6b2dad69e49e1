"""Prometheus Alertmanager (``POST /api/v2/alerts``), honouring its client contract.

Alertmanager expects its clients to behave like Prometheus: re-send every
firing alert regularly with ``endsAt`` a few intervals ahead (if the client
dies, the alert then resolves by itself instead of firing forever), and send
``endsAt`` = now once it resolves. It deduplicates on the label set, so the
labels are exactly what identifies one alert: one per (call, rule).

An acknowledgement shows in Alertmanager as a **silence** on the alert's labels
(created by callwatch, commented with who and why), so its notifications stop
too; the silence ends when the acknowledgement times out, and is expired as
soon as the finding resolves (or the alert is open again). The alerter re-sends
an alert's state at once after an acknowledgement, so the silence follows
within a second; the channel keeps no state of its own: it asks Alertmanager
which callwatch silences exist.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Final, Literal

import httpx
from pydantic import Field, HttpUrl

from callwatch.alerting.base import Channel, ChannelConfig, DeliveryError, Outgoing
from streams.alerting.delivery import ChannelKind
from streams.alerting.message import Message

ALERTNAME: Final = "CallwatchPolicyViolation"
# endsAt of a firing alert = now + this many re-send intervals, as Prometheus does.
ENDS_AT_INTERVALS: Final = 4
SILENCE_CREATOR: Final = "callwatch"
# A silence with no acknowledgement timeout still ends: the resolution expires it
# sooner, and a week bounds one whose resolution never comes.
SILENCE_MAX: Final = timedelta(days=7)


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
    _silenced: set[str] | None = None  # dedup keys silenced by this worker, a cache only

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

    def base(self) -> str:
        return str(self.config.url).rstrip("/")

    async def send(self, items: Sequence[Outgoing]) -> None:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.context.timeout_seconds)
        if self._silenced is None:
            self._silenced = set()
        try:
            response = await self._client.post(
                self.endpoint(), json=[self.alert(item) for item in items]
            )
            if response.status_code != 200:
                raise DeliveryError(
                    f"Alertmanager answered HTTP {response.status_code}: {response.text[:200]}",
                    channel_down=response.status_code != 400,  # 400: these alerts
                )
            for item in items:
                await self._follow_ack(item)
        except httpx.HTTPError as exc:
            raise DeliveryError(f"Alertmanager unreachable ({type(exc).__name__})") from None

    async def _follow_ack(self, item: Outgoing) -> None:
        """Silence an acknowledged firing alert; expire the silence once it is not."""
        assert self._silenced is not None
        message, work = item.message, item.work
        key = message.dedup_key
        if message.firing and work.acked_by:
            if key not in self._silenced:
                if not await self._silences(message, active_only=True):
                    await self._silence(item)
                self._silenced.add(key)
        elif not message.firing or key in self._silenced:
            for silence_id in await self._silences(message, active_only=True):
                await self._expire(silence_id)
            self._silenced.discard(key)

    def matchers(self, message: Message) -> list[dict[str, Any]]:
        labels = {"alertname": ALERTNAME, "call_id": message.call_id, "rule": message.rule}
        return [{"name": k, "value": v, "isRegex": False, "isEqual": True}
                for k, v in labels.items()]

    async def _silences(self, message: Message, *, active_only: bool) -> list[str]:
        """Ids of callwatch's silences on exactly this alert's labels."""
        assert self._client is not None
        wanted = {(m["name"], m["value"]) for m in self.matchers(message)}
        response = await self._client.get(
            f"{self.base()}/api/v2/silences",
            params=[("filter", f'{name}="{_quote(value)}"') for name, value in sorted(wanted)],
        )
        if response.status_code != 200:
            raise DeliveryError(f"Alertmanager answered HTTP {response.status_code} (silences)")
        found = []
        for silence in response.json():
            matchers = {(m["name"], m["value"]) for m in silence.get("matchers", [])}
            state = silence.get("status", {}).get("state")
            if (silence.get("createdBy", "").startswith(SILENCE_CREATOR) and matchers == wanted
                    and (state == "active" or not active_only)):
                found.append(str(silence["id"]))
        return found

    async def _silence(self, item: Outgoing) -> None:
        assert self._client is not None
        message, work = item.message, item.work
        now = datetime.fromtimestamp(item.now_ms / 1000, tz=UTC)
        until = (datetime.fromtimestamp(work.acked_until / 1000, tz=UTC)
                 if work.acked_until else now + SILENCE_MAX)
        body = {
            "matchers": self.matchers(message),
            "startsAt": _iso(now),
            "endsAt": _iso(max(until, now + timedelta(minutes=1))),
            "createdBy": f"{SILENCE_CREATOR} (acknowledged by {work.acked_by})",
            "comment": f"Acknowledged by {work.acked_by} in callwatch ({message.dedup_key});"
                       " expires when the finding resolves.",
        }
        response = await self._client.post(f"{self.base()}/api/v2/silences", json=body)
        if response.status_code != 200:
            raise DeliveryError(f"Alertmanager refused the silence: HTTP {response.status_code}")

    async def _expire(self, silence_id: str) -> None:
        assert self._client is not None
        response = await self._client.delete(f"{self.base()}/api/v2/silence/{silence_id}")
        if response.status_code not in (200, 404):  # 404: expired meanwhile
            raise DeliveryError(f"Alertmanager did not expire a silence: HTTP"
                                f" {response.status_code}")

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _parse(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
