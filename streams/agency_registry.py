"""The agency registry: which agencies exist, how dispatch writes them, and their numbers.

The shipped registry is ``schemas/agency-registry.v1.yaml``. A deployment may add
its own file in the same format, with ``mode: extend`` (merged by agency id, the
default) or ``mode: replace``. Every file is validated against
``schemas/agency-registry.v1.schema.json`` when loaded, so a typo stops start-up
with the file and field named, instead of silently missing calls.

Loading reads files; everything after that is pure lookups over structures
compiled once, because the classifier consults them on every call.
"""

from __future__ import annotations

import json
import re
from bisect import insort
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Final, Literal, cast

import fastjsonschema
import yaml

from schemas import schema_path

REGISTRY_SCHEMA: Final = "callwatch.agency-registry/1"
DEFAULT_REGISTRY_FILE: Final = "agency-registry.v1.yaml"
SCHEMA_FILE: Final = "agency-registry.v1.schema.json"

AgencyKind = Literal["immigration", "ambiguous", "other"]


class RegistryError(ValueError):
    """The registry file is missing, unreadable or invalid; the message says where."""


@dataclass(frozen=True, slots=True)
class Agency:
    id: str
    name: str
    kind: AgencyKind
    generic: bool  # an unnamed agency ("federal agent"): flagged, but never reported by name
    parent: str | None


@dataclass(frozen=True, slots=True)
class Term:
    """One way of writing an agency's name, as the tokens the text must contain."""

    text: str  # as written in the registry
    key: str  # normalised: tokens joined by one space, e.g. "US ICE"
    tokens: tuple[str, ...]
    agency: Agency
    component: str | None
    # False for short forms that are also words or surnames (ICE, HSI): a mention
    # alone says little; the text around it must say the caller *is* the agency.
    distinctive: bool


@dataclass(frozen=True, slots=True)
class Listing:
    """What a phone number, e-mail domain or agency type code is registered to."""

    agency: Agency
    component: str | None
    value: str  # the registered value that matched


@dataclass(frozen=True, slots=True)
class Mention:
    term: Term
    start: int  # offsets in the text searched
    end: int


@dataclass(frozen=True, slots=True)
class FalseFriend:
    followed_by: re.Pattern[str] | None
    preceded_by: re.Pattern[str] | None


# Tokens are runs of letters and digits; dotted initials ("U.S.", "I.C.E.") are one token.
_TOKEN = re.compile(r"[A-Z](?:\.[A-Z])+(?![A-Z0-9])\.?|[A-Z0-9]+")
# What may separate the tokens of one name: "DHS/ICE", "ICE - ERO", "U.S. CUSTOMS".
_GAP = re.compile(r"[ \t/\-.,&:]{1,4}")
_PHONE_PUNCTUATION: Final = str.maketrans("", "", "()-. +/\t")
_FILLER: Final = "AND"  # "Immigration and Customs" == "Immigration & Customs"


# Accented capitals to their plain letter, one character for one so offsets hold:
# dispatchers type "INMIGRACIÓN" and "INMIGRACION" alike.
_FOLD: Final = str.maketrans("ÁÀÂÄÃÅÉÈÊËÍÌÎÏÓÒÔÖÕÚÙÛÜÑÇ", "AAAAAAEEEEIIIIOOOOOUUUUNC")


def fold(upper: str) -> str:
    """``upper`` (already upper-cased) with accents dropped; ASCII text is returned as is."""
    return upper if upper.isascii() else upper.translate(_FOLD)


def tokens_of(text: str) -> tuple[str, ...]:
    """The match tokens of a registry term or a stretch of text."""
    return tuple(m.group().replace(".", "") for m in _TOKEN.finditer(fold(text.upper())))


def normalise_phone(raw: str) -> str | None:
    """Digits only, without a leading country code 1 or an extension; None if not a number."""
    if not raw.isdigit():
        cut = len(raw)
        for mark in ("x", "X", "#"):  # "x12", "ext. 12", "#12": the extension follows
            at = raw.find(mark)
            if 0 <= at < cut:
                cut = at
        raw = raw[:cut].translate(_PHONE_PUNCTUATION)
        if not raw.isdigit():
            raw = "".join(ch for ch in raw if "0" <= ch <= "9")
    digits = raw
    if len(digits) == 11 and digits[0] == "1":
        digits = digits[1:]
    return digits if len(digits) >= 7 else None


