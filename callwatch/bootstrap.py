"""Build everything the worker and the tools need from settings, once, failing fast.

Loading the policy, the agency registry and the redaction policy here -- at
start-up, before any consumer joins a group -- means a bad file stops the
worker with one clear message instead of crashing an agent mid-stream.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from elasticsearch import AsyncElasticsearch

from callwatch.es import async_client
from callwatch.settings import Settings
from streams.engine.clock import Clock, EventClock, WallClock
from streams.engine.policy import Policy, load_policy
from streams.engine.state import Engine
from streams.originator import make_classifier
from streams.redaction import Redactor, load_redaction


def wall_millis() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True)
class Components:
    settings: Settings
    policy: Policy
    engine: Engine
    clock: Clock
    redactor: Redactor

    def es_async(self) -> AsyncElasticsearch:
        return async_client(self.settings)


def build_engine(settings: Settings) -> tuple[Policy, Engine]:
    policy = load_policy(settings.policy_file)
    classify = make_classifier(settings.registry_file)
    return policy, Engine(policy, classify)


def bootstrap(settings: Settings | None = None) -> Components:
    settings = settings or Settings()
    policy, engine = build_engine(settings)
    clock: Clock
    if settings.clock == "wall":
        clock = WallClock(wall_millis)
    else:
        clock = EventClock(lateness_ms=int(settings.lateness_seconds * 1000), wall=wall_millis)
    redactor = Redactor(load_redaction(settings.redaction_file))
    return Components(settings, policy, engine, clock, redactor)
