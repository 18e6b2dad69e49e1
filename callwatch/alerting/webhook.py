"""A generic webhook: callwatch JSON, or a Slack or Microsoft Teams compatible payload.

Every request carries ``Idempotency-Key: <alert id>`` (a receiver that saw the
key before can drop a repeat after a worker restart) and, when a secret is
configured, an HMAC signature over timestamp and body
(``streams.alerting.signing``). Slack and Teams webhook URLs embed a token, so
the URL may come from an environment variable instead of the file.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Final, Literal

import httpx
import orjson
from pydantic import Field, HttpUrl, SecretStr, model_validator

from callwatch.alerting.base import (
    AlertsConfigError,
    Channel,
    ChannelConfig,
    ChannelContext,
    DeliveryError,
    Outgoing,
    read_secret,
)
from streams.alerting.message import Message
from streams.alerting.signing import signed_headers

IDEMPOTENCY_HEADER: Final = "Idempotency-Key"
# httpx logs every request's URL at INFO; Slack and Teams URLs are credentials.
logging.getLogger("httpx").setLevel(logging.WARNING)
_COLOR = {"firing": "attention", "cured": "warning", "resolved": "good", "withdrawn": "good",
          "acknowledged": "good", "reminder": "attention", "reopened": "attention"}


class WebhookConfig(ChannelConfig):
    type: Literal["webhook"]
    url: HttpUrl | None = None
    url_env: str | None = Field(None, description="environment variable holding the URL")
    format: Literal["generic", "slack", "teams"] = "generic"
    secret_env: str | None = Field(None, description="environment variable: HMAC secret")
    secret_file: Path | None = Field(None, description="file holding the HMAC secret")

    @model_validator(mode="after")
    def _one_url(self) -> WebhookConfig:
        if (self.url is None) == (self.url_env is None):
            raise ValueError("give exactly one of 'url' and 'url_env'")
        return self


class WebhookChannel(Channel):
    channel_type: ClassVar = "webhook"
    config_model: ClassVar = WebhookConfig
    config: WebhookConfig

    def __init__(self, name: str, config: ChannelConfig, context: ChannelContext) -> None:
        super().__init__(name, config, context)
        self._url = self._resolve_url()
        self._secret: SecretStr | None = read_secret(
            name, "secret", self.config.secret_env, self.config.secret_file
        )
        self._client: httpx.AsyncClient | None = None

    def _resolve_url(self) -> str:
        if self.config.url is not None:
            return str(self.config.url)
        assert self.config.url_env is not None
        value = os.environ.get(self.config.url_env, "")
        if not value.startswith(("http://", "https://")):
            raise AlertsConfigError(
                f"channel {self.name!r}: environment variable {self.config.url_env} must hold"
                " the webhook's http(s) URL"
            )
        return value

    def payload(self, item: Outgoing) -> dict[str, Any]:
        if self.config.format == "slack":
            return slack_payload(item.message)
        if self.config.format == "teams":
            return teams_payload(item.message)
        return generic_payload(item)

    async def send(self, items: Sequence[Outgoing]) -> None:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.context.timeout_seconds)
        for item in items:
            body = orjson.dumps(self.payload(item))
            headers = {
                "Content-Type": "application/json",
                "User-Agent": "callwatch-alerter",
                IDEMPOTENCY_HEADER: item.message.alert_id,
            }
            if self._secret is not None:
                secret = self._secret.get_secret_value().encode()
                headers.update(signed_headers(secret, int(time.time()), body))
            try:
                response = await self._client.post(self._url, content=body, headers=headers)
            except httpx.HTTPError as exc:
                # never the URL in the error: Slack and Teams URLs are credentials
                raise DeliveryError(f"webhook unreachable ({type(exc).__name__})") from None
            if not response.is_success:
                raise DeliveryError(
                    f"webhook answered HTTP {response.status_code}",
                    channel_down=not _refused_this_message(response.status_code),
                )

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def _refused_this_message(status: int) -> bool:
    """A 4xx other than timeout and rate limit is about this request, not the endpoint."""
    return 400 <= status < 500 and status not in (408, 429)


def generic_payload(item: Outgoing) -> dict[str, Any]:
    message, work = item.message, item.work
    intent = work.intent
    return {
        "version": 1,
        "alert_id": message.alert_id,
        "dedup_key": message.dedup_key,
        "state": intent.get("state"),
        "kind": message.kind,
        "severity": message.severity,
        "call_id": message.call_id,
        "rule": message.rule,
        "clause": intent.get("clause"),
        "title": message.title,
        "what": message.what,
        "policy": message.policy,
        "action": message.action,
        "call_url": message.call_url,
        "acknowledge": message.acknowledge,
        "text": message.body,
        "escalation_tier": work.tier,
        "violation_at": intent.get("violation_at"),
        "resolved_at": intent.get("resolved_at"),
        "agency": intent.get("agency"),
        "policy_version": intent.get("policy_version"),
        "possible_repeat": message.possible_repeat,
        # issue 19: one-click actions, for this recipient only, and the alerter's notices
        "ack_url": message.ack_url,
        "escalate_url": message.escalate_url,
        "links_expire": message.links_expire or None,
        "notice_of": intent.get("notice_of"),
        "acknowledged_by": message.acknowledged_by,
        "recipient": work.recipient or None,
    }


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_payload(message: Message) -> dict[str, Any]:
    """Slack incoming-webhook blocks (also accepted by Mattermost and Rocket.Chat).

    An acknowledgement reads as one green-ticked line naming who took the call, so the
    channel sees at a glance that nobody else needs to move."""
    if message.kind == "acknowledged":
        line = f":white_check_mark: *{_slack_escape(message.what)}*"
        return {
            "text": message.title,
            "blocks": [
                {"type": "section", "text": {"type": "mrkdwn", "text": line}},
                {"type": "context", "elements": [
                    {"type": "mrkdwn", "text": _slack_escape(message.title)}]},
                _slack_buttons(message),
            ],
        }
    fields = [
        f"*What happened:* {_slack_escape(message.what)}",
        f"*Policy:* {_slack_escape(message.policy)}",
        f"*Do now:* {_slack_escape(message.action)}",
    ]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": message.title[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(fields)}},
        _slack_buttons(message),
    ]
    if message.ack_url:
        blocks.append({"type": "context", "elements": [{
            "type": "mrkdwn",
            "text": f"The buttons work once, for this channel, until {message.links_expire}.",
        }]})
    elif message.acknowledge:
        blocks.append(
            {
                "type": "context",
                "elements": [
                    {"type": "mrkdwn", "text": f"Acknowledge: `{message.acknowledge}`"}
                ],
            }
        )
    return {"text": message.title, "blocks": blocks}


def _slack_buttons(message: Message) -> dict[str, Any]:
    buttons: list[dict[str, Any]] = []
    if message.ack_url:
        buttons.append({"type": "button", "style": "primary", "url": message.ack_url,
                        "text": {"type": "plain_text", "text": "I'm taking it"}})
    if message.escalate_url:
        buttons.append({"type": "button", "style": "danger", "url": message.escalate_url,
                        "text": {"type": "plain_text", "text": "Escalate now"}})
    buttons.append({"type": "button", "url": message.call_url,
                    "text": {"type": "plain_text", "text": "Open the call"}})
    return {"type": "actions", "elements": buttons}


def teams_payload(message: Message) -> dict[str, Any]:
    """An Adaptive Card, as Teams Workflows ("Post to a channel when a webhook request is
    received") and the older incoming-webhook connectors accept it."""
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            {
                "type": "TextBlock",
                "text": message.title,
                "size": "Medium",
                "weight": "Bolder",
                "wrap": True,
                "color": _COLOR[message.kind],
            },
            {
                "type": "FactSet",
                "facts": [
                    {"title": "What happened", "value": message.what},
                    {"title": "Policy", "value": message.policy},
                    {"title": "Do now", "value": message.action},
                    *(
                        [{"title": "Acknowledge", "value": message.acknowledge}]
                        if message.acknowledge and not message.ack_url
                        else []
                    ),
                ],
            },
        ],
        "actions": [
            *(
                [{"type": "Action.OpenUrl", "title": "I'm taking it", "url": message.ack_url,
                  "style": "positive"}]
                if message.ack_url else []
            ),
            *(
                [{"type": "Action.OpenUrl", "title": "Escalate now",
                  "url": message.escalate_url, "style": "destructive"}]
                if message.escalate_url else []
            ),
            {"type": "Action.OpenUrl", "title": "Open the call", "url": message.call_url},
        ],
    }
    if message.kind == "acknowledged":
        # one line anyone scrolling past can read: who took it, when, what they said
        card["body"] = [
            {"type": "TextBlock", "text": f"\u2705 {message.what}", "wrap": True,
             "weight": "Bolder", "color": "good"},
            {"type": "TextBlock", "text": message.title, "wrap": True, "isSubtle": True,
             "size": "Small"},
        ]
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": card,
            }
        ],
    }
