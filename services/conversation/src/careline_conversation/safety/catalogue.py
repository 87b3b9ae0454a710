"""The resource catalogue, and how to tell a contact the line may send from one it may not.

Every phone number, short code and link Careline may put in a reply lives in
``data/resources.toml`` (shipped in this package), each with the official page it was checked
against. Most entries are national; an entry with ``states`` applies only to a caregiver whose
ZIP is in one of those states (``domain/local_resources.py`` picks them). This module loads the
file once and answers two questions about free text:

- ``numbers_in`` / ``links_in``: which phone numbers, short codes and links does it contain?
- ``unknown_contacts``: which of those are not in the catalogue? The OpenAI agent's tripwire
  (``agents/fallback.py``) replaces any AI reply for which this is not empty.

What counts as a number (each found number is returned digits only; a keypad word such as
``1-800-799-SAFE`` becomes its digits; an 11-digit NANP number drops its leading 1):

1. Phone-shaped: 10 digits as ``800-272-3900``, ``800.272.3900``, ``800 272 3900``,
   ``(800) 272-3900`` or solid, with an optional ``1``/``+1`` in front; 7 digits with a separator
   (``555-1234``); any solid run of 7 to 11 digits; toll-free keypad words (``1-800-SUICIDE``).
2. Three-digit N11 codes (211, 311, ... 911), wherever they stand.
3. The catalogue's own short codes (988, 741741, 88788, 838255, ...), wherever they stand.
4. Any other 3 to 6 digits right after a contact verb (call, text, dial, reach, llama, marca,
   envía, manda, ...), optionally with a keyword in capitals or quotes and small words between
   (``text HELLO to 12345``, ``envía AYUDA al 55555``, ``call us at 555``).

Not a number in this sense: a 5-digit ZIP (``My ZIP is 10001``) or ZIP+4 (``10001-1234``), a
score (``score 72 of 100``), progress (``(2 of 10)``), a price (``$9.99``, ``$1,200``,
``$1000000``), a percentage, a decimal, a date (``2026-11-30``, ``11/30/2026``), a time
(``9:00-20:00``), a year (``in 2025``). A 5-digit number is a short code only under rule 3 or 4:
that is how a ZIP is told apart from one.

What counts as a link: anything starting ``http://``, ``https://`` or ``www.``, and a bare domain
(``caregiver.org``, ``thehotline.org/help``) under a common top-level domain (``.org``, ``.com``,
``.gov``, ``.net``, ...), including the domain of an e-mail address. A link is known when its
host is a catalogue domain or a subdomain of one (``www.thehotline.org``, any path). Links the
system itself generates (Stripe checkout, billing portal, dashboard) are not in the catalogue:
the caller passes them as ``allowed_links_extra`` (a bare domain allows that host and its
subdomains; a URL with a path allows that URL and anything below it).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from importlib.resources import files
from typing import Any

CATALOGUE_FILE = ("data", "resources.toml")


@dataclass(frozen=True)
class Resource:
    """One provider the line may point to, with the facts checked on its official page."""

    id: str
    name: str
    purpose: str
    topics: tuple[str, ...]
    numbers: tuple[str, ...]
    """As written in texts: "988", "741741", "1-800-799-7233"."""
    keywords: tuple[str, ...]
    links: tuple[str, ...]
    """Bare domains as written in texts: "thehotline.org"."""
    spanish: str
    notes: str
    source: str
    see_also: tuple[str, ...]
    checked: date
    states: tuple[str, ...] = ()
    """USPS state codes where this entry applies; empty for a national one."""
    say: tuple[tuple[str, str], ...] = ()
    """(language, sentence): how a reply names this entry, when "{name}: {contact}." reads badly."""

    def said_in(self, language: str) -> str | None:
        """This entry's own sentence in ``language``, if the catalogue gives one."""
        return dict(self.say).get(language)


@dataclass(frozen=True)
class TopicText:
    """What find_resource() returns for a topic, and the resource it draws on."""

    topic: str
    resource_id: str
    text: str


@dataclass(frozen=True)
class Unconfirmed:
    """A fact seen only in secondary reports: recorded so nobody re-adds it unchecked; never sent."""

    what: str
    numbers: tuple[str, ...]
    keywords: tuple[str, ...]
    links: tuple[str, ...]
    seen_in: str
    why: str


@dataclass(frozen=True)
class LocalReply:
    """The words around the entries resources_for() picks, in one language."""

    entry: str
    """One picked entry: ``{name}`` and ``{contact}``."""
    share_zip: str
    """Said when the caregiver's ZIP is not known, instead of pretending to be local."""


