"""An Elasticsearch bulk sink with backpressure.

``write`` returns only when every document is either indexed or recorded as a
per-document failure. While Elasticsearch is unreachable or overloaded (429,
5xx), it waits with exponential backoff and tries again, indefinitely: the
agent calling it stops consuming, Kafka holds the backlog, and nothing is lost.

We call the ``_bulk`` endpoint directly rather than ``helpers.async_bulk``:
the helper's retry gives up after ``max_retries`` and its error items lose the
link to the source document, and we need both "never give up on transient
errors" and "dead-letter exactly the documents Elasticsearch refused".
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import orjson
from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport import ConnectionTimeout
from elasticsearch import ApiError, AsyncElasticsearch, TransportError

from callwatch import metrics

log = logging.getLogger(__name__)

TRANSIENT_STATUS = frozenset({429, 500, 502, 503, 504})
# Only what ``write`` reads: a bulk response is otherwise ~200 bytes per document
# (index, id, version, shards...), all parsed by the client. Items keep their order.
_FILTER = "errors,items.*.status,items.*.error"


@dataclass(frozen=True, slots=True)
class Doc:
    index: str
    id: str
    source: dict[str, Any]


@dataclass(slots=True)
class BulkOutcome:
    indexed: int = 0
    failed: list[tuple[Doc, int, str]] = field(default_factory=list)  # doc, status, reason
    retries: int = 0


class BulkSink:
    def __init__(
        self,
        es: AsyncElasticsearch,
        initial_backoff: float = 0.2,
        max_backoff: float = 5.0,
    ) -> None:
        self.es = es
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff
        self.healthy = True

    async def write(self, docs: Sequence[Doc]) -> BulkOutcome:
        outcome = BulkOutcome()
        # Last write wins within a batch: one document per id, as Elasticsearch would end up.
        pending = list({(d.index, d.id): d for d in docs}.values())
        backoff = self.initial_backoff
        while pending:
            started = time.perf_counter()
            try:
                # pre-serialised NDJSON: orjson once, instead of the client re-encoding dicts
                response = await self.es.bulk(
                    operations=cast(Any, _ndjson(pending)), refresh=False, filter_path=_FILTER
                )
            except (TransportConnectionError, ConnectionTimeout, TransportError) as exc:
                pending = await self._wait(exc, outcome, backoff, pending)
                backoff = min(backoff * 2, self.max_backoff)
                continue
            except ApiError as exc:
                if exc.meta.status in TRANSIENT_STATUS:
                    pending = await self._wait(exc, outcome, backoff, pending)
                    backoff = min(backoff * 2, self.max_backoff)
                    continue
                raise
            metrics.es_bulk(time.perf_counter() - started)
            self.healthy = True
            if not response.get("errors"):  # the usual case: every document indexed
                outcome.indexed += len(pending)
                break
            retry: list[Doc] = []
            for doc, item in zip(pending, response["items"], strict=True):
                result = item["index"]
                status = int(result.get("status", 0))
                if status < 300:
                    outcome.indexed += 1
                elif status in TRANSIENT_STATUS:
                    retry.append(doc)
                else:
                    reason = orjson.dumps(result.get("error", {})).decode()[:1000]
                    outcome.failed.append((doc, status, reason))
                    metrics.es_bulk_failure("item")
            if retry:
                outcome.retries += 1
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff)
            pending = retry
        return outcome

    async def _wait(
        self, exc: Exception, outcome: BulkOutcome, backoff: float, pending: list[Doc]
    ) -> list[Doc]:
        if self.healthy:
            log.warning("Elasticsearch unavailable (%s); holding %d documents", exc, len(pending))
        self.healthy = False
        metrics.es_bulk_failure("request")
        outcome.retries += 1
        await asyncio.sleep(backoff)
        return pending


def _ndjson(docs: Sequence[Doc]) -> bytes:
    lines: list[bytes] = []
    for doc in docs:
        lines.append(orjson.dumps({"index": {"_index": doc.index, "_id": doc.id}}))
        lines.append(orjson.dumps(doc.source))
    return b"\n".join(lines) + b"\n"
