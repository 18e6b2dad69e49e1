"""Regenerate the committed mapping JSON Schema from the mapping structs.

    python -m streams.adapters.generate_mapping_schema

A test fails when the committed file differs from what this writes.
"""

from __future__ import annotations

from schemas import schema_path
from streams.adapters.mapping import MAPPING_SCHEMA_FILE, render_mapping_json_schema


def main() -> None:
    schema_path(MAPPING_SCHEMA_FILE).write_text(render_mapping_json_schema(), encoding="utf-8")


if __name__ == "__main__":
    main()
