"""``callwatch classify`` input: flat records and canonical events, unknown keys refused;
and the corpus evaluation's counting (strict and with review)."""

from __future__ import annotations

import io
import json

import orjson
import pytest
import typer
from typer.testing import CliRunner

from callwatch.classify_input import InputError, InputRecord, Skipped, parse_line
from callwatch.commands.classify import classify_command, classify_lines
from callwatch.originator_evaluation import evaluate_corpus, format_evaluation
from streams.agency_registry import default_registry

REGISTRY = default_registry()
_ENVELOPE = {
    "occurred_at": "2017-04-13T09:30:00Z",
    "received_at": "2017-04-13T09:30:01Z",
    "source": "test",
    "call_id": "C-1",
}


def _event(event_type: str, event_id: str, **fields: object) -> str:
    return json.dumps({"type": event_type, "event_id": event_id, **_ENVELOPE, **fields})


def _run(lines: list[str]) -> tuple[int, list[dict[str, object]], str]:
    out, err = io.StringIO(), io.StringIO()
    status = classify_lines(io.StringIO("\n".join(lines) + "\n"), out, REGISTRY, err)
    return status, [orjson.loads(line) for line in out.getvalue().splitlines()], err.getvalue()


def test_call_received_is_read_with_its_nested_caller() -> None:
    line = _event(
        "call.received",
        "e1",
        caller={"name": "SA DOE", "agency": "U.S. Border Patrol", "email": "j.doe@cbp.dhs.gov"},
        call_type="ASSIST OTHER AGENCY",
        narrative="REQ UNIT FOR TRAFFIC STOP",
    )
    record = parse_line(line, 7)
    assert isinstance(record, InputRecord)
    assert record.id == "e1" and record.call_id == "C-1" and record.event_type == "call.received"
    assert record.signals.caller_agency == "U.S. Border Patrol"
    assert record.signals.email == "j.doe@cbp.dhs.gov"
    assert record.signals.call_type == "ASSIST OTHER AGENCY"
    status, out, _ = _run([line])
    assert status == 0
    assert out[0]["agency"] == "CBP" and out[0]["immigration_agency"] is True
    assert out[0]["call_id"] == "C-1" and out[0]["type"] == "call.received"


def test_call_updated_gives_its_narrative_and_other_events_are_skipped() -> None:
    status, out, err = _run(
        [
            _event("call.received", "e1", narrative="LOUD MUSIC"),
            _event("unit.dispatched", "e2", unit="4A12"),
            _event("call.updated", "e3", narrative="ICE AGENT ON LINE 2 REQ SGT CALL BACK"),
            _event("unit.on_scene", "e4", unit="4A12"),
        ]
    )
    assert status == 0
    assert [o["id"] for o in out] == ["e1", "e3"]
    assert out[0]["immigration_agency"] is False
    assert out[1]["immigration_agency"] is True and out[1]["agency"] == "ICE"
    assert "skipped 2 events carrying no originator signals" in err
    assert "unit.dispatched 1" in err and "unit.on_scene 1" in err


def test_unknown_flat_key_is_refused_naming_key_and_line() -> None:
    status, out, err = _run(
        [
            '{"id": "a", "narrative": "ICE AGENT REQ ASSIST"}',
            '{"id": "b", "caller_agncy": "ICE", "narrative": "REQ UNIT"}',
        ]
    )
    assert status == 1
    assert out[0]["immigration_agency"] is True
    assert out[1] == {
        "id": "b",
        "line": 2,
        "error": "line 2: unknown key 'caller_agncy' (did you mean 'caller_agency'?)",
    }
    assert "error: line 2: unknown key 'caller_agncy'" in err


def test_nested_caller_without_a_type_is_refused_with_a_hint() -> None:
    with pytest.raises(InputError, match=r"line 3: unknown key 'caller'.*`type`"):
        parse_line('{"caller": {"agency": "ICE"}, "narrative": "REQ UNIT"}', 3)


def test_an_unrelated_unknown_key_lists_the_accepted_ones() -> None:
    with pytest.raises(InputError, match=r"line 1: unknown key 'zzz'; a flat record takes id, "):
        parse_line('{"zzz": 1}', 1)


def test_unknown_key_inside_an_event_is_refused_with_its_path() -> None:
    line = _event("call.received", "e1", caller={"agnecy": "ICE"})
    with pytest.raises(InputError) as info:
        parse_line(line, 5)
    message = str(info.value)
    assert message.startswith("line 5: not a valid canonical event (schema_violation)")
    assert "agnecy" in message and "$.caller" in message


def test_a_wrong_type_and_an_oversize_field_are_refused() -> None:
    with pytest.raises(InputError, match="line 2: narrative must be a string or null, got int"):
        parse_line('{"narrative": 4}', 2)
    with pytest.raises(InputError, match="line 9: narrative is longer than 8192"):
        parse_line(json.dumps({"narrative": "A" * 9000}), 9)


