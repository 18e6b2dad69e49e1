"""Never commit past an offset no stream acknowledged (faust-streaming #606).

How faust-streaming 0.15 can skip a message: while the consumer hands a message
to the streams, a rebalance suspends the flow; the hand-over is cancelled, but
the message is marked as read anyway, so when it is fetched again it is dropped
as a duplicate ("DROPPED MESSAGE ROFF"). Nothing ever acknowledges it. The
next commit should then stop below it, but ``Consumer._new_offset`` only
refuses when the first acknowledged offset is *more than one* past the
committed offset (and not at all when the committed offset is 0), so a single
skipped message is committed past and lost. The fault suite's repeated-SIGKILL
scenario hit this (one event in a few thousand, after a restart).

Our agents acknowledge in offset order per partition (one actor each, a batch
acknowledged as a whole after its body, ``agents.batching``), so the first
acknowledged offset of a partition must be exactly its committed offset. The
guard below makes that the rule: if it is not, the partition is not committed
and is sought back to its committed offset, so the skipped messages are fetched
and processed again (the ones after them a second time: repeats, which the
pipeline ignores by id). A gap faust itself recorded right after the committed
offset (compaction, or data deleted by retention) keeps faust's handling.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Final

from faust.transport.consumer import Consumer

log = logging.getLogger("callwatch.offsets")

_faust_new_offset = Consumer._new_offset
# Seek back again if the skipped messages have still not been acknowledged after this long.
RESEEK_SECONDS: Final = 30.0
_seeks: set[asyncio.Future[Any]] = set()


def _strict_new_offset(self: Any, tp: Any) -> int | None:
    committed = self._committed_offset[tp]
    acked = self._acked[tp]
    if committed is not None and acked:
        gaps = self._gap[tp]
        if not (gaps and gaps.begin() == committed + 1):
            head = min(acked)
            if head > committed:
                _rewind(self, tp, committed, head)
                return None
    result: int | None = _faust_new_offset(self, tp)
    return result


def _rewind(consumer: Any, tp: Any, committed: int, head: int) -> None:
    rewound: dict[Any, tuple[int, float]] = consumer.__dict__.setdefault("_callwatch_rewound", {})
    last = rewound.get(tp)
    now = time.monotonic()
    if last is not None and last[0] == committed and now - last[1] < RESEEK_SECONDS:
        return  # already sought back; the skipped messages are on their way
    rewound[tp] = (committed, now)
    log.warning(
        "%s: offsets %d..%d were never acknowledged but %d was; not committing past them, "
        "reading them again from %d",
        tp,
        committed,
        head - 1,
        head,
        committed,
    )
    task = asyncio.ensure_future(consumer.seek(tp, committed))
    _seeks.add(task)  # keep a reference until it is done
    task.add_done_callback(_seeks.discard)


def install() -> None:
    """Patch faust's consumer (idempotent)."""
    Consumer._new_offset = _strict_new_offset  # type: ignore[method-assign]
