"""``callwatch dashboards import`` against a real HTTP server that answers like Kibana.

The server runs in a thread on a free port and speaks HTTP for real: it parses the
multipart upload, checks the ``kbn-xsrf`` header and the credentials the way
Kibana does, and answers with Kibana's response shapes (success, 401, 403, 400/409
with a message, 200 with per-object ``errors``). An unused port and an
unresolvable host stand in for an unreachable Kibana.
"""

from __future__ import annotations

import base64
import email
import email.policy
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import typer
from typer.testing import CliRunner

from callwatch.dashboards import (
    SHIPPED_NDJSON,
    Auth,
    DashboardImportError,
    ImportRejected,
    KibanaAuthError,
    KibanaUnreachable,
    dashboards_import_command,
    import_dashboards,
    index_title,
    with_prefix,
)
from tests.conftest import free_port

API_KEY = "Y2FsbHdhdGNoOnNlY3JldA=="
USER, PASSWORD = "oversight", "s3cret-pass"


@dataclass
class FakeKibana:
    """What the server should answer, and what it was sent."""

    scenario: str = "ok"
    require_auth: bool = False
    requests: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""


def _authorised(headers: Any) -> bool:
    value = headers.get("Authorization", "")
    basic = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    return value in (f"ApiKey {API_KEY}", f"Basic {basic}")


def _uploaded(headers: Any, body: bytes) -> dict[str, bytes]:
    raw = f"Content-Type: {headers.get('Content-Type')}\r\n\r\n".encode() + body
    message = email.message_from_bytes(raw, policy=email.policy.HTTP)
    files = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        files[str(name)] = part.get_payload(decode=True)
    return files


