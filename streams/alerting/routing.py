"""Which channels hear about an alert, and who is next when nobody acknowledges it.

A route matches on severity and rule (an empty match matches everything); the
first route that matches wins. Its tiers are the escalation ladder: tier 0 is
told at once, tier n when the alert has fired ``after_ms`` ago and nobody has
acknowledged it. An alert no route matches goes to the ``log`` channel only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

LOG_CHANNEL: Final = "log"


@dataclass(frozen=True, slots=True)
class Tier:
    after_ms: int  # since the alert fired
    channels: tuple[str, ...]  # told whoever is on call
    oncall: str | None = None  # a schedule of the on-call file: the person on call then


@dataclass(frozen=True, slots=True)
class Target:
    """One channel to tell, and who it reaches (a person of the schedule, or "")."""

    channel: str
    recipient: str = ""  # person id; "" when the channel is not a person's
    recipient_name: str = ""


@dataclass(frozen=True, slots=True)
class Route:
    tiers: tuple[Tier, ...]
    severities: frozenset[str] = frozenset()  # empty: any
    rules: frozenset[str] = frozenset()  # empty: any
    # Re-notify the channels that carried a firing alert while nobody acknowledges it.
    renotify_ms: int | None = None
    # An acknowledgement lasts this long; then a still-firing alert is open again and
    # escalates from the first tier, as PagerDuty's acknowledgement timeout.
    ack_timeout_ms: int | None = None

    def __post_init__(self) -> None:
        if not self.tiers or self.tiers[0].after_ms != 0:
            raise ValueError("a route's first tier must start at 0 minutes")
        times = [tier.after_ms for tier in self.tiers]
        if times != sorted(set(times)):
            raise ValueError("escalation tiers must come in strictly increasing time order")

    def matches(self, severity: str, rule: str) -> bool:
        return (not self.severities or severity in self.severities) and (
            not self.rules or rule in self.rules
        )

    def escalate_at(self, fired_at: int, tier: int) -> int | None:
        """When the tier after ``tier`` is due, or None at the top of the ladder."""
        following = tier + 1
        if following >= len(self.tiers):
            return None
        return fired_at + self.tiers[following].after_ms

    @property
    def channels(self) -> tuple[str, ...]:
        """Every channel any tier of this route uses, in tier order."""
        seen: dict[str, None] = {}
        for tier in self.tiers:
            seen.update(dict.fromkeys(tier.channels))
        return tuple(seen)


def channel_targets(tier: Tier, now: int) -> tuple[Target, ...]:
    """A tier's channels as they are, reaching no one in particular (no schedule)."""
    return tuple(Target(channel) for channel in tier.channels)


LOG_ONLY: Final = Route(tiers=(Tier(0, (LOG_CHANNEL,)),))


def route_for(routes: Sequence[Route], severity: str, rule: str) -> Route:
    for route in routes:
        if route.matches(severity, rule):
            return route
    return LOG_ONLY