def email_domain(raw: str) -> str | None:
    """The lower-cased domain of an address ("Agent <a.b@ERO.ICE.DHS.GOV>" -> ero.ice.dhs.gov)."""
    at = raw.rfind("@")
    if at < 0:
        return None
    domain = raw[at + 1 :].strip().strip(">.]) ").lower()
    return domain or None


class AgencyRegistry:
    """Compiled lookups over the registry: built once, read on every call."""

    __slots__ = (
        "_by_first_token",
        "_domains",
        "_false_friends",
        "_first_words",
        "_phones",
        "_second_words",
        "_spellings",
        "_types",
        "agencies",
        "any_trigger",
        "sources",
        "trigger",
        "unnamed_federal",
    )

    def __init__(
        self,
        agencies: Mapping[str, Agency],
        terms: Iterable[Term],
        agency_types: Mapping[str, Listing],
        phones: Mapping[str, Listing],
        email_domains: Mapping[str, Listing],
        false_friends: Mapping[str, FalseFriend],
        sources: tuple[str, ...] = (),
        spellings: Mapping[str, str] | None = None,
    ) -> None:
        self.agencies: Final = dict(agencies)
        # another way of typing a word of a name -> the word: "SEC" -> "SECURITY"
        self._spellings: Final = dict(spellings or {})
        self.sources: Final = sources
        # Who "caller says he is an agent" is: the registry's generic ambiguous agency.
        self.unnamed_federal: Final = next(
            (a for a in self.agencies.values() if a.kind == "ambiguous" and a.generic), None
        )
        by_first: dict[str, list[Term]] = {}
        for term in terms:
            # longest first, so "HOMELAND SECURITY INVESTIGATIONS" wins over "HOMELAND SECURITY"
            insort(by_first.setdefault(term.tokens[0], []), term, key=lambda t: -len(t.tokens))
        self._by_first_token: Final = {k: tuple(v) for k, v in by_first.items()}
        self._second_words: Final = {
            k: frozenset(t.tokens[1] for t in v if len(t.tokens) > 1) for k, v in by_first.items()
        }
        self._types: Final = dict(agency_types)
        self._phones: Final = dict(phones)
        self._domains: Final = dict(email_domains)
        self._false_friends: Final = dict(false_friends)
        # A cheap first pass over every text: a name can only be present if its
        # rarest token is, so most calls never reach the tokeniser. ``trigger``
        # covers what can raise a flag or a review; ``any_trigger`` every agency.
        everything = [t for group in self._by_first_token.values() for t in group]
        by_word: dict[str, list[str]] = {}
        for variant, word in self._spellings.items():
            by_word.setdefault(word, []).append(variant)
        self.trigger: Final = _trigger((t for t in everything if t.agency.kind != "other"), by_word)
        self.any_trigger: Final = _trigger(everything, by_word)
        # Where a name can start: its first word, as typed ("HOMELND"), dotted ("I.C.E")
        # or spaced ("I C E").
        firsts = set(self._by_first_token)
        firsts |= {v for k in list(firsts) for v in by_word.get(k, ())}
        firsts |= {
            f(k)
            for k in list(firsts)
            if 2 <= len(k) <= 5 and k.isalpha()
            for f in (".".join, " ".join)
        }
        self._first_words: Final = re.compile(
            rf"(?<![A-Z0-9])(?<![A-Z0-9]\.)(?:{_alternation(firsts)})(?![A-Z0-9])"
        )

    # ------------------------------------------------------------- lookups

    def names_flaggable(self, upper: str) -> bool:
        """Whether ``upper`` may name an agency that can raise a flag or a review."""
        return _starts_a_word(self.trigger, upper)

    def names_any(self, upper: str) -> bool:
        """Whether ``upper`` may name any registered agency."""
        return _starts_a_word(self.any_trigger, upper)

    def by_agency_type(self, code: str) -> Listing | None:
        """police.federal.ice.ero -> ICE: a code covers its sub-codes."""
        code = code.strip().lower().removeprefix("urn:emergency:service:responder.")
        while code:
            hit = self._types.get(code)
            if hit is not None:
                return hit
            code = code.rpartition(".")[0]
        return None

    def by_phone(self, raw: str) -> Listing | None:
        number = normalise_phone(raw)
        return None if number is None else self._phones.get(number)

    def by_email(self, raw: str) -> Listing | None:
        """The most specific registered domain: fema.dhs.gov beats dhs.gov."""
        domain = email_domain(raw)
        while domain:
            hit = self._domains.get(domain)
            if hit is not None:
                return hit
            _, _, domain = domain.partition(".")
        return None

    def by_phone_digits(self, digits: str) -> Listing | None:
        return self._phones.get(digits)

    def mentions(self, upper: str) -> Iterator[Mention]:
        """Every registry term in ``upper`` (already upper-cased), longest match first.

        Only the words that can start a name are looked at (found by one regex), and
        the few tokens after them: the rest of the text is never tokenised. A term
        glued to a word by ``@``, ``.`` or ``-`` is not a mention of it: "DE-ICE",
        "j.doe@ice.dhs.gov", "ICE-T".
        """
        spell = self._spellings.get
        past = 0  # the end of the last mention: names do not overlap
        for hit in self._first_words.finditer(upper):
            start = hit.start()
            if start < past:
                continue
            typed = hit.group().replace(".", "").replace(" ", "")
            first = spell(typed, typed)
            candidates = self._by_first_token.get(first)
            if candidates is None:
                continue
            # a word typed short ("CUST", "IMMIG") names an agency only inside a longer
            # name: alone it is as likely another word ("CUST" for customer)
            shortened = first != typed and len(typed) < len(first) - 1
            first_end = hit.end()
            if "." in hit.group() and upper.startswith(".", first_end):
                first_end += 1  # "I.C.E." is one token, its last dot with it
            found = [(start, first_end, first)]
            need = len(candidates[0].tokens)  # longest first
            if need > 1:
                seconds = self._second_words[first]
                for m in _TOKEN.finditer(upper, first_end):
                    token = _plain(m.group())
                    token = spell(token, token)
                    if len(found) == 1 and token not in seconds:
                        break  # "LA CASA", "US 31": no longer name starts so
                    found.append((m.start(), m.end(), token))
                    if len(found) >= need:
                        break
            count = len(found)
            for term in candidates:
                n = len(term.tokens)
                if shortened and n == 1:
                    continue
                if n > count or not _continues(upper, found, 0, term.tokens):
                    continue
                last_end = found[n - 1][1]
                if _glued(upper, start, last_end):
                    continue
                yield Mention(term, start, last_end)
                past = last_end
                break

    def false_friend(self, upper: str, mention: Mention) -> str | None:
        """The words that make this mention something else ("BLACK ICE"), or None."""
        rule = self._false_friends.get(mention.term.key)
        if rule is None:
            return None
        if rule.followed_by is not None:
            m = rule.followed_by.match(upper, mention.end)
            if m is not None:
                return upper[mention.start : m.end()]
        if rule.preceded_by is not None:
            m = rule.preceded_by.search(upper, max(0, mention.start - 40), mention.start)
            if m is not None:
                return upper[m.start() : mention.end].strip(" -/,:")
        return None


