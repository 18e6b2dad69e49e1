"""What each source declares it can report, and what the engine does with it."""

from __future__ import annotations

from streams.adapters.capabilities import mapping_provides
from streams.adapters.eido import EIDO_PROVIDES
from streams.adapters.mapping import load_mapping, parse_mapping, resolve_mapping
from streams.engine.capabilities import unprovided
from streams.engine.facts import Fact


def test_a_mapping_provides_what_its_columns_map() -> None:
    # San Francisco Fire maps unit times; no export maps cameras, commanders or reports.
    assert mapping_provides(load_mapping(resolve_mapping("sffd-san-francisco-fire"))) == ("units",)
    for name in ("sdpd-san-diego", "mpd-milwaukee", "berkeley-pd", "sffd-san-francisco-fire"):
        provides = mapping_provides(load_mapping(resolve_mapping(name)))
        assert not {"camera", "commander", "basis", "report"} & set(provides), name


def test_an_explicit_provides_list_wins() -> None:
    text = resolve_mapping("berkeley-pd").read_text()
    mapping = parse_mapping(text + "\nprovides: [camera, units]\n")
    assert mapping_provides(mapping) == ("units", "camera")  # in FACT_KINDS order


def test_eido_declares_units_and_narrative_only() -> None:
    assert EIDO_PROVIDES == ("units", "narrative")


def test_a_kind_is_unprovided_only_when_declared_absent_and_no_fact_shows_it() -> None:
    received = Fact("e1", "call.received", 0, provides=("units",))
    camera = Fact("e2", "bodycam.activated", 1, unit="1")
    assert unprovided([received], ("camera",)) == "camera"
    assert unprovided([received, camera], ("camera",)) is None  # records show it after all
    assert unprovided([received], ("units",)) is None
    undeclared = Fact("e1", "call.received", 0)
    assert unprovided([undeclared], ("camera",)) is None
