"""The README's mapping reference, rendered from the mapping's JSON Schema.

Every key of every section, with its type, default, description and example,
comes from the structs in mapping.py (through the generated schema), and the
anomaly kinds from the converter, so the reference cannot drift from the code:
``python -m streams.adapters.generate_mapping_schema`` rewrites the block
between the markers, and a test fails when README.md and the schema disagree.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, Final

BEGIN: Final = (
    "<!-- mapping-reference:begin (generated from schemas/mapping.v2.schema.json by "
    "`python -m streams.adapters.generate_mapping_schema`; do not edit by hand) -->"
)
END: Final = "<!-- mapping-reference:end -->"

# Sections in reading order, with the key that leads to each.
_SECTIONS: Final = (
    ("CsvMapping", "the top level"),
    ("Fields", "`fields`"),
    ("FieldSpec", "a field given as a mapping instead of a column name (and `call_id`)"),
    ("EventSpec", "each entry of `events`"),
    ("TimeSpec", "an event's `at` given as a mapping instead of a column name"),
    ("PackedUnits", "an event's `units`"),
    ("LookupSpec", "each entry of `lookups`"),
)


def render_reference(schema: Mapping[str, Any], anomaly_kinds: Mapping[str, str]) -> str:
    """The markdown between the markers (markers included)."""
    defs = schema["$defs"]
    missing = sorted(set(defs) - {name for name, _ in _SECTIONS})
    if missing:
        raise ValueError(f"mapping_reference: no section for {missing}; add it to _SECTIONS")
    out = [BEGIN, ""]
    for name, where in _SECTIONS:
        definition = defs[name]
        out.append(f"#### {name}: {where}")
        out.append("")
        out.append(_escape(definition.get("description", "")).replace("\n\n", " "))
        out.append("")
        out.append("| key | type | default | description | example |")
        out.append("|---|---|---|---|---|")
        required = set(definition.get("required", ()))
        for key, prop in sorted(definition["properties"].items(), key=_required_first(required)):
            default = "required" if key in required else _code(prop.get("default"))
            examples = prop.get("examples") or [None]
            out.append(
                f"| `{key}` | {_type(prop)} | {default} | {_escape(prop.get('description', ''))} "
                f"| {_code(examples[0])} |"
            )
        out.append("")
    out.append("#### Anomalies")
    out.append("")
    out.append(
        "Doubtful values that still convert are reported per row (`Converted.anomalies`) "
        "for the data-quality report, with the kind, the line and the column:"
    )
    out.append("")
    out.append("| kind | meaning |")
    out.append("|---|---|")
    out.extend(f"| `{kind}` | {_escape(text)} |" for kind, text in anomaly_kinds.items())
    out.append("")
    out.append(END)
    return "\n".join(out)


def replace_block(text: str, block: str) -> str:
    """``text`` with the block between the markers replaced; ValueError without markers."""
    start = text.find(BEGIN)
    end = text.find(END)
    if start < 0 or end < start:
        raise ValueError("README.md has no mapping-reference markers")
    return text[:start] + block + text[end + len(END) :]


def current_block(text: str) -> str | None:
    start = text.find(BEGIN)
    end = text.find(END)
    if start < 0 or end < start:
        return None
    return text[start : end + len(END)]


def _required_first(required: set[str]) -> Any:
    return lambda item: (item[0] not in required, item[0])


def _type(prop: Mapping[str, Any]) -> str:
    return " or ".join(dict.fromkeys(_types(prop))) or "any"


def _types(prop: Mapping[str, Any]) -> Iterable[str]:
    if "anyOf" in prop:
        for option in prop["anyOf"]:
            yield from _types(option)
        return
    if "$ref" in prop:
        yield str(prop["$ref"]).rsplit("/", 1)[-1]
        return
    if "enum" in prop:
        yield " \\| ".join(f"`{json.dumps(v)}`" for v in prop["enum"])
        return
    kind = prop.get("type")
    if kind == "array":
        yield f"list of {_type(prop.get('items', {}))}"
    elif kind == "object":
        values = prop.get("additionalProperties")
        yield f"map of {_type(values)}" if isinstance(values, dict) else "map"
    elif kind == "null":
        yield "null"
    elif kind is not None:
        yield str(kind) + (f" ({prop['format']})" if "format" in prop else "")


def _code(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, dict) and value and all(v is None for v in value.values()):
        value = {}  # a section whose keys are all unset
    return f"`{_escape(json.dumps(value, ensure_ascii=False))}`"


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
