"""Upgrading an index template version behind its alias, on the real Elasticsearch.

Issue 19 moved the alerts index to template v2. A deployment that already has
``PREFIX-alerts-v1`` as the alias's write index must start: the v2 index becomes
the write index and v1 stays readable under the alias. (Creating v2 as a second
write index was refused with a 500 and stopped the worker at start-up.)
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from elasticsearch import Elasticsearch

from callwatch.es import INDICES, ensure_indices
from callwatch.settings import Settings
from tests.conftest import Services

pytestmark = pytest.mark.integration


@pytest.fixture
def es(services: Services, unique_prefix: str) -> Iterator[Elasticsearch]:
    client = Elasticsearch(services.es_url)
    yield client
    client.indices.delete(index=f"{unique_prefix}-*", ignore_unavailable=True)
    for template in client.indices.get_index_template(name=f"{unique_prefix}-*")[
        "index_templates"
    ]:
        client.indices.delete_index_template(name=template["name"])


def test_an_older_version_behind_the_alias_is_rolled_forward(
    es: Elasticsearch, unique_prefix: str
) -> None:
    assert INDICES["alerts"] == 2
    alias = f"{unique_prefix}-alerts"
    es.indices.create(index=f"{alias}-v1", aliases={alias: {"is_write_index": True}})
    es.index(index=alias, id="old", document={"record_id": "old"}, refresh=True)
    settings = Settings(index_prefix=unique_prefix)
    ensure_indices(es, settings)
    ensure_indices(es, settings)  # a second start changes nothing
    writes = {index: spec["aliases"][alias]["is_write_index"]
              for index, spec in es.indices.get_alias(name=alias).items()}
    assert writes == {f"{alias}-v1": False, f"{alias}-v2": True}
    es.index(index=alias, id="new", document={"record_id": "new", "recipient": "lt-diaz"},
             refresh=True)
    assert es.get(index=f"{alias}-v2", id="new")["_source"]["recipient"] == "lt-diaz"
    found = es.search(index=alias, query={"match_all": {}})["hits"]["hits"]
    assert sorted(hit["_id"] for hit in found) == ["new", "old"]  # v1 still readable
