"""The language detector (lingua, English and Spanish): built once, reads caregivers' texts."""

from __future__ import annotations

import pytest

from careline_conversation.language.detector import detect_in_thread, detect_language, detector, words


def test_the_detector_is_built_once_per_process() -> None:
    assert detector() is detector()


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("estoy muy cansada", "es"),
        ("mi mama no quiere comer nada desde ayer", "es"),
        ("k ago con mi mama q no duerme", "es"),
        ("she keeps asking for her mother at sundown", "en"),
        ("my mom keeps yeling at night", "en"),
    ],
)
def test_a_caregivers_text_is_read_in_its_language(text: str, code: str) -> None:
    found = detect_language(text)
    assert found.language == code and found.decisive


def test_emojis_digits_and_links_are_not_words() -> None:
    assert words("mi zip es 60614 😭 https://example.org/x") == ["mi", "zip", "es"]
    assert words("I'm ok") == ["I'm", "ok"]
    empty = detect_language("😭🙏 123")
    assert empty.language is None and empty.words == 0 and not empty.decisive


@pytest.mark.asyncio
async def test_the_handler_asks_off_the_event_loop() -> None:
    assert (await detect_in_thread("necesito ayuda con mi papa")).language == "es"
