"""Elasticsearch: the client from settings, and the versioned index templates.

Each logical index (events, calls, findings, deadletters, alerts) is an alias
over a versioned concrete index (``<prefix>-events-v1``). A template change
bumps the version: the new index is created under the same alias, so writers
and dashboards roll forward without a rename.
"""

from __future__ import annotations

from typing import Any, Final

import orjson
from elasticsearch import AsyncElasticsearch, BadRequestError, Elasticsearch

from callwatch.settings import Settings
from schemas import schema_path

# logical name -> template version shipped in schemas/elasticsearch/
INDICES: Final = {
    "events": 2, "calls": 3, "findings": 2, "deadletters": 1, "alerts": 2, "ledger": 1
}


def client_kwargs(settings: Settings) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "hosts": [settings.es_url],
        "request_timeout": 30,
        # With one node there is nothing to fail over to: try it again soon after
        # an outage instead of the transport's default backoff of up to 30 s.
        "max_dead_node_backoff": 2.0,
    }
    if settings.es_api_key is not None:
        kwargs["api_key"] = settings.es_api_key.get_secret_value()
    elif settings.es_username and settings.es_password is not None:
        kwargs["basic_auth"] = (settings.es_username, settings.es_password.get_secret_value())
    if settings.es_ca_certs is not None:
        kwargs["ca_certs"] = str(settings.es_ca_certs)
    return kwargs


def sync_client(settings: Settings) -> Elasticsearch:
    return Elasticsearch(**client_kwargs(settings))


def async_client(settings: Settings) -> AsyncElasticsearch:
    return AsyncElasticsearch(**client_kwargs(settings))


def template_body(name: str, version: int) -> dict[str, Any]:
    body: dict[str, Any] = orjson.loads(
        schema_path(f"elasticsearch/{name}.v{version}.json").read_bytes()
    )
    body.pop("_comment", None)
    return body


def concrete_index(settings: Settings, name: str) -> str:
    return f"{settings.index(name)}-v{INDICES[name]}"


def ensure_indices(es: Elasticsearch, settings: Settings) -> None:
    """Put every index template and create each versioned index behind its alias."""
    for name, version in INDICES.items():
        alias = settings.index(name)
        body = template_body(name, version)
        es.indices.put_index_template(
            name=f"{alias}-v{version}",
            index_patterns=[f"{alias}-v{version}*"],
            template={"settings": body["settings"], "mappings": body["mappings"]},
            priority=100 + version,
            meta={"callwatch_template_version": version},
        )
        index = concrete_index(settings, name)
        older = _holders(es, alias) - {index}
        if not es.indices.exists(index=index):
            _create(es, index, alias, write=not older)
        if older:
            _roll_forward(es, index, alias, older)


def _create(es: Elasticsearch, index: str, alias: str, write: bool = True) -> None:
    """Create ``index`` behind ``alias``; another worker creating it first is fine.
    Any other refusal stops the worker: a cluster at its shard limit refused with a
    400 too, and the documents then failed one by one for as long as it ran."""
    try:
        es.indices.create(index=index, aliases={alias: {"is_write_index": write}})
    except BadRequestError as exc:
        if exc.error != "resource_already_exists_exception":
            raise RuntimeError(f"Elasticsearch refused to create index {index}: {exc}") from exc


def _holders(es: Elasticsearch, alias: str) -> set[str]:
    if not es.indices.exists_alias(name=alias):
        return set()
    return set(es.indices.get_alias(name=alias))


def _roll_forward(es: Elasticsearch, index: str, alias: str, older: set[str]) -> None:
    """A new template version (e.g. alerts v1 -> v2) behind an alias an older version
    holds: the new index becomes the write index in one atomic step, the older ones stay
    readable under the alias. (Creating it as a second write index is refused by
    Elasticsearch, which stopped an upgraded worker at start-up.) Idempotent, so a
    worker stopped between creating the index and this step finishes it next start."""
    actions: list[dict[str, Any]] = [
        {"add": {"index": index, "alias": alias, "is_write_index": True}}
    ]
    actions += [
        {"add": {"index": old, "alias": alias, "is_write_index": False}} for old in sorted(older)
    ]
    es.indices.update_aliases(actions=actions)
