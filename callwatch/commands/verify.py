"""``callwatch verify``: does the log match its signed checkpoint? One line, an exit status.

Fits a cron job: exit 0 and ``ok: ...`` when everything checks; exit 1 and
``FAIL: <the first problem>`` when the log (or Elasticsearch) disagrees with
the checkpoint, naming the first entry changed, removed, inserted or
reordered; exit 2 and ``error: ...`` when it cannot check at all (no key, no
log, an unreadable checkpoint).
"""

from __future__ import annotations

from pathlib import Path

import typer

from callwatch.ledger.audit import (
    AuditError,
    LogFiles,
    audit,
    find_entry,
    latest_checkpoint,
    load_checkpoint,
    prove_consistency,
    prove_inclusion,
)
from callwatch.ledger.signing import LedgerKeyError, load_public_key, signature_problem


def _error(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def _fail(message: str) -> None:
    typer.echo(f"FAIL: {message}")
    raise typer.Exit(1)


def verify_command(
    ledger_dir: Path | None = typer.Option(
        None, "--ledger-dir", help="the log directory (default: $CALLWATCH_LEDGER_DIR)"
    ),
    public_key: Path | None = typer.Option(
        None,
        "--public-key",
        help="Ed25519 public key PEM (default: $CALLWATCH_LEDGER_PUBLIC_KEY_FILE)",
    ),
    checkpoint: Path | None = typer.Option(
        None, "--checkpoint", help="a published checkpoint to check against (default: the latest)"
    ),
    since: Path | None = typer.Option(
        None, "--since", help="an older checkpoint: prove the log still extends it"
    ),
    entry: int | None = typer.Option(None, "--entry", help="prove this leaf index is included"),
    entry_id: str | None = typer.Option(None, "--entry-id", help="prove this entry id is included"),
    es: bool = typer.Option(False, "--es", help="also check Elasticsearch agrees with the log"),
    show_proof: bool = typer.Option(False, "--show-proof", help="print proofs' hashes (hex)"),
) -> None:
    """Check the ledger against a signed checkpoint; exit 0 ok, 1 tampered, 2 cannot check."""
    from callwatch.settings import Settings

    settings = Settings()
    directory = ledger_dir or settings.ledger_dir
    key_path = public_key or settings.ledger_public_key_file
    if directory is None:
        _error("no ledger directory: pass --ledger-dir or set CALLWATCH_LEDGER_DIR")
    if key_path is None:
        _error("no public key: pass --public-key or set CALLWATCH_LEDGER_PUBLIC_KEY_FILE")
    assert directory is not None and key_path is not None
    try:
        key = load_public_key(key_path)
        files = LogFiles.read(directory)
        signed = load_checkpoint(checkpoint) if checkpoint else latest_checkpoint(directory)
        result = audit(files, signed, key)
        if not result.ok:
            _fail(result.problems[0])
        cp = signed.checkpoint
        extra: list[str] = []
        if since is not None:
            older = load_checkpoint(since)
            problem = signature_problem(older, key)
            if problem:
                _fail(f"--since checkpoint: {problem}")
            consistent, proof = prove_consistency(files, older, signed)
            if not consistent:
                _fail(
                    f"the checkpoint at size {cp.size} does not extend the one at "
                    f"{older.checkpoint.size}: the log was rewritten in between"
                )
            extra.append(f"extends the checkpoint at {older.checkpoint.size} ({len(proof)} hashes)")
            if show_proof:
                typer.echo("\n".join(h.hex() for h in proof), err=True)
        if entry_id is not None:
            entry = find_entry(files, entry_id)
        if entry is not None:
            included, proof = prove_inclusion(files, signed, entry)
            if not included:
                _fail(f"entry {entry} is not included in the checkpointed tree")
            extra.append(f"entry {entry} included ({len(proof)} hashes)")
            if show_proof:
                typer.echo("\n".join(h.hex() for h in proof), err=True)
        if es:
            from callwatch.ledger.es_check import es_problems

            problems, checked = es_problems(settings, files)
            if problems:
                _fail(
                    f"Elasticsearch: {problems[0]}"
                    + (f" (+{len(problems) - 1} more)" if len(problems) > 1 else "")
                )
            extra.append(f"Elasticsearch agrees ({checked} documents)")
    except (AuditError, LedgerKeyError) as exc:
        _error(str(exc))
    notes = "; ".join([*extra, *result.notes])
    typer.echo(
        f"ok: {result.entries} entries; checkpoint {cp.origin} size {cp.size} root "
        f"{cp.root.hex()[:16]} signed by {signed.key_id}; {len(files.kept)} kept checkpoints "
        f"consistent" + (f"; {notes}" if notes else "")
    )