def test_corpus_annotations_are_accepted_and_kept_apart() -> None:
    record = parse_line(
        json.dumps(
            {
                "id": "x",
                "label": "positive",
                "agency": "ICE",
                "kind": "spanish",
                "note": "n",
                "narrative": "AGENTE DE ICE PIDE APOYO",
            }
        ),
        1,
    )
    assert isinstance(record, InputRecord)
    assert record.annotations == {
        "label": "positive",
        "agency": "ICE",
        "kind": "spanish",
        "note": "n",
    }


def test_skipped_event_is_not_a_record() -> None:
    assert parse_line(_event("call.closed", "e9"), 4) == Skipped(4, "call.closed")


def test_the_command_prints_the_error_on_stderr_and_exits_1() -> None:
    app = typer.Typer()
    app.command("classify")(classify_command)
    app.command("other")(lambda: None)
    result = CliRunner().invoke(app, ["classify"], input='{"id": "a", "narative": "ICE"}\n')
    assert result.exit_code == 1
    assert "line 1: unknown key 'narative' (did you mean 'narrative'?)" in result.stderr
    assert orjson.loads(result.stdout)["line"] == 1


# ------------------------------------------------------------------ evaluation


def _corpus(*rows: dict[str, str]) -> list[str]:
    return [json.dumps(r) for r in rows]


def test_strict_and_with_review_figures_count_reviews_as_documented() -> None:
    lines = _corpus(
        # positives: one flagged, one sent to review, one missed
        {"id": "p1", "label": "positive", "agency": "ICE", "narrative": "ICE AGENT REQ ASSIST"},
        {"id": "p2", "label": "positive", "narrative": "federal agent on line"},
        {"id": "p3", "label": "positive", "narrative": "LOUD MUSIC"},
        # negatives: one let go, one sent to review, one flagged
        {"id": "n1", "label": "negative", "narrative": "ice on roadway"},
        {"id": "n2", "label": "negative", "narrative": "DHS"},
        {"id": "n3", "label": "negative", "narrative": "HSI SA SMITH ON LINE 3"},
        # ambiguous: one to review, one flagged ("review" is read as ambiguous)
        {"id": "a1", "label": "ambiguous", "narrative": "caller says he is an agent"},
        {"id": "a2", "label": "review", "narrative": "BORDER PATROL AGT REQ BACKUP"},
    )
    r = evaluate_corpus(lines, REGISTRY)
    assert r.errors == []
    assert r.counts == {"positive": 3, "negative": 3, "ambiguous": 2}
    assert (r.true_positive, r.false_positive, r.false_negative, r.true_negative) == (1, 1, 2, 2)
    assert r.precision == pytest.approx(1 / 2) and r.recall == pytest.approx(1 / 3)
    # with review: p1, p2 found; n2 (review) and n3 (flag) wrong
    assert r.precision_with_review == pytest.approx(2 / 4)
    assert r.recall_with_review == pytest.approx(2 / 3)
    assert r.review_queue == 3  # p2, n2, a1
    assert r.ambiguous_outcomes == {"review": 1, "positive": 1, "negative": 0}
    assert [m.id for m in r.misses] == ["p2", "p3", "n2", "n3", "a2"]
    assert not r.meets_target
    report = format_evaluation(r)
    assert "strict (only a flag is a find):       precision 0.500  recall 0.333" in report
    assert "review queue: 3 (positives 1, negatives 1, ambiguous 1)" in report
    assert "[p2] positive -> review" in report and "[a2] ambiguous -> positive" in report
    assert "target (strict precision and recall >= 0.98): NOT MET" in report


def test_the_wrong_agency_is_found_but_counted_apart() -> None:
    lines = _corpus(
        {"id": "p1", "label": "positive", "agency": "CBP", "narrative": "ICE AGENT REQ ASSIST"},
        {
            "id": "p2",
            "label": "positive",
            "agency": "IMMIGRATION",
            "narrative": "IMMIGRATION OFFICERS ON SCENE REQ ADDITIONAL UNITS",
        },
    )
    r = evaluate_corpus(lines, REGISTRY)
    assert r.true_positive == 2 and r.agency_wrong == 1
    assert [m.id for m in r.misses] == ["p1"]
    assert "agency ICE (expected CBP)" in format_evaluation(r)


def test_unreadable_corpus_lines_are_reported_not_scored() -> None:
    r = evaluate_corpus(
        ['{"id": "x", "label": "maybe", "narrative": "ICE"}', '{"id": "y", "lable": "positive"}'],
        REGISTRY,
    )
    assert sum(r.counts.values()) == 0
    assert r.errors[0].startswith("line 1: label must be one of")
    assert r.errors[1] == "line 2: unknown key 'lable' (did you mean 'label'?)"
