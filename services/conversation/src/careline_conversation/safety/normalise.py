"""The text crisis patterns read: what a message says, with its disguises taken off.

Applied to every inbound message before matching, in this order:

1. Unicode NFKC (full-width and mathematical letters become plain ones), then lower case.
2. Invisible characters go: zero-width spaces and joiners, soft hyphens, word joiners, the
   byte-order mark and bidirectional controls. Someone who types "kill my\\u00adself" or hides
   a right-to-left override in it means the same words.
3. Look-alike letters from other scripts fold to the Latin letter they imitate (a Cyrillic
   "\u0456" or "\u043e", a Greek "\u03bf"), only inside words that also hold Latin letters
   (and in very short words), so Greek or Russian text is left alone.
4. Accents drop ("mamá" -> "mama", "sí" -> "si", "ñ" -> "n"); pattern files are written without them.
5. Emoji that carry meaning become words: the pill emoji is ``pillemoji``, the crying faces
   ``cryemoji``, the laughing ones ``lol`` (a "😂 I'm dead" is a joke).
6. In-word leetspeak is undone ("k1ll", "su1c1de", "mys3lf"), then everything that is not a
   letter, digit or apostrophe becomes a space.
7. Per language: English contractions are spelled out ("can't" -> "can not") and SMS shorthand
   expanded in both languages ("wanna", "u", "im"; "q", "xq", "kiero").
8. Letter runs are squeezed to one letter ("dieeee" -> "die", "killl" -> "kil"); the patterns are
   squeezed the same way, so stretched words match.

``english`` and ``spanish`` give the text each language's patterns read; they differ only in
step 7.
"""

from __future__ import annotations

import re
import unicodedata

_INVISIBLE = dict.fromkeys(
    map(
        ord,
        "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b\u200c\u200d\u200e\u200f"
        "\u202a\u202b\u202c\u202d\u202e\u2060\u2061\u2062\u2063\u2064\u2066\u2067\u2068\u2069"
        "\ufeff\ufe0e\ufe0f",
    ),
    None,
)

# Lower-case look-alikes from Cyrillic, Greek and others, to the Latin letter they imitate.
_CONFUSABLES = str.maketrans(
    {
        "а": "a",
        "б": "b",
        "в": "b",
        "е": "e",
        "ё": "e",
        "ѕ": "s",
        "і": "i",
        "ї": "i",
        "ј": "j",
        "к": "k",
        "м": "m",
        "н": "h",
        "о": "o",
        "р": "p",
        "с": "c",
        "т": "t",
        "у": "y",
        "х": "x",
        "ԁ": "d",
        "һ": "h",
        "ӏ": "l",
        "ո": "n",
        "ս": "u",
        "α": "a",
        "β": "b",
        "ε": "e",
        "η": "n",
        "ι": "i",
        "κ": "k",
        "ν": "v",
        "ο": "o",
        "ρ": "p",
        "τ": "t",
        "υ": "u",
        "χ": "x",
        "ς": "s",
        "ɑ": "a",
        "ɡ": "g",
        "ɩ": "i",
        "ı": "i",
        "ℓ": "l",
    }
)
_CONFUSABLE_CHARS = frozenset(chr(c) for c in _CONFUSABLES)
_MIXED_WORD = re.compile(r"\w+")

