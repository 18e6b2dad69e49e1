"""Publishing a signed checkpoint: to a file (e.g. a web root, a synced folder) or a URL.

A URL gets the checkpoint text by HTTP PUT (``text/plain``); any 2xx is success.
A failed publication is logged and tried again at the next checkpoint: the
checkpoint itself is already kept in the log directory, so nothing is lost.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import httpx

log = logging.getLogger("callwatch.ledger")


def is_url(target: str) -> bool:
    return target.startswith(("http://", "https://"))


async def publish(target: str, text: str, *, timeout: float = 10.0) -> bool:
    try:
        if is_url(target):
            async with httpx.AsyncClient(timeout=timeout) as client:
                response = await client.put(
                    target, content=text.encode(), headers={"Content-Type": "text/plain"}
                )
            if response.status_code // 100 != 2:
                log.warning("ledger: publishing the checkpoint got HTTP %d", response.status_code)
                return False
        else:
            path = Path(target)
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_text(text)
            os.replace(tmp, path)
    except (httpx.HTTPError, OSError) as exc:
        log.warning("ledger: could not publish the checkpoint to %s: %s", target, exc)
        return False
    return True
