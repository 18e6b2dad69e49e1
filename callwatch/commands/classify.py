"""``callwatch classify``: run the originator classifier over JSON lines.

Input (see ``callwatch.classify_input``): flat records (``id``, ``caller_name``,
``caller_agency``, ``agency_type``, ``caller_phone``, ``caller_email``,
``callback_number``, ``narrative``, ``call_type``, and a corpus' ``label``,
``agency``, ``kind``, ``note``) or canonical events (``call.received`` with its
nested ``caller``, ``call.updated``). Each flat record and each call event gives
one line out: ``id``, ``immigration_agency``, ``agency``, ``component``,
``confidence``, ``review`` and ``evidence`` (events add ``call_id`` and ``type``),
or ``id``/``line`` and ``error`` if the line could not be read; the error goes to
stderr too. Blank lines, and events of types that carry no originator signals,
give no line.

``--evaluate CORPUS.jsonl`` scores a labelled corpus instead (see
``callwatch.originator_evaluation``).
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from typing import Annotated, Any, TextIO

import orjson
import typer

from callwatch.classify_input import INPUT_HELP, InputError, Skipped, parse_line, record_id
from callwatch.originator_evaluation import evaluate_corpus, format_evaluation
from streams.agency_registry import AgencyRegistry, RegistryError, load_registry
from streams.classify import OriginatorDecision, classify_originator

__all__ = ["INPUT_HELP", "classify_command", "classify_lines", "decision_record"]


def decision_record(record_id: object, decision: OriginatorDecision) -> dict[str, Any]:
    return {
        "id": record_id,
        "immigration_agency": decision.immigration_agency,
        "agency": decision.agency,
        "component": decision.component,
        "confidence": decision.confidence,
        "review": decision.review,
        "evidence": [
            {"signal": e.signal, "matched": e.matched, "detail": e.detail}
            for e in decision.evidence
        ],
        "ruled_out": [
            {"signal": e.signal, "matched": e.matched, "detail": e.detail}
            for e in decision.ruled_out
        ],
    }


def classify_lines(
    inp: TextIO,
    out: TextIO,
    registry: AgencyRegistry | None = None,
    err: TextIO | None = None,
) -> int:
    """Classify every JSON line of ``inp`` onto ``out``; 0 if all were read, 1 if any was not.

    Never raises on bad input: a line that cannot be read gives an output line
    with ``error`` (and the same message on ``err``), and the rest go on.
    """
    registry = registry if registry is not None else load_registry()
    status = 0
    skipped: Counter[str] = Counter()
    for number, line in enumerate(inp, start=1):
        if not line.strip():
            continue
        try:
            parsed = parse_line(line, number)
            if isinstance(parsed, Skipped):
                skipped[parsed.event_type] += 1
                continue
            result = decision_record(parsed.id, classify_originator(parsed.signals, registry))
            if parsed.event_type is not None:
                result["call_id"] = parsed.call_id
                result["type"] = parsed.event_type
        except InputError as exc:
            status = 1
            result = {"id": _id_of(line), "line": number, "error": str(exc)}
            if err is not None:
                err.write(f"error: {exc}\n")
        except Exception as exc:  # a classifier bug must not take the whole stream down
            status = 1
            result = {"id": _id_of(line), "line": number, "error": f"internal error: {exc!r}"}
            if err is not None:
                err.write(f"error: line {number}: internal error: {exc!r}\n")
        out.write(orjson.dumps(result).decode())
        out.write("\n")
    if skipped and err is not None:
        kinds = ", ".join(f"{t} {n}" for t, n in sorted(skipped.items()))
        err.write(
            f"skipped {sum(skipped.values())} events carrying no originator signals: {kinds}\n"
        )
    return status


def _id_of(line: str) -> object:
    try:
        return record_id(orjson.loads(line))
    except orjson.JSONDecodeError:
        return None


# -------------------------------------------------------------------- command


def classify_command(
    registry: Annotated[
        Path | None,
        typer.Option("--registry", help="A registry file extending or replacing the shipped one."),
    ] = None,
    evaluate: Annotated[
        Path | None,
        typer.Option(
            "--evaluate",
            help="Score a labelled corpus (flat records with label) instead of reading stdin.",
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Classify call originators read as JSON lines on stdin; one JSON line out per record."""
    try:
        loaded = load_registry(registry)
    except RegistryError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from exc
    if evaluate is None:
        raise typer.Exit(classify_lines(sys.stdin, sys.stdout, loaded, sys.stderr))
    from callwatch.progress import counted, progress

    try:
        with (
            evaluate.open(encoding="utf-8") as f,
            progress("classifying", evaluate.stat().st_size, unit="bytes", quiet=quiet) as advance,
        ):
            result = evaluate_corpus(counted(f, advance), loaded, name=str(evaluate), time_it=True)
    except OSError as exc:
        typer.secho(f"error: {evaluate}: {exc.strerror or exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from exc
    typer.echo(format_evaluation(result))
    raise typer.Exit(1 if result.errors else 0)
