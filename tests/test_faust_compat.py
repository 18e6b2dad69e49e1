"""Contract tests for agents/faust_compat, against the real faust and aiokafka classes.

Run them first when upgrading faust-streaming, aiokafka or mode: they say which
private method or attribute a workaround relies on is gone or changed shape.
"""

from __future__ import annotations

import inspect
from typing import Any

import faust
import pytest
from faust.transport.consumer import Consumer
from faust.transport.drivers.aiokafka import Producer
from faust.transport.producer import ProducerBuffer

from agents import faust_compat
from agents.faust_compat import flush, offsets, ordering, seek


def test_the_installed_libraries_are_the_ones_the_workarounds_were_tested_with() -> None:
    faust_compat.check()  # raises with the differences otherwise
    assert faust_compat.installed_versions() == faust_compat.TESTED_WITH


def test_another_version_is_refused_with_what_to_do() -> None:
    versions: dict[str, str | None] = {**faust_compat.TESTED_WITH, "faust-streaming": "0.16.0"}
    versions["aiokafka"] = None
    with pytest.raises(faust_compat.IncompatibleFaust) as refused:
        faust_compat.check(versions)
    message = str(refused.value)
    assert "faust-streaming 0.16.0 (tested with 0.15.3)" in message
    assert "aiokafka missing" in message
    assert "tests/test_faust_compat.py" in message and "TESTED_WITH" in message


@pytest.mark.parametrize(
    ("original", "replacement"),
    [
        (offsets._faust_new_offset, offsets._strict_new_offset),
        (offsets._faust_wait_empty, offsets._bounded_wait_empty),
        (ordering._faust_getmany, ordering._getmany_in_order),
        (flush._faust_flush, flush._flush_all),
        (flush._faust_put, flush._put),
        (seek._faust_perform_seek, seek._perform_seek_all),
        (flush._faust_send_pending, flush._send_pending),
    ],
    ids=["Consumer._new_offset", "Consumer.wait_empty", "Consumer.getmany", "Producer.flush",
         "ProducerBuffer.put", "ProducerBuffer._send_pending", "Consumer.perform_seek"],
)
def test_each_replacement_takes_what_faust_passes_to_the_original(
    original: Any, replacement: Any
) -> None:
    def shape(function: Any) -> list[tuple[str, Any]]:
        return [(p.name, p.kind) for p in inspect.signature(function).parameters.values()]

    assert shape(replacement) == shape(original)
    assert inspect.iscoroutinefunction(replacement) == inspect.iscoroutinefunction(original)
    assert inspect.isasyncgenfunction(replacement) == inspect.isasyncgenfunction(original)


def test_install_patches_the_real_classes_and_is_idempotent() -> None:
    faust_compat.install(["x.raw"])
    faust_compat.install(["x.events"])
    assert Consumer._new_offset is offsets._strict_new_offset
    assert Consumer.wait_empty is offsets._bounded_wait_empty
    assert Consumer.getmany is ordering._getmany_in_order
    assert Producer.flush is flush._flush_all
    assert Consumer.perform_seek is seek._perform_seek_all
    assert ProducerBuffer.put is flush._put
    assert ProducerBuffer._send_pending is flush._send_pending
    assert {"x.raw", "x.events"} <= ordering._ordered


def test_a_real_app_has_every_instance_attribute_the_workarounds_read() -> None:
    # created, not started: no broker is contacted
    app = faust.App("compat-contract", broker="kafka://127.0.0.1:1", store="memory://")
    faust_compat.check_app(app)
    consumer: Any = app.consumer
    assert isinstance(consumer._committed_offset, dict)
    assert hasattr(consumer._unacked_messages, "discard")  # in_order lets records go
    buffer: Any = app.producer.buffer
    assert isinstance(buffer.size, int)
    assert inspect.iscoroutinefunction(buffer.flush_atmost)


def test_faust_still_counts_a_fetch_gap_as_acknowledged() -> None:
    """The bug behind ``offsets`` (faust-streaming #606), shown on faust's own rule: if
    this fails after an upgrade, upstream changed it and the guard may be removable."""
    app = faust.App("compat-606", broker="kafka://127.0.0.1:1", store="memory://")
    consumer: Any = app.consumer
    from faust.types import TP

    tp = TP("t", 0)
    consumer._committed_offset[tp] = 10
    consumer._acked[tp] = [10, 11, 20]  # acknowledged by the streams
    consumer._acked_index[tp] = {10, 11, 20}
    consumer._gap[tp].addi(12, 20)  # faust recorded a fetch that jumped 12 -> 20
    assert offsets._faust_new_offset(consumer, tp) == 21  # past 12-19, never processed
    consumer._acked[tp] = [10, 11, 20]
    consumer._acked_index[tp] = {10, 11, 20}
    consumer._gap[tp].addi(12, 20)
    assert offsets._strict_new_offset(consumer, tp) == 12  # the unbroken run only
