"""Cleaning text from exports: HTML entities, stray newlines, control characters.

Open-data exports HTML-escape some columns and not others (Berkeley writes
``&amp;`` in one column and ``&`` in the next) and carry multi-line quoted
fields; the canonical event wants one clean spelling of each value.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from typing import Final

SHORT_MAX: Final = 256  # schemas.events.Short
TEXT_MAX: Final = 8192  # schemas.events.Text
ID_MAX: Final = 128  # schemas.events.Id

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_WHITESPACE = re.compile(r"\s+")
_BLANK_LINES = re.compile(r"\n{3,}")
_LINE_END_SPACE = re.compile(r"[ \t]+\n")


def truncate(value: str, limit: int) -> str:
    """Cut to ``limit`` characters, marking the cut, so one long field never rejects a call."""
    return value if len(value) <= limit else value[: limit - 1] + "…"


def clean_line(raw: str | None, limit: int = SHORT_MAX) -> str | None:
    """One-line text: entities decoded, every run of whitespace (newlines too) one space."""
    if raw is None:
        return None
    text = _WHITESPACE.sub(" ", _CONTROL.sub("", html.unescape(raw))).strip()
    return truncate(text, limit) if text else None


def clean_narrative(raw: str | None, limit: int = TEXT_MAX) -> str | None:
    """Multi-line text: entities decoded, CRLF/CR made LF, blank-line runs collapsed."""
    if raw is None:
        return None
    text = html.unescape(raw).replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text).replace("\t", " ")
    text = _BLANK_LINES.sub("\n\n", _LINE_END_SPACE.sub("\n", text)).strip()
    return truncate(text, limit) if text else None


class _TextExtractor(HTMLParser):
    _BREAKS: Final = frozenset({"br", "p", "div", "li", "tr"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._BREAKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_to_text(raw: str | None, limit: int = TEXT_MAX) -> str | None:
    """EIDO notes are HTML5; keep the words and the line breaks, drop the markup."""
    if raw is None:
        return None
    if "<" not in raw:
        return clean_narrative(raw, limit)
    extractor = _TextExtractor()
    extractor.feed(raw)
    extractor.close()
    # The extractor already decoded entities; escape '&' so clean_narrative does not decode twice.
    return clean_narrative("".join(extractor.parts).replace("&", "&amp;"), limit)
