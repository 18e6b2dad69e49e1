"""Every place callwatch works around faust-streaming or aiokafka internals, fenced in.

faust-streaming has effectively one maintainer and the bugs below are open
upstream, so these workarounds will be needed for a long time. They touch
private methods and attributes, which can change in any release; so the exact
versions they were written and tested against are pinned (pyproject.toml) and
``install()`` refuses to start on any other version, or when an attribute it
relies on is missing, with a message that says what to re-check. The contract
tests in ``tests/test_faust_compat.py`` run against the real classes; run them
(and the fault suite, ``make faults``) before changing ``TESTED_WITH``.

The workarounds, each in its own module:

- ``offsets``: commit only the unbroken run of offsets the streams
  acknowledged (replaces ``Consumer._new_offset``), read a missing offset
  again; and a bounded ``Consumer.wait_empty`` (a rebalance or a stop waited
  forever for a message faust itself had cleared from a stream queue; at a
  graceful stop it waits only for the batches in progress).
  Upstream: faust-streaming #606 (commits past unprocessed offsets, gaps counted
  as done), #216/#217 (flow resumed before the seek: a gap), robinhood/faust
  #402 and faust-streaming #133 (``wait_empty`` hangs).
- ``ordering``: ``Consumer.getmany`` lets a record of an ordered topic through
  only when it continues its partition's run; one past a gap is held back and
  the partition sought back to the gap. Upstream: #606, #216.
- ``in_order``: an agent processes each partition's records in offset order,
  holding one past a gap unacknowledged (faust can drop fetched records before a
  stream gets them while the flow is suspended). Upstream: #606.
- ``flush``: ``Producer.flush`` waits until every message put in faust's
  ``ProducerBuffer`` before it was handed over to the Kafka client (faust's own
  gives up after 0.1 s without a send, and its buffer size drops before the
  client holds a message, so a table write could trail a commit). No upstream
  issue found.
- ``seek``: after a rebalance, a partition with no committed offset is sought to
  the log start too (faust seeks only those with one, so records its recovery
  fetched and discarded were never read again on that worker). No upstream
  issue found.
- ``positions``: where a partition stands (its end, the group's committed
  offset), asked of Kafka when faust cannot say, so an unplaced partition never
  holds the engine's clock for good; and which partitions the producer still
  holds unacknowledged records for (aiokafka's accumulator), so an events
  partition whose leader is failing over keeps holding the clock. No upstream
  issue found.
- ``batching``: batches acknowledged only after the body returned (faust's
  ``take_events`` acknowledges in a ``finally``, also when the body was
  cancelled); the producer learns the changelog topics' metadata before the
  first table write through the partitioner. Upstream: #606 (the same skip).

Also outside this package, with their reasons where they are: ``agents.app.App``
(an agent error exits without committing: faust's default commits and restarts
the agent in-process; and our stopping work runs before faust's ``on_stop``
stops the consumer and the tables, see ``agents.lifecycle``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Final

from aiokafka.consumer.group_coordinator import GroupCoordinator
from faust.streams import Stream
from faust.transport.consumer import Consumer
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread, Producer
from faust.transport.producer import ProducerBuffer

from agents.faust_compat import flush, offsets, ordering, seek

# The versions these workarounds were written for and tested against. Change them
# only after tests/test_faust_compat.py and the fault suite pass on the new ones.
TESTED_WITH: Final = {"faust-streaming": "0.15.3", "aiokafka": "0.14.0", "mode-streaming": "0.7.1"}

# The private (and not so private) members relied on, on their classes.
CLASS_MEMBERS: Final = {
    Consumer: ("_new_offset", "wait_empty", "getmany", "_wait_for_ack",
               "_clean_unacked_messages", "commit", "commit_and_end_transactions",
               "seek_wait", "highwater", "perform_seek", "earliest_offsets",
               "_is_changelog_tp"),
    Producer: ("flush", "send", "_ensure_producer"),
    ProducerBuffer: ("flush_atmost", "size", "put", "_send_pending", "_handle_pending"),
    Stream: ("take_events",),
    AIOKafkaConsumerThread: ("_ensure_consumer", "call_thread"),
    GroupCoordinator: ("fetch_committed_offsets",),
}
# ... and on the app's consumer and producer (set in their __init__, not on the class).
CONSUMER_ATTRIBUTES: Final = (
    "_unacked_messages", "_committed_offset", "_acked_index", "app", "_thread", "_read_offset",
)
PRODUCER_ATTRIBUTES: Final = ("buffer", "_producer")


class IncompatibleFaust(RuntimeError):
    """The installed faust-streaming/aiokafka is not the one the workarounds fit."""


def installed_versions(lookup: Callable[[str], str] = version) -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for name in TESTED_WITH:
        try:
            found[name] = lookup(name)
        except PackageNotFoundError:
            found[name] = None
    return found


def check(versions: dict[str, str | None] | None = None) -> None:
    """Raise ``IncompatibleFaust`` naming every version or member that does not fit."""
    versions = installed_versions() if versions is None else versions
    problems = [
        f"{name} {versions.get(name) or 'missing'} (tested with {wanted})"
        for name, wanted in TESTED_WITH.items()
        if versions.get(name) != wanted
    ]
    for cls, members in CLASS_MEMBERS.items():
        problems += [
            f"{cls.__module__}.{cls.__name__}.{member} is gone"
            for member in members
            if not hasattr(cls, member)
        ]
    if problems:
        raise IncompatibleFaust(
            "callwatch's faust workarounds (agents/faust_compat) do not fit the installed"
            " libraries: " + "; ".join(problems) + ". Install the pinned versions"
            " (make install), or re-check each workaround against the new release"
            " (tests/test_faust_compat.py, make faults) and update TESTED_WITH."
        )


def check_app(app: Any) -> None:
    """The instance attributes the workarounds read, on the app's real consumer and
    producer (created, not started: no broker is contacted)."""
    missing = [f"consumer.{name}" for name in CONSUMER_ATTRIBUTES
               if not hasattr(app.consumer, name)]
    missing += [f"producer.{name}" for name in PRODUCER_ATTRIBUTES
                if not hasattr(app.producer, name)]
    if missing:
        raise IncompatibleFaust(
            f"faust's {', '.join(missing)} is gone, which agents/faust_compat reads"
        )


def install(ordered_topics: Iterable[str]) -> None:
    """Check the versions and members, then patch (idempotent)."""
    check()
    offsets.install()  # never commit past an unacknowledged offset (#606)
    flush.install()  # a flush waits until what faust's producer buffer held is handed over
    ordering.install(ordered_topics)  # these topics reach the streams in offset order
    seek.install()  # after a rebalance, uncommitted partitions are read from the log start

