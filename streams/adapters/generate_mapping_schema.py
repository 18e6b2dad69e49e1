"""Regenerate the committed mapping JSON Schema, and the README's mapping reference, from
the mapping structs.

    python -m streams.adapters.generate_mapping_schema

Tests fail when the committed schema or README block differs from what this writes.
"""

from __future__ import annotations

from pathlib import Path

from schemas import schema_path
from streams.adapters.csv_mapping import ANOMALY_KINDS
from streams.adapters.mapping import (
    MAPPING_SCHEMA_FILE,
    mapping_json_schema,
    render_mapping_json_schema,
)
from streams.adapters.mapping_reference import render_reference, replace_block

README = Path(schema_path(MAPPING_SCHEMA_FILE)).parent.parent / "README.md"


def reference_block() -> str:
    return render_reference(mapping_json_schema(), ANOMALY_KINDS)


def main() -> None:
    schema_path(MAPPING_SCHEMA_FILE).write_text(render_mapping_json_schema(), encoding="utf-8")
    text = README.read_text(encoding="utf-8")
    README.write_text(replace_block(text, reference_block()), encoding="utf-8")


if __name__ == "__main__":
    main()
