"""How an immigration-agency call is handled, and the findings that handling must produce.

A ``Handling`` is a set of toggles, each one a single departure from the policy
(LMPD, July 2017). Named patterns are presets of those toggles; the expected
findings are derived from the toggles alone, never from the generated events or
from the engine, so the ground truth is an independent statement of the policy.

Rule semantics (see schemas/policies/louisville.v1.yaml), as planted here. Outcomes
are open / resolved (broken on evidence) or needs_records (not assessable: the facts
the rule needs are not in the feed):
- commander-notified: a commanding officer (lieutenant or above) *takes* the call
  (assigned, or declines it) within 10 minutes and before any department unit is
  dispatched. Never, or only notified -> open; late or after the dispatch -> resolved
  (the violation happened, then the commander took it); taken by an officer whose rank
  the feed does not give -> needs_records ("check the roster").
- commander-on-scene: applies once department units arrive; a commanding officer
  arrives within 10 minutes of the first. Never -> open; later -> resolved.
- call-recorded: the call and every call-back are on a recorded line and the
  recording does not fail -> otherwise open. A recording that simply stops when the
  phone call ends is normal.
- lawful-basis: applies when units are dispatched; the latest basis recorded at or
  before the first dispatch is a criminal warrant, a crime, or an emergency -> else open.
- bodycam-continuous: every patrol / supervisor unit on scene has its camera on from
  arrival (60 s grace) until it clears. Switched on late or off early -> open (one
  finding per call); a unit whose camera is never reported, or a feed that declares no
  camera records -> needs_records. Commanders' cameras are not required.
- report-filed: applies when units were dispatched; a report within 8 h of closing.
  None -> open; later -> resolved.
- coding-consistent: a call coded as an officer in trouble whose narrative says the
  caller was not in trouble -> open.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Final, Literal

import msgspec

RuleId = Literal[
    "commander-notified",
    "commander-on-scene",
    "call-recorded",
    "lawful-basis",
    "bodycam-continuous",
    "report-filed",
    "coding-consistent",
]
RULE_IDS: Final[tuple[RuleId, ...]] = (
    "commander-notified",
    "commander-on-scene",
    "call-recorded",
    "lawful-basis",
    "bodycam-continuous",
    "report-filed",
    "coding-consistent",
)
FindingStatus = Literal["open", "resolved", "needs_records"]

# notified_only: MetroSafe notified a commanding officer, nobody took the call;
# unknown_rank: an officer the feed gives no rank for took it.
CommanderTiming = Literal[
    "prompt", "late", "after_dispatch", "none", "notified_only", "unknown_rank"
]
CommanderPresence = Literal["with_units", "late", "absent"]
Callback = Literal["none", "recorded", "unrecorded"]
Basis = Literal["lawful", "missing", "not_lawful", "administrative_warrant", "after_dispatch"]
# on_late / off_early: the camera records show the lapse; not_reported: the unit's
# camera is never reported at all (not evidence of anything).
BodycamLapse = Literal["on_late", "off_early", "not_reported"]
Report = Literal["prompt", "late", "missing"]
# Scripts re-enact calls from the KyCIR investigation (2017) with their own wording.
Script = Literal["standard", "manpower_april_13", "clear_house_march_30", "mailboxes_k9"]


class ExpectedFinding(msgspec.Struct, frozen=True):
    rule: RuleId
    status: FindingStatus


@dataclass(frozen=True, slots=True)
class Handling:
    """What dispatch and the department did with one immigration-agency call.

    The defaults are a compliant call where officers assisted on a lawful basis.
    """

    units_sent: bool = True  # False: the commander declined and nobody went
    commander: CommanderTiming = "prompt"
    commander_presence: CommanderPresence = "with_units"
    # A sergeant is notified / goes instead of a commander: looks like supervision, is not.
    sergeant_stands_in: bool = False
    line_recorded: bool = True
    callback: Callback = "none"
    recording_fails: bool = False
    basis: Basis = "lawful"
    bodycam_lapses: tuple[BodycamLapse, ...] = ()  # applied to the first patrol units
    camera_feed: bool = True  # False: the source declares (and sends) no camera records
    report: Report = "prompt"
    trouble_coded_not_in_trouble: bool = False
    script: Script = "standard"

    def __post_init__(self) -> None:
        nobody = ("none", "notified_only", "unknown_rank")
        if self.commander in nobody and self.commander_presence != "absent":
            raise ValueError("a commander who never took the call cannot be on scene")
        if not self.units_sent and (
            self.commander in ("none", "after_dispatch", "unknown_rank")
            or self.basis != "lawful"
            or self.bodycam_lapses
            or self.report != "prompt"
            or self.commander_presence == "late"
            or self.trouble_coded_not_in_trouble
        ):
            raise ValueError("a declined call has a commander, and no units to get wrong")


def expected_findings(handling: Handling) -> tuple[ExpectedFinding, ...]:
    """The findings the policy engine must end with for a call handled this way."""
    found: list[tuple[RuleId, FindingStatus]] = []
    h = handling
    if h.commander in ("none", "notified_only"):
        found.append(("commander-notified", "open"))
    elif h.commander == "unknown_rank":
        found.append(("commander-notified", "needs_records"))
    elif h.commander in ("late", "after_dispatch"):
        found.append(("commander-notified", "resolved"))
    if h.units_sent:
        if h.commander_presence == "absent":
            found.append(("commander-on-scene", "open"))
        elif h.commander_presence == "late":
            found.append(("commander-on-scene", "resolved"))
    if not h.line_recorded or h.callback == "unrecorded" or h.recording_fails:
        found.append(("call-recorded", "open"))
    if h.units_sent and h.basis != "lawful":
        found.append(("lawful-basis", "open"))
    if h.units_sent and {"on_late", "off_early"} & set(h.bodycam_lapses):
        found.append(("bodycam-continuous", "open"))
    elif h.units_sent and ("not_reported" in h.bodycam_lapses or not h.camera_feed):
        found.append(("bodycam-continuous", "needs_records"))
    if h.units_sent and h.report != "prompt":
        found.append(("report-filed", "open" if h.report == "missing" else "resolved"))
    if h.trouble_coded_not_in_trouble:
        found.append(("coding-consistent", "open"))
    found.sort(key=lambda item: RULE_IDS.index(item[0]))
    return tuple(ExpectedFinding(rule, status) for rule, status in found)


ASSISTED: Final = Handling()
DECLINED: Final = Handling(units_sent=False)
_NO_COMMANDER: Final = replace(ASSISTED, commander="none", commander_presence="absent")

COMPLIANT: Final = "compliant"

# Each pattern: named variants; a call drawing the pattern picks one at random.
# The variants of a pattern differ in details but must give the same findings.
PATTERNS: Final[dict[str, dict[str, Handling]]] = {
    COMPLIANT: {
        "assisted": ASSISTED,
        "declined": DECLINED,
        "assisted_recorded_callback": replace(ASSISTED, callback="recorded"),
        "declined_recorded_callback": replace(DECLINED, callback="recorded"),
    },
    "no_commander": {
        "assisted": _NO_COMMANDER,
        "sergeant_stands_in": replace(_NO_COMMANDER, sergeant_stands_in=True),
    },
    "late_commander": {
        "assisted": replace(ASSISTED, commander="late"),
        "declined": replace(DECLINED, commander="late"),
    },
    "dispatch_before_commander": {"assisted": replace(ASSISTED, commander="after_dispatch")},
    "commander_not_on_scene": {
        "assisted": replace(ASSISTED, commander_presence="absent"),
        "sergeant_stands_in": replace(
            ASSISTED, commander_presence="absent", sergeant_stands_in=True
        ),
    },
    "late_commander_on_scene": {"assisted": replace(ASSISTED, commander_presence="late")},
    "unrecorded_line": {
        "assisted": replace(ASSISTED, line_recorded=False),
        "declined": replace(DECLINED, line_recorded=False),
    },
    "callback_on_cell": {
        "assisted": replace(ASSISTED, callback="unrecorded"),
        "declined": replace(DECLINED, callback="unrecorded"),
    },
    "recording_failed": {
        "assisted": replace(ASSISTED, recording_fails=True),
        "declined": replace(DECLINED, recording_fails=True),
    },
    "no_lawful_basis": {
        "none_recorded": replace(ASSISTED, basis="missing"),
        "civil_or_unknown": replace(ASSISTED, basis="not_lawful"),
        "warrant_recorded_after_dispatch": replace(ASSISTED, basis="after_dispatch"),
    },
    "administrative_warrant_only": {"assisted": replace(ASSISTED, basis="administrative_warrant")},
    "bodycam_on_late": {"assisted": replace(ASSISTED, bodycam_lapses=("on_late",))},
    "bodycam_off_early": {"assisted": replace(ASSISTED, bodycam_lapses=("off_early",))},
    # Not assessable: a unit's camera never reported, and a feed with no camera records.
    "bodycam_not_reported": {"assisted": replace(ASSISTED, bodycam_lapses=("not_reported",))},
    "no_camera_feed": {"assisted": replace(ASSISTED, camera_feed=False)},
    # MetroSafe notified a commanding officer, but nobody took the call: units went
    # anyway, or the agents gave up waiting.
    "commander_not_taken": {"assisted": replace(_NO_COMMANDER, commander="notified_only")},
    "commander_not_taken_no_units": {
        "nobody_went": replace(DECLINED, commander="notified_only", commander_presence="absent")
    },
    # Taken by an officer the feed gives no rank for: "check the roster".
    "commander_rank_unknown": {
        "assisted": replace(_NO_COMMANDER, commander="unknown_rank"),
    },
    "no_report": {"assisted": replace(ASSISTED, report="missing")},
    "late_report": {"assisted": replace(ASSISTED, report="late")},
    "trouble_coding": {"assisted": replace(ASSISTED, trouble_coded_not_in_trouble=True)},
    # "Could use more manpower, subject ran": two patrol cars, no commander, no basis
    # asked for, one camera switched off at the top of the stairs, the other never on,
    # no report. "We just need assistance" -- but coded as an assist, not as trouble.
    "april_13_2017_manpower": {
        "reenacted": replace(
            _NO_COMMANDER,
            basis="missing",
            bodycam_lapses=("off_early", "not_reported"),
            report="missing",
            script="manpower_april_13",
        )
    },
    # "A car or two to help us knock on the door, clear the house": two cars, no
    # commander, no basis, closed with no report.
    "march_30_2017_clear_house": {
        "reenacted": replace(
            _NO_COMMANDER, basis="not_lawful", report="missing", script="clear_house_march_30"
        )
    },
    # A sergeant call-back "offline", then backup and a K-9 for a man who hit mailboxes
    # and ran (a crime: a lawful basis), coded TROUBLE though "not right now, just need
    # help", three cars, no commander, no report.
    "april_2017_mailboxes_k9": {
        "reenacted": replace(
            _NO_COMMANDER,
            callback="unrecorded",
            report="missing",
            trouble_coded_not_in_trouble=True,
            script="mailboxes_k9",
        )
    },
}
VIOLATION_PATTERNS: Final[tuple[str, ...]] = tuple(p for p in PATTERNS if p != COMPLIANT)
COMBO_PATTERNS: Final[tuple[str, ...]] = (
    "april_13_2017_manpower",
    "march_30_2017_clear_house",
    "april_2017_mailboxes_k9",
)
