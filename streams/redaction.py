"""Remove personal data from documents before they reach dashboard indices.

The policy is data (``schemas/redaction.v1.yaml`` by default, or a deployment's
own file): which dotted fields to mask or drop, which free-text fields to scrub.
Scrubbing removes phone numbers, e-mail addresses, and any redacted field value
that also appears in the text (a caller's name repeated in the narrative).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Final, Literal

import msgspec
import yaml

from schemas import schema_path

MASK: Final = "[redacted]"
_PHONE: Final = re.compile(r"(?<!\w)(?:\+?1[\s.-]?)?\(?\d{3}\)?[\s.-]?\d{3}[\s.-]?\d{4}(?!\w)")
_EMAIL: Final = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


class RedactionPolicy(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    version: Literal[1]
    mode: Literal["mask", "drop"] = "mask"
    fields: tuple[str, ...] = ()
    text_fields: tuple[str, ...] = ()
    text_mode: Literal["scrub", "drop", "keep"] = "scrub"


def load_redaction(path: Path | None = None) -> RedactionPolicy:
    source = path or schema_path("redaction.v1.yaml")
    try:
        return msgspec.convert(yaml.safe_load(source.read_text()), RedactionPolicy)
    except (OSError, yaml.YAMLError, msgspec.ValidationError) as exc:
        raise ValueError(f"{source}: invalid redaction policy: {exc}") from None


class Redactor:
    def __init__(self, policy: RedactionPolicy) -> None:
        self.policy = policy
        self._paths = tuple(tuple(f.split(".")) for f in policy.fields)

    def event(self, doc: dict[str, Any]) -> dict[str, Any]:
        """Redact an event document in place (it is built fresh per event) and return it."""
        removed: list[str] = []
        for path in self._paths:
            value = _pop_or_mask(doc, path, self.policy.mode == "drop")
            if isinstance(value, str) and len(value) >= 3:
                removed.append(value)
        self._text(doc, removed)
        if removed or self._paths:
            doc["redacted"] = list(self.policy.fields)
        return doc

    def finding(self, doc: dict[str, Any]) -> dict[str, Any]:
        self._text(doc, [])
        return doc

    def call(self, doc: dict[str, Any]) -> dict[str, Any]:
        evidence = doc.get("originator_evidence")
        if evidence and self.policy.text_mode != "keep":
            doc["originator_evidence"] = [scrub(e, []) for e in evidence]
        return doc

    def _text(self, doc: dict[str, Any], removed: list[str]) -> None:
        for name in self.policy.text_fields:
            text = doc.get(name)
            if not isinstance(text, str):
                continue
            if self.policy.text_mode == "drop":
                doc[name] = MASK
            elif self.policy.text_mode == "scrub":
                doc[name] = scrub(text, removed)


def scrub(text: str, known: list[str]) -> str:
    for value in known:
        text = re.sub(re.escape(value), MASK, text, flags=re.IGNORECASE)
    text = _EMAIL.sub(MASK, text)
    return _PHONE.sub(MASK, text)


def _pop_or_mask(doc: dict[str, Any], path: tuple[str, ...], drop: bool) -> Any:
    parent: Any = doc
    for key in path[:-1]:
        parent = parent.get(key) if isinstance(parent, dict) else None
        if parent is None:
            return None
    if not isinstance(parent, dict) or path[-1] not in parent:
        return None
    # Masking keeps the field for counting, but only a string can hold the mask.
    if drop or not isinstance(parent[path[-1]], str):
        return parent.pop(path[-1])
    value = parent[path[-1]]
    parent[path[-1]] = MASK
    return value
