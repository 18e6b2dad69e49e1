"""A small TCP proxy on 127.0.0.1 that can slow or cut the network to a service.

Runs an asyncio loop in a daemon thread. Modes:

- ``pass_through()``: bytes flow both ways untouched;
- ``slow(delay)``: every chunk waits ``delay`` seconds before it is forwarded
  (latency, and with it a much lower throughput for request/response traffic);
- ``cut()``: a network partition -- open connections stop forwarding (their
  bytes are held back, as packets that are dropped and never acknowledged) and
  new connections are accepted but get nothing through; clients see timeouts,
  not refusals. ``pass_through()`` afterwards closes the stalled connections, as
  a partition that lasted too long would, and new ones work again;
- ``refuse()``: connections are closed at once (the port answers, nothing behind it).

Point a worker's ``CALLWATCH_ES_URL`` at ``proxy.url``. (Kafka is not proxied:
clients bootstrap through any address but then connect to the address the
broker advertises; the suite pauses the broker process instead.)
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from typing import Literal

Mode = Literal["pass", "slow", "cut", "refuse"]


class TcpProxy:
    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.mode: Mode = "pass"
        self.delay = 0.0
        self.port = _free_port()
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.AbstractServer | None = None
        self._conns: set[asyncio.StreamWriter] = set()
        self._flowing = asyncio.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="tcp-proxy")
        self._ready = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # ---------------------------------------------------------------- control

    def start(self) -> TcpProxy:
        self._thread.start()
        self._ready.wait(10)
        self.pass_through()
        return self

    def stop(self) -> None:
        self._call(self._close_all)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def pass_through(self) -> None:
        self._set("pass", 0.0, close=True)

    def slow(self, delay: float) -> None:
        self._set("slow", delay, close=False)

    def cut(self) -> None:
        self._set("cut", 0.0, close=False)

    def refuse(self) -> None:
        self._set("refuse", 0.0, close=True)

    def _set(self, mode: Mode, delay: float, close: bool) -> None:
        def apply() -> None:
            was_cut = self.mode == "cut"
            self.mode, self.delay = mode, delay
            if mode == "cut":
                self._flowing.clear()
            else:
                self._flowing.set()
            if close and (was_cut or mode == "refuse"):
                self._close_all()

        self._call(apply)

    def _call(self, fn: object) -> None:
        done = threading.Event()

        def run() -> None:
            try:
                fn()  # type: ignore[operator]
            finally:
                done.set()

        self._loop.call_soon_threadsafe(run)
        done.wait(10)

    def _close_all(self) -> None:
        for writer in list(self._conns):
            with contextlib.suppress(Exception):
                writer.transport.abort()
        self._conns.clear()

    # --------------------------------------------------------------- the loop

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._handle, "127.0.0.1", self.port)
        )
        self._ready.set()
        self._loop.run_forever()
        self._server.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.mode == "refuse":
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._conns.update({writer, up_writer})
        await asyncio.gather(
            self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True
        )
        for w in (writer, up_writer):
            self._conns.discard(w)
            with contextlib.suppress(Exception):
                w.close()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            await self._flowing.wait()  # a cut holds the bytes back
            if self.mode == "slow" and self.delay:
                await asyncio.sleep(self.delay)
            writer.write(data)
            await writer.drain()
        with contextlib.suppress(Exception):
            writer.write_eof()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
