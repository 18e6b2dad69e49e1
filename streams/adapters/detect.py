"""Pick the adapter for an input file from its extension, or failing that its content.

``.jsonl``/``.ndjson``: canonical events; ``.json``: EIDO documents; ``.csv``:
a CAD export, converted with the given mapping or, without one, with the
shipped mapping whose columns the header has. Other extensions are sniffed.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Final, Literal

import msgspec

from streams.adapters.csv_mapping import read_csv
from streams.adapters.eido import read_eido_file
from streams.adapters.jsonl import read_jsonl
from streams.adapters.mapping import (
    CsvMapping,
    MappingError,
    load_mapping,
    referenced_columns,
    resolve_mapping,
    shipped_mappings,
)
from streams.adapters.result import InputError, Outcome

InputFormat = Literal["jsonl", "eido", "csv"]

_BY_SUFFIX: Final[dict[str, InputFormat]] = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "eido",
    ".csv": "csv",
    ".tsv": "csv",
}
_SNIFF_BYTES: Final = 64 * 1024


@dataclass(frozen=True, slots=True)
class OpenedInput:
    path: Path
    format: InputFormat
    mapping_name: str | None  # the CSV mapping used (file stem), None for JSON inputs
    outcomes: Iterator[Outcome]


def detect_format(path: Path) -> InputFormat:
    known = _BY_SUFFIX.get(path.suffix.lower())
    if known is not None:
        return known
    try:
        with path.open("rb") as handle:
            head = handle.read(_SNIFF_BYTES)
    except OSError as exc:
        raise InputError(f"{path}: {exc.strerror or exc}") from exc
    first_line = head.lstrip().split(b"\n", 1)[0].strip()
    if first_line.startswith(b"["):
        return "eido"
    if first_line.startswith(b"{"):
        try:
            first: object = msgspec.json.decode(first_line)
        except msgspec.DecodeError:
            return "eido"  # a pretty-printed document: its first line is not a whole object
        is_eido = isinstance(first, dict) and ("eidoVersion" in first or "event" in first)
        return "eido" if is_eido else "jsonl"
    return "csv"


def open_input(
    path: Path,
    mapping: CsvMapping | str | Path | None = None,
    *,
    received_at: datetime,
    lookup_dirs: Sequence[Path] = (),
) -> OpenedInput:
    """The outcomes of converting ``path``; ``mapping`` is a mapping, its path or short name.

    Raises InputError or MappingError before reading any record when the
    input or the mapping is unusable, so a caller can report it up front.
    """
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    if mapping is not None:
        chosen, name, mapping_dir = _load(mapping)
        outcomes = read_csv(
            path, chosen, received_at=received_at, lookup_dirs=lookup_dirs, mapping_dir=mapping_dir
        )
        return OpenedInput(path, "csv", name, outcomes)
    found = detect_format(path)
    if found == "jsonl":
        return OpenedInput(path, found, None, read_jsonl(path))
    if found == "eido":
        return OpenedInput(path, found, None, read_eido_file(path, received_at=received_at))
    name = match_shipped_mapping(path)
    chosen = load_mapping(shipped_mappings()[name])
    return OpenedInput(
        path, "csv", name, read_csv(path, chosen, received_at=received_at, lookup_dirs=lookup_dirs)
    )


def _load(mapping: CsvMapping | str | Path) -> tuple[CsvMapping, str | None, Path | None]:
    if isinstance(mapping, CsvMapping):
        return mapping, None, None
    file = resolve_mapping(mapping)
    return load_mapping(file), file.stem, file.parent


def match_shipped_mapping(path: Path) -> str:
    """The one shipped mapping whose every column is in the CSV's header."""
    matches: list[str] = []
    for name, file in shipped_mappings().items():
        mapping = load_mapping(file)
        if mapping.format != "csv":
            continue  # a JSON export is named by --mapping; headers are for CSV
        header = _header(path, mapping)
        if header and referenced_columns(mapping) <= set(header):
            matches.append(name)
    if len(matches) == 1:
        return matches[0]
    shipped = ", ".join(shipped_mappings())
    if not matches:
        raise MappingError(
            f"{path}: no shipped mapping fits this header; pass --mapping with a mapping file "
            f"(shipped: {shipped})"
        )
    raise MappingError(
        f"{path}: several shipped mappings fit ({', '.join(matches)}); pass --mapping"
    )


def _header(path: Path, mapping: CsvMapping) -> list[str]:
    try:
        with path.open(encoding=mapping.encoding, newline="", errors="replace") as handle:
            row = next(csv.reader(handle, delimiter=mapping.delimiter), [])
    except (OSError, csv.Error):
        return []
    return [cell.strip().lstrip("\ufeff") for cell in row]
