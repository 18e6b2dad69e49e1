"""The records a report is computed from: the log of record, or an offline run.

Both give the same shape: the last picture of each immigration-agency call, the
last state of each finding, every alert delivery record, and the policy. From
the log, the checkpoint the figures were computed from comes too (the report
prints it, so a reader can check the figures' source with ``callwatch verify``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from callwatch.ledger.audit import LogFiles, latest_checkpoint
from streams.engine.policy import Policy
from streams.ledger.checkpoint import SignedCheckpoint
from streams.ledger.entries import parse_entry


@dataclass
class History:
    calls: list[dict[str, Any]]
    findings: list[dict[str, Any]]
    deliveries: list[dict[str, Any]]
    policy_versions: list[str]
    source: str
    checkpoint: SignedCheckpoint | None = None
    notes: list[str] = field(default_factory=list)


def from_ledger(directory: Path) -> History:
    """Everything up to the latest signed checkpoint (entries after it are not yet signed)."""
    files = LogFiles.read(directory)
    signed = latest_checkpoint(directory)
    calls: dict[str, dict[str, Any]] = {}
    findings: dict[str, dict[str, Any]] = {}
    deliveries: list[dict[str, Any]] = []
    policies: list[str] = []
    for line in files.entries[: signed.checkpoint.size]:
        entry = parse_entry(line)
        record, kind = entry["record"], entry["kind"]
        if kind == "call":
            calls[record["call_id"]] = record  # later pictures replace earlier ones
        elif kind == "finding":
            current = findings.get(record["finding_id"])
            if current is None or (record.get("revision") or 0) >= (current.get("revision") or 0):
                findings[record["finding_id"]] = record
        elif kind == "delivery":
            deliveries.append(record)
        elif kind == "policy":
            version = f"{record['policy']} {record['version']}"
            if version not in policies:
                policies.append(version)
    return History(
        list(calls.values()),
        list(findings.values()),
        deliveries,
        policies,
        f"the log of record in {directory}",
        signed,
    )


def from_history(
    input_path: Path, policy: Policy, engine: Any, mapping: str | None = None
) -> History:
    """Run the live engine over a CAD export or events file, as ``callwatch check`` does.

    The coupling to the offline run is this one function: the adapters give events,
    ``OfflineRun`` the engine's states and finding changes, and the records are the
    same ``call_record``/``finding_record`` the worker writes.
    """
    from schemas.events import DispatchEvent
    from streams.adapters import Collector, open_input
    from streams.engine.clock import EventClock
    from streams.engine.offline import OfflineRun
    from streams.engine.records import call_record, finding_record

    opened = open_input(input_path, mapping, received_at=datetime.now(UTC))
    collector = Collector()
    run = OfflineRun(engine, EventClock())
    calls: dict[str, dict[str, Any]] = {}

    def remember(call_id: str) -> None:
        state = run.states.get(call_id)
        if state is not None and (state.originator.immigration_agency or state.originator.review):
            record = call_record(state, policy.commanding_ranks)
            record["component"] = getattr(state.originator, "component", None)
            calls[call_id] = record

    def events() -> Iterator[DispatchEvent]:
        previous: str | None = None
        for outcome in opened.outcomes:
            for event in collector.accept(outcome):
                if previous is not None:
                    remember(previous)
                previous = event.call_id
                yield event
        if previous is not None:
            remember(previous)

    latest: dict[str, Any] = {}
    for change in run.feed(events()):
        latest[f"{change.call_id}/{change.rule.id}"] = change
        remember(change.call_id)
    for change in run.finish():
        latest[f"{change.call_id}/{change.rule.id}"] = change
        remember(change.call_id)
    findings = [finding_record(change, policy) for change in latest.values()]
    return History(
        list(calls.values()),
        findings,
        [],
        [f"{policy.name} {policy.version}"],
        f"an offline run of the policy engine over {input_path.name}",
        notes=["Alerts are not part of an offline run: the alert table is empty."],
    )
