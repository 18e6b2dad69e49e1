"""Security basics, checked against a running worker.

- the HTTP endpoints bind where configured and nowhere else: metrics on
  CALLWATCH_WEB_HOST, alert acknowledgements on CALLWATCH_ACK_HOST; the ack
  endpoint refuses requests without a valid bearer token (metrics have no
  authentication of their own: bind them to loopback or a private interface);
- secrets come from the environment (or files) only, and never show: not in
  ``Settings``' repr, not in the worker's log, although the worker was given an
  Elasticsearch API key, a password and a Kafka SASL password (the local
  Elasticsearch has security off and ignores the key);
- no personal data in the logs: after a simulated stream, none of its callers'
  names, phone and call-back numbers, e-mail addresses, street addresses or
  officers' names appear in the worker's log (at log level info);
- the README documents the Kafka SASL/TLS and Elasticsearch TLS/API key settings.
"""

from __future__ import annotations

import contextlib
import socket
from pathlib import Path

import httpx
import msgspec
import pytest

from callwatch.settings import Settings
from tests.conftest import ROOT, free_port
from tests.faults.accounting import simulated_stream, wait_until
from tests.faults.conftest import Pipeline
from tests.faults.scenario import run_scenario

pytestmark = [pytest.mark.faults, pytest.mark.integration, pytest.mark.timeout(600)]

SECRETS = {
    "CALLWATCH_ES_API_KEY": "fault-suite-es-api-key-7f3a9c21d4",
    "CALLWATCH_ES_PASSWORD": "fault-suite-es-password-5b8e1f",
    "CALLWATCH_KAFKA_SASL_PASSWORD": "fault-suite-sasl-password-c4d2e9",
}
ACK_TOKEN = "fault-suite-ack-token-0123456789abcdef"


def listening(port: int) -> set[str]:
    """Local addresses with a listening TCP socket on ``port`` (from /proc/net/tcp{,6})."""
    found: set[str] = set()
    for name, width in (("tcp", 8), ("tcp6", 32)):
        path = Path("/proc/net") / name
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            local, state = fields[1], fields[3]
            address, port_hex = local.split(":")
            if state != "0A" or int(port_hex, 16) != port:
                continue
            raw = bytes.fromhex(address)
            if width == 8:
                found.add(socket.inet_ntop(socket.AF_INET, raw[::-1]))
            else:  # four little-endian 32-bit words
                words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
                found.add(socket.inet_ntop(socket.AF_INET6, words))
    return found


def reachable(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, port)) == 0


def other_local_address() -> str | None:
    """A non-loopback address of this machine, if it has one."""
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("192.0.2.1", 9))  # TEST-NET: nothing is sent
        address = s.getsockname()[0]
        if not address.startswith("127."):
            return str(address)
    return None


def test_settings_never_show_secrets() -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        es_api_key=SECRETS["CALLWATCH_ES_API_KEY"],  # type: ignore[arg-type]
        es_password=SECRETS["CALLWATCH_ES_PASSWORD"],  # type: ignore[arg-type]
        kafka_sasl_password=SECRETS["CALLWATCH_KAFKA_SASL_PASSWORD"],  # type: ignore[arg-type]
    )
    shown = repr(settings) + str(settings) + settings.model_dump_json()
    for secret in SECRETS.values():
        assert secret not in shown
    # secret fields are typed as secrets and have no default: they can only be provided
    for name, field in Settings.model_fields.items():
        if "password" in name or "api_key" in name or ("token" in name and "file" not in name):
            assert field.default is None, name
            assert "SecretStr" in str(field.annotation), name


def test_endpoints_bind_where_configured_and_acks_need_a_token(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    tokens = tmp_path / "ack-tokens"
    tokens.write_text(f"supervisor-one:{ACK_TOKEN}\n")
    tokens.chmod(0o600)
    web_port, ack_port = free_port(), free_port()
    worker = pipeline.worker(
        CALLWATCH_WEB_HOST="127.0.0.2",  # a loopback alias: bound there, not on 127.0.0.1
        CALLWATCH_WEB_PORT=str(web_port),
        CALLWATCH_ACK_HOST="127.0.0.1",
        CALLWATCH_ACK_PORT=str(ack_port),
        CALLWATCH_ACK_TOKENS_FILE=str(tokens),
    )
    wait_until("acks served", lambda: reachable("127.0.0.1", ack_port), 90, pipeline.alive)

    assert listening(web_port) == {"127.0.0.2"}
    assert not reachable("127.0.0.1", web_port)
    assert listening(ack_port) == {"127.0.0.1"}
    other = other_local_address()
    if other is not None:
        assert not reachable(other, web_port)
        assert not reachable(other, ack_port)

    url = f"http://127.0.0.1:{ack_port}/alerts/SOME-CALL/commander-notified/ack"
    assert httpx.post(url, timeout=10).status_code == 401
    bad = {"Authorization": "Bearer not-the-token-0123456789"}
    assert httpx.post(url, headers=bad, timeout=10).status_code == 401
    good = {"Authorization": f"Bearer {ACK_TOKEN}"}
    assert httpx.post(url, headers=good, timeout=10).status_code == 202
    log = worker.log.read_text(errors="replace")
    assert ACK_TOKEN not in log


def personal_data(items: list[bytes]) -> set[str]:
    """Every personal value in the stream's events: what must never reach a log."""
    found: set[str] = set()
    for item in items:
        doc = msgspec.json.decode(item)
        for section, keys in (
            ("caller", ("name", "phone", "email", "callback_number")),
            ("location", ("address",)),
            ("officer", ("name",)),
        ):
            part = doc.get(section) or {}
            found.update(str(part[k]) for k in keys if part.get(k))
        if doc.get("number"):
            found.add(str(doc["number"]))
    return {v for v in found if len(v) >= 6}


def test_no_secrets_and_no_personal_data_in_logs(pipeline: Pipeline, fault_table) -> None:
    stream = simulated_stream()
    run_scenario(
        pipeline,
        fault_table,
        "security: secrets and personal data kept out of logs",
        stream,
        None,
        rate=1500,
        worker_env={**SECRETS, "CALLWATCH_ES_USERNAME": "fault-suite-user"},
    )
    logs = pipeline.logs()
    assert logs, "no worker log"
    for name, secret in SECRETS.items():
        assert secret not in logs, f"{name} appears in the worker log"
    pii = personal_data(stream.items)
    assert len(pii) > 100, "the simulated stream should carry personal data to look for"
    leaked = sorted(v for v in pii if v in logs)
    assert not leaked, f"personal data in the worker log: {leaked[:5]}"


def test_readme_documents_transport_security() -> None:
    readme = (ROOT / "README.md").read_text()
    for name in (
        "CALLWATCH_KAFKA_SECURITY_PROTOCOL",
        "CALLWATCH_KAFKA_SASL_MECHANISM",
        "CALLWATCH_KAFKA_SSL_CAFILE",
        "CALLWATCH_ES_API_KEY",
        "CALLWATCH_ES_CA_CERTS",
        "CALLWATCH_WEB_HOST",
    ):
        assert name in readme, f"README does not document {name}"
