"""Policy as code: the versioned YAML policy, loaded into typed rule configs.

The file names its rules; each rule id must be in the rule registry
(``streams.engine.rules.RULES``), and its ``params`` are decoded into that rule's
own typed ``Params`` struct, so a misspelt parameter or a wrong type fails at
start-up with the rule and key named, not at 3 a.m. when the rule first runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final, Literal

import msgspec
import yaml

from schemas import schema_path
from schemas.events import Rank

Severity = Literal["critical", "high", "warning", "review"]
SEVERITIES: Final[tuple[Severity, ...]] = ("critical", "high", "warning", "review")

DEFAULT_POLICY_FILE: Final = "policies/louisville.v1.yaml"


class PolicyError(ValueError):
    """The policy file is unusable; the message says where and why."""


class RuleConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    clause: str
    severity: Severity
    summary: str
    params: dict[str, Any] = {}
    enabled: bool = True


class _PolicyFile(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    policy: str
    version: str
    title: str
    clauses: dict[str, str]
    commanding_ranks: list[Rank]
    rules: dict[str, RuleConfig]
    source: str | None = None


class BoundRule(msgspec.Struct, frozen=True):
    """A rule id with its clause, severity and decoded, typed parameters."""

    id: str
    clause: str
    clause_text: str
    severity: Severity
    summary: str
    params: Any


class Policy(msgspec.Struct, frozen=True):
    name: str
    version: str
    title: str
    commanding_ranks: frozenset[str]
    rules: tuple[BoundRule, ...]

    def rule(self, rule_id: str) -> BoundRule:
        for bound in self.rules:
            if bound.id == rule_id:
                return bound
        raise KeyError(rule_id)


def load_policy(path: Path | None = None) -> Policy:
    """Load and validate a policy file; the shipped Louisville policy by default."""
    from streams.engine.rules import RULES  # the registry; imported late to avoid a cycle

    source = path or schema_path(DEFAULT_POLICY_FILE)
    try:
        raw = yaml.safe_load(source.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise PolicyError(f"{source}: cannot read policy: {exc}") from None
    try:
        doc = msgspec.convert(raw, _PolicyFile)
    except msgspec.ValidationError as exc:
        raise PolicyError(f"{source}: {exc}") from None

    bound: list[BoundRule] = []
    for rule_id, cfg in doc.rules.items():
        if rule_id not in RULES:
            raise PolicyError(
                f"{source}: rule {rule_id!r} is not a known rule; known: {sorted(RULES)}"
            )
        if cfg.clause not in doc.clauses:
            raise PolicyError(f"{source}: rule {rule_id!r} cites unknown clause {cfg.clause!r}")
        try:
            params = msgspec.convert(cfg.params, RULES[rule_id].Params)
        except msgspec.ValidationError as exc:
            raise PolicyError(f"{source}: rule {rule_id!r} params: {exc}") from None
        if cfg.enabled:
            bound.append(
                BoundRule(
                    id=rule_id,
                    clause=cfg.clause,
                    clause_text=doc.clauses[cfg.clause],
                    severity=cfg.severity,
                    summary=cfg.summary,
                    params=params,
                )
            )
    return Policy(
        name=doc.policy,
        version=doc.version,
        title=doc.title,
        commanding_ranks=frozenset(doc.commanding_ranks),
        rules=tuple(bound),
    )
