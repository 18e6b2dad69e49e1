"""callwatch's contracts: event types, JSON Schemas, Elasticsearch templates."""

from importlib import resources
from pathlib import Path


def schema_path(name: str) -> Path:
    """Path of a contract file shipped in this package (e.g. 'dispatch-event.v1.schema.json')."""
    return Path(str(resources.files(__package__).joinpath(name)))
