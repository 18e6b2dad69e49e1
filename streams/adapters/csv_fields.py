"""Where a mapped value comes from: a column, a template, a constant; code lookup tables.

Resolvers are compiled once per mapping and then called per row with the
row's raw cells (null markers already turned into None).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Sequence
from pathlib import Path

from streams.adapters.mapping import CsvMapping, FieldRef, MappingError, Placeholder, Template

Row = dict[str, str | None]
Resolver = Callable[[Row], str | None]
# None: an optional lookup whose file is missing; its codes stay untranslated.
LookupTables = dict[str, dict[str, str] | None]


def load_lookups(mapping: CsvMapping, search_dirs: Sequence[Path]) -> LookupTables:
    tables: LookupTables = {}
    for name, spec in mapping.lookups.items():
        candidates = (
            [Path(spec.file)]
            if Path(spec.file).is_absolute()
            else [directory / spec.file for directory in search_dirs]
        )
        found = next((p for p in candidates if p.is_file()), None)
        if found is None:
            if spec.optional:
                tables[name] = None
                continue
            looked = ", ".join(str(p) for p in candidates)
            raise MappingError(
                f"lookup {name!r}: {spec.file} not found (looked in: {looked}); "
                "set CALLWATCH_LOOKUP_DIR or pass --lookup-dir to point at the code tables"
            )
        with found.open(encoding=spec.encoding, newline="") as handle:
            reader = csv.DictReader(handle)
            header = [h.strip() for h in reader.fieldnames or ()]
            missing = {spec.key, spec.value} - set(header)
            if missing:
                raise MappingError(
                    f"lookup {name!r}: {found} has no column {sorted(missing)} (has {header})"
                )
            reader.fieldnames = header
            tables[name] = {
                str(row[spec.key]).strip(): str(row[spec.value]).strip()
                for row in reader
                if row.get(spec.key) and row.get(spec.value)
            }
    return tables


def compile_resolver(ref: FieldRef, lookups: LookupTables) -> Resolver:
    if isinstance(ref, str):
        column = ref
        return lambda row: row.get(column)
    base: Resolver
    if ref.value is not None:
        constant = ref.value
        base = lambda row: constant  # noqa: E731
    elif ref.template is not None:
        template = Template.parse(ref.template)

        def base(row: Row) -> str | None:
            return template.render(lambda p: _placeholder(p, row, lookups))
    else:
        column = str(ref.column)
        table = lookups.get(ref.lookup) if ref.lookup else None
        if table is None:  # no lookup, or an optional one whose file is missing
            base = lambda row: row.get(column)  # noqa: E731
        else:
            base = lambda row: _lookup(table, row.get(column))  # noqa: E731
    if ref.pattern is not None:
        base = _extracting(base, re.compile(ref.pattern))
    if ref.map:
        translations, unmapped = dict(ref.map), base

        def base(row: Row) -> str | None:
            value = unmapped(row)
            return translations.get(value, value) if value is not None else None

    return base


def _extracting(base: Resolver, pattern: re.Pattern[str]) -> Resolver:
    def extract(row: Row) -> str | None:
        value = base(row)
        match = pattern.search(value) if value is not None else None
        if match is None:
            return None
        return match.group(1) if pattern.groups else match.group(0)

    return extract


def _placeholder(placeholder: Placeholder, row: Row, lookups: LookupTables) -> str | None:
    value = row.get(placeholder.column)
    if placeholder.lookup is None:
        return value
    table = lookups.get(placeholder.lookup)
    return _lookup(table, value) if table is not None else None


def _lookup(table: dict[str, str], code: str | None) -> str | None:
    return table.get(code) if code is not None else None