@dataclass(frozen=True)
class Catalogue:
    resources: tuple[Resource, ...]
    topics: tuple[TopicText, ...]
    unconfirmed: tuple[Unconfirmed, ...]
    local_reply: dict[str, LocalReply] = field(default_factory=dict)

    def resource(self, resource_id: str) -> Resource:
        for resource in self.resources:
            if resource.id == resource_id:
                return resource
        raise KeyError(resource_id)


@cache
def catalogue() -> Catalogue:
    """The packaged catalogue, parsed once per process."""
    text = files("careline_conversation.safety").joinpath(*CATALOGUE_FILE).read_text(encoding="utf-8")
    return parse(tomllib.loads(text))


def parse(data: dict[str, Any]) -> Catalogue:
    """A catalogue from the parsed TOML (a KeyError or ValueError names what is malformed)."""
    resources = tuple(_resource(raw) for raw in data["resource"])
    ids = {r.id for r in resources}
    if len(ids) != len(resources):
        raise ValueError("resource ids are not unique")
    topics = tuple(
        TopicText(topic, str(raw["resource"]), str(raw["text"])) for topic, raw in data["topic"].items()
    )
    if unknown := {t.resource_id for t in topics} - ids:
        raise ValueError(f"topics name unknown resources: {sorted(unknown)}")
    unconfirmed = tuple(
        Unconfirmed(
            what=str(raw["what"]),
            numbers=_strings(raw.get("numbers", [])),
            keywords=_strings(raw.get("keywords", [])),
            links=_strings(raw.get("links", [])),
            seen_in=str(raw["seen_in"]),
            why=str(raw["why"]),
        )
        for raw in data.get("unconfirmed", [])
    )
    local_reply = {
        language: LocalReply(entry=str(raw["entry"]), share_zip=str(raw["share_zip"]))
        for language, raw in data.get("local_reply", {}).items()
    }
    return Catalogue(resources, topics, unconfirmed, local_reply)


def _resource(raw: dict[str, Any]) -> Resource:
    return Resource(
        id=str(raw["id"]),
        name=str(raw["name"]),
        purpose=str(raw["purpose"]),
        topics=_strings(raw["topics"]),
        numbers=_strings(raw["numbers"]),
        keywords=_strings(raw["keywords"]),
        links=_strings(raw["links"]),
        spanish=str(raw.get("spanish", "")),
        notes=str(raw.get("notes", "")),
        source=str(raw["source"]),
        see_also=_strings(raw.get("see_also", [])),
        checked=date.fromisoformat(str(raw["checked"])),
        states=_strings(raw.get("states", [])),
        say=tuple((str(lang), str(text)) for lang, text in raw.get("say", {}).items()),
    )


def _strings(values: Iterable[Any]) -> tuple[str, ...]:
    return tuple(str(v) for v in values)


def entries() -> tuple[Resource, ...]:
    return catalogue().resources


@cache
def allowed_numbers() -> frozenset[str]:
    """Every catalogue number and short code, digits only (11-digit NANP without the leading 1)."""
    return frozenset(normalise_number(n) for r in entries() for n in r.numbers)


@cache
def allowed_links() -> frozenset[str]:
    """Every catalogue link, lower-case, without scheme or "www."."""
    return frozenset(normalise_link(link) for r in entries() for link in r.links)


# --- finding numbers -------------------------------------------------------------------------

_SEP = r"[ .\-\u2010-\u2013]"
_EDGE_BEFORE = r"(?<![\w$€£])(?<!\d[.,])"  # not inside a word, a price or a decimal
_EDGE_AFTER = r"(?![\w%])(?![.,]\d)"
_PHONE = re.compile(
    _EDGE_BEFORE
    + r"(?:"
    + rf"(?:\+?1{_SEP}?)?(?:\(\d{{3}}\){_SEP}?|\d{{3}}{_SEP}?)\d{{3}}{_SEP}?\d{{4}}"  # 10 digits (+1)
    + rf"|(?:1{_SEP}?)?8(?:00|33|44|55|66|77|88){_SEP}[A-Z0-9]{{3}}{_SEP}?[A-Z0-9]{{4}}"  # keypad words
    + rf"|\d{{3}}{_SEP}\d{{4}}"  # 7 digits with a separator
    + r"|\d{7,11}"  # a solid run
    + r")"
    + _EDGE_AFTER
)
_N11 = re.compile(_EDGE_BEFORE + r"[2-9]11" + _EDGE_AFTER)
_VERB = (
    r"(?i:call|calling|text|texting|txt|dial|ring|phone|sms|message|reach|contact"
    r"|llam[ae]|llamar|marc[ae]|marque|marcar|env[ií][ae]|enviar|mand[ae]|mandar|textea|escrib[ae])"
)
_FILLER = (
    r"(?:(?i:to|at|on|or|out|us|me|them|the|number|no\.?|al|a|el|la|n[uú]mero|code|c[oó]digo)"
    r"|[A-ZÁÉÍÓÚÑ]{2,}"  # a keyword in capitals: HOME, START, AYUDA
    r"|[\"'“”‘’][^\"'“”‘’]{1,20}[\"'“”‘’])"  # or in quotes
)
_AFTER_VERB = re.compile(
    rf"\b{_VERB}\b[\s:,]+(?:{_FILLER}[\s:,]+){{0,3}}"
    + _EDGE_BEFORE
    + rf"(?P<n>\d{{3,6}}|\d{{3}}{_SEP}\d{{3}})"
    + _EDGE_AFTER
)
_KEYPAD = str.maketrans(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "22233344455566677778889999",
)


