"""Small-cell suppression: no withheld cell can be worked out from what is published.

The oracle is independent of the algorithm: it enumerates every table of whole
numbers that agrees with the published cells and totals (a primary cell is
known to be 1..threshold-1, a complementary one >= 0) and checks that each
withheld cell takes at least two values across them.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.report.suppression import suppress

T = 5


def candidate_values(s, r: int, c: int) -> range:
    # A reader knows no more than this; a withheld grand total leaves no upper bound, so
    # the oracle's (finite) range then only makes it stricter than a real reader.
    grand = s.values[-1][-1] + (T if s.marks[-1][-1] else 0)
    return range(1, T) if s.marks[r][c] == "primary" else range(0, grand + 1)


def consistent_tables(s):
    """Every completion of the withheld cells, by depth-first search over the cells in
    table order, closing each line's equation as soon as its last cell is chosen."""
    nr, nc = len(s.values), len(s.values[0])
    hidden = [(r, c) for r in range(nr) for c in range(nc) if s.marks[r][c]]
    table = [list(row) for row in s.values]
    last_in_row = {r: max(c for rr, c in hidden if rr == r) for r, _ in hidden}
    last_in_col = {c: max(r for r, cc in hidden if cc == c) for _, c in hidden}

    def row_ok(r: int) -> bool:
        return sum(table[r][:-1]) == table[r][-1]

    def col_ok(c: int) -> bool:
        return sum(table[r][c] for r in range(nr - 1)) == table[-1][c]

    def walk(i: int):
        if i == len(hidden):
            yield {cell: table[cell[0]][cell[1]] for cell in hidden}
            return
        r, c = hidden[i]
        for v in candidate_values(s, r, c):
            table[r][c] = v
            if last_in_row[r] == c and not row_ok(r):
                continue
            if last_in_col[c] == r and not col_ok(c):
                continue
            yield from walk(i + 1)

    if all(row_ok(r) for r in range(nr) if r not in last_in_row) and all(
        col_ok(c) for c in range(nc) if c not in last_in_col
    ):
        yield from walk(0)


small_tables = st.integers(1, 3).flatmap(
    lambda rows: st.integers(1, 3).flatmap(
        lambda cols: st.lists(
            st.lists(st.integers(0, 9), min_size=cols, max_size=cols), min_size=rows, max_size=rows
        )
    )
)


@settings(max_examples=400, deadline=None)
@given(small_tables)
def test_every_small_cell_is_withheld_and_none_can_be_worked_out(cells: list[list[int]]) -> None:
    s = suppress(cells, T)
    hidden = {(r, c) for r, row in enumerate(s.marks) for c, m in enumerate(row) if m}
    if len(hidden) > 8:  # the oracle is exhaustive: keep it to tables it can enumerate
        return
    for r, row in enumerate(cells):
        for c, v in enumerate(row):
            if 0 < v < T:
                assert s.marks[r][c] == "primary" and s.shown(r, c) == f"<{T}"
            elif s.marks[r][c] == "":
                assert s.shown(r, c) == str(v)
    grand = s.values[-1][-1]
    if 0 < grand < T:
        return  # the whole table is withheld; the grand total itself says "<5"
    seen: dict[tuple[int, int], set[int]] = {cell: set() for cell in hidden}
    for solution in consistent_tables(s):
        for cell, v in solution.items():
            seen[cell].add(v)
    for cell, values in seen.items():
        assert len(values) >= 2, f"cell {cell} of {cells} is pinned to {values} by {s.marks}"


def test_a_table_with_nothing_small_is_published_whole() -> None:
    s = suppress([[12, 30], [7, 9]], T)
    assert not any(m for row in s.marks for m in row)
    assert [s.shown(2, c) for c in range(3)] == ["19", "39", "58"]


def test_one_small_cell_costs_a_rectangle_not_the_table() -> None:
    s = suppress([[3, 10], [12, 7]], T)
    assert s.marks[0][0] == "primary"
    assert sum(1 for row in s.marks for m in row if m) == 4  # the 2x2 cycle, totals kept
    assert s.shown(2, 2) == "32"