def _starts_a_word(trigger: re.Pattern[str] | None, upper: str) -> bool:
    """A trigger hit that starts a word: "ICE" in "POLICE" or "SERVICE" is skipped here,
    before the tokeniser, which would only find no name there."""
    if trigger is None:
        return False
    m = trigger.search(upper)
    while m is not None:
        at = m.start()
        if at == 0 or not upper[at - 1].isalnum():
            return True
        m = trigger.search(upper, m.end())
    return False


def _continues(
    upper: str, found: list[tuple[int, int, str]], i: int, tokens: tuple[str, ...]
) -> bool:
    for k in range(1, len(tokens)):
        if found[i + k][2] != tokens[k]:
            return False
        if _GAP.fullmatch(upper, found[i + k - 1][1], found[i + k][0]) is None:
            return False
    return True


def _plain(token: str) -> str:
    return token.replace(".", "") if "." in token else token


_LED: Final = re.compile(r"LED(?![A-Z0-9])")


def _glued(upper: str, start: int, end: int) -> bool:
    if start >= 2 and upper[start - 1] in "@.-'’" and upper[start - 2].isalnum():
        return True
    if end < len(upper):
        after = upper[end]
        if after == "@":
            return True
        if after in ".-" and end + 1 < len(upper) and upper[end + 1].isalnum():
            # "HSI-LED TASK FORCE" names HSI: the group it leads
            return not (after == "-" and _LED.match(upper, end + 1) is not None)
    return False


