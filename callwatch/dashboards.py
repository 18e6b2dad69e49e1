"""Import the shipped Kibana dashboards (``dashboards/callwatch.ndjson``) into a Kibana.

The file is a Kibana 8.x saved-objects export: data views over the callwatch
indices, visualizations, saved searches and dashboards. Object ids are stable, so
importing again (``overwrite=true``) updates the dashboards in place. The data
views' titles name the indices (``callwatch-calls`` ...); before uploading, the
``callwatch-`` prefix of those titles is rewritten to the deployment's index
prefix (``CALLWATCH_INDEX_PREFIX``). Nothing else changes: ids stay the same.

``callwatch dashboards import --kibana-url http://localhost:5601`` runs
``dashboards_import_command``. Credentials come from the environment
(``CALLWATCH_KIBANA_API_KEY``, or ``CALLWATCH_KIBANA_USERNAME`` and
``CALLWATCH_KIBANA_PASSWORD``); they are never printed.
"""

from __future__ import annotations

import json
import re
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import httpx
import typer

SHIPPED_NDJSON: Final = Path(__file__).resolve().parent.parent / "dashboards" / "callwatch.ndjson"
SHIPPED_PREFIX: Final = "callwatch"
IMPORT_PATH: Final = "/api/saved_objects/_import"
TIMEOUT_SECONDS: Final = 60.0
_PREFIX: Final = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


class DashboardImportError(RuntimeError):
    """The import did not happen, or not completely; the message says why in one line."""


class KibanaUnreachable(DashboardImportError):
    """No connection: refused, unknown host, TLS failure or no answer in time."""


class KibanaAuthError(DashboardImportError):
    """Kibana refused the credentials (401) or the user may not import (403)."""


class ImportRejected(DashboardImportError):
    """Kibana answered but did not import (some of) the objects."""

    def __init__(self, message: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or []


@dataclass(frozen=True)
class Auth:
    """Either an API key (``id:key`` base64, as Kibana prints it) or a user and password."""

    api_key: str | None = None
    username: str | None = None
    password: str | None = None

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"ApiKey {self.api_key}"} if self.api_key else {}

    def basic(self) -> httpx.BasicAuth | None:
        if self.api_key or not self.username:
            return None
        return httpx.BasicAuth(self.username, self.password or "")


@dataclass(frozen=True)
class ImportResult:
    kibana_url: str
    success_count: int
    objects: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)


def index_title(title: str, prefix: str) -> str:
    """``callwatch-calls`` -> ``<prefix>-calls``; any other title is left alone."""
    if title.startswith(f"{SHIPPED_PREFIX}-"):
        return f"{prefix}-{title[len(SHIPPED_PREFIX) + 1 :]}"
    return title


