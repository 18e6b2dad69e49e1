"""Replay pacing and the publish rate limit, as arithmetic (no Kafka, no waiting)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from streams.replay_schedule import TokenBucket, replay_order, send_offsets

T0 = datetime(2017, 4, 13, 8, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_offsets_follow_the_gaps_between_events() -> None:
    assert send_offsets([at(0), at(10), at(10), at(70)]) == [0.0, 10.0, 10.0, 70.0]


def test_speed_divides_the_gaps() -> None:
    assert send_offsets([at(0), at(60), at(3600)], speed=60) == [0.0, 1.0, 60.0]
    assert send_offsets([at(0), at(3)], speed=0.5) == [0.0, 6.0]


def test_the_first_event_goes_out_at_once_whatever_its_time() -> None:
    assert send_offsets([at(86_400), at(86_401)]) == [0.0, 1.0]


def test_an_out_of_order_event_goes_out_at_once_and_does_not_pull_time_back() -> None:
    # The 30 s event arrives late in the file: sent right away; the next gap is
    # measured from the latest time seen (60 s), not from the straggler.
    assert send_offsets([at(0), at(60), at(30), at(90)]) == [0.0, 60.0, 60.0, 90.0]


def test_an_event_without_a_time_rides_with_its_predecessor() -> None:
    assert send_offsets([None, at(0), None, at(5)]) == [0.0, 0.0, 0.0, 5.0]


def test_max_gap_compresses_quiet_stretches_only() -> None:
    overnight = [at(0), at(5), at(8 * 3600), at(8 * 3600 + 5)]
    assert send_offsets(overnight, max_gap=30) == [0.0, 5.0, 35.0, 40.0]


def test_offsets_work_across_time_zones() -> None:
    louisville = datetime(2017, 4, 13, 4, 0, 10, tzinfo=timezone(timedelta(hours=-4)))
    assert send_offsets([at(0), louisville]) == [0.0, 10.0]


def test_empty_input_has_an_empty_schedule() -> None:
    assert send_offsets([]) == []
    assert replay_order([]) == []


@pytest.mark.parametrize("speed", [0, -1])
def test_speed_must_be_positive(speed: float) -> None:
    with pytest.raises(ValueError, match="speed"):
        send_offsets([at(0)], speed=speed)


def test_replay_order_sorts_a_call_grouped_export_into_event_time() -> None:
    # Call A's events, then call B's: interleaved by time when replayed.
    times = [at(0), at(100), at(200), at(50), at(150)]
    assert replay_order(times) == [0, 3, 1, 4, 2]


def test_replay_order_is_stable_for_equal_times() -> None:
    assert replay_order([at(5), at(5), at(1), at(5)]) == [2, 0, 1, 3]


def test_a_line_without_a_time_stays_behind_its_neighbour() -> None:
    # Each bad line (2, 4) follows the event it came after in the file.
    assert replay_order([at(0), at(100), None, at(50), None]) == [0, 3, 4, 1, 2]


def test_leading_lines_without_time_go_first() -> None:
    assert replay_order([None, at(10), at(5)]) == [0, 2, 1]


# ------------------------------------------------------------------ rate limit


def run_bucket(bucket: TokenBucket, sends: int, start: float = 0.0) -> list[float]:
    """When each send happens for a caller that waits exactly as told."""
    now, times = start, []
    for _ in range(sends):
        now += bucket.delay(now)
        times.append(now)
    return times


def test_the_bucket_holds_the_average_rate() -> None:
    times = run_bucket(TokenBucket(rate=100, burst=1), 501)
    assert times[-1] - times[0] == pytest.approx(5.0)


def test_a_burst_goes_out_at_once_then_the_rate_applies() -> None:
    times = run_bucket(TokenBucket(rate=10, burst=5), 15)
    assert times[:5] == [0.0] * 5
    assert times[14] == pytest.approx(1.0)  # 10 more at 10/s


def test_no_window_ever_exceeds_rate_plus_burst() -> None:
    rate, burst = 50.0, 5.0
    times = run_bucket(TokenBucket(rate=rate, burst=burst), 400)
    for i, start in enumerate(times):
        in_window = sum(1 for t in times[i:] if t < start + 1.0)
        assert in_window <= rate + burst


def test_idle_time_refills_only_up_to_the_burst() -> None:
    bucket = TokenBucket(rate=10, burst=3)
    run_bucket(bucket, 3)
    # An hour of silence, then a rush: three go at once, the fourth waits 0.1 s.
    assert [bucket.delay(3600.0) for _ in range(4)] == pytest.approx([0, 0, 0, 0.1])


def test_default_burst_is_a_tenth_of_a_second_of_sends() -> None:
    assert TokenBucket(rate=1000).burst == 100
    assert TokenBucket(rate=2).burst == 1


def test_rate_must_be_positive() -> None:
    with pytest.raises(ValueError, match="rate"):
        TokenBucket(rate=0)
