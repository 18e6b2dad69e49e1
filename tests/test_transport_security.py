"""Kafka SASL/TLS and Elasticsearch TLS / API keys reach the clients as configured.

The local services run without security (the integ-test Elasticsearch has no
security module), so the Kafka side checks what every client is handed (the
tools' kafka-python config, the worker's Faust credentials), and the
Elasticsearch side talks to a real local HTTPS server with a self-signed
certificate, which records the credentials it is sent.
"""

from __future__ import annotations

import base64
import json
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import faust
import pytest
from elastic_transport import TlsError
from faust.types.auth import AuthProtocol, SASLMechanism

from agents.app import kafka_credentials
from callwatch.es import sync_client
from callwatch.kafka_admin import client_config
from callwatch.producer import producer_config
from callwatch.settings import Settings
from tests.alert_receivers import self_signed_cert

PASSWORD = "sasl-password-for-the-test"  # a test value, not a secret


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed_cert(tmp_path_factory.mktemp("tls"))


def kafka_settings(protocol: str, cafile: Path | None = None, **extra: Any) -> Settings:
    return Settings(
        kafka_bootstrap="broker.example.invalid:9093",
        kafka_security_protocol=protocol,  # type: ignore[arg-type]
        kafka_ssl_cafile=cafile,
        **extra,
    )


def sasl(protocol: str, mechanism: str, cafile: Path | None = None) -> Settings:
    return kafka_settings(
        protocol,
        cafile,
        kafka_sasl_mechanism=mechanism,
        kafka_sasl_username="callwatch",
        kafka_sasl_password=PASSWORD,
    )


# ---------------------------------------------------------------- Kafka


def test_tools_get_sasl_and_tls_settings(cert: tuple[Path, Path]) -> None:
    settings = sasl("SASL_SSL", "SCRAM-SHA-512", cert[0])
    expected = {
        "bootstrap_servers": ["broker.example.invalid:9093"],
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "callwatch",
        "sasl_plain_password": PASSWORD,
        "ssl_cafile": str(cert[0]),
    }
    assert client_config(settings) == expected
    producer = producer_config(settings)
    assert expected.items() <= producer.items()
    assert producer["acks"] == "all"


def test_plaintext_tools_get_no_credentials() -> None:
    config = producer_config(kafka_settings("PLAINTEXT"))
    assert config["security_protocol"] == "PLAINTEXT"
    assert not {k for k in config if k.startswith(("sasl_", "ssl_"))}


def test_worker_gets_faust_credentials(cert: tuple[Path, Path]) -> None:
    assert kafka_credentials(kafka_settings("PLAINTEXT")) is None

    tls = kafka_credentials(kafka_settings("SSL", cert[0]))
    assert isinstance(tls, faust.SSLCredentials)
    assert tls.context.verify_mode == ssl.CERT_REQUIRED
    assert [c["subject"] for c in tls.context.get_ca_certs()] == [((("commonName", "localhost"),),)]

    scram = kafka_credentials(sasl("SASL_SSL", "SCRAM-SHA-256", cert[0]))
    assert isinstance(scram, faust.SASLCredentials)
    assert scram.protocol is AuthProtocol.SASL_SSL
    assert scram.mechanism is SASLMechanism.SCRAM_SHA_256
    assert (scram.username, scram.password) == ("callwatch", PASSWORD)
    assert scram.ssl_context is not None and len(scram.ssl_context.get_ca_certs()) == 1
    assert PASSWORD not in repr(scram)

    plain = kafka_credentials(sasl("SASL_PLAINTEXT", "PLAIN"))
    assert isinstance(plain, faust.SASLCredentials)
    assert plain.protocol is AuthProtocol.SASL_PLAINTEXT
    assert plain.mechanism is SASLMechanism.PLAIN
    assert plain.ssl_context is None


# ---------------------------------------------------------------- Elasticsearch


class HttpsRecorder:
    """A real HTTPS server answering like Elasticsearch's root endpoint."""

    def __init__(self, cert: Path, key: Path) -> None:
        self.authorizations: list[str | None] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                recorder.authorizations.append(self.headers.get("Authorization"))
                body = json.dumps(
                    {"name": "tls-test", "cluster_name": "tls", "version": {"number": "8.19.7"}}
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("X-Elastic-Product", "Elasticsearch")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.url = f"https://localhost:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def https(cert: tuple[Path, Path]) -> Iterator[HttpsRecorder]:
    server = HttpsRecorder(*cert)
    yield server
    server.close()


def test_elasticsearch_api_key_over_verified_tls(
    https: HttpsRecorder, cert: tuple[Path, Path]
) -> None:
    settings = Settings(es_url=https.url, es_ca_certs=cert[0], es_api_key="id:api-key-value")  # type: ignore[arg-type]
    assert sync_client(settings).info()["name"] == "tls-test"
    assert https.authorizations == ["ApiKey id:api-key-value"]


def test_elasticsearch_basic_auth_when_no_api_key(
    https: HttpsRecorder, cert: tuple[Path, Path]
) -> None:
    settings = Settings(
        es_url=https.url,
        es_ca_certs=cert[0],
        es_username="callwatch",
        es_password="es-password-for-the-test",  # type: ignore[arg-type]
    )
    sync_client(settings).info()
    token = base64.b64encode(b"callwatch:es-password-for-the-test").decode()
    assert https.authorizations == [f"Basic {token}"]


def test_elasticsearch_refuses_a_certificate_it_cannot_verify(https: HttpsRecorder) -> None:
    # no CA configured: the self-signed certificate is not in the system's trust store
    settings = Settings(es_url=https.url, es_api_key="id:api-key-value")  # type: ignore[arg-type]
    client = sync_client(settings).options(max_retries=0)
    with pytest.raises(TlsError):
        client.info()
    assert https.authorizations == []  # the key was never sent
