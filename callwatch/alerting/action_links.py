"""The server's link key and the signer that puts action links into every alert.

The key comes from ``CALLWATCH_LINK_KEY_FILE`` or ``CALLWATCH_LINK_KEY`` (32 bytes
or more: ``openssl rand -hex 32``) and is read at start-up, so a missing or short
key stops the worker with one clear message rather than sending unsigned links.
Rotating the key invalidates every link already sent (they then say "not valid").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from callwatch.alerting.base import AlertsConfigError
from callwatch.settings import Settings
from streams.alerting import links
from streams.alerting.delivery import Work
from streams.alerting.message import Links

LINK_PATH: Final = "/a/"


def load_link_key(settings: Settings) -> bytes | None:
    """The key, or None when action links are off. Errors never show the key."""
    if settings.link_key_file is not None and settings.link_key is not None:
        raise AlertsConfigError("give CALLWATCH_LINK_KEY_FILE or CALLWATCH_LINK_KEY, not both")
    if settings.link_key_file is not None:
        try:
            key = settings.link_key_file.read_bytes().strip()
        except OSError as exc:
            raise AlertsConfigError(
                f"cannot read the link key file {settings.link_key_file}: {exc.strerror}"
            ) from None
        where = f"the link key file {settings.link_key_file}"
    elif settings.link_key is not None:
        key = settings.link_key.get_secret_value().strip().encode()
        where = "CALLWATCH_LINK_KEY"
    else:
        return None
    if len(key) < links.MIN_KEY_BYTES:
        raise AlertsConfigError(
            f"{where} holds {len(key)} bytes; a link key needs {links.MIN_KEY_BYTES} or more"
            " (generate one with `openssl rand -hex 32`)"
        )
    return key


def actions_base_url(settings: Settings) -> str:
    if settings.actions_url:
        return settings.actions_url.rstrip("/")
    host = f"[{settings.ack_host}]" if ":" in settings.ack_host else settings.ack_host
    return f"http://{host}:{settings.ack_port}"


@dataclass(frozen=True)
class LinkSigner:
    key: bytes
    base_url: str
    ttl_ms: int

    def links(self, work: Work, now: int) -> Links:
        """The message's links for the one recipient this channel reaches."""
        recipient = work.recipient or f"channel:{work.channel}"
        expires = now + self.ttl_ms
        # per message: a reminder or a re-open notice carries links of its own, so a link
        # used before an acknowledgement timed out does not stand for the new one
        alert_id = work.alert_id

        def url(action: links.Action) -> str:
            claim = links.claim(action, dedup_key=work.dedup_key, alert_id=alert_id,
                                recipient=recipient, channel=work.channel, expires_at=expires)
            return f"{self.base_url}{LINK_PATH}{links.sign(self.key, claim)}"

        critical = str(work.intent.get("severity")) == "critical"
        return Links(ack_url=url("ack"), escalate_url=url("escalate") if critical else None,
                     expires_at=expires)