def with_prefix(ndjson: bytes, prefix: str) -> bytes:
    """The export with each data view's title (and name) pointing at ``prefix``'s indices."""
    if not _PREFIX.match(prefix):
        raise DashboardImportError(
            f"index prefix {prefix!r} is not a valid Elasticsearch index name prefix"
            " (lower-case letters, digits, '.', '_' and '-')"
        )
    lines = []
    for number, line in enumerate(ndjson.decode("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DashboardImportError(f"line {number} of the dashboards file: {exc}") from None
        if obj.get("type") == "index-pattern":
            attributes = obj["attributes"]
            attributes["title"] = index_title(attributes["title"], prefix)
            if "name" in attributes:
                attributes["name"] = attributes["name"].replace(SHIPPED_PREFIX, prefix, 1)
        lines.append(json.dumps(obj, separators=(",", ":"), ensure_ascii=False))
    return ("\n".join(lines) + "\n").encode("utf-8")


def import_dashboards(
    kibana_url: str,
    ndjson_path: Path = SHIPPED_NDJSON,
    prefix: str = SHIPPED_PREFIX,
    auth: Auth | None = None,
    *,
    space: str | None = None,
    verify: bool | ssl.SSLContext = True,
    timeout: float = TIMEOUT_SECONDS,
) -> ImportResult:
    """Upload the saved objects to Kibana, overwriting earlier imports of the same ids."""
    auth = auth or Auth()
    try:
        payload = with_prefix(ndjson_path.read_bytes(), prefix)
    except OSError as exc:
        raise DashboardImportError(f"cannot read {ndjson_path}: {exc.strerror or exc}") from None
    base = kibana_url.rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise DashboardImportError(
            f"--kibana-url {kibana_url!r} must start with http:// or https://"
        )
    url = f"{base}/s/{space}{IMPORT_PATH}" if space else f"{base}{IMPORT_PATH}"
    try:
        response = httpx.post(
            url,
            params={"overwrite": "true"},
            headers={"kbn-xsrf": "true", **auth.headers()},
            auth=auth.basic(),
            files={"file": (ndjson_path.name, payload, "application/ndjson")},
            timeout=timeout,
            verify=verify,
        )
    except httpx.ConnectError as exc:
        raise KibanaUnreachable(_connect_failure(base, exc)) from None
    except httpx.TimeoutException:
        raise KibanaUnreachable(f"Kibana at {base} did not answer within {timeout:.0f}s") from None
    except httpx.HTTPError as exc:
        raise KibanaUnreachable(f"cannot talk to Kibana at {base}: {exc}") from None
    return _result(base, response)


def _connect_failure(base: str, exc: httpx.ConnectError) -> str:
    reason = str(exc) or type(exc).__name__
    host = httpx.URL(base).host
    lowered = reason.lower()
    if any(
        s in lowered
        for s in (
            "name or service not known",
            "nodename nor servname",
            "getaddrinfo",
            "name resolution",
        )
    ):
        return f"cannot resolve Kibana's host {host!r} ({reason}); check --kibana-url"
    if "refused" in lowered:
        return f"nothing is listening at {base} (connection refused); is Kibana running?"
    if "certificate" in lowered or "ssl" in lowered:
        return f"TLS to {base} failed ({reason}); pass the CA with --ca-certs"
    return f"cannot connect to Kibana at {base}: {reason}"


def _result(base: str, response: httpx.Response) -> ImportResult:
    body = _json(response)
    message = _message(body, response)
    status = response.status_code
    if status == 401:
        raise KibanaAuthError(
            f"Kibana at {base} refused the credentials (401: {message}); set"
            " CALLWATCH_KIBANA_API_KEY, or CALLWATCH_KIBANA_USERNAME and CALLWATCH_KIBANA_PASSWORD"
        )
    if status == 403:
        raise KibanaAuthError(
            f"Kibana at {base} does not let this user import saved objects (403: {message});"
            " it needs the Saved Objects Management privilege in the target space"
        )
    if status == 404:
        raise ImportRejected(
            f"{response.request.url} was not found (404: {message}); is this Kibana 8.x,"
            " and does the space exist?"
        )
    if status >= 400:
        raise ImportRejected(f"Kibana at {base} rejected the import (HTTP {status}): {message}")
    if not isinstance(body, dict) or "success" not in body:
        raise ImportRejected(
            f"{base} answered HTTP {status} but not like Kibana's import API: {message}"
        )
    errors = list(body.get("errors") or [])
    if not body["success"] or errors:
        details = "; ".join(_describe(e) for e in errors) or message
        raise ImportRejected(
            f"Kibana imported {body.get('successCount', 0)} objects and refused"
            f" {len(errors)}: {details}",
            errors,
        )
    return ImportResult(
        kibana_url=base,
        success_count=int(body.get("successCount", 0)),
        objects=list(body.get("successResults") or []),
        warnings=list(body.get("warnings") or []),
    )


def _tls(ca_certs: Path | None) -> bool | ssl.SSLContext:
    if ca_certs is None:
        return True
    try:
        return ssl.create_default_context(cafile=str(ca_certs))
    except (OSError, ssl.SSLError) as exc:
        raise DashboardImportError(f"cannot use --ca-certs {ca_certs}: {exc}") from None


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _message(body: Any, response: httpx.Response) -> str:
    if isinstance(body, dict) and body.get("message"):
        return str(body["message"])
    text = response.text.strip()
    return text[:300] if text else response.reason_phrase or "no message"


def _describe(error: dict[str, Any]) -> str:
    """One saved object's import error, as Kibana lists it in ``errors``."""
    what = f"{error.get('type', '?')} {error.get('id', '?')}"
    title = (error.get("meta") or {}).get("title") or error.get("title")
    if title:
        what += f" ({title})"
    detail = error.get("error") or {}
    kind = detail.get("type", "unknown")
    if kind == "missing_references":
        missing = ", ".join(f"{r.get('type')} {r.get('id')}" for r in detail.get("references", []))
        return f"{what}: missing references to {missing}"
    if kind == "conflict":
        return f"{what}: conflicts with an existing object (already exists in another space?)"
    text = detail.get("message") or detail.get("reason") or ""
    return f"{what}: {kind}{': ' + text if text else ''}"


def dashboards_import_command(
    kibana_url: str = typer.Option(..., "--kibana-url", help="Kibana's base URL"),
    prefix: str = typer.Option(
        SHIPPED_PREFIX,
        "--prefix",
        envvar="CALLWATCH_INDEX_PREFIX",
        help="index prefix the worker writes to (data views point at PREFIX-calls ...)",
    ),
    file: Path = typer.Option(SHIPPED_NDJSON, "--file", help="saved objects to import (ndjson)"),
    space: str | None = typer.Option(None, "--space", help="Kibana space id (default space)"),
    username: str | None = typer.Option(
        None, "--username", envvar="CALLWATCH_KIBANA_USERNAME", help="basic-auth user"
    ),
    password: str | None = typer.Option(
        None,
        "--password",
        envvar="CALLWATCH_KIBANA_PASSWORD",
        help="basic-auth password (prefer the environment variable)",
        show_default=False,
    ),
    api_key: str | None = typer.Option(
        None,
        "--api-key",
        envvar="CALLWATCH_KIBANA_API_KEY",
        help="Kibana/Elasticsearch API key (base64 id:key); wins over a user",
        show_default=False,
    ),
    ca_certs: Path | None = typer.Option(
        None, "--ca-certs", envvar="CALLWATCH_KIBANA_CA_CERTS", help="CA bundle for https"
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress bar"),
) -> None:
    """Import the callwatch dashboards, data views and saved searches into Kibana."""
    from callwatch.progress import progress

    try:
        # one request: the bar shows that it runs and for how long
        with progress("importing", None, unit="requests", quiet=quiet) as advance:
            result = import_dashboards(
                kibana_url,
                file,
                prefix,
                Auth(api_key=api_key, username=username, password=password),
                space=space,
                verify=_tls(ca_certs),
            )
            advance(1)
    except DashboardImportError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None
    dashboards = [o for o in result.objects if o.get("type") == "dashboard"]
    typer.echo(
        f"imported {result.success_count} saved objects into {result.kibana_url}"
        f" (data views over {prefix}-*)"
    )
    app_base = f"{result.kibana_url}/s/{space}" if space else result.kibana_url
    for dash in dashboards:
        title = (dash.get("meta") or {}).get("title") or dash.get("id")
        typer.echo(f"  {title}: {app_base}/app/dashboards#/view/{dash.get('id')}")
    for warning in result.warnings:
        typer.echo(f"warning: {warning.get('message', warning)}", err=True)
