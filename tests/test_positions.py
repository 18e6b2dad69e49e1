"""The engine's read positions: time moves only on the unbroken run of offsets."""

from __future__ import annotations

from agents.positions import Positions


class Ticks:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_records_past_a_gap_are_out_of_order_until_the_gap_is_read() -> None:
    p = Positions(give_up_seconds=60, monotonic=Ticks())
    # after a rebalance the partition starts at its committed offset, 257; faust
    # hands over 284.. first (fetched before its seek back)
    assert not p.in_order(0, 284, committed=257)
    assert not p.in_order(0, 285, committed=257)
    assert p.next_offset(0) == 257
    # the guard's re-read brings 257..283, then 284.. again (duplicates)
    assert all(p.in_order(0, offset, committed=257) for offset in range(257, 290))
    assert p.next_offset(0) == 290
    assert p.in_order(0, 260, committed=257)  # a repeat is harmless
    assert p.next_offset(0) == 290


def test_without_a_committed_offset_the_first_record_starts_the_run() -> None:
    p = Positions()
    assert p.in_order(1, 40, committed=None)
    assert p.in_order(1, 41, committed=None)
    assert not p.in_order(1, 43, committed=None)


def test_a_gap_that_never_fills_is_accepted_after_the_give_up_time() -> None:
    ticks = Ticks()
    p = Positions(give_up_seconds=60, monotonic=ticks)
    assert not p.in_order(2, 500, committed=100)  # retention deleted 100..499
    ticks.now = 59
    assert not p.in_order(2, 501, committed=100)
    ticks.now = 61
    assert p.in_order(2, 502, committed=100)
    assert p.in_order(2, 503, committed=100)
    p.clear()
    assert p.next_offset(2) is None
