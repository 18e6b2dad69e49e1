"""The alerts file (``CALLWATCH_ALERTS_FILE``): channels, routes, escalation, delivery.

Loaded once at start-up, before any consumer joins: an unknown key, a route
naming a channel that does not exist or a rule the policy does not have, or a
secret that is not where the file says stops the worker with the place named.
Secrets are never written in the file, only the environment variable or file
that holds them (``password_env``, ``secret_file`` ...). Without a file every
alert goes to the ``log`` channel. ``deploy/alerts.example.yaml`` shows it all.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic import model_validator as _model_validator

from callwatch.alerting.base import AlertsConfigError, Channel, ChannelContext
from callwatch.alerting.registry import REGISTRY
from streams.alerting import oncall as schedules
from streams.alerting.delivery import Backoff, ChannelKind
from streams.alerting.oncall import OnCallFile, ScheduleError, tier_targets
from streams.alerting.routing import LOG_CHANNEL, Route, Target, Tier
from streams.engine.policy import Severity

# Kibana Discover filtered to the call; point it at your own dashboards.
DEFAULT_CALL_URL: Final = (
    "http://127.0.0.1:5601/app/discover#/"
    "?_a=(query:(language:kuery,query:'call_id:%22{call_id}%22'))"
)
_CHANNEL_NAME: Final = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DashboardConfig(_Strict):
    call_url: str = Field(DEFAULT_CALL_URL, description="link to a call; {call_id} is filled in")
    timezone: str = Field("UTC", description="times in messages, e.g. America/Kentucky/Louisville")

    @field_validator("call_url")
    @classmethod
    def _has_call_id(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")) or "{call_id}" not in value:
            raise ValueError("must be an http(s) URL containing {call_id}")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value


class DeliveryConfig(_Strict):
    timeout_seconds: float = Field(10, gt=0, le=300)
    retry_initial_seconds: float = Field(2, gt=0, le=3600)
    retry_max_seconds: float = Field(60, gt=0, le=86400)
    retry_factor: float = Field(2, ge=1, le=10)
    # A message still undelivered after this many attempts in a row counts as
    # failed in callwatch_alerts_total, which pages operators
    # (deploy/prometheus/rules). It is still retried.
    failed_after_attempts: int = Field(5, ge=1, le=1000)

    def backoff(self) -> Backoff:
        return Backoff(
            initial_ms=int(self.retry_initial_seconds * 1000),
            max_ms=int(max(self.retry_max_seconds, self.retry_initial_seconds) * 1000),
            factor=self.retry_factor,
        )


class MatchConfig(_Strict):
    severity: list[Severity] = []
    rule: list[str] = []


class TierConfig(_Strict):
    after_minutes: float = Field(ge=0)
    channels: list[str] = []
    # a schedule of the on-call file: the person on call when the tier is told
    oncall: str | None = None

    @_model_validator(mode="after")
    def _someone(self) -> TierConfig:
        if not self.channels and self.oncall is None:
            raise ValueError("a tier needs 'channels', 'oncall' (a schedule), or both")
        return self


class RouteConfig(_Strict):
    match: MatchConfig = MatchConfig()
    channels: list[str] | None = Field(None, min_length=1)
    escalation: list[TierConfig] | None = Field(None, min_length=1)
    # while nobody acknowledges a firing alert, tell the channels that carried it again
    renotify_minutes: float | None = Field(None, gt=0)
    # an acknowledgement lasts this long; a still-firing alert is then open again
    ack_timeout_minutes: float | None = Field(None, gt=0)

    @_model_validator(mode="after")
    def _channels_or_escalation(self) -> RouteConfig:
        if (self.channels is None) == (self.escalation is None):
            raise ValueError("give 'channels' (told at once) or 'escalation' (tiers), not both")
        if self.escalation is not None:
            times = [t.after_minutes for t in self.escalation]
            if times[0] != 0 or times != sorted(set(times)):
                raise ValueError(
                    "escalation tiers start at after_minutes: 0 and strictly increase"
                )
        return self

    def tiers(self) -> tuple[TierConfig, ...]:
        if self.escalation is not None:
            return tuple(self.escalation)
        assert self.channels is not None
        return (TierConfig(after_minutes=0, channels=self.channels),)


class AlertsFile(_Strict):
    # who is on call (see streams/alerting/oncall.py); relative to the alerts file
    oncall_file: Path | None = None
    dashboard: DashboardConfig = DashboardConfig()
    delivery: DeliveryConfig = DeliveryConfig()
    channels: dict[str, dict[str, Any]] = {}
    routes: list[RouteConfig] = [RouteConfig(channels=[LOG_CHANNEL])]


@dataclass(frozen=True)
class AlertsSetup:
    """The validated configuration with its channels built and secrets read."""

    source: str
    channels: Mapping[str, Channel]
    routes: tuple[Route, ...]
    backoff: Backoff
    timeout_seconds: float
    context: ChannelContext
    failed_after_attempts: int = 5
    oncall: OnCallFile | None = None

    @property
    def kinds(self) -> dict[str, ChannelKind]:
        return {name: channel.kind for name, channel in self.channels.items()}

    def targets(self, tier: Tier, now: int) -> tuple[Target, ...]:
        """Who a tier reaches at ``now``, through the on-call schedule."""
        return tier_targets(self.oncall, tier, now)


def load_alerts(path: Path | None, rules: Collection[str]) -> AlertsSetup:
    """Read and validate the alerts file (None: log only) against the policy's rules."""
    source = str(path) if path is not None else "(no alerts file: log channel only)"
    raw: Any = {}
    if path is not None:
        try:
            raw = yaml.safe_load(path.read_text()) or {}
        except OSError as exc:
            raise AlertsConfigError(f"cannot read alerts file {path}: {exc.strerror}") from None
        except yaml.YAMLError as exc:
            raise AlertsConfigError(f"alerts file {path} is not valid YAML: {exc}") from None
    try:
        parsed = AlertsFile.model_validate(raw)
    except ValidationError as exc:
        raise AlertsConfigError(_explain(source, exc)) from None
    context = ChannelContext(
        call_url_template=parsed.dashboard.call_url,
        timezone=parsed.dashboard.timezone,
        timeout_seconds=parsed.delivery.timeout_seconds,
    )
    channels = _build_channels(source, parsed.channels, context)
    oncall = _oncall(source, path, parsed.oncall_file, channels)
    routes = tuple(
        _route(source, i, r, channels, rules, oncall) for i, r in enumerate(parsed.routes)
    )
    return AlertsSetup(
        source=source,
        channels=channels,
        routes=routes,
        backoff=parsed.delivery.backoff(),
        timeout_seconds=parsed.delivery.timeout_seconds,
        context=context,
        failed_after_attempts=parsed.delivery.failed_after_attempts,
        oncall=oncall,
    )


