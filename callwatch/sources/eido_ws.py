"""NENA-STA-024 EIDO conveyance: subscribe over a WebSocket, yield the EIDOs notified.

The subscriber (us) sends ``subscribe``; the notifier answers
``subscribeResponse`` and then sends ``event`` messages whose
``notification[]`` holds EIDO documents. Every event must be acknowledged
with an ``eventResponse`` carrying its ``transactionId``; a notifier may end
the subscription with ``terminate``, which is answered with
``terminateResponse``. Message shapes follow the NENA WebSocket
Subscribe/Notify schema v1.1.

Each event is acknowledged only after the consumer has taken all of its
EIDOs (the generator resumed past them): a consumer that stops half-way
leaves the event unacknowledged, so a notifier re-sends rather than loses it.
Close the generator (``contextlib.aclosing``) to unsubscribe promptly.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, ConnectionClosedOK
from websockets.typing import Subprotocol

from streams.adapters.eido import convert_document
from streams.adapters.result import Converted, Rejection

# NENA-STA-024.1a section 2.1.3.1.2: the WebSocket subprotocol of EIDO conveyance.
SUBPROTOCOL: Final = Subprotocol("emergency-ent1.0")
EIDO_MEDIA_TYPE: Final = 'application/emergency.eido+json; version="1"'


class SubscriptionError(RuntimeError):
    """The notifier refused, ended or did not answer the subscription."""


@dataclass(frozen=True, slots=True)
class Subscription:
    """What to subscribe to; ``single`` needs ``incident_id``, ``resource`` a ``unit_id``."""

    sub_type: Literal["single", "new", "resource"] = "new"
    incident_id: str | None = None
    unit_id: str | None = None
    qual_filter: str | None = None
    expires: int | None = 3600
    min_rate: int | None = None
    max_rate: int | None = None

    def message(self, request_id: str, subscription_id: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"requestId": request_id}
        if subscription_id is None:
            body |= {"requestType": "EIDO", "requestSubType": self.sub_type}
            body["requestAccepts"] = EIDO_MEDIA_TYPE
            optional = {
                "incidentId": self.incident_id,
                "unitId": self.unit_id,
                "qualFilter": self.qual_filter,
                "minRate": self.min_rate,
                "maxRate": self.max_rate,
            }
            body |= {k: v for k, v in optional.items() if v is not None}
        else:
            body["subscriptionId"] = subscription_id  # a renewal
        if self.expires is not None:
            body["expires"] = self.expires
        return {"subscribe": body}


async def eido_notifications(
    url: str,
    subscription: Subscription | None = None,
    *,
    subprotocols: Sequence[Subprotocol] = (SUBPROTOCOL,),
    response_timeout: float = 10.0,
    renew_at: float = 0.8,
    **connect_options: Any,
) -> AsyncGenerator[dict[str, Any], None]:
    """Yield each EIDO document (a decoded JSON object) the notifier sends, until it terminates.

    The subscription is renewed when ``renew_at`` of its granted lifetime has
    passed. ``connect_options`` go to ``websockets.connect`` (ssl, proxy, ...).
    """
    async with contextlib.aclosing(
        eido_transactions(
            url, subscription, subprotocols=subprotocols, response_timeout=response_timeout,
            renew_at=renew_at, **connect_options,
        )
    ) as transactions:
        async for _transaction, documents in transactions:
            for document in documents:
                yield document


async def eido_transactions(
    url: str,
    subscription: Subscription | None = None,
    *,
    subprotocols: Sequence[Subprotocol] = (SUBPROTOCOL,),
    response_timeout: float = 10.0,
    renew_at: float = 0.8,
    **connect_options: Any,
) -> AsyncGenerator[tuple[str | None, list[dict[str, Any]]], None]:
    """Yield (transactionId, EIDO documents) per notified event, until the notifier terminates.

    The event is acknowledged when the generator is resumed after it: a consumer
    that makes the documents durable first, then asks for the next, never
    acknowledges an update it has not kept.
    """
    subscription = subscription or Subscription()
    async with connect(url, subprotocols=list(subprotocols), **connect_options) as ws:
        session = _Session(ws, subscription, response_timeout, renew_at)
        await session.subscribe()
        terminated = False
        try:
            async for transaction, documents, acknowledge in session.notifications():
                yield transaction, documents
                await acknowledge()
            terminated = True
        finally:
            if not terminated:
                await session.unsubscribe()


async def eido_outcomes(
    url: str,
    subscription: Subscription | None = None,
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    **options: Any,
) -> AsyncGenerator[Converted | Rejection, None]:
    """Each notified EIDO converted to canonical events (or rejected with a reason)."""
    async for document in eido_notifications(url, subscription, **options):
        yield convert_document(document, received_at=clock())


class _Session:
    def __init__(
        self,
        ws: ClientConnection,
        subscription: Subscription,
        response_timeout: float,
        renew_at: float,
    ) -> None:
        self.ws = ws
        self.subscription = subscription
        self.response_timeout = response_timeout
        self.renew_at = renew_at
        self.subscription_id: str | None = None
        self.renew_deadline: float | None = None

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send(orjson.dumps(message).decode("utf-8"))

    async def subscribe(self) -> None:
        request_id = str(uuid.uuid4())
        await self.send(self.subscription.message(request_id))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.response_timeout
        while True:
            try:
                raw = await asyncio.wait_for(self.ws.recv(), max(0.0, deadline - loop.time()))
            except TimeoutError as exc:
                raise SubscriptionError(
                    f"no subscribeResponse within {self.response_timeout}s"
                ) from exc
            message = _decode(raw)
            if "response" in message:
                raise SubscriptionError(f"notifier refused the request: {message['response']}")
            answer = message.get("subscribeResponse")
            if isinstance(answer, dict) and answer.get("requestId") == request_id:
                self._accept(answer)
                return

    def _accept(self, answer: dict[str, Any]) -> None:
        if answer.get("statusCode") != 200:
            raise SubscriptionError(
                f"subscription refused: {answer.get('statusCode')} {answer.get('statusText')}"
            )
        self.subscription_id = str(answer.get("subscriptionId") or self.subscription_id or "")
        expires = answer.get("expires")
        if isinstance(expires, int) and expires > 0:
            self.renew_deadline = asyncio.get_running_loop().time() + expires * self.renew_at
        else:
            self.renew_deadline = None

    async def notifications(
        self,
    ) -> AsyncIterator[tuple[str | None, list[dict[str, Any]], Callable[[], Any]]]:
        """(transactionId, EIDO documents, acknowledge) per event, until the notifier
        terminates or closes."""
        loop = asyncio.get_running_loop()
        while True:
            timeout = None if self.renew_deadline is None else self.renew_deadline - loop.time()
            try:
                raw = await asyncio.wait_for(
                    self.ws.recv(), None if timeout is None else max(0.0, timeout)
                )
            except TimeoutError:
                await self.renew()
                continue
            except ConnectionClosedOK:
                return
            message = _decode(raw)
            if "event" in message:
                yield self._event(message["event"])
            elif "subscribeResponse" in message and isinstance(message["subscribeResponse"], dict):
                self._accept(message["subscribeResponse"])
            elif "terminate" in message:
                await self._answer_terminate(message["terminate"])
                return
            elif "response" in message:
                raise SubscriptionError(f"notifier answered: {message['response']}")
            # unsubscribeResponse and anything unknown need no answer.

    def _event(
        self, event: Any
    ) -> tuple[str | None, list[dict[str, Any]], Callable[[], Any]]:
        event = event if isinstance(event, dict) else {}
        notification = event.get("notification")
        items = notification if isinstance(notification, list) else []
        documents = [item for item in items if isinstance(item, dict)]
        transaction = event.get("transactionId")
        well_formed = isinstance(transaction, str) and len(documents) == len(items)

        async def acknowledge() -> None:
            if not isinstance(transaction, str):
                return  # nothing to acknowledge against
            status = (200, "OK") if well_formed else (400, "Bad notification")
            await self.send(
                {
                    "eventResponse": {
                        "transactionId": transaction,
                        "statusCode": status[0],
                        "statusText": status[1],
                    }
                }
            )

        return (transaction if isinstance(transaction, str) else None), documents, acknowledge

    async def renew(self) -> None:
        # Renewing before the granted lifetime ends keeps the notifier from dropping us.
        self.renew_deadline = None  # re-armed by the subscribeResponse
        await self.send(self.subscription.message(str(uuid.uuid4()), self.subscription_id))

    async def _answer_terminate(self, terminate: Any) -> None:
        terminate = terminate if isinstance(terminate, dict) else {}
        await self.send(
            {
                "terminateResponse": {
                    "requestId": terminate.get("requestId", ""),
                    "subscriptionId": terminate.get("subscriptionId", self.subscription_id or ""),
                    "statusCode": 200,
                    "statusText": "OK",
                }
            }
        )

    async def unsubscribe(self) -> None:
        if not self.subscription_id:
            return
        message = {
            "unsubscribe": {"requestId": str(uuid.uuid4()), "subscriptionId": self.subscription_id}
        }
        with contextlib.suppress(ConnectionClosed):  # a gone notifier has nothing to unsubscribe
            await self.send(message)


def _decode(raw: str | bytes) -> dict[str, Any]:
    try:
        message = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return {}
    return message if isinstance(message, dict) else {}