def normalise_number(written: str) -> str:
    """Digits only, keypad letters as digits, an 11-digit NANP number without its leading 1."""
    digits = re.sub(r"\D", "", written.upper().translate(_KEYPAD))
    return digits[1:] if len(digits) == 11 and digits.startswith("1") else digits


@cache
def _short_codes() -> re.Pattern[str]:
    codes = sorted({n for n in allowed_numbers() if len(n) <= 6}, key=len, reverse=True)
    return re.compile(_EDGE_BEFORE + "(?:" + "|".join(map(re.escape, codes)) + ")" + _EDGE_AFTER)


def numbers_in(text: str) -> list[str]:
    """The phone numbers and short codes in a text (digits only, first occurrence order, no repeats)."""
    found: list[tuple[int, str]] = []
    taken: list[tuple[int, int]] = []

    def add(start: int, end: int, written: str) -> None:
        if any(start < t_end and t_start < end for t_start, t_end in taken):
            return
        taken.append((start, end))
        found.append((start, normalise_number(written)))

    for match in _PHONE.finditer(text):
        add(match.start(), match.end(), match.group())
    for match in _AFTER_VERB.finditer(text):
        add(match.start("n"), match.end("n"), match.group("n"))
    for pattern in (_N11, _short_codes()):
        for match in pattern.finditer(text):
            add(match.start(), match.end(), match.group())
    return list(dict.fromkeys(number for _, number in sorted(found)))


# --- finding links ---------------------------------------------------------------------------

_TLDS = (
    "com|org|net|gov|edu|mil|us|info|biz|io|co|app|ai|me|ly|health|care|help|online|site|link"
    "|life|support|community|foundation|ngo|uk|ca|mx|es"
)
_LINK = re.compile(
    r"(?i:https?://[^\s<>\"'()]+"
    r"|\bwww\.[^\s<>\"'()]+"
    rf"|(?<![\w.\-/])(?:[a-z0-9](?:[a-z0-9\-]{{0,61}}[a-z0-9])?\.)+(?:{_TLDS})\b(?:/[^\s<>\"'()]*)?)"
)
_TRAILING = ".,;:!?)]}'\"”’"


def normalise_link(written: str) -> str:
    """Lower case, without scheme, "www.", trailing punctuation or trailing slash."""
    link = written.strip().rstrip(_TRAILING).lower()
    link = re.sub(r"^[a-z][a-z0-9+.\-]*://", "", link)
    link = link.removeprefix("www.")
    return link.rstrip("/")


def links_in(text: str) -> list[str]:
    """The links in a text, normalised (``www.TheHotline.org/help.`` -> ``thehotline.org/help``)."""
    return list(dict.fromkeys(normalise_link(m.group()) for m in _LINK.finditer(text)))


def _link_allowed(link: str, allowed: Iterable[str]) -> bool:
    host = link.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    for item in allowed:
        if "/" in item:
            if link == item or link.startswith((item + "/", item + "?", item + "#")):
                return True
        elif host == item or host.endswith("." + item):
            return True
    return False


# --- the question the tripwire asks ----------------------------------------------------------


def unknown_contacts(text: str, *, allowed_links_extra: Iterable[str] = ()) -> list[str]:
    """Every number, short code or link in ``text`` that the catalogue does not hold.

    ``allowed_links_extra`` are links the system itself generates (checkout, billing portal,
    dashboard), passed by the caller. Numbers are returned digits only, links normalised.
    """
    numbers = [n for n in numbers_in(text) if n not in allowed_numbers()]
    allowed = (*allowed_links(), *(normalise_link(link) for link in allowed_links_extra))
    links = [link for link in links_in(text) if not _link_allowed(link, allowed)]
    return numbers + links
