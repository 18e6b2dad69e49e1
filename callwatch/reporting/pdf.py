"""HTML to PDF with headless Chromium (Debian's ``chromium``; no browser download)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path


class PdfError(RuntimeError):
    pass


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    raise PdfError("no chromium found (apt-get install chromium) to print the report to PDF")


def headless(profile: str, *args: str) -> list[str]:
    # --no-sandbox: Chromium refuses its sandbox as root (CI and containers run as root).
    return [
        chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
        f"--user-data-dir={profile}", *args,
    ]  # fmt: skip


def html_to_pdf(html: Path, pdf: Path, timeout: float = 120) -> None:
    profile = tempfile.mkdtemp(prefix="callwatch-chromium-")
    try:
        command = headless(
            profile, "--no-pdf-header-footer", f"--print-to-pdf={pdf}", html.resolve().as_uri()
        )
        done = subprocess.run(command, capture_output=True, timeout=timeout, check=False)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    if done.returncode != 0 or not pdf.exists() or pdf.stat().st_size == 0:
        raise PdfError(f"chromium could not print {html}: {done.stderr.decode()[-500:]}")