# Words too common to stand for a name in the first pass. A name is keyed on its
# first other word, usually the distinctive head: "ERO LOUISVILLE" on ERO (keying
# on LOUISVILLE would wake the tokeniser for every address in town).
_COMMON: Final = frozenset(
    [
        "AGENT",
        "AGENTS",
        "AGT",
        "AGENCY",
        "DEPARTMENT",
        "DEPT",
        "OFFICE",
        "OFFICER",
        "OFFICERS",
        "ENFORCEMENT",
        "SERVICE",
        "SERVICES",
        "US",
        "THE",
        "OF",
        "AND",
        "TEAM",
        "OPERATIONS",
        "STATE",
        "LA",
    ]
)


def _key_token(term: Term) -> str:
    return next((t for t in term.tokens if t not in _COMMON), max(term.tokens, key=len))


def _trigger(terms: Iterable[Term], variants: Mapping[str, list[str]]) -> re.Pattern[str] | None:
    keys = {_key_token(t) for t in terms}
    keys |= {v for k in keys for v in variants.get(k, ())}
    keys |= {".".join(k) for k in keys if 2 <= len(k) <= 5 and k.isalpha()}  # "I.C.E."
    keys |= {" ".join(k) for k in keys if 2 <= len(k) <= 5 and k.isalpha()}  # "I C E"
    # No leading \b: it would stop the regex engine skipping ahead on the first
    # letters; the tokeniser checks word boundaries on the rare hits anyway.
    return re.compile(rf"(?:{_alternation(keys)})\b") if keys else None


