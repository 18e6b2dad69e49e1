"""Does Elasticsearch agree with the log? (``callwatch verify --es``)

- every entry has its ``PREFIX-ledger`` document, with the same entry id and leaf hash,
  and there is no ledger document the log lacks;
- every finding document (what the dashboards show) is a state the log recorded:
  its (finding id, revision, status) is one of the log's finding entries;
- every alert record document is in the log by record id and outcome.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from elasticsearch import Elasticsearch, NotFoundError

from callwatch.es import sync_client
from callwatch.ledger.audit import LogFiles
from callwatch.settings import Settings
from streams.ledger.entries import parse_entry
from streams.ledger.verify import leaf_hashes


def _scan(es: Elasticsearch, index: str, fields: list[str]) -> Iterator[dict[str, Any]]:
    try:
        es.indices.refresh(index=index)
    except NotFoundError:
        return
    after: list[Any] | None = None
    while True:
        page = es.search(
            index=index, size=1000, sort=["_doc"], source_includes=fields, search_after=after
        )
        hits = page["hits"]["hits"]
        if not hits:
            return
        for hit in hits:
            yield {"_id": hit["_id"], **hit["_source"]}
        after = hits[-1]["sort"]


def es_problems(settings: Settings, files: LogFiles) -> tuple[list[str], int]:
    entries = [parse_entry(line) for line in files.entries]
    hashes = [h.hex() for h in leaf_hashes(files.entries)]
    findings = {
        (e["record"].get("finding_id"), e["record"].get("revision"), e["record"].get("status"))
        for e in entries
        if e["kind"] == "finding"
    }
    deliveries = {
        (e["record"].get("record_id"), e["record"].get("outcome"))
        for e in entries
        if e["kind"] == "delivery"
    }
    problems: list[str] = []
    checked = 0
    with sync_client(settings) as es:
        seen = set()
        for doc in _scan(es, settings.index("ledger"), ["leaf_index", "entry_id", "leaf_hash"]):
            checked += 1
            i = doc.get("leaf_index")
            seen.add(i)
            if not isinstance(i, int) or i >= len(entries):
                problems.append(f"ledger document {doc['_id']} names entry {i}, not in the log")
            elif doc.get("entry_id") != entries[i]["id"] or doc.get("leaf_hash") != hashes[i]:
                problems.append(f"ledger document for entry {i} differs from the log")
        missing = [i for i in range(len(entries)) if i not in seen]
        if missing:
            problems.append(f"{len(missing)} entries have no ledger document (first: {missing[0]})")
        for doc in _scan(es, settings.index("findings"), ["finding_id", "revision", "status"]):
            checked += 1
            key = (doc.get("finding_id"), doc.get("revision"), doc.get("status"))
            if key not in findings:
                problems.append(f"finding {key[0]} revision {key[1]} ({key[2]}) is not in the log")
        for doc in _scan(es, settings.index("alerts"), ["record_id", "outcome"]):
            checked += 1
            if (doc.get("record_id"), doc.get("outcome")) not in deliveries:
                problems.append(f"alert record {doc.get('record_id')} is not in the log")
    return problems, checked
