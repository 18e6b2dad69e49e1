"""Acknowledging an alert over HTTP: ``POST /alerts/{CALL_ID/RULE}/ack`` with a bearer token.

Tokens come from ``CALLWATCH_ACK_TOKENS_FILE``, one ``name:token`` per line; the
name is recorded as who acknowledged. The endpoint only turns the request into
an ack record on the alerts topic (keyed by call id, so it reaches the alerter
that holds the alert, after the alert itself); the alerter records it and stops
the escalation. ``callwatch ack`` produces the same record from the command line.
"""

from __future__ import annotations

import errno
import hmac
import logging
import socket
import uuid
from collections.abc import Awaitable, Callable, Collection, Mapping
from pathlib import Path
from typing import Any, Final
from urllib.parse import unquote

from aiohttp import web

from callwatch.alerting.actions import ActionPages
from callwatch.alerting.base import AlertsConfigError
from streams.alerting.records import ack_request, split_dedup_key

log = logging.getLogger("callwatch.acks")

MIN_TOKEN_CHARS: Final = 16
MAX_BODY_BYTES: Final = 16 * 1024

Submit = Callable[[dict[str, Any]], Awaitable[None]]


def load_tokens(path: Path) -> dict[str, str]:
    """token -> name. Errors name the line, never the token."""
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise AlertsConfigError(f"cannot read ack tokens file {path}: {exc.strerror}") from None
    tokens: dict[str, str] = {}
    for number, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, token = line.partition(":")
        name, token = name.strip(), token.strip()
        if not sep or not name or not token:
            raise AlertsConfigError(f"{path}:{number}: expected 'name:token'")
        if len(token) < MIN_TOKEN_CHARS:
            raise AlertsConfigError(
                f"{path}:{number}: the token for {name!r} is shorter than {MIN_TOKEN_CHARS}"
                " characters; generate one with `openssl rand -hex 24`"
            )
        if token in tokens:
            raise AlertsConfigError(f"{path}:{number}: token of {name!r} is already in use")
        tokens[token] = name
    if not tokens:
        raise AlertsConfigError(f"ack tokens file {path} has no 'name:token' line")
    return tokens


def authenticate(tokens: Mapping[str, str], authorization: str | None) -> str | None:
    """The name behind a ``Bearer`` token, or None. Compares against every token in
    constant time, so the answer's timing says nothing about how close a guess was."""
    scheme, _, offered = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not offered.strip():
        return None
    offered_bytes = offered.strip().encode()
    found = None
    for token, name in tokens.items():
        if hmac.compare_digest(token.encode(), offered_bytes):
            found = name
    return found


def bind(host: str, port: int) -> socket.socket:
    """Take the port now, so a clash stops the worker at start-up with a clear message."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        reason = "the port is already in use" if exc.errno == errno.EADDRINUSE else exc.strerror
        raise AlertsConfigError(
            f"cannot serve acknowledgements on {host}:{port}: {reason};"
            " set CALLWATCH_ACK_PORT to a free port"
        ) from None
    sock.listen(64)
    sock.setblocking(False)
    return sock


class AckServer:
    """The worker's action endpoint: the bearer-token ack API (when a tokens file is set)
    and the call pages behind action links (``pages``, when a link key is set)."""

    def __init__(
        self,
        sock: socket.socket,
        tokens: Mapping[str, str] | None,
        rules: Collection[str],
        submit: Submit,
        now_ms: Callable[[], int],
        pages: ActionPages | None = None,
    ) -> None:
        self.sock = sock
        self.tokens = tokens
        self.pages = pages
        self.rules = frozenset(rules)
        self.submit = submit
        self.now_ms = now_ms
        self._runner: web.AppRunner | None = None

    def application(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY_BYTES)
        if self.tokens is not None:
            app.router.add_post(r"/alerts/{key:.+}/ack", self.acknowledge)
        if self.pages is not None:
            self.pages.routes(app)
        app.router.add_get("/healthz", self.healthz)
        return app

    async def start(self) -> None:
        self._runner = web.AppRunner(self.application(), access_log=None)
        await self._runner.setup()
        await web.SockSite(self._runner, self.sock).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def acknowledge(self, request: web.Request) -> web.Response:
        who = authenticate(self.tokens or {}, request.headers.get("Authorization"))
        if who is None:
            return web.json_response(
                {"error": "a valid 'Authorization: Bearer <token>' header is required"},
                status=401,
                headers={"WWW-Authenticate": 'Bearer realm="callwatch"'},
            )
        key = unquote(request.match_info["key"])
        try:
            _call_id, rule = split_dedup_key(key)
        except ValueError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        if rule not in self.rules:
            return web.json_response({"error": f"{rule!r} is not a policy rule"}, status=404)
        comment = await _comment(request)
        if isinstance(comment, web.Response):
            return comment
        record = ack_request(
            key, by=who, at=self.now_ms(), ack_id=uuid.uuid4().hex, via="http", comment=comment
        )
        await self.submit(record)
        log.warning("alert %s acknowledged by %s over HTTP", key, who)
        return web.json_response({"status": "accepted", **record}, status=202)


async def _comment(request: web.Request) -> str | web.Response | None:
    """The optional comment: JSON ``{"comment": "..."}``, or no body at all."""
    if not request.can_read_body:
        return None
    try:
        body = await request.json()
    except ValueError:
        return web.json_response({"error": 'the body must be JSON: {"comment": "..."}'},
                                 status=400)
    if body is None:
        return None
    comment = body.get("comment") if isinstance(body, dict) else None
    if comment is not None and not isinstance(comment, str):
        return web.json_response({"error": "comment must be a string"}, status=400)
    return comment
