"""NENA-STA-024 subscribe/notify client against a real local websockets notifier on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, serve

from callwatch.sources.eido_ws import (
    SUBPROTOCOL,
    Subscription,
    SubscriptionError,
    eido_notifications,
    eido_outcomes,
)
from schemas.events import CallReceived
from streams.adapters import Converted, Rejection

FIXTURES = Path(__file__).parent / "fixtures" / "adapters" / "eido"
ICE = json.loads((FIXTURES / "ice_request.json").read_text())
TRAFFIC = json.loads((FIXTURES / "traffic_stop.json").read_text())
INVALID = json.loads((FIXTURES / "missing_timestamp.json").read_text())

Handler = Callable[[ServerConnection, list[dict[str, Any]]], Awaitable[None]]


async def receive(ws: ServerConnection) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await ws.recv())
    return message


async def accept_subscription(ws: ServerConnection, expires: int = 3600) -> dict[str, Any]:
    request = await receive(ws)
    await ws.send(
        json.dumps(
            {
                "subscribeResponse": {
                    "requestId": request["subscribe"]["requestId"],
                    "subscriptionId": "sub-1",
                    "expires": expires,
                    "statusCode": 200,
                    "statusText": "OK",
                }
            }
        )
    )
    return request


async def notify(ws: ServerConnection, transaction: str, *documents: Any) -> None:
    event = {
        "subscriptionId": "sub-1",
        "transactionId": transaction,
        "notification": list(documents),
    }
    await ws.send(json.dumps({"event": event}))


async def terminate(ws: ServerConnection) -> dict[str, Any]:
    await ws.send(json.dumps({"terminate": {"requestId": "n-9", "subscriptionId": "sub-1"}}))
    return await receive(ws)


def with_notifier(
    handler: Handler, client: Callable[[str], Awaitable[Any]]
) -> tuple[Any, list[Any]]:
    """Run ``client(url)`` against a notifier running ``handler``; return its result and what the
    notifier received (after the subscribe)."""
    seen: list[dict[str, Any]] = []

    async def main() -> Any:
        async def serve_one(ws: ServerConnection) -> None:
            seen.append({"subprotocol": ws.subprotocol})
            await handler(ws, seen)

        async with serve(serve_one, "127.0.0.1", 0, subprotocols=[SUBPROTOCOL]) as server:
            port = server.sockets[0].getsockname()[1]
            async with asyncio.timeout(10):
                return await client(f"ws://127.0.0.1:{port}/IncidentData/ent")

    return asyncio.run(main()), seen


async def collect(url: str, **options: Any) -> list[dict[str, Any]]:
    return [doc async for doc in eido_notifications(url, proxy=None, **options)]


def test_subscribe_receive_acknowledge_and_answer_terminate() -> None:
    async def notifier(ws: ServerConnection, seen: list[Any]) -> None:
        seen.append(await accept_subscription(ws))
        await notify(ws, "tx-1", ICE, TRAFFIC)
        seen.append(await receive(ws))  # the acknowledgement
        seen.append(await terminate(ws))

    documents, seen = with_notifier(notifier, collect)
    assert documents == [ICE, TRAFFIC]
    assert seen[0] == {"subprotocol": SUBPROTOCOL}
    subscribe = seen[1]["subscribe"]
    assert (subscribe["requestType"], subscribe["requestSubType"]) == ("EIDO", "new")
    assert seen[2] == {
        "eventResponse": {"transactionId": "tx-1", "statusCode": 200, "statusText": "OK"}
    }
    assert seen[3]["terminateResponse"] == {
        "requestId": "n-9",
        "subscriptionId": "sub-1",
        "statusCode": 200,
        "statusText": "OK",
    }


def test_refused_subscription_raises() -> None:
    async def notifier(ws: ServerConnection, seen: list[Any]) -> None:
        request = await receive(ws)
        answer = {
            "requestId": request["subscribe"]["requestId"],
            "statusCode": 403,
            "statusText": "Forbidden",
        }
        await ws.send(json.dumps({"subscribeResponse": answer}))
        with contextlib.suppress(Exception):
            await ws.wait_closed()

    with pytest.raises(SubscriptionError, match="403 Forbidden"):
        with_notifier(notifier, collect)


def test_subscription_is_renewed_before_it_expires() -> None:
    async def notifier(ws: ServerConnection, seen: list[Any]) -> None:
        await accept_subscription(ws, expires=1)
        renewal = await receive(ws)  # the client renews after renew_at * 1 s
        seen.append(renewal)
        await ws.send(
            json.dumps(
                {
                    "subscribeResponse": {
                        "requestId": renewal["subscribe"]["requestId"],
                        "subscriptionId": "sub-1",
                        "expires": 3600,
                        "statusCode": 200,
                        "statusText": "OK",
                    }
                }
            )
        )
        await notify(ws, "tx-2", TRAFFIC)
        seen.append(await receive(ws))
        await terminate(ws)

    documents, seen = with_notifier(notifier, lambda url: collect(url, renew_at=0.2))
    assert documents == [TRAFFIC]
    assert seen[1]["subscribe"]["subscriptionId"] == "sub-1"
    assert seen[2]["eventResponse"]["transactionId"] == "tx-2"


def test_a_consumer_that_stops_unsubscribes_and_leaves_the_event_unacknowledged() -> None:
    async def notifier(ws: ServerConnection, seen: list[Any]) -> None:
        await accept_subscription(ws)
        await notify(ws, "tx-3", ICE, TRAFFIC)
        seen.append(await receive(ws))

    async def first_only(url: str) -> list[dict[str, Any]]:
        taken = []
        async with contextlib.aclosing(eido_notifications(url, proxy=None)) as documents:
            async for document in documents:
                taken.append(document)
                break
        return taken

    taken, seen = with_notifier(notifier, first_only)
    assert taken == [ICE]
    assert seen[1]["unsubscribe"]["subscriptionId"] == "sub-1"  # no eventResponse before it


def test_malformed_notification_is_acknowledged_as_bad_and_outcomes_convert() -> None:
    async def notifier(ws: ServerConnection, seen: list[Any]) -> None:
        await accept_subscription(ws)
        await notify(ws, "tx-4", ICE, "not an object", INVALID)
        seen.append(await receive(ws))
        await terminate(ws)

    async def outcomes(url: str) -> list[Any]:
        return [o async for o in eido_outcomes(url, Subscription(expires=None), proxy=None)]

    results, seen = with_notifier(notifier, outcomes)
    assert seen[1]["eventResponse"]["statusCode"] == 400
    converted, rejected = results
    assert isinstance(converted, Converted) and isinstance(converted.events[0], CallReceived)
    assert converted.events[0].caller.agency_type == "police.federal.ice"
    assert isinstance(rejected, Rejection) and rejected.reason == "invalid_eido"
