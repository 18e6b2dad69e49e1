"""Ed25519 keys for checkpoints: from a file or the environment, never from code.

A private key is a PEM (PKCS#8) file, or the same PEM text in an environment
variable (``CALLWATCH_LEDGER_SIGNING_KEY``, for orchestrators that mount secrets
as variables). ``callwatch ledger keygen`` writes a new pair: the private key
readable by its owner only, the public key for whoever verifies.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from streams.ledger.checkpoint import Checkpoint, SignedCheckpoint, key_id


class LedgerKeyError(ValueError):
    """A key that is missing, unreadable or not Ed25519 (the message says which)."""


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


@dataclass(frozen=True)
class Signer:
    private: Ed25519PrivateKey

    @property
    def key_id(self) -> str:
        return key_id(_raw_public(self.private.public_key()))

    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def sign(self, checkpoint: Checkpoint) -> SignedCheckpoint:
        return SignedCheckpoint(checkpoint, self.key_id, self.private.sign(checkpoint.body()))


def load_signer(key_file: Path | None, key_text: str | None, *, source: str) -> Signer:
    """The signer from a PEM file, else from PEM text (an environment variable)."""
    if key_file is not None:
        try:
            data = key_file.read_bytes()
        except OSError as exc:
            raise LedgerKeyError(
                f"cannot read the ledger signing key {key_file}: {exc.strerror}"
            ) from None
        where = str(key_file)
    elif key_text:
        data, where = key_text.encode(), source
    else:
        raise LedgerKeyError(
            "the ledger needs a signing key: set CALLWATCH_LEDGER_SIGNING_KEY_FILE (or "
            "CALLWATCH_LEDGER_SIGNING_KEY); `callwatch ledger keygen` makes one"
        )
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise LedgerKeyError(f"{where} is not a PEM private key: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise LedgerKeyError(f"{where} is not an Ed25519 key")
    return Signer(key)


def load_public_key(path: Path) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except OSError as exc:
        raise LedgerKeyError(f"cannot read the public key {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise LedgerKeyError(f"{path} is not a PEM public key: {exc}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise LedgerKeyError(f"{path} is not an Ed25519 public key")
    return key


def signature_problem(signed: SignedCheckpoint, public: Ed25519PublicKey) -> str | None:
    """None if the checkpoint is signed by this key; otherwise why not."""
    if signed.key_id != key_id(_raw_public(public)):
        return f"signed by key {signed.key_id}, not by the given key {key_id(_raw_public(public))}"
    try:
        public.verify(signed.signature, signed.checkpoint.body())
    except InvalidSignature:
        return "the signature does not match the checkpoint"
    return None


def generate(private_path: Path, public_path: Path) -> Signer:
    """Write a new key pair; refuses to overwrite an existing private key."""
    if private_path.exists():
        raise LedgerKeyError(f"{private_path} exists; not overwriting a signing key")
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    private_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    signer = Signer(key)
    public_path.write_bytes(signer.public_pem())
    return signer
