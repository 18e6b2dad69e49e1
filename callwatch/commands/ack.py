"""``callwatch ack CALL_ID/RULE --by NAME``: acknowledge an alert from the command line.

Produces the same ack record as ``POST /alerts/{key}/ack`` to the alerts topic,
keyed by call id; the alerter records who, when and the comment, and stops
escalating the alert. Whoever can write to Kafka with the configured
credentials can acknowledge: that is the authentication here.
"""

from __future__ import annotations

import time
import uuid
from typing import Annotated

import orjson
import typer

from callwatch.producer import BrokerUnavailable, connect
from callwatch.settings import Settings
from streams.alerting.records import ack_request

SEND_TIMEOUT_S = 30


def _fail(message: str) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(2)


def ack_command(
    dedup_key: Annotated[
        str, typer.Argument(metavar="CALL_ID/RULE", help="The alert key, as the alert shows it.")
    ],
    by: Annotated[str, typer.Option("--by", help="Who acknowledges (recorded).")],
    comment: Annotated[str | None, typer.Option(help="What you are doing about it.")] = None,
) -> None:
    """Acknowledge an alert: recorded with who, when and why; stops its escalation."""
    from kafka.errors import KafkaError

    settings = Settings()
    try:
        record = ack_request(
            dedup_key,
            by=by,
            at=time.time_ns() // 1_000_000,
            ack_id=uuid.uuid4().hex,
            via="cli",
            comment=comment,
        )
    except ValueError as exc:
        _fail(str(exc))
        return
    try:
        producer = connect(settings, client_id="callwatch-ack")
    except BrokerUnavailable as exc:
        _fail(str(exc))
        return
    try:
        future = producer.send(
            settings.topic("alerts"), key=record["call_id"].encode(), value=orjson.dumps(record)
        )
        future.get(timeout=SEND_TIMEOUT_S)
    except KafkaError as exc:
        _fail(f"the acknowledgement was not delivered: {exc}")
    finally:
        producer.close()
    typer.echo(f"acknowledged {dedup_key} as {record['by']} (ack {record['ack_id']})")
