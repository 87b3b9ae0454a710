"""SMS segment arithmetic: how many segments a text costs, and how to make a reply fit.

A text that uses only the GSM-7 alphabet costs 7 bits a character: 160 characters in a single
segment, 153 in each part of a concatenated message (the user-data header takes the rest).
Characters of the GSM-7 extension table (``€ [ ] { } ^ ~ | \\`` and form feed) are sent as an
escape plus the character, so they count 2. One character outside GSM-7 turns the whole text
into UCS-2: 70 UTF-16 code units single, 67 a part, and a character outside the Basic
Multilingual Plane (most emoji) is a surrogate pair, 2 code units. Carriers never split an
escape sequence or a surrogate pair across parts, so parts are packed greedily, as Twilio does.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

GSM7_SINGLE = 160
GSM7_PART = 153
UCS2_SINGLE = 70
UCS2_PART = 67

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")

_SENTENCE_END = ".!?"
_WORD_TRAILERS = " \t\n,;:-([{\"'"

# Typographic characters AI text is full of, and the GSM-7 text that reads the same.
_GSM_EQUIVALENTS = str.maketrans(
    {
        "\u2018": "'",  # left single quote
        "\u2019": "'",  # right single quote, apostrophe
        "\u201a": "'",
        "\u201b": "'",
        "\u2032": "'",  # prime
        "\u00b4": "'",  # acute accent
        "`": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u201f": '"',
        "\u2033": '"',
        "\u00ab": '"',
        "\u00bb": '"',
        "\u2010": "-",  # hyphen
        "\u2011": "-",  # non-breaking hyphen
        "\u2012": "-",  # figure dash
        "\u2013": "-",  # en dash
        "\u2014": "-",  # em dash
        "\u2015": "-",
        "\u2212": "-",  # minus sign
        "\u2026": "...",
        "\u2022": "-",  # bullet
        "\u00b7": "-",
        "\t": " ",
        "\u00a0": " ",  # non-breaking space
        "\u2002": " ",
        "\u2003": " ",
        "\u2007": " ",
        "\u2009": " ",
        "\u200a": " ",
        "\u202f": " ",
        "\u200b": None,  # zero-width space
        "\u2060": None,  # word joiner
        "\ufeff": None,  # byte-order mark
    }
)


def is_gsm7(text: str) -> bool:
    """True when every character of ``text`` can be sent in the GSM-7 alphabet."""
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text)


def _units(text: str, gsm: bool) -> list[int]:
    """What each character costs: septets in GSM-7, UTF-16 code units in UCS-2."""
    if gsm:
        return [2 if ch in GSM7_EXTENSION else 1 for ch in text]
    return [2 if ord(ch) > 0xFFFF else 1 for ch in text]


def segments(text: str) -> int:
    """How many SMS segments ``text`` is billed as (0 for an empty text: nothing to send)."""
    if not text:
        return 0
    gsm = is_gsm7(text)
    units = _units(text, gsm)
    if sum(units) <= (GSM7_SINGLE if gsm else UCS2_SINGLE):
        return 1
    part = GSM7_PART if gsm else UCS2_PART
    count, used = 1, 0
    for unit in units:
        if used + unit > part:  # an escape pair or a surrogate pair is never split
            count, used = count + 1, 0
        used += unit
    return count


def normalise_for_gsm(text: str, keep: Iterable[str] = (), *, accents: bool = False) -> str:
    """Replace curly quotes, dashes, ellipses and odd spaces with GSM-7 text, and drop stray
    accents when that makes the whole text GSM-7.

    AI replies are typographically tidy, and one curly apostrophe halves what a segment
    holds. Letters outside GSM-7 lose their accent when the bare letter is GSM-7 ("naïve"
    becomes "naive"), but only when every character then is GSM-7: once something stays UCS-2
    anyway (an emoji, another script, a word in ``keep``), an accent costs nothing and the
    text keeps it. ``keep`` holds words that are never changed, such as the caregiver's name:
    "María" stays "María", and the reply is sized as UCS-2. ``accents=True`` keeps every
    accent (Spanish orthography), changing only the typographic characters.
    """
    text = text.translate(_GSM_EQUIVALENTS)
    if is_gsm7(text) or accents:
        return text
    kept = _kept_positions(text, keep)
    out: list[str] = []
    for index, ch in enumerate(text):
        if ch in GSM7_BASIC or ch in GSM7_EXTENSION or index in kept:
            out.append(ch)
            continue
        bare = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
        out.append(bare if bare and is_gsm7(bare) else ch)
    stripped = "".join(out)
    return stripped if is_gsm7(stripped) else text


def _kept_positions(text: str, keep: Iterable[str]) -> set[int]:
    """The indexes of ``text`` inside any occurrence of a word of ``keep``."""
    positions: set[int] = set()
    for word in keep:
        if not word:
            continue
        start = text.find(word)
        while start != -1:
            positions.update(range(start, start + len(word)))
            start = text.find(word, start + 1)
    return positions


def _longest_prefix(text: str, max_segments: int, suffix: str) -> int:
    """The largest ``k`` with ``segments(text[:k] + suffix) <= max_segments`` (cost only grows with k)."""
    low, high = 0, len(text)
    while low < high:
        mid = (low + high + 1) // 2
        if segments(text[:mid] + suffix) <= max_segments:
            low = mid
        else:
            high = mid - 1
    return low


def _sentence_cut(text: str, limit: int) -> int:
    """The end of the last whole sentence within ``text[:limit]``, or 0."""
    for end in range(limit, 0, -1):
        if text[end - 1] in _SENTENCE_END and (end == len(text) or text[end].isspace()):
            return end
    return 0


def _word_cut(text: str, limit: int, suffix: str) -> str:
    """``text[:limit]`` cut back to a word boundary (mid-word only for one enormous word), plus ``suffix``."""
    end = limit
    if limit < len(text) and not text[limit].isspace():
        space = max(text.rfind(" ", 0, limit + 1), text.rfind("\n", 0, limit + 1))
        if space > limit // 2:
            end = space
    return text[:end].rstrip(_WORD_TRAILERS) + suffix


def fit(text: str, max_segments: int = 3) -> str:
    """``text``, shortened if need be so that ``segments(result) <= max_segments``.

    A text that fits comes back unchanged. Otherwise it ends at the last whole sentence if
    that keeps at least half of what would fit, else at a word boundary with an ellipsis:
    "..." in GSM-7, "…" only when the text is UCS-2 anyway (one "…" would turn a GSM-7 text
    into UCS-2 and cost more than it saves).
    """
    if max_segments < 1:
        raise ValueError("max_segments must be at least 1")
    if segments(text) <= max_segments:
        return text
    whole = _longest_prefix(text, max_segments, "")
    sentence_end = _sentence_cut(text, whole)
    if sentence_end and sentence_end >= whole // 2:
        return text[:sentence_end]
    best, kept = "", -1
    for suffix in ("\u2026", "..."):  # on a tie in UCS-2, the one-character ellipsis
        candidate = _word_cut(text, _longest_prefix(text, max_segments, suffix), suffix)
        prefix = candidate.removesuffix(suffix)
        if (suffix == "..." or not is_gsm7(prefix)) and len(prefix) > kept:
            best, kept = candidate, len(prefix)
    return best


def fit_with(text: str, tail: str | None, max_segments: int = 3) -> str:
    """``text`` and then ``tail`` (a fixed line, such as a question), within ``max_segments``.

    The tail is kept whole and ``text`` is shortened (``fit``) to make room; only when even a
    one-segment ``text`` leaves no room is the tail dropped and ``text`` fitted alone.
    """
    if not tail:
        return fit(text, max_segments)
    for budget in range(max_segments, 0, -1):
        joined = f"{fit(text, budget)} {tail}"
        if segments(joined) <= max_segments:
            return joined
    return fit(text, max_segments)
