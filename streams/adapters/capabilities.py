"""What a CSV mapping's source can report: derived from the columns it maps.

A CAD export with no camera columns cannot show whether a camera was on, so its
events must not let the camera rule read silence as "off". The kinds of fact an
export provides follow from its mapping: each mapped event type shows one kind
(``unit.on_scene`` shows units), a narrative column shows the narrative, a line
column what line the call came in on. A mapping's explicit ``provides:`` list wins
(e.g. an export whose unit rows are known to be incomplete can leave ``units`` out).
"""

from __future__ import annotations

from typing import Final

from schemas.events import FACT_KINDS, FactKind
from streams.adapters.mapping import CsvMapping
from streams.engine.capabilities import KIND_OF_EVENT

# Fields whose column shows a kind of fact on its own.
_KIND_OF_FIELD: Final[dict[str, FactKind]] = {"narrative": "narrative", "line_kind": "recording"}


def mapping_provides(mapping: CsvMapping) -> tuple[FactKind, ...]:
    """The fact kinds the mapping's source reports, in FACT_KINDS order."""
    explicit: tuple[FactKind, ...] | None = getattr(mapping, "provides", None)
    if explicit is not None:
        return tuple(k for k in FACT_KINDS if k in explicit)
    kinds: set[FactKind] = {
        KIND_OF_EVENT[spec.type] for spec in mapping.events if spec.type in KIND_OF_EVENT
    }
    for name, kind in _KIND_OF_FIELD.items():
        if getattr(mapping.fields, name, None) is not None:
            kinds.add(kind)
    return tuple(k for k in FACT_KINDS if k in kinds)
