"""Checkpoints: a tree size, its root hash and a time, in the text that gets signed.

The signed body is a few lines of plain text, in the spirit of the C2SP
``tlog-checkpoint`` format, so a person can read a published checkpoint and a
tool in another language can check it::

    callwatch-ledger/v1
    <origin: which log, e.g. "lmpd-callwatch">
    <tree size>
    <root hash, base64>
    <time, RFC 3339 UTC>

followed by an empty line and one signature line ``— <key id> <base64 Ed25519
signature over the body>``. The key id is the first 8 hex digits of the
SHA-256 of the raw public key, so a verifier holding several keys picks the
right one. Signing and checking the signature live in the application layer
(``callwatch.ledger.signing``); this module only builds and parses the text.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

HEADER: Final = "callwatch-ledger/v1"
_SIG_PREFIX: Final = "\u2014 "


class CheckpointError(ValueError):
    pass


def key_id(public_key: bytes) -> str:
    return hashlib.sha256(public_key).hexdigest()[:8]


@dataclass(frozen=True, slots=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    time_ms: int

    def body(self) -> bytes:
        when = datetime.fromtimestamp(self.time_ms / 1000, tz=UTC)
        stamp = when.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        root = base64.b64encode(self.root).decode()
        return f"{HEADER}\n{self.origin}\n{self.size}\n{root}\n{stamp}\n".encode()


@dataclass(frozen=True, slots=True)
class SignedCheckpoint:
    checkpoint: Checkpoint
    key_id: str
    signature: bytes

    def text(self) -> str:
        sig = base64.b64encode(self.signature).decode()
        return f"{self.checkpoint.body().decode()}\n{_SIG_PREFIX}{self.key_id} {sig}\n"


def parse(text: str) -> SignedCheckpoint:
    """Read a signed checkpoint; a malformed one raises ``CheckpointError`` saying why."""
    body, sep, signature = text.partition("\n\n")
    if not sep:
        raise CheckpointError("checkpoint has no signature line")
    lines = body.split("\n")
    if len(lines) != 5 or lines[0] != HEADER:
        raise CheckpointError(f"not a {HEADER} checkpoint")
    origin, size_text, root_text, stamp = lines[1:]
    try:
        size = int(size_text)
        root = base64.b64decode(root_text, validate=True)
        when = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError as exc:
        raise CheckpointError(f"malformed checkpoint: {exc}") from None
    if size < 0 or len(root) != 32:
        raise CheckpointError("malformed checkpoint: bad size or root hash")
    sig_line = signature.strip("\n")
    if not sig_line.startswith(_SIG_PREFIX) or " " not in sig_line[len(_SIG_PREFIX) :]:
        raise CheckpointError("malformed signature line")
    kid, _, sig_text = sig_line[len(_SIG_PREFIX) :].partition(" ")
    try:
        sig = base64.b64decode(sig_text, validate=True)
    except ValueError:
        raise CheckpointError("signature is not base64") from None
    checkpoint = Checkpoint(origin, size, root, int(when.timestamp() * 1000))
    if checkpoint.body() != (body + "\n").encode():
        raise CheckpointError("checkpoint text is not in canonical form")
    return SignedCheckpoint(checkpoint, kid, sig)