def _alternation(words: Iterable[str]) -> str:
    """A regex alternation of literal words, factored as a trie so matching stays fast."""
    trie: dict[str, Any] = {}
    for word in words:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def emit(node: dict[str, Any]) -> str:
        ends = "" in node
        branches = [re.escape(ch) + emit(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        if ends:
            return f"(?:{body})?"
        return body

    return emit(trie)


# ------------------------------------------------------------------- loading


@cache
def _validator() -> Any:
    with open(schema_path(SCHEMA_FILE), encoding="utf-8") as f:
        return fastjsonschema.compile(json.load(f))


def read_registry_document(path: Path) -> dict[str, Any]:
    """Read and schema-check one registry file; RegistryError names the file and field."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RegistryError(f"agency registry {path}: cannot read: {exc.strerror or exc}") from exc
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RegistryError(f"agency registry {path}: not valid YAML: {exc}") from exc
    return validate_registry_document(doc, str(path))


def validate_registry_document(doc: object, source: str) -> dict[str, Any]:
    if not isinstance(doc, dict):
        raise RegistryError(f"agency registry {source}: the top level must be a mapping")
    try:
        _validator()(doc)
    except fastjsonschema.JsonSchemaValueException as exc:
        message = str(exc.message)
        if message.startswith("data."):
            message = message[len("data.") :]
        elif message.startswith("data "):
            message = "top level: " + message[len("data ") :]
        raise RegistryError(f"agency registry {source}: {message}") from exc
    return cast(dict[str, Any], doc)


def load_registry(path: Path | str | None = None) -> AgencyRegistry:
    """The shipped registry, extended or replaced by a deployment's file if one is given."""
    if path is None:
        return default_registry()
    own = read_registry_document(Path(path))
    if own.get("mode", "extend") == "replace":
        return build_registry([own], (str(path),))
    shipped = Path(schema_path(DEFAULT_REGISTRY_FILE))
    return build_registry([read_registry_document(shipped), own], (str(shipped), str(path)))


@cache
def default_registry() -> AgencyRegistry:
    shipped = Path(schema_path(DEFAULT_REGISTRY_FILE))
    return build_registry([read_registry_document(shipped)], (str(shipped),))


def registry_without_phones() -> AgencyRegistry:
    """The shipped registry with its example phone numbers taken out. They are
    fictitious 555-01xx numbers, the same range every labelled corpus draws its
    callers' numbers from, so a match there is chance, not evidence: the
    evaluation scores what the classifier reads, and the phone lookup is tested
    on its own."""
    doc = read_registry_document(Path(schema_path(DEFAULT_REGISTRY_FILE)))
    for entry in doc.get("agencies", ()):
        entry.pop("phones", None)
        for component in entry.get("components", ()):
            component.pop("phones", None)
    return build_registry([doc], ("shipped registry without its example numbers",))


_LIST_FIELDS: Final = ("names", "abbreviations", "agency_types", "phones", "email_domains")


def merge_documents(docs: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Merge validated documents in order: agencies and components by id, lists as unions."""
    agencies: dict[str, dict[str, Any]] = {}
    false_friends: dict[str, dict[str, list[str]]] = {}
    spellings: dict[str, list[str]] = {}
    for doc in docs:
        for word, variants in doc.get("spellings", {}).items():
            _union(spellings.setdefault(word, []), variants)
        for entry in doc.get("agencies", ()):
            _merge_entry(agencies.setdefault(entry["id"], {"id": entry["id"]}), entry)
        for term, rule in doc.get("false_friends", {}).items():
            into = false_friends.setdefault(term, {})
            for side, words in rule.items():
                _union(into.setdefault(side, []), words)
    return {
        "agencies": list(agencies.values()),
        "false_friends": false_friends,
        "spellings": spellings,
    }


def _merge_entry(into: dict[str, Any], entry: Mapping[str, Any]) -> None:
    for field, value in entry.items():
        if field in _LIST_FIELDS:
            _union(into.setdefault(field, []), value)
        elif field == "components":
            components = {c["id"]: c for c in into.setdefault("components", [])}
            for component in value:
                if component["id"] in components:
                    _merge_entry(components[component["id"]], component)
                else:
                    fresh = {"id": component["id"]}
                    _merge_entry(fresh, component)
                    into["components"].append(fresh)
                    components[component["id"]] = fresh
        else:
            into[field] = value


def _union(into: list[str], values: Iterable[str]) -> None:
    for value in values:
        if value not in into:
            into.append(value)


def build_registry(
    docs: Iterable[Mapping[str, Any]], sources: tuple[str, ...] = ()
) -> AgencyRegistry:
    """Compile validated documents (later ones extend earlier ones) into lookups."""
    where = ", ".join(sources) or "agency registry"
    merged = merge_documents(docs)
    listed = {v: word for word, variants in merged["spellings"].items() for v in variants}
    agencies: dict[str, Agency] = {}
    terms: dict[str, Term] = {}
    types: dict[str, Listing] = {}
    phones: dict[str, Listing] = {}
    domains: dict[str, Listing] = {}

    def claim(table: dict[str, Listing], key: str, listing: Listing, what: str) -> None:
        held = table.get(key)
        if held is not None and held.agency.id != listing.agency.id:
            raise RegistryError(
                f"{where}: {what} {listing.value!r} is listed under both "
                f"{held.agency.id} and {listing.agency.id}"
            )
        if held is None or held.component is None:
            table[key] = listing

    for entry in merged["agencies"]:
        if "kind" not in entry or "name" not in entry:
            raise RegistryError(f"{where}: agency {entry['id']} needs a kind and a name")
        agency = Agency(
            entry["id"],
            entry["name"],
            entry["kind"],
            entry.get("generic", False),
            entry.get("parent"),
        )
        agencies[agency.id] = agency
        for part, component in [
            (entry, None),
            *((c, c["id"]) for c in entry.get("components", ())),
        ]:
            for text, distinctive in [
                *((t, True) for t in part.get("names", ())),
                *((t, False) for t in part.get("abbreviations", ())),
            ]:
                for tokens in _written(text, listed):
                    term = Term(text, " ".join(tokens), tokens, agency, component, distinctive)
                    held = terms.get(term.key)
                    if held is not None and held.agency.id != agency.id:
                        raise RegistryError(
                            f"{where}: {text!r} ({agency.id}) is also a name of {held.agency.id}"
                        )
                    if held is None or (held.component is None and component is not None):
                        terms[term.key] = term
            for code in part.get("agency_types", ()):
                claim(types, code.lower(), Listing(agency, component, code), "agency type")
            for raw in part.get("phones", ()):
                number = normalise_phone(raw)
                if number is None or len(number) != 10:
                    raise RegistryError(
                        f"{where}: phone {raw!r} ({agency.id}) is not a 10-digit number"
                    )
                claim(phones, number, Listing(agency, component, raw), "phone")
            for domain in part.get("email_domains", ()):
                claim(domains, domain.lower(), Listing(agency, component, domain), "e-mail domain")
    friends = {
        " ".join(listed.get(t, t) for t in tokens_of(term)): FalseFriend(
            _followed_by(rule.get("followed_by", ())), _preceded_by(rule.get("preceded_by", ()))
        )
        for term, rule in merged["false_friends"].items()
    }
    spellings = _slips(terms.values())
    spellings.update(listed)  # listed beats guessed
    return AgencyRegistry(
        agencies, terms.values(), types, phones, domains, friends, sources, spellings
    )


# One-letter slips of names' words that are real words, so they are never guessed:
# "CUSTOM" motorcycles, a "SERVICE" call. The word's other slips ("CUSTUMS") are.
_REAL_WORD_SLIPS: Final = frozenset(
    {"CUSTOM", "SERVICE", "SERVICES", "OPERATION", "OFFICER", "SECURITY", "SECURITIES", "PATROL"}
)
_VOWELS: Final = "AEIOU"


def _slips(terms: Iterable[Term]) -> dict[str, str]:
    """One-letter slips of the long words in names that may be flagged or reviewed:
    a letter dropped ("IMIGRATION", "HOMELND"), two swapped ("IMMIGRATOIN") or a
    vowel typed for another ("IMMAGRATION"). Never the first letter, never a word
    that is itself in a name, and a slip two words share is dropped."""
    words = {t for term in terms for t in term.tokens}
    long_words = {
        t
        for term in terms
        if term.agency.kind != "other"
        for t in term.tokens
        if len(t) >= 7 and t.isalpha()
    }
    found: dict[str, str] = {}
    clash: set[str] = set()
    for word in sorted(long_words):
        for slip in _one_letter_slips(word):
            if slip in words or slip == word or slip in _REAL_WORD_SLIPS:
                continue
            if found.get(slip, word) != word:
                clash.add(slip)
            found[slip] = word
    return {k: v for k, v in found.items() if k not in clash}


def _one_letter_slips(word: str) -> Iterator[str]:
    if not word.endswith("S"):
        yield word + "S"  # "IMMIGRATIONS AND CUSTOMS"
    for i in range(1, len(word)):
        yield word[:i] + word[i + 1 :]
        if i + 1 < len(word):
            yield word[:i] + word[i + 1] + word[i] + word[i + 2 :]
        if word[i] in _VOWELS:
            for v in _VOWELS:
                if v != word[i]:
                    yield word[:i] + v + word[i + 1 :]


def _written(text: str, listed: Mapping[str, str]) -> Iterator[tuple[str, ...]]:
    """The token sequences a registry term stands for, each word in its listed form."""
    tokens = tuple(listed.get(t, t) for t in tokens_of(text))
    if not tokens:
        return
    yield tokens
    if _FILLER in tokens[1:-1]:
        yield tuple(t for t in tokens if t != _FILLER)


def _phrase(words: Iterable[str]) -> str:
    phrases = sorted({r"[ \t/\-,:]+".join(map(re.escape, tokens_of(w))) for w in words}, key=len)
    return "|".join(reversed(phrases))


def _followed_by(words: Iterable[str]) -> re.Pattern[str] | None:
    body = _phrase(words)
    return re.compile(rf"[ \t/\-,:]{{1,3}}(?:{body})(?![A-Z0-9])") if body else None


def _preceded_by(words: Iterable[str]) -> re.Pattern[str] | None:
    body = _phrase(words)
    return re.compile(rf"(?<![A-Z0-9])(?:{body})[ \t/\-,:]{{1,3}}$") if body else None
