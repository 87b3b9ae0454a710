"""The fixed crisis texts (``safety/data/crisis_replies.toml``) and how a caregiver's answer reads.

Texts are data, written by people and checked by tests: each names only resources from the
catalogue, English fits one segment and Spanish two. Nothing here is ever written by an agent.

Answers are read on the whole message, never on a word inside a sentence: "yes", "sí",
"sometimes", "maybe" answer yes; "no", "nope", "no estoy bien pero no" do not count as no
unless the whole message says only no. A yes to the indirect question is treated as an
explicit crisis, so anything uncertain ("idk", "kind of") is read as a yes.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from enum import StrEnum
from functools import cache
from importlib.resources import files
from typing import Any

from careline_contracts.jobs import CRISIS_CATEGORIES


@cache
def _texts() -> dict[str, Any]:
    raw = (
        files("careline_conversation.safety").joinpath("data/crisis_replies.toml").read_text(encoding="utf-8")
    )
    texts = tomllib.loads(raw)
    missing = set(CRISIS_CATEGORIES) - set(texts["category"])
    if missing:
        raise ValueError(f"crisis_replies.toml has no reply for {sorted(missing)}")
    return texts


def _language(language: str) -> str:
    return "es" if language == "es" else "en"


def category_reply(category: str, language: str) -> str:
    """The fixed reply to an explicit crisis of ``category``, in ``language`` (English by default)."""
    return str(_texts()["category"][category][_language(language)])


def question(category: str, language: str) -> str:
    """The caring question for the indirect tier: about the texter, or about someone else."""
    about = "suicide_other" if category == "suicide_other" else "suicide_self"
    return str(_texts()["question"][about][_language(language)])


def answer_reply(kind: str, language: str) -> str:
    """The reply to a no (``no``) or an unclear answer (``unclear``) to the caring question."""
    return str(_texts()["answer"][f"{kind}_{_language(language)}"])


def follow_up(text: str, language: str) -> str:
    """A follow-up text: ``ask`` (+24 h), ``nudge`` (+48 h), ``yes`` or ``no`` (the replies)."""
    return str(_texts()["follow_up"][f"{text}_{_language(language)}"])


def all_texts() -> list[str]:
    """Every crisis text the line can send (for the tests that check sizes and numbers)."""
    out: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for value in node.values():
                walk(value)
        else:
            out.append(str(node))

    walk(_texts())
    return out


class Answer(StrEnum):
    YES = "yes"
    NO = "no"
    UNCLEAR = "unclear"


_YES = frozenset(
    {"yes", "y", "yeah", "yea", "yep", "yup", "ya", "ye", "yess", "sometimes", "maybe", "probably", "often"}
    | {"always", "idk", "kinda", "sorta", "si", "quizas", "quiza", "seguido", "siempre", "aveces", "talvez"}
)
_YES_PHRASES = frozenset(
    {
        "yes i am",
        "yeah i am",
        "i am",
        "kind of",
        "sort of",
        "i think so",
        "i guess",
        "a little",
        "a bit",
        "i do not know",
        "i dont know",
        "not sure",
        "si estoy",
        "a veces",
        "tal vez",
        "creo que si",
        "un poco",
        "mas o menos",
        "no se",
        "pues si",
        "la verdad si",
        "yes i did",
        "i did",
        "si pude",
        "yes i called",
        "yes i talked to someone",
    }
)
_NO = frozenset(
    {
        "no",
        "n",
        "nope",
        "nah",
        "no i am not",
        "no im not",
        "not really",
        "no not really",
        "no i did not",
        "no i didnt",
        "i did not",
        "i didnt",
        "no way",
        "never",
        "no no",
        "no thanks",
        "no gracias",
        "no estoy",
        "para nada",
        "nel",
        "no pude",
        "todavia no",
        "aun no",
        "not yet",
        "no not yet",
    }
)
_STRIP = re.compile(r"[^a-z ]+")


def _plain(message: str) -> str:
    text = unicodedata.normalize("NFKD", message.lower())
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).replace("'", "")
    return " ".join(_STRIP.sub(" ", text).split())


def read_answer(message: str) -> Answer:
    """How a whole message answers a yes/no question (anything not clearly no nor yes is unclear)."""
    plain = _plain(message)
    if plain in _NO:
        return Answer.NO
    if plain in _YES or plain in _YES_PHRASES:
        return Answer.YES
    return Answer.UNCLEAR


_FOLLOW_YES = frozenset(
    {"yes", "y", "yeah", "yep", "yup", "yes i did", "i did", "si", "si pude", "yes i called"}
)
_FOLLOW_NO = frozenset(
    {"no", "n", "nope", "nah", "no i did not", "no i didnt", "not yet", "no pude", "todavia no", "aun no"}
)


def read_follow_up_answer(message: str) -> Answer | None:
    """YES, NO, SÍ and their variants, as the whole message only; anything else is not an answer."""
    plain = _plain(message)
    if plain in _FOLLOW_YES:
        return Answer.YES
    if plain in _FOLLOW_NO:
        return Answer.NO
    return None
