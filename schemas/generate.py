"""Regenerate the committed JSON Schemas from the Python types.

    python -m schemas.generate

A test fails when the committed files differ from what this writes.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec

from schemas import schema_path
from schemas.events import DispatchEvent

DISPATCH_EVENT_FILE = "dispatch-event.v1.schema.json"


def dispatch_event_schema() -> dict[str, Any]:
    schema: dict[str, Any] = msgspec.json.schema(DispatchEvent)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://callwatch.invalid/schemas/dispatch-event.v1.schema.json"
    schema["title"] = "callwatch canonical dispatch event, version 1"
    return schema


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def main() -> None:
    schema_path(DISPATCH_EVENT_FILE).write_text(render(dispatch_event_schema()))


if __name__ == "__main__":
    main()