def _oncall(
    source: str, path: Path | None, file: Path | None, channels: Mapping[str, Channel]
) -> OnCallFile | None:
    if file is None:
        return None
    if not file.is_absolute() and path is not None:
        file = path.parent / file
    try:
        oncall = schedules.load(file)
    except ScheduleError as exc:
        raise AlertsConfigError(f"{source}: oncall_file: {exc}") from None
    for person_id, person_channels in schedules.channels_used(oncall).items():
        missing = [c for c in person_channels if c not in channels]
        if missing:
            raise AlertsConfigError(
                f"{file}: people.{person_id}: channel(s) {', '.join(missing)} not defined"
                f" under 'channels' in {source}"
            )
    return oncall


def _build_channels(
    source: str, specs: Mapping[str, Mapping[str, Any]], context: ChannelContext
) -> dict[str, Channel]:
    channels: dict[str, Channel] = {}
    for name, spec in specs.items():
        where = f"{source}: channels.{name}"
        if not _CHANNEL_NAME.match(name):
            raise AlertsConfigError(f"{where}: a channel name is lower-case letters, digits, -_.")
        kind = spec.get("type") if isinstance(spec, Mapping) else None
        channel_class = REGISTRY.get(str(kind))
        if channel_class is None:
            raise AlertsConfigError(
                f"{where}: 'type' must be one of {', '.join(sorted(REGISTRY))}, not {kind!r}"
            )
        try:
            config = channel_class.config_model.model_validate(spec)
        except ValidationError as exc:
            raise AlertsConfigError(_explain(where, exc)) from None
        channels[name] = channel_class(name, config, context)
    if LOG_CHANNEL not in channels:
        log_class = REGISTRY["log"]
        channels[LOG_CHANNEL] = log_class(
            LOG_CHANNEL, log_class.config_model(type="log"), context
        )
    return channels


def _route(
    source: str,
    index: int,
    route: RouteConfig,
    channels: Mapping[str, Channel],
    rules: Collection[str],
    oncall: OnCallFile | None = None,
) -> Route:
    where = f"{source}: routes[{index}]"
    unknown_rules = [r for r in route.match.rule if r not in rules]
    if unknown_rules:
        raise AlertsConfigError(
            f"{where}.match.rule: {', '.join(unknown_rules)} not in the policy"
            f" (its rules: {', '.join(sorted(rules))})"
        )
    tiers = route.tiers()
    for tier in tiers:
        missing = [c for c in tier.channels if c not in channels]
        if missing:
            raise AlertsConfigError(
                f"{where}: channel(s) {', '.join(missing)} not defined under 'channels'"
                f" (defined: {', '.join(sorted(channels))})"
            )
        if tier.oncall is not None and (oncall is None or tier.oncall not in oncall.schedules):
            known = ", ".join(sorted(oncall.schedules)) if oncall else "no oncall_file given"
            raise AlertsConfigError(
                f"{where}: on-call schedule {tier.oncall!r} not in the oncall_file ({known})"
            )
    return Route(
        tiers=tuple(
            Tier(round(t.after_minutes * 60_000), tuple(t.channels), t.oncall) for t in tiers
        ),
        severities=frozenset(route.match.severity),
        rules=frozenset(route.match.rule),
        renotify_ms=_ms(route.renotify_minutes),
        ack_timeout_ms=_ms(route.ack_timeout_minutes),
    )


def _ms(minutes: float | None) -> int | None:
    return None if minutes is None else round(minutes * 60_000)


def _explain(where: str, exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        place = ".".join(str(part) for part in error["loc"])
        problems.append(f"{where}{'.' + place if place else ''}: {error['msg']}")
    return "invalid alerts configuration:\n  " + "\n  ".join(problems)


def escalation_minutes(route: Route, tier: int) -> float | None:
    """How long the alert had gone unacknowledged when ``tier`` was told (None for tier 0)."""
    if tier <= 0 or tier >= len(route.tiers):
        return None
    return route.tiers[tier].after_ms / 60_000
