"""The bulk sink on a real Elasticsearch: refused documents are reported, the rest indexed."""

from __future__ import annotations

import asyncio

import pytest
from elasticsearch import AsyncElasticsearch, Elasticsearch

from agents.es_sink import BulkSink, Doc
from callwatch.es import INDICES, _create, concrete_index, ensure_indices
from callwatch.settings import Settings

pytestmark = pytest.mark.integration


def test_refused_documents_are_reported_and_the_rest_indexed(es_url: str, unique_prefix: str):
    settings = Settings(es_url=es_url, index_prefix=unique_prefix)
    with Elasticsearch(es_url) as es:
        ensure_indices(es, settings)
    index = settings.index("events")
    docs = [
        Doc(index, "ok-1", {"event_id": "ok-1", "call_id": "C", "type": "call.received"}),
        # the events mapping is strict: an unknown field is refused, not silently added
        Doc(index, "bad-1", {"event_id": "bad-1", "call_id": "C", "surprise": 1}),
        Doc(index, "ok-2", {"event_id": "ok-2", "call_id": "C", "type": "call.closed"}),
        Doc(index, "ok-2", {"event_id": "ok-2", "call_id": "C", "type": "call.closed"}),
    ]

    async def write() -> tuple[int, list]:
        client = AsyncElasticsearch(es_url)
        try:
            outcome = await BulkSink(client).write(docs)
        finally:
            await client.close()
        return outcome.indexed, outcome.failed

    indexed, failed = asyncio.run(write())
    assert indexed == 2  # the duplicate id is written once
    assert [(doc.id, status) for doc, status, _ in failed] == [("bad-1", 400)]
    assert "strict_dynamic_mapping_exception" in failed[0][2]
    with Elasticsearch(es_url) as es:
        es.indices.refresh(index=index)
        assert es.count(index=index)["count"] == 2
        # the alias points at the versioned index, so templates can roll forward
        assert list(es.indices.get_alias(name=index)) == [f"{index}-v{INDICES['events']}"]


def test_index_set_up_twice_is_fine_but_a_refused_index_stops_the_worker(
    es_url: str, unique_prefix: str
):
    settings = Settings(es_url=es_url, index_prefix=unique_prefix)
    with Elasticsearch(es_url) as es:
        ensure_indices(es, settings)
        ensure_indices(es, settings)  # a second worker starting: nothing to do
        _create(es, concrete_index(settings, "events"), settings.index("events"))  # raced: fine
        # any other refusal (here an invalid name; in the field, a cluster at its
        # shard limit) is an error at start-up, not a stream of failed documents
        with pytest.raises(RuntimeError, match="refused to create index"):
            _create(es, f"{unique_prefix}-UPPER", f"{unique_prefix}-upper")
