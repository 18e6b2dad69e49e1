"""Adapters: real-world CAD data (CSV exports, EIDO documents, JSON lines) -> canonical events.

Every adapter yields one outcome per input record (events, a duplicate, or a
rejection with a reason) so that a conversion's counts always add up. Time
comes in as ``received_at``; nothing here reads the clock.
"""

from streams.adapters.detect import OpenedInput, detect_format, open_input
from streams.adapters.mapping import CsvMapping, MappingError, load_mapping, resolve_mapping
from streams.adapters.result import (
    Collector,
    Converted,
    Duplicate,
    InputError,
    Outcome,
    Rejection,
    Tally,
)

__all__ = [
    "Collector",
    "Converted",
    "CsvMapping",
    "Duplicate",
    "InputError",
    "MappingError",
    "OpenedInput",
    "Outcome",
    "Rejection",
    "Tally",
    "detect_format",
    "load_mapping",
    "open_input",
    "resolve_mapping",
]
