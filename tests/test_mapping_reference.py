"""The README's mapping reference is generated from the mapping schema and cannot drift."""

from __future__ import annotations

from pathlib import Path

from streams.adapters.generate_mapping_schema import README, reference_block
from streams.adapters.mapping import mapping_json_schema
from streams.adapters.mapping_reference import current_block

ROOT = Path(__file__).resolve().parent.parent


def test_readme_mapping_reference_is_what_the_schema_generates() -> None:
    assert README.resolve() == (ROOT / "README.md").resolve()
    block = current_block((ROOT / "README.md").read_text(encoding="utf-8"))
    assert block is not None, "README.md lost its mapping-reference markers"
    assert block == reference_block(), "run: python -m streams.adapters.generate_mapping_schema"


def test_every_mapping_key_has_a_description_and_an_example_in_the_reference() -> None:
    schema = mapping_json_schema()
    block = reference_block()
    undocumented = [
        f"{name}.{key}"
        for name, definition in schema["$defs"].items()
        for key, prop in definition["properties"].items()
        if not prop.get("description") or not prop.get("examples")
    ]
    assert undocumented == []
    for name, definition in schema["$defs"].items():
        assert f"#### {name}:" in block
        for key in definition["properties"]:
            assert f"| `{key}` |" in block, f"{name}.{key} missing from the reference"
