"""``callwatch ledger keygen``: a new Ed25519 key pair for signing checkpoints."""

from __future__ import annotations

from pathlib import Path

import typer

from callwatch.ledger.signing import LedgerKeyError, generate


def keygen_command(
    private: Path = typer.Option(..., "--private", help="where to write the private key (0600)"),
    public: Path = typer.Option(..., "--public", help="where to write the public key"),
) -> None:
    """Write a new key pair; the private key never leaves this file."""
    try:
        signer = generate(private, public)
    except LedgerKeyError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"key {signer.key_id}: private {private}, public {public}")
