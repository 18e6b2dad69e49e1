"""Small-cell suppression for 2-D count tables with row and column totals.

**Primary:** a count from 1 to ``threshold - 1`` is withheld and shown as
``<5`` (for a threshold of 5): a handful of calls can point at the people on
them. Zeros are shown: they describe nobody.

**Complementary:** the totals are published, so one withheld cell in a row
would be its total minus the rest. Cells are withheld until no withheld cell
is pinned down by what is published, counting what a reader knows: a primary
cell is between 1 and ``threshold - 1``, any cell is a whole number >= 0. The
check is exact (``determined``: the smallest and largest value each withheld
cell can take over every table consistent with the published figures); while
one is pinned, another cell of its row (else column, else the total) is
withheld, the smallest non-zero one first, so as little as possible is lost.
Complementary cells are shown as ``*``.

Totals are the line sums, treated as one more row and column of the table, so
a withheld total is handled like any other cell. The grand total is withheld
only as a last resort, and a table whose grand total is itself small is
withheld whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Mark = Literal["", "primary", "complementary"]


@dataclass(frozen=True)
class Suppressed:
    """A table with its totals and what to withhold: ``marks[r][c]`` over the extended
    table, whose last row holds the column totals and last column the row totals.
    The grand total (bottom right) is published unless nothing else can protect a cell."""

    values: tuple[tuple[int, ...], ...]
    marks: tuple[tuple[Mark, ...], ...]
    threshold: int

    def shown(self, r: int, c: int) -> str:
        mark = self.marks[r][c]
        if mark == "primary":
            return f"<{self.threshold}"
        if mark == "complementary":
            return "*"
        return str(self.values[r][c])


def extend(cells: Sequence[Sequence[int]]) -> list[list[int]]:
    """The table with a totals column and a totals row (the grand total in the corner)."""
    rows = [[*list(row), sum(row)] for row in cells]
    width = len(rows[0]) if rows else 1
    rows.append([sum(row[c] for row in rows) for c in range(width)])
    return rows


def suppress(cells: Sequence[Sequence[int]], threshold: int) -> Suppressed:
    values = extend(cells)
    nr, nc = len(values), len(values[0])
    marks: list[list[Mark]] = [["" for _ in range(nc)] for _ in range(nr)]
    for r in range(nr - 1):
        for c in range(nc - 1):
            if 0 < values[r][c] < threshold:
                marks[r][c] = "primary"
    grand = values[nr - 1][nc - 1]
    if 0 < grand < threshold:  # a table of a handful of calls is withheld whole
        marks = [["primary" for _ in range(nc)] for _ in range(nr)]
    while True:
        pinned = _first_pinned(values, marks, threshold)
        if pinned is None:
            break
        r, c = pinned
        choice = _complement(values, marks, r, c)
        if choice is not None:
            marks[choice[0]][choice[1]] = "complementary"
            continue
        # Nothing left beside it in its row or column: withhold every other cell.
        changed = False
        for rr in range(nr):
            for cc in range(nc):
                if not marks[rr][cc] and (rr, cc) != (nr - 1, nc - 1):
                    marks[rr][cc] = "complementary"
                    changed = True
        if not changed:
            if marks[nr - 1][nc - 1]:
                break  # everything is withheld already
            # Only the grand total is left: with it, the small cells would add up to a
            # known figure (two cells "<5" in a table of 8 are 4 and 4). Withhold it too.
            marks[nr - 1][nc - 1] = "complementary"
    return Suppressed(
        tuple(tuple(row) for row in values), tuple(tuple(row) for row in marks), threshold
    )


def _complement(
    values: list[list[int]], marks: list[list[Mark]], r: int, c: int
) -> tuple[int, int] | None:
    """The next cell to withhold for the pinned cell (r, c): one closing a rectangle of
    withheld cells if there is one, else one in whichever of its lines has fewer withheld
    cells; inner cells before totals, the smallest non-zero count first."""
    nr, nc = len(values), len(values[0])
    grand = (nr - 1, nc - 1)  # the grand total is always published

    def free(p: tuple[int, int]) -> bool:
        return not marks[p[0]][p[1]] and p != grand

    def best(candidates: list[tuple[int, int]]) -> tuple[int, int] | None:
        inner = [p for p in candidates if p[0] < nr - 1 and p[1] < nc - 1]
        for pool in (
            [p for p in inner if values[p[0]][p[1]] > 0],
            [p for p in candidates if values[p[0]][p[1]] > 0],
            inner,
            candidates,
        ):
            if pool:
                return min(pool, key=lambda p: (values[p[0]][p[1]], p))
        return None

    rows = [rr for rr in range(nr) if rr != r and marks[rr][c]]
    cols = [cc for cc in range(nc) if cc != c and marks[r][cc]]
    closing = [(rr, cc) for rr in rows for cc in cols if free((rr, cc))]
    if closing:
        return best(closing)
    line_row = [(r, cc) for cc in range(nc) if cc != c and free((r, cc))]
    line_col = [(rr, c) for rr in range(nr) if rr != r and free((rr, c))]
    lines = [line_row, line_col] if len(cols) <= len(rows) else [line_col, line_row]
    for line in lines:
        choice = best(line)
        if choice is not None:
            return choice
    return None


def _first_pinned(
    values: list[list[int]], marks: list[list[Mark]], threshold: int
) -> tuple[int, int] | None:
    exposed = pinned(values, marks, threshold)
    return exposed[0] if exposed else None


def pinned(
    values: Sequence[Sequence[int]], marks: Sequence[Sequence[Mark]], threshold: int
) -> list[tuple[int, int]]:
    """Withheld cells that the published figures might pin down, in table order.

    A withheld cell can take another value exactly when some cycle of withheld
    cells through it (alternating between its rows and columns) can be shifted by
    one, +1 and -1 alternately so every line still adds up, with each cell on it
    staying in what a reader knows of it (a primary cell 1..threshold-1, any
    cell >= 0, nothing above the grand total). Cells with no such cycle are
    returned: the caller withholds more until there are none. (This is exact for
    a single shift; a cell it returns could in rare tables still be ambiguous, so
    it errs toward withholding one cell too many, never one too few.)
    """
    nr, nc = len(values), len(values[0])
    last_r, last_c = nr - 1, nc - 1
    # Nothing exceeds the grand total; once it is withheld a reader has no upper bound.
    grand = values[last_r][last_c] if not marks[last_r][last_c] else 10**12
    hidden = [(r, c) for r in range(nr) for c in range(nc) if marks[r][c]]
    at_row: dict[int, list[tuple[int, int]]] = {}
    at_col: dict[int, list[tuple[int, int]]] = {}
    for cell in hidden:
        at_row.setdefault(cell[0], []).append(cell)
        at_col.setdefault(cell[1], []).append(cell)

    def ok(cell: tuple[int, int], delta: int) -> bool:
        v = values[cell[0]][cell[1]] + delta
        low, high = (1, threshold - 1) if marks[cell[0]][cell[1]] == "primary" else (0, grand)
        return low <= v <= high

    def sign(cell: tuple[int, int], line: tuple[str, int]) -> int:
        """+1 for a cell adding into the line, -1 for the line's own total."""
        if line[0] == "r":
            return -1 if cell[1] == last_c else 1
        return -1 if cell[0] == last_r else 1

    def other_end(cell: tuple[int, int], line: tuple[str, int]) -> tuple[str, int]:
        return ("c", cell[1]) if line[0] == "r" else ("r", cell[0])

    def cycle(start: tuple[int, int], d: int) -> bool:
        if not ok(start, d):
            return False
        home = ("r", start[0])
        used = {start}

        def walk(line: tuple[str, int], came: tuple[int, int], delta: int) -> bool:
            lines = at_row if line[0] == "r" else at_col
            for nxt in lines.get(line[1], []):
                if nxt in used:
                    continue
                nd = -sign(came, line) * sign(nxt, line) * delta
                if not ok(nxt, nd):
                    continue
                end = other_end(nxt, line)
                if end == home:
                    if sign(nxt, home) * nd + sign(start, home) * d == 0:
                        return True
                    continue
                used.add(nxt)
                if walk(end, nxt, nd):
                    return True
                used.discard(nxt)
            return False

        return walk(("c", start[1]), start, d)

    return [cell for cell in hidden if not (cycle(cell, 1) or cycle(cell, -1))]
