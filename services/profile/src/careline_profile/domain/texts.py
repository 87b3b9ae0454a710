"""Profile's texts for the caregiver, in English and Spanish, from ``data/texts.toml``.

A text is found by its path in the file ("session.reask", "instrument.checkin.item.stress",
"band.high.words") and the caregiver's language; English for any language but Spanish.
Loading checks that every text exists in both languages, so a missing translation fails at
the first use (and in the unit tests), never as an English text in a Spanish conversation.
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib.resources import files
from typing import Any

LANGUAGES = ("en", "es")


def language(code: str | None) -> str:
    """The language profile writes in for ``code``: Spanish for "es", else English."""
    return "es" if code == "es" else "en"


@cache
def _texts() -> dict[str, Any]:
    raw = files("careline_profile.domain").joinpath("data", "texts.toml").read_text(encoding="utf-8")
    data = tomllib.loads(raw)
    for path, by_language in _leaves(data):
        missing = [code for code in LANGUAGES if not by_language.get(code)]
        if missing:
            raise ValueError(f"texts.toml: {path} has no text in {missing}")
    return data


def _leaves(node: dict[str, Any], path: str = "") -> list[tuple[str, dict[str, str]]]:
    """(path, {language: text}) for every text in the file."""
    if any(isinstance(value, str) for value in node.values()):
        return [(path, node)]
    found: list[tuple[str, dict[str, str]]] = []
    for key, value in node.items():
        found += _leaves(value, f"{path}.{key}" if path else key)
    return found


def say(path: str, code: str | None = "en", **values: object) -> str:
    """The text at ``path`` in the caregiver's language, with ``values`` filled in."""
    node: Any = _texts()
    for part in path.split("."):
        node = node[part]
    text = str(node[language(code)])
    return text.format(**values) if values else text


def every_text() -> list[tuple[str, str, str]]:
    """(path, language, text) for every text (for the tests that size and check them all)."""
    return [
        (path, code, text) for path, by_language in _leaves(_texts()) for code, text in by_language.items()
    ]
