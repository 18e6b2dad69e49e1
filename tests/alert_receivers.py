"""Real receivers for alert integration tests, started by the tests themselves.

- ``WebhookReceiver``: an HTTP server (stdlib, in a thread) that records every
  request, checks its HMAC signature, and can refuse (503) while "down".
- ``SmtpReceiver``: aiosmtpd's SMTP server with STARTTLS and AUTH required,
  stoppable and restartable on the same port to simulate an outage.
- ``Alertmanager`` / ``Prometheus``: the Debian packages' binaries on free ports
  with temporary configs and storage. Missing binaries fail with the fix.
"""

from __future__ import annotations

import email
import email.policy
import json
import logging
import shutil
import ssl
import subprocess
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import yaml
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from streams.alerting.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from tests.conftest import free_port

# aiosmtpd warns about its own deprecated attribute on every login
logging.getLogger("mail.log").setLevel(logging.ERROR)

ALERTMANAGER_BIN = Path("/usr/bin/prometheus-alertmanager")
PROMETHEUS_BIN = Path("/usr/bin/prometheus")
INSTALL_HINT = "run `sudo bash deploy/local/install-debian-packages.sh` (or `make install`)"


# ---------------------------------------------------------------------- webhooks


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: Any
    at: float  # monotonic
    status: int
    signature_ok: bool | None


class WebhookReceiver:
    def __init__(self, secret: bytes | None = None) -> None:
        self.secret = secret
        self.requests: list[Received] = []
        self.down_paths: set[str] = set()
        # requests to these paths are recorded (status 0: no answer yet) and then
        # held unanswered until ``release()``, as a stalled endpoint would
        self.hold_paths: set[str] = set()
        self.released = threading.Event()
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                signature_ok = None
                if receiver.secret is not None and self.headers.get(SIGNATURE_HEADER):
                    signature_ok = verify(
                        receiver.secret, raw, self.headers.get(SIGNATURE_HEADER),
                        self.headers.get(TIMESTAMP_HEADER), int(time.time()),
                    )
                if self.path in receiver.hold_paths:
                    with receiver.lock:
                        receiver.requests.append(
                            Received(self.path, dict(self.headers.items()),
                                     json.loads(raw or b"null"), time.monotonic(), 0,
                                     signature_ok)
                        )
                    receiver.released.wait()
                    return  # the caller gave up (or died) long ago: no answer
                status = 503 if self.path in receiver.down_paths else 200
                with receiver.lock:
                    receiver.requests.append(
                        Received(self.path, dict(self.headers.items()), json.loads(raw or b"null"),
                                 time.monotonic(), status, signature_ok)
                    )
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def accepted(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.requests if r.path == path and r.status == 200]

    def refused(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.requests if r.path == path and r.status not in (0, 200)]

    def held(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.requests if r.path == path and r.status == 0]

    def release(self) -> None:
        """Stop holding: held requests end unanswered, new ones are answered."""
        self.hold_paths.clear()
        self.released.set()

    def close(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


# ---------------------------------------------------------------------- SMTP


def self_signed_cert(folder: Path) -> tuple[Path, Path]:
    cert, key = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True,
    )
    return cert, key


class _Collect:
    def __init__(self, sink: SmtpReceiver) -> None:
        self.sink = sink

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self.sink.lock:
            self.sink.messages.append((time.monotonic(), session.authenticated, message))
        return "250 OK"


@dataclass
class SmtpReceiver:
    """STARTTLS and AUTH required, as a real relay would; a restart keeps the port."""

    folder: Path
    username: str = "callwatch"
    password: str = "smtp-test-password"
    port: int = field(default_factory=free_port)
    messages: list[tuple[float, bool, EmailMessage]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    controller: Controller | None = None

    def __post_init__(self) -> None:
        self.cert, self.key = self_signed_cert(self.folder)

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and (
            auth_data.login.decode() == self.username
            and auth_data.password.decode() == self.password
        )
        return AuthResult(success=ok)

    def start(self) -> SmtpReceiver:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(self.cert, self.key)
        self.controller = Controller(
            _Collect(self), hostname="127.0.0.1", port=self.port,
            tls_context=tls, require_starttls=True,
            authenticator=self._authenticate, auth_require_tls=True,
        )
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def received(self) -> list[EmailMessage]:
        with self.lock:
            return [m for _, _, m in self.messages]


# ---------------------------------------------------------------------- Prometheus tools


def _require(binary: Path) -> None:
    if not binary.exists() and shutil.which(binary.name) is None:
        raise AssertionError(f"{binary} is missing: {INSTALL_HINT}")


class _Process:
    name = "process"

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.log = folder / f"{self.name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _start(self, argv: list[str]) -> None:
        self.proc = subprocess.Popen(argv, stdout=self.log.open("wb"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"{self.name} did not become ready: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


class Alertmanager(_Process):
    """One notification per alert group (= per call and rule) to a webhook receiver."""

    name = "alertmanager"

    def start(self, notify_url: str) -> Alertmanager:
        _require(ALERTMANAGER_BIN)
        config = {
            "route": {
                "receiver": "test",
                "group_by": ["call_id", "rule"],
                "group_wait": "1s",
                "group_interval": "2s",
                "repeat_interval": "12h",  # a re-sent firing alert must not notify again
            },
            "receivers": [
                {"name": "test",
                 "webhook_configs": [{"url": notify_url, "send_resolved": True}]}
            ],
        }
        path = self.folder / "alertmanager.yml"
        path.write_text(yaml.safe_dump(config))
        (self.folder / "am-data").mkdir(exist_ok=True)
        self._start([
            str(ALERTMANAGER_BIN), f"--config.file={path}",
            f"--storage.path={self.folder / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--cluster.listen-address=",  # a single instance: no gossip port
        ])
        return self

    def alerts(self) -> list[dict[str, Any]]:
        """Active alerts (resolved ones are not listed by the v2 API)."""
        response = httpx.get(
            f"{self.url}/api/v2/alerts",
            params={"filter": 'alertname="CallwatchPolicyViolation"'}, timeout=5,
        )
        response.raise_for_status()
        result: list[dict[str, Any]] = response.json()
        return result


class Prometheus(_Process):
    name = "prometheus"

    def start(self, target: str, interval: str = "1s") -> Prometheus:
        _require(PROMETHEUS_BIN)
        config = {
            "global": {"scrape_interval": interval, "evaluation_interval": interval},
            "scrape_configs": [
                {"job_name": "callwatch", "static_configs": [{"targets": [target]}]}
            ],
        }
        path = self.folder / "prometheus.yml"
        path.write_text(yaml.safe_dump(config))
        self._start([
            str(PROMETHEUS_BIN), f"--config.file={path}",
            f"--storage.tsdb.path={self.folder / 'prom-data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
        ])
        return self

    def query(self, expr: str) -> list[dict[str, Any]]:
        response = httpx.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=5)
        response.raise_for_status()
        body = response.json()
        assert body["status"] == "success", body
        result: list[dict[str, Any]] = body["data"]["result"]
        return result
