"""Fake people, places and units.

Names are obviously invented and phone numbers sit in 555-0100..0199, the range
reserved for fiction, so simulated data can never be mistaken for a real person.
No generated name contains "ice" ("Alice", "Price"): the only "ice" text in the
stream is planted on purpose, as a false friend the classifier must see through.
"""

from __future__ import annotations

from dataclasses import dataclass
from random import Random
from typing import Final

from schemas.events import Location, Officer, Rank, UnitRole
from streams.simulation.timeline import Unit

FIRST_NAMES: Final = (
    "Alex", "Jordan", "Casey", "Taylor", "Morgan", "Riley", "Jamie", "Avery", "Quinn",
    "Drew", "Robin", "Sam", "Pat", "Terry", "Dana", "Lee", "Kim", "Chris", "Jesse", "Kelly",
)  # fmt: skip
SURNAMES: Final = (
    "Doe", "Roe", "Example", "Sample", "Placeholder", "Testwell", "Fakerson", "Notreal",
    "Madeup", "Specimen", "Demo", "Mockett", "Pretend", "Invented", "Standin", "Lorem",
)  # fmt: skip

# Real Louisville streets at block level only, so no address is anybody's home.
STREETS: Final = (
    "BARDSTOWN RD", "PRESTON HWY", "DIXIE HWY", "W BROADWAY", "FEGENBUSH LN", "NEWPORT RD",
    "S 7TH ST", "TAYLOR BLVD", "SHELBYVILLE RD", "POPLAR LEVEL RD", "OUTER LOOP", "HIKES LN",
    "BLANKENBAKER PKWY", "CANE RUN RD", "RIVER RD", "FRANKFORT AVE", "W MARKET ST",
    "E MAIN ST", "WESTPORT RD", "BRECKENRIDGE LN", "BROWNSBORO RD", "BUECHEL BANK RD",
)  # fmt: skip
FEDERAL_BUILDING: Final = Location(
    address="600 BLOCK W BROADWAY (FEDERAL BLDG)", beat="1-1", lat=38.2469, lon=-85.7612
)
DIVISIONS: Final = 8

_RANK_TITLE: Final[dict[Rank, str]] = {
    "officer": "Ofc.",
    "detective": "Det.",
    "sergeant": "Sgt.",
    "lieutenant": "Lt.",
    "captain": "Capt.",
    "major": "Maj.",
    "federal_agent": "SA",
    "civilian": "",
}


def person_name(rng: Random) -> str:
    return f"{rng.choice(FIRST_NAMES)} {rng.choice(SURNAMES)}"


# 555-0140..0179 is left to the agency registry's example numbers (an ICE desk, the
# FBI office ...): a random caller on one of them would be "calling from ICE".
PHONE_SUFFIXES: Final = (*range(100, 140), *range(180, 200))


def phone(rng: Random) -> str:
    return f"502-555-0{rng.choice(PHONE_SUFFIXES)}"


def email(rng: Random, domain: str) -> str:
    return f"{rng.choice(FIRST_NAMES).lower()}.{rng.choice(SURNAMES).lower()}@{domain}"


def location(rng: Random) -> Location:
    division = rng.randint(1, DIVISIONS)
    return Location(
        address=f"{rng.randint(1, 99) * 100} BLOCK {rng.choice(STREETS)}",
        beat=f"{division}-{rng.randint(1, 6)}",
        lat=round(38.25 + rng.uniform(-0.1, 0.1), 5),
        lon=round(-85.70 + rng.uniform(-0.12, 0.12), 5),
    )


def officer(
    rng: Random, rank: Rank, *, agency: str | None = None, surname: str | None = None
) -> Officer:
    title = _RANK_TITLE.get(rank, "")
    last = surname or rng.choice(SURNAMES)
    name = f"{title} {rng.choice(FIRST_NAMES)[0]}. {last}".strip()
    prefix = "LMPD" if agency is None else "FED"
    return Officer(id=f"{prefix}-{rng.randint(1000, 9999)}", name=name, rank=rank, agency=agency)


@dataclass
class UnitRoster:
    """Hands out distinct unit ids within one call, LMPD style: 4B21, 4S3, 4L2."""

    rng: Random
    division: int
    _used: set[str]

    @classmethod
    def for_division(cls, rng: Random, division: int) -> UnitRoster:
        return cls(rng, division, set())

    def _fresh(self, make: str) -> str:
        while True:
            unit_id = make.format(
                d=self.division, s=self.rng.choice("ABCD"), n=self.rng.randint(10, 39)
            )
            if unit_id not in self._used:
                self._used.add(unit_id)
                return unit_id

    def patrol(self, *, surname: str | None = None) -> Unit:
        return Unit(self._fresh("{d}{s}{n}"), officer(self.rng, "officer", surname=surname))

    def supervisor(self) -> Unit:
        return Unit(self._fresh("{d}S{n}"), officer(self.rng, "sergeant"), role="supervisor")

    def commander(self, commanding_officer: Officer) -> Unit:
        return Unit(self._fresh("{d}L{n}"), commanding_officer, role="commander")

    def federal(self, agency: str, call_sign: str) -> Unit:
        role: UnitRole = "federal"
        agent = officer(self.rng, "federal_agent", agency=agency)
        return Unit(self._fresh(call_sign + "-{n}"), agent, role=role)
