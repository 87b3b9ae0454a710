"""What the line can send: every crisis text sized and in both languages, every contact in the catalogue.

The scan reads every string the services' code holds (not docstrings) and every text of the
package data files, so a reply template anywhere that names a phone number, a short code or a
link missing from ``safety/data/resources.toml`` fails here. Links the system itself makes
(checkout, billing portal, dashboard) are built at run time and are not in the templates.
"""

from __future__ import annotations

import ast
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from careline_contracts.jobs import CRISIS_CATEGORIES
from careline_conversation.safety import responses
from careline_conversation.safety.catalogue import numbers_in, unknown_contacts
from careline_conversation.safety.sizing import is_gsm7, segments

ROOT = Path(__file__).resolve().parents[3]
SERVICES = ROOT / "services"
ACCENTED = set("áéíóúñÁÉÍÓÚÑ¿¡")
# Code that holds strings but never texts a caregiver, and why.
NOT_TEMPLATES = {
    "safety/sizing.py": "the GSM-7 alphabet tables",
    "careline_ingress/simulator.py": "the local simulator page's example caller (the sender, never texted)",
}


def _docstring_nodes(tree: ast.AST) -> set[int]:
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def code_strings() -> Iterator[tuple[str, str]]:
    """(where, text) for every string literal in the services' code that reads like a sentence."""
    for path in sorted(SERVICES.glob("*/src/**/*.py")):
        if any(path.as_posix().endswith(skipped) for skipped in NOT_TEMPLATES):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = _docstring_nodes(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.JoinedStr):  # an f-string: its literal parts
                text = "".join(
                    v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str)
                )
            elif (
                isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
            ):
                text = node.value
            else:
                continue
            if " " in text.strip() and len(text) >= 12:
                yield f"{path.relative_to(ROOT)}:{node.lineno}", text


def data_strings() -> Iterator[tuple[str, str]]:
    """(where, text) for every string in the services' TOML data, except the catalogue's own sources."""
    for path in sorted(SERVICES.glob("*/src/**/data/*.toml")):

        def walk(node: object, where: str) -> Iterator[tuple[str, str]]:
            if isinstance(node, dict):
                for key, value in node.items():
                    if key not in ("source", "see_also", "seen_at", "notes", "unconfirmed"):
                        yield from walk(value, f"{where}.{key}")
            elif isinstance(node, list):
                for index, value in enumerate(node):
                    yield from walk(value, f"{where}[{index}]")
            elif isinstance(node, str):
                yield where, node

        yield from walk(tomllib.loads(path.read_text(encoding="utf-8")), str(path.relative_to(ROOT)))


TEMPLATES = [*code_strings(), *data_strings()]


def test_the_scan_sees_the_texts_that_matter() -> None:
    """The scan is not vacuous: it reads the crisis replies, HELP and the onboarding questions."""
    texts = {text for _, text in TEMPLATES}
    assert responses.category_reply("abuse_of_caregiver", "en") in texts
    assert any("Reply STOP to opt out" in text for text in texts)
    assert any("ZIP code" in text for text in texts)
    assert len(TEMPLATES) > 100


def test_every_template_names_only_catalogue_contacts() -> None:
    """No reply template carries a phone number, short code or link that is not in the catalogue."""
    unknown = [f"{where}: {found}" for where, text in TEMPLATES if (found := unknown_contacts(text))]
    assert not unknown, "contacts not in resources.toml:\n" + "\n".join(unknown)


def test_an_invented_number_in_a_template_would_be_caught() -> None:
    """The check has teeth: a made-up hotline in a sentence is reported."""
    assert unknown_contacts("Call the caregiver hotline at 1-800-555-0199 or text 55555.") != []


@pytest.mark.parametrize("category", CRISIS_CATEGORIES)
def test_every_category_reply_in_english_is_one_segment_and_names_a_resource(category: str) -> None:
    text = responses.category_reply(category, "en")
    assert is_gsm7(text) and segments(text) == 1
    assert numbers_in(text), "a crisis reply always names somewhere to turn"


@pytest.mark.parametrize("category", CRISIS_CATEGORIES)
def test_every_category_reply_in_spanish_keeps_its_accents_within_two_segments(category: str) -> None:
    text = responses.category_reply(category, "es")
    assert segments(text) <= 2
    assert numbers_in(text)
    assert text != responses.category_reply(category, "en")


def test_spanish_texts_are_written_with_accents() -> None:
    """Spanish is not stripped to GSM-7: most Spanish texts carry an accent or ¿ (and pay UCS-2 for it)."""
    spanish = [responses.category_reply(c, "es") for c in CRISIS_CATEGORIES]
    assert sum(bool(ACCENTED & set(text)) for text in spanish) >= len(spanish) - 1


def test_emergencies_name_911_first_and_each_category_its_own_line() -> None:
    """A fall or a stroke is sent to 911, not to 988; abuse gets the hotline or APS."""
    assert "911" in responses.category_reply("medical_emergency", "en").split(".")[0]
    assert "988" not in responses.category_reply("medical_emergency", "en")
    assert "1-800-799-7233" in responses.category_reply("abuse_of_caregiver", "en")
    assert "88788" in responses.category_reply("abuse_of_caregiver", "en")
    assert "1-800-677-1116" in responses.category_reply("abuse_of_recipient", "en")
    assert "they" in responses.category_reply("suicide_other", "en")


def test_every_crisis_text_fits() -> None:
    """Questions, answers and follow-ups: English one segment, Spanish at most two."""
    for text in responses.all_texts():
        assert segments(text) <= (1 if is_gsm7(text) else 2), text