_EMOJI = (
    (re.compile("\U0001f48a"), " pillemoji "),
    (re.compile("[\U0001f62d\U0001f622\U0001f97a\U0001f63f\U0001f614\U0001f61e\U0001f494]"), " cryemoji "),
    (re.compile("[\U0001f602\U0001f923\U0001f606\U0001f605\U0001f639\U0001f480]"), " lol "),
)
_COMBINING = re.compile("[\u0300-\u036f]")
_APOSTROPHES = re.compile("[\u2018\u2019\u02bc\u00b4`]")
_LEET = re.compile(r"(?<=[a-z])[01!|3@$4]+(?=[a-z])")
# a word that mixes letters with leet digits at its edge ("m0r1r", "d13", "k1ll3d"), but not a
# quantity with its unit ("800mg", "3am", "24yo", "2nd")
_LEET_WORD = re.compile(r"\b(?=[a-z0-9!|@$]*[a-z])(?=[a-z0-9!|@$]*[013@$4])[a-z0-9!|@$]{2,}\b")
_QUANTITY = re.compile(
    r"\d+(?:mg|ml|mcg|am|pm|k|s|th|st|nd|rd|x|lb|lbs|yo|yr|yrs|hr|hrs|min|mins|kg|g|oz|ish)?"
)
# letters typed apart ("k i l l  m y s e l f"): four or more single letters in a row are one word
_SPACED = re.compile(r"\b(?:[a-z] ){3,}[a-z]\b")
_LEET_LETTERS = str.maketrans(
    {"0": "o", "1": "i", "!": "i", "|": "i", "3": "e", "@": "a", "$": "s", "4": "a"}
)
_NOT_WORD = re.compile(r"[^a-z0-9' ]+")
_REPEATS = re.compile(r"([a-z])\1+")
# Words whose double letter tells them apart from another word once squeezed ("feel"/"fell").
_KEEP_DOUBLES = frozenset({"feel", "feels", "feeling", "feelings", "odd"})
_KEPT_WORDS = re.compile(r"\b(?:" + "|".join(sorted(_KEEP_DOUBLES)) + r")\b")


def squeeze(word: str) -> str:
    """One word with its letter runs squeezed, as the text is (kept words keep their doubles)."""
    return word if word in _KEEP_DOUBLES else _REPEATS.sub(r"\1", word)


def _fold_mixed(match: re.Match[str]) -> str:
    word = match.group()
    if any(ch in _CONFUSABLE_CHARS for ch in word) and any("a" <= ch <= "z" for ch in word):
        return word.translate(_CONFUSABLES)
    return word


def _fold_lookalikes(text: str) -> str:
    if not any(ch in _CONFUSABLE_CHARS for ch in text):
        return text
    text = _MIXED_WORD.sub(_fold_mixed, text)
    # a word made only of look-alikes is folded when it is short (an "od" typed in Cyrillic)
    return _MIXED_WORD.sub(
        lambda m: m.group().translate(_CONFUSABLES) if len(m.group()) <= 3 else m.group(), text
    )


def base(text: str) -> str:
    """Steps 1-6: the language-neutral clean-up (lower-case letters, digits, apostrophes, spaces)."""
    text = unicodedata.normalize("NFKC", text).lower()
    if not text.isascii():
        text = text.translate(_INVISIBLE)
        text = _fold_lookalikes(text)
        for pattern, word in _EMOJI:
            text = pattern.sub(word, text)
        text = unicodedata.normalize("NFKD", text)
        text = _COMBINING.sub("", text)
    text = _APOSTROPHES.sub("'", text)
    text = _LEET.sub(lambda m: m.group().translate(_LEET_LETTERS), text)
    if any(ch.isdigit() for ch in text):
        text = _LEET_WORD.sub(_unleet, text)
    text = _NOT_WORD.sub(" ", text)
    return _SPACED.sub(lambda m: m.group().replace(" ", ""), text)


def _unleet(match: re.Match[str]) -> str:
    word = match.group()
    if _QUANTITY.fullmatch(word):
        return word
    return word.translate(_LEET_LETTERS)


# --- English ------------------------------------------------------------------------------

_NEGATIONS = {"can't": "can not", "won't": "will not", "ain't": "is not", "shan't": "shall not"}
_ENDINGS = (
    ("n't", " not"),
    ("'m", " am"),
    ("'re", " are"),
    ("'ve", " have"),
    ("'ll", " will"),
    ("'d", " would"),
)
_IS_AFTER = frozenset({"he", "she", "it", "that", "what", "there", "who", "everyone", "nobody", "someone"})


def _expand(word: str) -> str:
    """One word with an apostrophe, spelled out: "can't" -> "can not", "she's" -> "she is"."""
    word = word.strip("'")
    if word in _NEGATIONS:
        return _NEGATIONS[word]
    for ending, expansion in _ENDINGS:
        if word.endswith(ending):
            return word[: -len(ending)] + expansion
    if word.endswith("'s") and word[:-2] in _IS_AFTER:
        return word[:-2] + " is"
    return word.replace("'", "")


