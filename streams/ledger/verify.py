"""Finding the first entry of a log that differs from the authentic one.

The authentic leaf hashes are the ones that reproduce a signed checkpoint's root.
Comparing them with the hashes of the entries as they are now, position by
position, the first difference is classified by where each side's hash shows up
on the other side:

=================================  ==========================================
the entry now at i is ...          and the authentic entry i is ...
=================================  ==========================================
new (not authentic anywhere)       gone: **changed**
new                                further on: **inserted** at i
an authentic entry from later      gone: **removed** (entry i was deleted)
an authentic entry from later      further on: **reordered**
a copy of an earlier entry         (anything): **inserted** (a duplicate)
=================================  ==========================================

Entries past the authentic hashes are **inserted** (the log has more entries than
it recorded); fewer entries than hashes is **removed** at the first one missing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from streams.ledger.merkle import leaf_hash

TamperKind = Literal["changed", "removed", "inserted", "reordered"]


@dataclass(frozen=True, slots=True)
class Tamper:
    kind: TamperKind
    index: int  # the first position where the log differs
    detail: str

    def message(self) -> str:
        return f"entry {self.index} {self.kind}: {self.detail}"


def leaf_hashes(entries: Sequence[bytes]) -> list[bytes]:
    return [leaf_hash(entry) for entry in entries]


def locate(entries: Sequence[bytes], authentic: Sequence[bytes]) -> Tamper | None:
    """The first difference between the entries and the authentic leaf hashes, or None."""
    now = leaf_hashes(entries)
    first = next((i for i, (a, b) in enumerate(zip(now, authentic, strict=False)) if a != b), None)
    if first is None:
        if len(now) > len(authentic):
            i = len(authentic)
            return Tamper("inserted", i, f"the log has {len(now) - i} entries more than recorded")
        if len(now) < len(authentic):
            i = len(now)
            return Tamper("removed", i, f"{len(authentic) - i} recorded entries are missing")
        return None
    i = first
    where_authentic = _first_positions(authentic)
    where_now = _first_positions(now)
    here_was = where_authentic.get(now[i])  # where the entry now at i really belongs
    moved_to = where_now.get(authentic[i])  # where the authentic entry i is now
    if here_was is not None and here_was < i:
        return Tamper("inserted", i, f"a copy of entry {here_was} was inserted here")
    if here_was is None and moved_to is None:
        return Tamper("changed", i, "its content differs from what was recorded")
    if here_was is None:
        return Tamper(
            "inserted", i, f"a new entry was inserted; the recorded one is now {moved_to}"
        )
    if moved_to is None:
        return Tamper("removed", i, f"it was deleted; entry {here_was} now stands in its place")
    return Tamper("reordered", i, f"entry {here_was} stands here; this one was moved to {moved_to}")


def _first_positions(hashes: Sequence[bytes]) -> dict[bytes, int]:
    positions: dict[bytes, int] = {}
    for i, h in enumerate(hashes):
        positions.setdefault(h, i)
    return positions
