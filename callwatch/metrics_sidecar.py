"""The worker's ``/metrics`` endpoint, served by a small process of its own.

Why a second process: a worker that hangs (a stuck event loop, a wedged
broker connection, or a test's SIGSTOP) must show as *stalled*, not as *down*.
Served from a thread of the worker, ``/metrics`` would hang with it: Prometheus
would only see a failed scrape (``WorkerDown``), and the lag that piles up
meanwhile would never be measured, so ``PipelineStalled`` and
``ConsumerLagGrowing`` could not fire. This process

- listens on ``CALLWATCH_WEB_HOST:CALLWATCH_WEB_PORT`` (the socket is bound by
  the worker, so a taken port still stops the worker at start-up);
- measures the consumer lag of every stage from Kafka's committed offsets every
  ``CALLWATCH_LAG_INTERVAL_SECONDS`` (``callwatch.lag``) and serves it as
  ``callwatch_consumer_lag_messages``;
- serves the worker's own metrics, read from the worker's loopback-only endpoint
  at each scrape; when the worker does not answer within half a second, the last
  values it gave (which is what they still are: a hung worker counts nothing);
- exits as soon as the worker is gone, and answers no scrape on behalf of a dead
  worker, so a killed worker is ``WorkerDown`` within one scrape.

Run by ``callwatch.worker``; not a command of its own.
"""

from __future__ import annotations

import argparse
import errno
import logging
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Final

from kafka.errors import KafkaError

from callwatch import metrics
from callwatch.lag import LagProbe, stage_topics
from callwatch.settings import Settings

log = logging.getLogger("callwatch.metrics")

# The families this process owns; the worker's copies (series at zero) are dropped.
OWN_FAMILIES: Final = ("callwatch_consumer_lag_messages",)
WORKER_TIMEOUT_SECONDS: Final = 0.5
PARENT_CHECK_SECONDS: Final = 0.2


def without_families(exposition: str, names: tuple[str, ...]) -> str:
    """The text exposition minus the given metric families (HELP, TYPE and samples)."""
    kept = []
    for line in exposition.splitlines():
        if line.startswith("# "):
            parts = line.split(" ", 3)
            if len(parts) > 2 and parts[2] in names:
                continue
        elif line.split("{", 1)[0].split(" ", 1)[0] in names:
            continue
        kept.append(line)
    return "\n".join(kept) + "\n" if kept else ""


class WorkerMetrics:
    """The worker's exposition, fetched at scrape time; the last one if it does not answer."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.last = ""
        self.lock = threading.Lock()

    def text(self) -> str:
        try:
            with urllib.request.urlopen(self.url, timeout=WORKER_TIMEOUT_SECONDS) as response:
                body = str(response.read().decode("utf-8"))
        except OSError:  # refused, timed out (a hung worker): its last values still stand
            with self.lock:
                return self.last
        with self.lock:
            self.last = body
        return body


def measure_lag_forever(settings: Settings, stop: threading.Event) -> None:
    probe: LagProbe | None = None
    while not stop.is_set():
        try:
            if probe is None:
                probe = LagProbe(settings, stage_topics(settings))
            for stage, lag in probe.measure().items():
                metrics.set_consumer_lag(stage, lag)
        except KafkaError as exc:  # Kafka away: keep the last values, try again
            log.info("consumer lag not measured this time: %r", exc)
            if probe is not None:
                probe.close()
                probe = None
        stop.wait(settings.lag_interval_seconds)
    if probe is not None:
        probe.close()


def serve(listener: socket.socket, worker: WorkerMetrics, parent: int) -> ThreadingHTTPServer:
    own = metrics.REGISTRY.restricted_registry(list(OWN_FAMILIES))

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if os.getppid() != parent:  # the worker is gone: never speak for it
                self.send_error(503, "worker gone")
                return
            if self.path.split("?", 1)[0] != "/metrics":
                self.send_error(404)
                return
            body = (
                without_families(worker.text(), OWN_FAMILIES)
                + metrics.generate_latest(own).decode("utf-8")  # type: ignore[arg-type]
            ).encode("utf-8")
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # scrapes are not news
            pass

    server = ThreadingHTTPServer(listener.getsockname()[:2], Handler, bind_and_activate=False)
    server.socket.close()
    server.socket = listener
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="metrics-http", daemon=True).start()
    return server


def listen(host: str, port: int, wait: float = 10) -> socket.socket:
    """Bind the metrics address, waiting up to ``wait`` s for a previous worker's sidecar
    to let go of it (it exits within a fraction of a second of its worker)."""
    deadline = time.monotonic() + wait
    while True:
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
            sock.listen(64)
            return sock
        except OSError as exc:
            sock.close()
            if exc.errno != errno.EADDRINUSE:
                raise metrics.MetricsServerError(
                    f"cannot serve metrics on {host}:{port}: {exc}"
                ) from exc
            if time.monotonic() > deadline:
                raise metrics.MetricsServerError(
                    f"cannot serve metrics on {host}:{port}: the port is already in use "
                    "(another callwatch worker?). Stop it or set CALLWATCH_WEB_PORT to a "
                    "free port."
                ) from exc
            time.sleep(0.2)


def start(host: str, port: int, worker_url: str) -> subprocess.Popen[bytes]:
    """Bind ``host:port`` here (a taken port stops the worker now) and hand it to the sidecar."""
    listener = listen(host, port)
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "callwatch.metrics_sidecar", "--fd", str(listener.fileno()),
             "--worker-url", worker_url, "--parent", str(os.getpid())],
            pass_fds=(listener.fileno(),),
            stdin=subprocess.DEVNULL,
        )
    finally:
        listener.close()  # the sidecar has its own copy
    return proc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fd", type=int, required=True, help="listening socket from the worker")
    parser.add_argument("--worker-url", required=True, help="the worker's loopback /metrics")
    parser.add_argument("--parent", type=int, required=True, help="the worker's pid")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="[%(asctime)s] [%(process)d] "
                        "[%(levelname)s] %(message)s")
    settings = Settings()
    listener = socket.socket(fileno=args.fd)
    stop = threading.Event()
    threading.Thread(
        target=measure_lag_forever, args=(settings, stop), name="lag", daemon=True
    ).start()
    server = serve(listener, WorkerMetrics(args.worker_url), args.parent)
    while os.getppid() == args.parent:
        time.sleep(PARENT_CHECK_SECONDS)
    stop.set()
    server.shutdown()
    listener.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