def _shorthand(table: str) -> dict[str, str]:
    return {
        squeeze(short): " ".join(squeeze(word) for word in full.split())
        for full, shorts in (line.split(":") for line in table.strip().splitlines())
        for short in shorts.split()
    }


_ENGLISH_SHORTHAND = _shorthand(
    """
do not: dont dnt
does not: doesnt dosent doesent
did not: didnt
can not: cant cnt cannot caint
could not: couldnt
will not: wont
would not: wouldnt
should not: shouldnt
is not: isnt aint
was not: wasnt
were not: werent
are not: arent
have not: havent
has not: hasnt
i am: im
i have: ive
i would: id
he is: hes
she is: shes
they are: theyre
you are: youre
you will: youll
you would: youd
they will: theyll
they would: theyd
it will: itll
it would: itd
i love you: ily
thanks: thx thnx thanx
thank you: tysm
sorry: sry srry sowwy
year: yr
that is: thats
what is: whats
it is: its
there is: theres
want to: wanna wnna wana
want: wnat wnt whant
going to: gonna gunna gna finna boutta
trying to: tryna
got to: gotta
have to: hafta
you: u ya
your: ur
yourself: urself yourslef urslef
are: r
and: n
be: b
please: pls plz
right now: rn
people: ppl
someone: some1 sum1
everyone: every1 evry1
anyone: any1
to: 2
for: 4
because: bc cuz cause bcuz becuz
myself: myslef mysef myslf myelf meself mysel mself myselfe
himself: himslef
herself: herslef
dying: dieing dyin dyng diyng
killing: killin
cutting: cuttin
hurting: hurtin
breathing: breathin
bleeding: bleedin
choking: chokin
having: havin
trying: tryin
going: goin
nothing: nothin nuthin
anymore: anymor nemore anymoe anymroe
dead: ded
the: hte teh da
about: abt bout
a lot: alot
boyfriend: bf
girlfriend: gf
husband: hubby hubs dh
mom: mommy mama mum momma ma
dad: daddy pops papa
grandma: granny nana grams
grandpa: gramps granddad grandad
tonight: tonite 2nite
tomorrow: tmrw tmr tmrow tmw 2morrow tomoro tomorow tommorow
with: w wit
something: smth sth somethin
years: yrs
really: rly
kind of: kinda
sort of: sorta
i am going to: imma ima
do not know: dunno
i do not know: idk
i do not care: idc
to be honest: tbh
not going to lie: ngl
though: tho
suicide: sucide suicde suiside sucide suicid
tylenol: tylenal tylonol
"""
)

_SPANISH_SHORTHAND = _shorthand(
    """
que: q k ke
porque: xq pq pk xk porq pq
por: x
tambien: tb tmb tmbn
de: d
estoy: toy stoy
esta: ta
para: pa
quiero: kiero qiero kero qero
quiere: kiere
nada: nd
nadie: nadien
mama: mami ama
papa: papi apa
ya no: yano
hacerme: aserme acerme haserme
hacer: aser acer
vivir: bivir
verdad: vdd
por favor: xfa porfa
harta: jarta
harto: jarto
pues: ps pz
bien: bn
mensaje: msj
mucho: mxo mcho
nunca: nunk
hacerlo: aserlo acerlo haserlo
"""
)


def english(text: str) -> str:
    """The text English patterns read."""
    return english_from_base(base(text))


def english_from_base(text: str) -> str:
    """Step 7 and 8 for English, on what ``base`` returned (detection runs ``base`` once)."""
    if "'" in text:
        text = " ".join(_expand(word) if "'" in word else word for word in text.split())
    return _finish(text, _ENGLISH_SHORTHAND)


def spanish(text: str) -> str:
    """The text Spanish patterns read."""
    return spanish_from_base(base(text))


def spanish_from_base(text: str) -> str:
    """Step 7 and 8 for Spanish, on what ``base`` returned."""
    return _finish(text.replace("'", " "), _SPANISH_SHORTHAND)


def _finish(text: str, shorthand: dict[str, str]) -> str:
    if "fee" in text or "odd" in text:  # squeeze every word at once; kept words hide in upper case
        text = _KEPT_WORDS.sub(lambda m: m.group().upper(), text)
    text = _REPEATS.sub(r"\1", text).lower()
    return " ".join(shorthand.get(word, word) for word in text.split())
