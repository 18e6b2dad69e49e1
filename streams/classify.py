"""Who originated a call: is the caller a federal immigration agency?

Louisville's policy applies when *the caller* is an immigration agency, so a call
is flagged on what identifies the originator, each signal weighted by how much
it can be trusted:

- structured fields a system filled in are strong: the NENA agency type code,
  a registered phone number (caller or callback), an e-mail domain, the agency
  the caller stated;
- the caller-name field is nearly as strong when it carries a title or an
  agency annotation ("SA SMITH HSI", "DOE (ICE)"), weak when the short form
  reads as a surname ("MING HSI"); a title with no agency ("SA KIM DOE") adds
  up with a narrative that writes an immigration agency as the agent's own
  ("SUBJ IN ICE CUSTODY", "SERVE AT ICE OFFICE", "REQ STOP FOR ICE");
- the narrative is weakest, and counts only when its wording says the caller
  *is* the agency; a civilian who mentions ICE, an impersonator, an officer
  reading a detainer off NCIC count for nothing (see ``originator_cues``).

Weights are combined per signal as independent evidence (noisy-OR). Wording that
fits several agencies ("DHS", "federal agent") is capped below the positive
threshold, so alone it can only ask for review. The result is positive at 0.8,
a review between 0.4 and 0.8, negative below; a caller identified by a system
as another agency (FBI, DEA) turns a positive into a review rather than a flag.

Pure: no I/O, no clock. Built for every call at thousands of events per second:
calls that name no agency leave after one regex search.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from typing import Final

from schemas.events import CallReceived, CallUpdated
from streams import originator_cues as cues
from streams.agency_registry import (
    Agency,
    AgencyRegistry,
    Listing,
    Mention,
    email_domain,
    fold,
    normalise_phone,
)

POSITIVE_AT: Final = 0.8
REVIEW_AT: Final = 0.4

# Signal weights: how far one signal alone moves the decision.
W_AGENCY_TYPE: Final = 0.95
W_PHONE: Final = 0.9
W_EMAIL: Final = 0.9
W_STATED: Final = 0.9
W_NAME_TITLED: Final = 0.85  # "SA SMITH HSI", or a distinctive name in the name field
W_NAME_ANNOTATED: Final = 0.8  # "DOE, JANE (ICE)", or the field is just "ICE"
W_NAME_SURNAME: Final = 0.2  # "MING HSI": most likely a person's name
# "SA KIM DOE" in the caller field, and the narrative writes the agency as the
# agent's own: "SUBJ IN ICE CUSTODY ... SERVE AT ICE OFFICE". With the narrative's
# own mention (0.3 at the least) it adds up past POSITIVE_AT.
W_AGENT_SPEAKS_FOR: Final = 0.75
W_IDENTITY: Final = 0.85  # narrative: "ICE AGENT REQ ASSIST"
W_IDENTITY_LATER: Final = 0.8  # narrative: "ICE AGENTS ... , REQ UNITS"
W_DISPUTED: Final = 0.5  # narrative identity with a doubt on it ("claims to be")
W_MENTION_NAME: Final = 0.45  # narrative names it, nothing says who is calling
W_MENTION_SHORT: Final = 0.3  # a bare "ICE": too often not the agency
W_MENTION_GENERIC: Final = 0.2  # a bare "immigration", "federal agency"
W_NARRATIVE_PHONE: Final = 0.6  # a registered number written in the narrative
# A caller known only as federal or DHS, doing immigration work ("SERVING IMMIGRATION
# WARRANT"): with the caller's own 0.5-0.6 it adds up past POSITIVE_AT.
W_IMMIGRATION_WORK: Final = 0.7
# Wording that fits several agencies can never flag a call by itself.
CAP_AMBIGUOUS: Final = 0.6
CAP_AMBIGUOUS_GENERIC: Final = 0.5

_STRUCTURED: Final = frozenset(
    {"agency_type", "phone", "callback_number", "email_domain", "stated_agency", "caller_name"}
)


@dataclass(frozen=True, slots=True)
class OriginatorSignals:
    """What dispatch recorded about who is calling; every field may be missing."""

    caller_name: str | None = None
    caller_agency: str | None = None
    agency_type: str | None = None  # NENA agency type code, e.g. police.federal.ice
    phone: str | None = None
    email: str | None = None
    callback_number: str | None = None
    narrative: str | None = None
    call_type: str | None = None  # read like narrative: "ASSIST ICE" is a call type too


_PHONE_SIGNALS: Final = frozenset(
    {"phone", "callback_number", "narrative_phone", "call_type_phone"}
)


@dataclass(frozen=True, slots=True)
class Evidence:
    signal: str  # which input: agency_type, phone, stated_agency, narrative, ...
    matched: str  # the text or value that matched
    detail: str  # what it was taken to mean, and its weight
    weight: float = 0.0  # how far it moved the decision; 0 for a mention ruled out
    means: str = ""  # the agency it points to, e.g. "ICE ERO"; "" when ruled out

    def line(self) -> str:
        return f"{self.signal}: {self.matched!r}: {self.detail}"

    def cue(self) -> str:
        """The short form calls and alerts carry, e.g. ``stated_agency:U.S. BORDER PATROL``.
        A number becomes what it is registered to: the redaction of indexed documents
        would blank the digits, leaving ``phone:`` saying nothing."""
        if self.signal in _PHONE_SIGNALS and self.means:
            return f"{self.signal}:registered to {self.means}"
        return f"{self.signal}:{self.matched}"


@dataclass(frozen=True, slots=True)
class OriginatorDecision:
    immigration_agency: bool
    agency: str | None  # canonical id: ICE, CBP, USCIS; None if unknown or not one
    confidence: float  # 0..1 that the originator is a federal immigration agency
    review: bool  # undecided: a person should look (immigration_agency is then False)
    # The cues that counted, each once, strongest first.
    evidence: tuple[Evidence, ...]
    component: str | None = None  # ERO, HSI, USBP, OFO, ... when known
    # Mentions read and set aside, with why: "BLACK ICE", "neighbor says ICE took ...".
    ruled_out: tuple[Evidence, ...] = ()

    def evidence_lines(self) -> tuple[str, ...]:
        return tuple(e.line() for e in (*self.evidence, *self.ruled_out))

    def cues(self) -> tuple[str, ...]:
        return tuple(e.cue() for e in self.evidence)


NOTHING: Final = OriginatorDecision(False, None, 0.0, False, ())


def signals_from_event(event: CallReceived | CallUpdated) -> OriginatorSignals:
    if isinstance(event, CallUpdated):
        return OriginatorSignals(narrative=event.narrative, call_type=event.call_type)
    caller = event.caller
    return OriginatorSignals(
        caller_name=caller.name,
        caller_agency=caller.agency,
        agency_type=caller.agency_type,
        phone=caller.phone,
        email=caller.email,
        callback_number=caller.callback_number,
        narrative=event.narrative,
        call_type=event.call_type,
    )


def classify_event(
    event: CallReceived | CallUpdated, registry: AgencyRegistry
) -> OriginatorDecision:
    return classify_originator(signals_from_event(event), registry)


def classify_originator(signals: OriginatorSignals, registry: AgencyRegistry) -> OriginatorDecision:
    tally = _Tally()
    if signals.agency_type:
        hit = registry.by_agency_type(signals.agency_type)
        if hit is not None:
            tally.listed("agency_type", signals.agency_type, hit, W_AGENCY_TYPE)
    for signal, number in (("phone", signals.phone), ("callback_number", signals.callback_number)):
        if number:
            hit = registry.by_phone(number)
            if hit is not None:
                tally.listed(signal, number, hit, W_PHONE)
    if signals.email:
        hit = registry.by_email(signals.email)
        if hit is not None:
            # the domain, not the address: it is what matched, and no personal data
            weight = W_EMAIL
            private = _private_matter(signals.narrative)
            if private is not None and hit.agency.kind == "immigration":
                weight = W_DISPUTED  # an employee's own business, maybe: a person decides
            tally.listed("email_domain", email_domain(signals.email) or "", hit, weight)
    if signals.caller_agency:
        _read_stated_agency(signals.caller_agency, signals.narrative, registry, tally)
    if signals.caller_name:
        _read_caller_name(signals.caller_name, signals.narrative, registry, tally)
    if signals.call_type:
        _read_narrative(signals.call_type, registry, tally, "call_type")
    if signals.narrative:
        _read_narrative(signals.narrative, registry, tally, "narrative")
    if tally.own and signals.caller_name and not (signals.caller_agency or "").strip():
        _agent_speaks_for(signals.caller_name, tally)
    if tally.ambiguous and not tally.doubted:
        _immigration_work(signals, registry, tally)
    return tally.decide() if tally.evidence or tally.ruled_out or tally.members else NOTHING


# ----------------------------------------------------------------- structured


def _private(field: str, narrative: str | None) -> str | None:
    """Whether the caller, whatever agency their field names, calls on a private
    matter: "CBP (off duty)", "RP ADV SHE IS OFF DUTY, NOT WORK RELATED"."""
    off = cues.OFF_DUTY.search(field)
    if off is None and narrative:
        off = cues.CALLER_OFF_DUTY.search(fold(narrative.upper()))
    return None if off is None else off.group()


def _private_matter(narrative: str | None) -> str | None:
    """What in the narrative reads as an employee's private business: "INSURANCE",
    "LOUD MUSIC", their own home or dog. The agency a field names may then not be the
    one calling."""
    if not narrative:
        return None
    upper = fold(narrative.upper())
    m = cues.private_matter(upper) or cues.own_life(upper, 0, len(upper))
    return None if m is None else m.group()


def _read_stated_agency(
    text: str, narrative: str | None, registry: AgencyRegistry, tally: _Tally
) -> None:
    upper = fold(text.upper())
    if not registry.names_any(upper):
        return
    private: str | None = None
    checked = False
    for mention in registry.mentions(upper):
        if _false_friend(upper, mention, registry, tally, "stated_agency"):
            continue
        if not checked:
            private, checked = _private(upper, narrative), True
        if private is not None:
            why = f"an employee calling for themselves ({private})"
            tally.discounted("stated_agency", mention, upper, 0, len(upper), why)
            continue
        matter = _private_matter(narrative) if mention.term.agency.kind == "immigration" else None
        if matter is not None:
            why = f"the caller's stated agency, on what may be a private matter ({matter}):"
            tally.mentioned("stated_agency", mention, upper, W_DISPUTED, why)
            continue
        tally.mentioned("stated_agency", mention, upper, W_STATED, "the caller's stated agency")


def _read_caller_name(
    text: str, narrative: str | None, registry: AgencyRegistry, tally: _Tally
) -> None:
    upper = fold(text.upper())
    if not registry.names_any(upper):
        return
    private: str | None = None
    checked = False
    for mention in registry.mentions(upper):
        if _false_friend(upper, mention, registry, tally, "caller_name"):
            continue
        if not checked:
            private, checked = _private(upper, narrative), True
        if private is not None and mention.term.agency.kind != "other":
            why = f"an employee calling for themselves ({private})"
            tally.discounted("caller_name", mention, upper, 0, len(upper), why)
            continue
        if mention.term.distinctive or cues.NAME_FIELD_TITLE.search(upper):
            tally.mentioned(
                "caller_name", mention, upper, W_NAME_TITLED, "named in the caller field"
            )
        elif _annotates(upper, mention):
            tally.mentioned(
                "caller_name", mention, upper, W_NAME_ANNOTATED, "the caller field's agency"
            )
        else:
            tally.mentioned(
                "caller_name", mention, upper, W_NAME_SURNAME, "reads as part of a personal name"
            )


def _immigration_work(signals: OriginatorSignals, registry: AgencyRegistry, tally: _Tally) -> None:
    """A caller who is only "a federal agent", "DHS" or "Homeland Security" (from any
    signal, without doubt on it), doing immigration work in the narrative ("SERVING
    IMMIGRATION WARRANT", "FINAL ORDER OF REMOVAL", "DEPORTATION ARREST"): an immigration
    agency is calling, which one unknown. DHS on an HSI-type case ("HUMAN TRAFFICKING
    OP") is HSI. Another agency named outright settles it the other way."""
    if any(a.kind == "other" for a in tally.named) or tally.other_structured > 0.0:
        return
    caller = max((w for w, _ in tally.ambiguous), default=0.0)
    if caller < W_DISPUTED:
        return
    for text in (signals.narrative, signals.call_type):
        if not text:
            continue
        upper = fold(text.upper())
        work = cues.IMMIGRATION_WORK.search(upper)
        if work is not None:
            generic = registry.agencies.get("IMMIGRATION")
            if generic is not None:
                detail = "immigration work, done by the federal caller"
                tally.add("narrative", generic, None, W_IMMIGRATION_WORK, work.group(), detail)
            return
        hsi_case = cues.HSI_WORK.search(upper)
        ice = registry.agencies.get("ICE")
        if (
            hsi_case is not None
            and ice is not None
            and any(a.id == "DHS" for _, a in tally.ambiguous)
        ):
            detail = "an HSI case, worked by the DHS caller"
            tally.add("narrative", ice, "HSI", W_IMMIGRATION_WORK, hsi_case.group(), detail)
            return


def _agent_speaks_for(name: str, tally: _Tally) -> None:
    """An agent's title in the caller field, and the narrative writes an immigration
    agency as the agent's own: the agent is with it. Not when the caller stated an
    agency (checked by the caller), or a system or the narrative says the caller is
    another agency: an FBI agent may well mention a subject in ICE custody."""
    title = cues.agent_title(name)
    if title is None or tally.other_structured > 0.0:
        return
    if any(a.kind == "other" for a in tally.named):
        return
    for agency, component, context in dict.fromkeys(tally.own):  # once per clause
        detail = f"an agent ({title} in the caller field); the narrative writes as its own"
        tally.add("caller_name", agency, component, W_AGENT_SPEAKS_FOR, context, detail)


_ANNOTATION_MARKS: Final = "([/-:"


def _annotates(upper: str, mention: Mention) -> bool:
    """Whether the field marks the agency apart from a name: "DOE, JANE (ICE)", "DOE - HSI",
    "ICE/DOE", or nothing but the agency."""
    before = upper[: mention.start].rstrip()
    after = upper[mention.end :].lstrip()
    if not before.strip(" ()[]-/,.:") and not after.strip(" ()[]-/,.:"):
        return True
    if before and before[-1] in _ANNOTATION_MARKS:
        return True
    return not before and bool(after) and after[0] in _ANNOTATION_MARKS


# ------------------------------------------------------------------ narrative


def _read_narrative(text: str, registry: AgencyRegistry, tally: _Tally, signal: str) -> None:
    upper = fold(text.upper())
    for m in cues.PHONE_IN_TEXT.finditer(upper):
        digits = normalise_phone(m.group())
        hit = registry.by_phone_digits(digits) if digits else None
        if hit is not None:
            tally.listed(f"{signal}_phone", m.group(), hit, W_NARRATIVE_PHONE)
    named = registry.names_flaggable(upper)
    agent_word = "AGENT" in upper or "AGT" in upper
    if not named and not agent_word:
        return
    breaks = [m.start() for m in cues.CLAUSE_BREAK.finditer(upper)]
    # An agent of a named other agency ("A.T.F. AGENT ADV") settles "an agent" too.
    if named or registry.names_any(upper):
        found = [
            m
            for m in registry.mentions(upper)
            if not _false_friend(upper, m, registry, tally, signal)
        ]
        grouped = len(found) > 1 and cues.may_list_agencies(upper)
        lead = _other_lead(upper, found) if len(found) > 1 else None
        disowned = cues.NOT_FROM_THEM.search(upper) is not None  # of the whole text: once
        for mention in found:
            if lead is not None and mention.term.agency.kind != "other":
                why = f"a member of a group {lead.term.agency.id} leads"
                tally.discounted(signal, mention, upper, mention.start, mention.end, why)
                continue
            if grouped and _member(upper, mention, found):
                if mention.term.agency.kind != "other":
                    tally.members.append((signal, mention, upper))
                continue
            _judge_mention(upper, mention, breaks, tally, signal, disowned)
    unnamed = registry.unnamed_federal
    if agent_word and unnamed is not None:
        for start, end in cues.generic_agents(upper):
            _judge_generic_agent(upper, start, end, breaks, unnamed, tally, signal)


def _other_lead(upper: str, found: list[Mention]) -> Mention | None:
    """Another agency written as the lead: "DEA IS LEAD AGENCY", "FBI-LED JTTF"."""
    for m in found:
        if m.term.agency.kind == "other" and (
            cues.LEADS_AFTER.match(upper, m.end)
            or cues.LED_BY_BEFORE.search(upper, max(0, m.start - 30), m.start)
            or (
                cues.ASSIGNED_TO_BEFORE.search(upper, max(0, m.start - 30), m.start)
                and (
                    cues.GROUP_AFTER.match(upper, m.end)
                    or cues.GROUP_NAME.search(upper, m.start, m.end)
                )
            )
            # "FPS IS THE CALLER", "... . FPS CALLER": the text says who calls
            or cues.CALLER_AFTER.match(upper, m.end)
        ):
            return m
    return None


def _member(upper: str, mention: Mention, found: list[Mention]) -> bool:
    """Whether the mention is one member of a multi-agency group, listed with another
    agency: "TF (LMPD/KSP/HSI TFOS)", "(MULTI-AGENCY INCL HSI, DEA, LMPD)". The group is
    not its caller: the caller's own agency decides."""
    group = cues.agency_group(upper, mention.start, mention.end)
    if group is None:
        return False
    lo, hi = group
    agency = mention.term.agency.id
    return any(lo <= m.start and m.end <= hi and m.term.agency.id != agency for m in found)


def _clause(breaks: list[int], start: int, end: int, length: int) -> tuple[int, int]:
    i = bisect.bisect_left(breaks, start)
    lo = breaks[i - 1] + 1 if i > 0 else 0
    j = bisect.bisect_left(breaks, end)
    hi = breaks[j] if j < len(breaks) else length
    return lo, hi


def _judge_mention(
    upper: str, mention: Mention, breaks: list[int], tally: _Tally, signal: str,
    disowned: bool,
) -> None:
    """Decide what one mention in free text says about who is calling."""
    start, end = mention.start, mention.end
    lo, hi = _clause(breaks, start, end, len(upper))
    near = max(lo, start - 160)
    if cues.SOMEONE_ELSE.search(upper, near, start) or cues.LOGGED_BY_OTHER.search(
        upper, near, start
    ):
        tally.discounted(signal, mention, upper, lo, hi, "someone else is talking about it")
        return
    if cues.NEGATED_BEFORE.search(upper, max(0, start - 12), start) and cues.NEGATED_AFTER.match(
        upper, end
    ):
        tally.discounted(signal, mention, upper, lo, hi, "said not to be part of it")
        return
    if disowned or cues.PLACE_ASIDE.search(upper, max(0, start - 50), start):
        tally.discounted(signal, mention, upper, lo, hi, "not its call (said so, or a place)")
        return
    kin = cues.KIN.search(upper, lo, start)
    if kin is not None:
        tally.discounted(signal, mention, upper, lo, hi, f"a relative's ({kin.group()})")
        return
    aimed = cues.OBJECT_OF.search(upper, near, start)
    if aimed is not None:
        if cues.CONTACTED.search(aimed.group()):
            tally.contacted.add(mention.term.agency.id)
        tally.discounted(signal, mention, upper, lo, hi, "it is what the text is about")
        return
    if cues.GUARD_AT.search(upper, max(lo, start - 60), start):
        # its own officer, a contractor or a firm's: nothing here says which, so a person looks
        why = "a guard at its building: whose guard?"
        tally.mentioned(signal, mention, upper, W_DISPUTED, why, upper[lo:hi])
        return
    subject = cues.SUBJECT_LEAD.fullmatch(upper, lo, start) is not None
    after = (
        cues.identity_after(upper, end, hi)
        or cues.titled_name_acts(upper, start, end, hi)
        or (cues.SUBJECT_ACTS.match(upper, end, hi) if subject else None)
    )
    if (
        after is not None
        and mention.term.agency.id in tally.contacted
        and cues.ANSWERS.match(after.group())
    ):
        tally.discounted(signal, mention, upper, lo, hi, "its answer to a call made to it")
        return
    if cues.REPORTED_BY_CALLER.search(upper, near, start):
        if after is not None:
            tally.mentioned(
                signal,
                mention,
                upper,
                W_DISPUTED,
                "a caller reports it asking: who is calling?",
                upper[lo:hi],
            )
        else:
            tally.discounted(signal, mention, upper, lo, hi, "the caller reports it")
        return
    # no way of saying who one is runs longer than this: a shorter window is a faster search
    before = cues.IDENTITY_BEFORE.search(upper, max(lo, start - 80), start)
    if after is not None and before is None and not subject:
        # "... ASKING ABOUT LMPD POLICY ON IMMIGRATION REQUESTS": a verb after a name in
        # mid-clause, with a civilian's words before it, is not the agency speaking.
        doubt = cues.CIVILIAN_CONTEXT.search(upper, lo, start)
        if doubt is not None:
            tally.discounted(signal, mention, upper, lo, hi, f"civilian context ({doubt.group()})")
            return
    if after is None and before is not None and cues.DONE_TO_CALLERS_OWN.match(upper, end):
        tally.discounted(signal, mention, upper, lo, hi, "what it did to the caller's own")
        return
    if after is not None or before is not None:
        _identity(upper, mention, lo, hi, tally, signal, W_IDENTITY, "the caller is")
        return
    # The narrative opens with one of the agency's people: what follows in the clause
    # is the incident ("PROTESTERS", "THREATS"), not a civilian talking, unless it is
    # a civilian's own words ("MY HOUSE", "SCARED").
    opening = cues.SUBJECT_LEAD.fullmatch(upper, 0, start) is not None and (
        cues.titled_near(upper, start, end) or mention.term.distinctive
    )
    after_words = cues.CIVILIAN_CONTEXT.search(upper, end, hi)
    if opening and after_words is not None and not cues.CIVILIAN_SPEAKS.match(after_words.group()):
        after_words = None
    # around the name, not in it: "DEPORTATION OFFICER" is no civilian's deportation
    doubt = (
        cues.IMPERSONATION.search(upper, lo, hi)
        or cues.CIVILIAN_CONTEXT.search(upper, lo, start)
        or after_words
        or cues.OFF_DUTY.search(upper, lo, hi)
    )
    if doubt is not None:
        tally.discounted(signal, mention, upper, lo, hi, f"civilian context ({doubt.group()})")
        return
    titled = cues.titled(upper, end)
    if (titled or mention.term.distinctive or subject) and cues.LATER_REQUEST.search(
        upper, end, hi
    ):
        why = (
            "the caller is (asks later)"
            if not subject
            else "the caller is (the clause's subject, asks)"
        )
        _identity(upper, mention, lo, hi, tally, signal, W_IDENTITY_LATER, why)
        return
    if (
        opening
        and cues.ANY_REQUEST.search(upper, end) is not None
        and cues.OTHER_SPEAKER.search(upper) is None
    ):
        # the narrative opens with it: "HSI AGENT W/ LACERATION TO L HAND ... . REQ EMS"
        _identity(
            upper,
            mention,
            lo,
            hi,
            tally,
            signal,
            W_IDENTITY_LATER,
            "the caller is (opens the narrative, asks)",
        )
        return
    agency = mention.term.agency
    if agency.kind == "immigration" and cues.speaks_for(upper, start, end, lo, hi):
        tally.own.append((agency, mention.term.component, upper[lo:hi].strip()))
    if agency.generic:
        weight = W_MENTION_GENERIC
    elif mention.term.distinctive or titled or agency.kind == "ambiguous":
        weight = W_MENTION_NAME
    else:
        weight = W_MENTION_SHORT
    tally.mentioned(signal, mention, upper, weight, "mentioned; nothing says who is calling")


def _identity(
    upper: str,
    mention: Mention,
    lo: int,
    hi: int,
    tally: _Tally,
    signal: str,
    weight: float,
    why: str,
) -> None:
    """The text says the caller is the agency; what else it says may undo that: a scam
    or a prank anywhere in it, an employee off duty; or leave it to a person: a claim
    nobody could check, an employee's own home or car."""
    fake, claimed = tally.doubts(upper)
    if (fake or claimed) is not None and cues.IMPERSONATED_BY_OTHERS.search(upper):
        fake = claimed = None  # the agency reports a scam in its name: that is its call
    if fake is not None:
        tally.discounted(signal, mention, upper, lo, hi, f"not real ({fake.group()})")
        return
    off = cues.OFF_DUTY.search(upper, lo, hi)
    if off is not None:
        tally.discounted(
            signal, mention, upper, lo, hi, f"an employee calling for themselves ({off.group()})"
        )
        return
    doubt = claimed or cues.own_life(upper, lo, hi) or cues.private_matter(upper)
    if doubt is not None:
        tally.doubted = True
        tally.mentioned(
            signal,
            mention,
            upper,
            W_DISPUTED,
            f"says it is calling, with doubt on it ({doubt.group()})",
            upper[lo:hi],
        )
        return
    tally.mentioned(signal, mention, upper, weight, why, upper[lo:hi])


def _judge_generic_agent(
    upper: str, start: int, end: int, breaks: list[int], federal: Agency, tally: _Tally, signal: str
) -> None:
    lo, hi = _clause(breaks, start, end, len(upper))
    if cues.THIRD_PARTY.search(upper, max(lo, start - 160), end):
        return
    matched = upper[start:end].strip()
    fake, doubt = tally.doubts(upper)
    if fake is not None or cues.OFF_DUTY.search(upper, lo, hi):
        return
    tally.doubted = tally.doubted or doubt is not None
    detail = "an agent, no agency named" + (" (with doubt on it)" if doubt else "")
    tally.add(signal, federal, None, W_DISPUTED, matched, detail)


def _false_friend(
    upper: str, mention: Mention, registry: AgencyRegistry, tally: _Tally, signal: str
) -> bool:
    words = registry.false_friend(upper, mention)
    # a one-word name is what a firm borrows ("CBP FREIGHT", "HSI LOGISTICS LLC"); a
    # full name followed by "CO" is not a firm's
    if words is None and (not mention.term.distinctive or len(mention.term.tokens) == 1):
        firm = cues.FIRM_AFTER.match(upper, mention.end)
        words = None if firm is None else upper[mention.start : firm.end()]
    if words is None:
        return False
    tally.ruled_out.append(
        Evidence(signal, words, f"not {mention.term.agency.id}: {words!r} means something else")
    )
    return True


# -------------------------------------------------------------------- scoring


class _Tally:
    """The evidence for one call, and the decision it adds up to."""

    __slots__ = (
        "_doubts",
        "ambiguous",
        "contacted",
        "doubted",
        "evidence",
        "immigration",
        "members",
        "named",
        "not_caller",
        "other_structured",
        "own",
        "ruled_out",
    )

    def __init__(self) -> None:
        self.evidence: list[Evidence] = []  # cues that counted
        self.ruled_out: list[Evidence] = []  # mentions read and set aside
        self.doubted = False  # the text casts doubt on who the caller says they are
        self._doubts: dict[str, tuple[re.Match[str] | None, re.Match[str] | None]] = {}
        # signal -> agency -> (weight, component)
        self.immigration: dict[str, dict[Agency, tuple[float, str | None]]] = {}
        self.ambiguous: list[tuple[float, Agency]] = []
        self.named: list[Agency] = []  # agencies identified outright (not merely mentioned)
        self.other_structured = 0.0  # a system says the caller is some other agency
        # agencies the narrative writes as the caller's own, should the caller be an agent
        self.own: list[tuple[Agency, str | None, str]] = []
        # immigration agencies listed as members of a multi-agency group: (signal, mention, text)
        self.members: list[tuple[str, Mention, str]] = []
        # agencies the text says are not the caller: a relative's, a scam's, off duty
        self.not_caller: set[str] = set()
        # agencies the text says someone else called, asked or notified: what they say
        # back ("CBP ADVISED NOTHING") is an answer, not a call from them
        self.contacted: set[str] = set()

    def doubts(self, upper: str) -> tuple[re.Match[str] | None, re.Match[str] | None]:
        """What a whole text says against an identity in it: (a fake, a doubt), each
        searched once per text however many mentions it has."""
        held = self._doubts.get(upper)
        if held is None:
            held = cues.doubts_in(upper)
            self._doubts[upper] = held
        return held

    def listed(self, signal: str, value: str, hit: Listing, weight: float) -> None:
        what = hit.agency.id if hit.component is None else f"{hit.agency.id} {hit.component}"
        self.add(signal, hit.agency, hit.component, weight, value, f"registered to {what}")

    def mentioned(
        self,
        signal: str,
        mention: Mention,
        upper: str,
        weight: float,
        why: str,
        context: str | None = None,
    ) -> None:
        term = mention.term
        matched = (context if context is not None else upper[mention.start : mention.end]).strip()
        what = term.agency.id if term.component is None else f"{term.agency.id} {term.component}"
        self.add(signal, term.agency, term.component, weight, matched, f"{why} {what}")

    def discounted(
        self, signal: str, mention: Mention, upper: str, lo: int, hi: int, why: str
    ) -> None:
        self.not_caller.add(mention.term.agency.id)
        self.ruled_out.append(
            Evidence(
                signal,
                upper[lo:hi].strip(),
                f"{mention.term.agency.id} mentioned, not the caller: {why}",
            )
        )

    def add(
        self,
        signal: str,
        agency: Agency,
        component: str | None,
        weight: float,
        matched: str,
        detail: str,
    ) -> None:
        kind = agency.kind
        if kind == "ambiguous":
            weight = min(weight, CAP_AMBIGUOUS_GENERIC if agency.generic else CAP_AMBIGUOUS)
        if kind == "other":
            detail = f"{detail}: {agency.name} is never flagged"
            if signal in _STRUCTURED:
                self.other_structured = max(self.other_structured, weight)
        means = agency.id if component is None else f"{agency.id} {component}"
        self.evidence.append(
            Evidence(signal, matched, f"{detail} (weight {weight:.2f})", weight, means)
        )
        if weight >= W_IDENTITY_LATER and not agency.generic:
            self.named.append(agency)
        if kind == "immigration":
            by_agency = self.immigration.setdefault(signal, {})
            held = by_agency.get(agency)
            if held is None or weight > held[0]:
                by_agency[agency] = (weight, component or (held[1] if held else None))
        elif kind == "ambiguous":
            self.ambiguous.append((weight, agency))

    def _weigh_members(self) -> None:
        """A group's immigration members: ruled out when another agency is named as the
        caller ("CALLER IS FBI SA"), else a review: whose call it is, nobody said."""
        caller_named = any(a.kind == "other" for a in self.named)
        for signal, mention, upper in self.members:
            if caller_named:
                why = "a member of a multi-agency group whose caller is another agency"
                self.discounted(signal, mention, upper, mention.start, mention.end, why)
            else:
                why = "a member of a multi-agency group; the caller's agency not given:"
                self.mentioned(signal, mention, upper, W_MENTION_NAME, why)
        self.members.clear()

    def decide(self) -> OriginatorDecision:
        if self.members:
            self._weigh_members()
        doubt_free = 1.0
        # Specific agencies only: "immigration officer" flags a call but names no agency.
        per_agency: dict[str, float] = {}
        components: dict[str, tuple[float, str]] = {}
        for by_agency in self.immigration.values():
            doubt_free *= 1.0 - max(w for w, _ in by_agency.values())
            for candidate, (weight, part) in by_agency.items():
                if candidate.generic:
                    continue
                key = candidate.id
                per_agency[key] = 1.0 - (1.0 - per_agency.get(key, 0.0)) * (1.0 - weight)
                if part is not None and weight > components.get(key, (0.0, ""))[0]:
                    components[key] = (weight, part)
        ambiguous = max((w for w, a in self.ambiguous if not self._settled(a)), default=0.0)
        confidence = 1.0 - doubt_free * (1.0 - ambiguous)
        evidence = _strongest_once(self.evidence)
        if self.other_structured >= POSITIVE_AT and confidence >= REVIEW_AT:
            confidence = min(confidence, POSITIVE_AT - 0.01)
            evidence.append(
                Evidence("conflict", "", "a system names another agency as the caller: review")
            )
        elif (
            confidence >= POSITIVE_AT
            and self.doubted
            and max((e.weight for e in self.evidence), default=0.0) < POSITIVE_AT
        ):
            # Doubts do not add up to a certainty: an employee's email and the same
            # employee saying where they work, both on a noise complaint, are one doubt.
            confidence = POSITIVE_AT - 0.01
            evidence.append(Evidence("conflict", "", "every cue has a doubt on it: review"))
        elif confidence >= POSITIVE_AT and self._number_against_text():
            confidence = POSITIVE_AT - 0.01
            evidence.append(
                Evidence("conflict", "", "a registered number, but the text says who calls: review")
            )
        positive = confidence >= POSITIVE_AT
        review = not positive and confidence >= REVIEW_AT
        agency: str | None = None
        component: str | None = None
        if (positive or review) and per_agency:
            agency = max(per_agency, key=per_agency.__getitem__)
            component = components.get(agency, (0.0, None))[1]
        return OriginatorDecision(
            positive,
            agency,
            round(confidence, 3),
            review,
            tuple(evidence),
            component,
            tuple(_strongest_once(self.ruled_out)),
        )

    def _number_against_text(self) -> bool:
        """Only a registered number says the agency is calling, and the text rules that
        agency out as the caller ("RP ADV HER BROTHER WORKS FOR ICE"): a person decides."""
        if not self.immigration or any(s not in _PHONE_SIGNALS for s in self.immigration):
            return False
        return any(a.id in self.not_caller for by in self.immigration.values() for a in by)

    def _settled(self, ambiguous: Agency) -> bool:
        """Naming the agency outright makes "federal agent" or "DHS" moot."""
        if ambiguous.generic:
            return bool(self.named)
        return any(a.parent == ambiguous.id and a.kind == "other" for a in self.named)


def _strongest_once(found: list[Evidence]) -> list[Evidence]:
    """Each cue once (a signal and the text it matched), strongest first: the same
    "ICE" read twice in one narrative is one piece of evidence, at its best reading."""
    seen: set[tuple[str, str, str]] = set()
    kept: list[Evidence] = []
    for e in sorted(found, key=lambda e: -e.weight):
        key = (e.signal, e.matched, e.means or e.detail)
        if key not in seen:
            seen.add(key)
            kept.append(e)
    return kept
