"""Run an audit's second pass in several processes, calls split between them by id.

Each process reads the same sorted runs and applies only its own calls' events
(``streams.engine.audit``), so the result is the single-process one and the work
of decoding and judging is shared out. Processes are forked: the engine, its
policy and classifier are inherited, not rebuilt. A process's rejections go to a
file of its own in the spill folder, which the parent reads back.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import msgspec

from streams.audit_input import RejectedRecord
from streams.engine.audit import AuditOptions, PartResult, Records, audit_part
from streams.engine.policy import Policy
from streams.engine.state import Engine

Sink = Callable[[RejectedRecord], None]


class _RejectFile:
    def __init__(self, path: Path) -> None:
        self.handle = path.open("wb")
        self.encoder = msgspec.msgpack.Encoder()

    def __call__(self, record: RejectedRecord) -> None:
        data = self.encoder.encode(
            (record.source, record.line, record.reason, record.detail, record.text, record.size)
        )
        self.handle.write(len(data).to_bytes(4, "little") + data)


def _read_rejects(path: Path, sink: Sink) -> None:
    decoder = msgspec.msgpack.Decoder(tuple[int, int, str, str, bytes | None, int])
    with path.open("rb") as handle:
        while head := handle.read(4):
            source, line, reason, detail, text, size = decoder.decode(
                handle.read(int.from_bytes(head, "little"))
            )
            sink(RejectedRecord(source, line, reason, detail, text, size))


def run_parts(
    records: Records,
    engine: Engine,
    policy: Policy,
    options: AuditOptions,
    *,
    jobs: int,
    spill_dir: Path,
    on_reject: Sink | None,
    progress: Callable[[int], None] | None = None,
) -> list[PartResult]:
    if jobs <= 1:
        return [
            audit_part(records, engine, policy, options, on_reject=on_reject, progress=progress)
        ]
    context = multiprocessing.get_context("fork")
    children: list[tuple[Any, Connection, Path]] = []
    done = [context.Value("q", 0, lock=False) for _ in range(jobs)]  # records read, per child
    for part in range(jobs):
        receive, send = context.Pipe(duplex=False)
        rejects = spill_dir / f"rejects-{part}.bin"
        child = context.Process(
            target=_child,
            args=(send, records, engine, policy, options, part, jobs, rejects, done[part]),
            daemon=True,
        )
        child.start()
        send.close()
        children.append((child, receive, rejects))
    results: list[PartResult] = []
    shown = 0
    for child, receive, rejects in children:
        while not receive.poll(0.25):  # meanwhile, the bar follows the slowest child
            slowest = min(d.value for d in done)
            if progress is not None and slowest > shown:
                progress(slowest - shown)
                shown = slowest
        try:
            outcome = pickle.loads(receive.recv_bytes())
        except EOFError:
            outcome = RuntimeError(f"audit process {child.pid} died (exit {child.exitcode})")
        child.join()
        if isinstance(outcome, BaseException):
            raise outcome
        results.append(outcome)
        if on_reject is not None and rejects.exists():
            _read_rejects(rejects, on_reject)
    return results


def _child(
    send: Connection,
    records: Records,
    engine: Engine,
    policy: Policy,
    options: AuditOptions,
    part: int,
    parts: int,
    rejects: Path,
    done: Any,
) -> None:
    def tick(records: int) -> None:
        done.value += records

    try:
        sink = _RejectFile(rejects)
        result: PartResult | BaseException = audit_part(
            records, engine, policy, options, part=part, parts=parts, on_reject=sink, progress=tick
        )
        sink.handle.close()
    except BaseException as exc:  # reported to the parent, which raises it
        result = RuntimeError(f"audit part {part}: {type(exc).__name__}: {exc}")
    send.send_bytes(pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))
    send.close()
    os._exit(0)  # skip the parent's atexit handlers and buffers, inherited by the fork
