"""The XML an EIDO carries inside JSON strings: PIDF-LO locations, RFC 7852 comments.

Parsed with the standard library's expat-based ElementTree: it never fetches
external entities, and expat >= 2.4 caps entity expansion (billion laughs).
Elements are matched by local name because senders vary their prefixes.
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from typing import Final

# A PIDF-LO is a few kilobytes; anything far bigger is not one worth parsing.
MAX_XML_CHARS: Final = 256 * 1024

# RFC 5139 civic address elements, in the order an address is written.
_STREET: Final = ("HNO", "HNS", "PRD", "RD", "STS", "POD")
_PLACE: Final = ("A3", "A1", "PC")


@dataclass(frozen=True, slots=True)
class PidfLocation:
    address: str | None = None
    lat: float | None = None
    lon: float | None = None


def _parse(xml: str) -> ElementTree.Element | None:
    if len(xml) > MAX_XML_CHARS:
        return None
    try:
        return ElementTree.fromstring(xml.strip())
    except (ElementTree.ParseError, ValueError):
        return None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def pidf_location(xml: str) -> PidfLocation:
    """Civic address and/or geodetic point from a PIDF-LO document; empty when unreadable."""
    root = _parse(xml)
    if root is None:
        return PidfLocation()
    address: str | None = None
    lat = lon = None
    for element in root.iter():
        name = _local(element.tag)
        if name == "civicAddress" and address is None:
            address = _civic_address(element)
        elif name == "pos" and lat is None and element.text:
            lat, lon = _position(element.text)
    return PidfLocation(address, lat, lon)


def _civic_address(civic: ElementTree.Element) -> str | None:
    parts = {_local(child.tag): (child.text or "").strip() for child in civic}
    street = " ".join(parts[k] for k in _STREET if parts.get(k))
    place = [parts[k] for k in _PLACE if parts.get(k)]
    text = ", ".join([street, *place] if street else place)
    return text or None


def _position(text: str) -> tuple[float | None, float | None]:
    # GML pos is "lat lon" (EPSG:4326 axis order) optionally followed by altitude.
    try:
        lat, lon = (float(v) for v in text.split()[:2])
    except ValueError:
        return None, None
    if abs(lat) > 90 or abs(lon) > 180:
        return None, None
    return lat, lon


def call_comments(xml: str) -> list[str]:
    """The comment texts of an RFC 7852 EmergencyCallData.Comment block."""
    root = _parse(xml)
    if root is None or _local(root.tag) != "EmergencyCallData.Comment":
        return []
    return [e.text.strip() for e in root.iter() if _local(e.tag) == "Comment" and e.text]
