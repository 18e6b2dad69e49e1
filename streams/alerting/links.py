"""Signed action links: "I'm taking it" and "escalate now", straight from the alert.

A link carries a claim (which action, on which alert, for which recipient,
until when) and an HMAC-SHA256 over it with the server's link key, so it needs
no login and cannot be forged or bent to another alert, recipient or expiry.
It is only a capability to *open* the action page: the action itself is a
POST from that page (mail scanners and chat unfurlers fetch every link they
see, and a GET must never acknowledge anything). That it works once is
recorded by the alerter (``Alert.used_links``), keyed by the claim's
``link_id``; this module only signs, parses and dates.

Token: ``base64url(claim JSON) "." base64url(HMAC)``, URL-safe, no padding.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from typing import Final, Literal

import msgspec

Action = Literal["ack", "escalate"]
Refusal = Literal["malformed", "forged", "expired"]

MIN_KEY_BYTES: Final = 32
# Only what the page needs: no names or numbers of callers, never the message.
_VERSION: Final = 1


class LinkClaim(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    v: int
    action: Action
    dedup_key: str  # the alert: CALL/RULE
    alert_id: str  # the message that carried the link
    recipient: str  # who it was sent to: a person of the on-call schedule, or a channel
    channel: str
    expires_at: int  # unix ms
    link_id: str  # one per (message, recipient, action): what "used" is recorded against

    @property
    def call_id(self) -> str:
        return self.dedup_key.rpartition("/")[0]


@dataclass(frozen=True, slots=True)
class Refused:
    reason: Refusal
    claim: LinkClaim | None = None  # set for "expired": the page can still say which alert


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(LinkClaim)


def link_id(alert_id: str, recipient: str, channel: str, action: Action) -> str:
    """Deterministic, so a message sent again (a possible repeat) carries the same link."""
    raw = f"{alert_id}|{recipient}|{channel}|{action}".encode()
    return hashlib.sha256(raw).hexdigest()[:24]


def claim(
    action: Action,
    *,
    dedup_key: str,
    alert_id: str,
    recipient: str,
    channel: str,
    expires_at: int,
) -> LinkClaim:
    return LinkClaim(
        v=_VERSION,
        action=action,
        dedup_key=dedup_key,
        alert_id=alert_id,
        recipient=recipient,
        channel=channel,
        expires_at=expires_at,
        link_id=link_id(alert_id, recipient, channel, action),
    )


def sign(key: bytes, link: LinkClaim) -> str:
    body = _b64(_encoder.encode(link))
    return f"{body}.{_b64(_mac(key, body))}"


def verify(key: bytes, token: str, now: int) -> LinkClaim | Refused:
    """The claim of a genuine, unexpired token; otherwise why not.

    The signature is checked (in constant time) before the claim is even parsed,
    so a forged token learns nothing from the answer."""
    body, dot, mac = token.partition(".")
    if not dot or not body or not mac:
        return Refused("malformed")
    try:
        offered = _unb64(mac)
    except ValueError:
        return Refused("malformed")
    if not hmac.compare_digest(_mac(key, body), offered):
        return Refused("forged")
    try:
        link = _decoder.decode(_unb64(body))
    except (ValueError, msgspec.DecodeError):
        return Refused("malformed")
    if link.v != _VERSION:
        return Refused("malformed")
    if now >= link.expires_at:
        return Refused("expired", link)
    return link


def csrf_token(key: bytes, link: LinkClaim, nonce: str) -> str:
    """The form token of the action page: bound to the link and to the browser's
    cookie nonce, so a page on another site can neither read nor forge it."""
    return _b64(hmac.new(key, f"csrf|{link.link_id}|{nonce}".encode(), hashlib.sha256).digest())


def csrf_ok(key: bytes, link: LinkClaim, nonce: str | None, offered: str | None) -> bool:
    if not nonce or not offered:
        return False
    return hmac.compare_digest(csrf_token(key, link, nonce), offered)


def _mac(key: bytes, body: str) -> bytes:
    return hmac.new(key, b"link|" + body.encode(), hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    if not text.isascii():
        raise ValueError("not base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as exc:
        raise ValueError("not base64url") from exc