def _handler(kibana: FakeKibana) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # keep pytest output clean
            pass

        def _send(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            url = urlsplit(self.path)
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            files = _uploaded(self.headers, body)
            kibana.requests.append(
                {
                    "path": url.path,
                    "query": parse_qs(url.query),
                    "headers": dict(self.headers),
                    "files": files,
                }
            )
            if not re.fullmatch(r"(/s/[a-z0-9_-]+)?/api/saved_objects/_import", url.path):
                self._send(404, {"statusCode": 404, "error": "Not Found", "message": "Not Found"})
                return
            if kibana.require_auth and not _authorised(self.headers):
                self._send(
                    401,
                    {
                        "statusCode": 401,
                        "error": "Unauthorized",
                        "message": "[security_exception]: unable to authenticate user",
                    },
                )
                return
            if self.headers.get("kbn-xsrf") is None:
                self._send(
                    400,
                    {
                        "statusCode": 400,
                        "error": "Bad Request",
                        "message": "Request must contain a kbn-xsrf header.",
                    },
                )
                return
            objects = [json.loads(line) for line in files["file"].decode().splitlines() if line]
            if kibana.scenario == "ok":
                results = [
                    {
                        "type": o["type"],
                        "id": o["id"],
                        "meta": {"title": o["attributes"].get("title")},
                        "overwrite": True,
                    }
                    for o in objects
                ]
                self._send(
                    200,
                    {
                        "success": True,
                        "successCount": len(results),
                        "successResults": results,
                        "warnings": [],
                    },
                )
            elif kibana.scenario == "forbidden":
                self._send(
                    403,
                    {
                        "statusCode": 403,
                        "error": "Forbidden",
                        "message": "Unable to bulk_create"
                        " index-pattern,search,visualization,dashboard",
                    },
                )
            elif kibana.scenario == "too-new":
                self._send(
                    400,
                    {
                        "statusCode": 400,
                        "error": "Bad Request",
                        "message": 'Document "callwatch-dashboard-oversight" belongs to a more'
                        " recent version of Kibana [8.9.0] when the last known version is [8.6.2].",
                    },
                )
            elif kibana.scenario == "conflict":
                self._send(
                    409,
                    {
                        "statusCode": 409,
                        "error": "Conflict",
                        "message": "Saved object [dashboard/callwatch-dashboard-oversight]"
                        " conflict",
                    },
                )
            elif kibana.scenario == "partial":
                self._send(
                    200,
                    {
                        "success": False,
                        "successCount": len(objects) - 3,
                        "errors": [
                            {
                                "id": "callwatch-vis-flagged-calls",
                                "type": "visualization",
                                "meta": {"title": "callwatch: immigration-agency calls"},
                                "error": {
                                    "type": "missing_references",
                                    "references": [
                                        {"type": "index-pattern", "id": "callwatch-dv-calls"}
                                    ],
                                },
                            },
                            {
                                "id": "callwatch-dashboard-oversight",
                                "type": "dashboard",
                                "meta": {"title": "callwatch: oversight"},
                                "error": {"type": "conflict"},
                            },
                            {
                                "id": "callwatch-search-deadletters",
                                "type": "search",
                                "meta": {"title": "callwatch: dead letters"},
                                "error": {"type": "unknown", "message": "migration failed"},
                            },
                        ],
                        "warnings": [],
                    },
                )
            else:  # a proxy in front of Kibana, say
                data = b"<html>502 Bad Gateway</html>"
                self.send_response(502)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

    return Handler


@pytest.fixture
def kibana() -> Iterator[FakeKibana]:
    state = FakeKibana()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join(5)


def shipped() -> list[dict[str, Any]]:
    return [json.loads(line) for line in SHIPPED_NDJSON.read_text().splitlines() if line]


def test_import_posts_the_rewritten_export(kibana: FakeKibana) -> None:
    result = import_dashboards(kibana.url, SHIPPED_NDJSON, "cityx")
    assert result.success_count == len(shipped())
    (request,) = kibana.requests
    assert request["path"] == "/api/saved_objects/_import"
    assert request["query"] == {"overwrite": ["true"]}
    assert request["headers"]["kbn-xsrf"] == "true"
    assert "Authorization" not in request["headers"]
    sent = [json.loads(line) for line in request["files"]["file"].decode().splitlines()]
    assert [(o["type"], o["id"]) for o in sent] == [(o["type"], o["id"]) for o in shipped()]
    titles = sorted(o["attributes"]["title"] for o in sent if o["type"] == "index-pattern")
    assert titles == [
        "cityx-alerts",
        "cityx-calls",
        "cityx-deadletters",
        "cityx-events",
        "cityx-findings",
    ]
    # only data view titles change; everything else is sent as shipped
    for before, after in zip(shipped(), sent, strict=True):
        if before["type"] != "index-pattern":
            assert before == after


def test_api_key_and_basic_auth_are_sent(kibana: FakeKibana) -> None:
    kibana.require_auth = True
    import_dashboards(kibana.url, SHIPPED_NDJSON, auth=Auth(api_key=API_KEY))
    import_dashboards(kibana.url, SHIPPED_NDJSON, auth=Auth(username=USER, password=PASSWORD))
    assert [r["headers"]["Authorization"].split()[0] for r in kibana.requests] == [
        "ApiKey",
        "Basic",
    ]


def test_space_is_part_of_the_path(kibana: FakeKibana) -> None:
    import_dashboards(kibana.url, SHIPPED_NDJSON, space="oversight")
    assert kibana.requests[0]["path"] == "/s/oversight/api/saved_objects/_import"


def test_wrong_credentials_are_a_clear_auth_error(kibana: FakeKibana) -> None:
    kibana.require_auth = True
    with pytest.raises(KibanaAuthError, match=r"refused the credentials \(401: \[security_excep"):
        import_dashboards(kibana.url, SHIPPED_NDJSON, auth=Auth(username=USER, password="wrong"))
    with pytest.raises(KibanaAuthError, match="CALLWATCH_KIBANA_API_KEY"):
        import_dashboards(kibana.url, SHIPPED_NDJSON)


def test_forbidden_names_the_privilege(kibana: FakeKibana) -> None:
    kibana.scenario = "forbidden"
    with pytest.raises(KibanaAuthError, match=r"403: Unable to bulk_create.*Saved Objects Manag"):
        import_dashboards(kibana.url, SHIPPED_NDJSON)


@pytest.mark.parametrize(
    ("scenario", "expected"),
    [
        ("too-new", r"HTTP 400\): Document .* belongs to a more recent version of Kibana"),
        ("conflict", r"HTTP 409\): Saved object \[dashboard/callwatch-dashboard-oversight\]"),
        ("proxy", r"HTTP 502\): <html>502 Bad Gateway</html>"),
    ],
)
def test_rejections_carry_kibanas_message(kibana: FakeKibana, scenario: str, expected: str) -> None:
    kibana.scenario = scenario
    with pytest.raises(ImportRejected, match=expected):
        import_dashboards(kibana.url, SHIPPED_NDJSON)


def test_per_object_errors_are_listed(kibana: FakeKibana) -> None:
    kibana.scenario = "partial"
    with pytest.raises(ImportRejected) as caught:
        import_dashboards(kibana.url, SHIPPED_NDJSON)
    message = str(caught.value)
    assert f"imported {len(shipped()) - 3} objects and refused 3" in message
    assert (
        "visualization callwatch-vis-flagged-calls (callwatch: immigration-agency calls):"
        " missing references to index-pattern callwatch-dv-calls" in message
    )
    assert "dashboard callwatch-dashboard-oversight (callwatch: oversight): conflicts" in message
    assert "search callwatch-search-deadletters (callwatch: dead letters): unknown: migration" in (
        message
    )
    assert [e["id"] for e in caught.value.errors] == [
        "callwatch-vis-flagged-calls",
        "callwatch-dashboard-oversight",
        "callwatch-search-deadletters",
    ]


def test_wrong_path_is_reported(kibana: FakeKibana) -> None:
    with pytest.raises(ImportRejected, match=r"was not found \(404"):
        import_dashboards(f"{kibana.url}/not-kibana", SHIPPED_NDJSON)


def test_connection_refused() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(KibanaUnreachable, match=r"nothing is listening at .* is Kibana running"):
        import_dashboards(url, SHIPPED_NDJSON)


def test_unknown_host() -> None:
    with pytest.raises(KibanaUnreachable, match=r"cannot resolve Kibana's host 'kibana\.invalid'"):
        import_dashboards("http://kibana.invalid:5601", SHIPPED_NDJSON)


def test_bad_inputs_fail_before_any_request(tmp_path: Path) -> None:
    with pytest.raises(DashboardImportError, match="cannot read"):
        import_dashboards("http://127.0.0.1:1", tmp_path / "missing.ndjson")
    with pytest.raises(DashboardImportError, match="not a valid Elasticsearch index name prefix"):
        import_dashboards("http://127.0.0.1:1", SHIPPED_NDJSON, "Bad Prefix")
    with pytest.raises(DashboardImportError, match="must start with http"):
        import_dashboards("localhost:5601", SHIPPED_NDJSON)


def test_prefix_rewrite_touches_only_data_view_titles() -> None:
    assert index_title("callwatch-calls", "cw2") == "cw2-calls"
    assert index_title("other-calls", "cw2") == "other-calls"
    assert with_prefix(SHIPPED_NDJSON.read_bytes(), "callwatch").decode().splitlines() == [
        json.dumps(o, separators=(",", ":"), ensure_ascii=False) for o in shipped()
    ]


def _cli() -> typer.Typer:
    app = typer.Typer()
    app.command()(dashboards_import_command)
    return app


def test_command_reports_the_dashboards(kibana: FakeKibana) -> None:
    kibana.require_auth = True
    result = CliRunner().invoke(
        _cli(),
        ["--kibana-url", kibana.url],
        env={"CALLWATCH_KIBANA_API_KEY": API_KEY, "CALLWATCH_INDEX_PREFIX": "cityx"},
    )
    assert result.exit_code == 0, result.output
    assert f"imported {len(shipped())} saved objects into {kibana.url}" in result.output
    assert "data views over cityx-*" in result.output
    assert f"{kibana.url}/app/dashboards#/view/callwatch-dashboard-oversight" in result.output
    assert API_KEY not in result.output


def test_command_fails_with_one_line(kibana: FakeKibana) -> None:
    kibana.require_auth = True
    result = CliRunner().invoke(
        _cli(),
        ["--kibana-url", kibana.url],
        env={"CALLWATCH_KIBANA_USERNAME": USER, "CALLWATCH_KIBANA_PASSWORD": "wrong"},
    )
    assert result.exit_code == 2
    assert "error: Kibana at" in result.output and "refused the credentials" in result.output
    assert "wrong" not in result.output


def test_command_rejects_an_unreadable_ca_bundle(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        _cli(), ["--kibana-url", "https://127.0.0.1:1", "--ca-certs", str(tmp_path / "none.pem")]
    )
    assert result.exit_code == 2
    assert "cannot use --ca-certs" in result.output
