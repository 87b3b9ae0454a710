"""Hearing that the person cared for has died: conservative, in English and Spanish, with near-misses."""

from __future__ import annotations

import pytest

from careline_conversation.domain.loss import reply, reports_loss
from careline_conversation.safety.catalogue import unknown_contacts
from careline_conversation.safety.sizing import segments


@pytest.mark.parametrize(
    "text",
    [
        "mom passed away last night", "My mom passed away last night", "my husband died",
        "dad died this morning",
        "He died.", "Mom just passed", "my wife passed away in her sleep", "we lost her on sunday",
        "my husband passed last week and i dont know what to do with myself", "I can't believe mom died",
        "She passed away peacefully at 3am", "Passed away last night, she was 91", "dad passed on",
        "mi mamá falleció", "mi mama fallecio anoche", "mi papa murio esta manana", "Se murió mi papá hoy",
        "falleció mi abuela anoche", "perdi a mi esposo la semana pasada", "mi esposo acaba de fallecer",
    ],
)  # fmt: skip
def test_a_death_told_as_a_fact_is_a_loss(text: str) -> None:
    assert reports_loss(text)


@pytest.mark.parametrize(
    "text",
    [
        # dying is not dead, and a caregiver's own exhaustion is not a death
        "I feel like I'm dying", "she's dying", "he's dying of cancer", "I'm dying of exhaustion",
        "me muero de cansancio", "se está muriendo", "siento que me muero",
        # fears, hypotheticals, dreams, near misses
        "what if she died while I was out", "I'm scared mom will die", "she almost died last night",
        "I dreamt mom died", "I thought he had died", "casi se murió", "tengo miedo de que se muera",
        "mi mamá no se murió", "she didn't die",
        # someone else's loss, an old loss, things that are not people
        "my friend's mom passed away", "her mom died last week", "su mamá falleció",
        "mom died 5 years ago and now I care for dad", "since dad died I care for mom",
        "after my husband died, my mother moved in", "mi mamá murió hace 5 años",
        "my phone died", "the dog died", "the battery died last night", "he died his hair",
        # other senses of "passed" and "gone"
        "she passed out", "he passed the test", "mom passed on the stairs", "she is gone",
        "we lost her purse",
    ],
)  # fmt: skip
def test_near_misses_are_not_a_loss(text: str) -> None:
    assert not reports_loss(text)


@pytest.mark.parametrize("lang", ["en", "es"])
@pytest.mark.parametrize("name", [None, "Ana", "María José"])
def test_the_reply_offers_grief_support_stops_check_ins_and_fits_three_segments(
    lang: str, name: str | None
) -> None:
    text = reply(lang, name)  # type: ignore[arg-type]
    assert segments(text) <= 3 and unknown_contacts(text) == []
    assert "caregiver.org" in text and "988" in text
    assert ("RESUME" if lang == "en" else "REANUDAR") in text
    assert (
        (name in text)
        if name
        else text.startswith(("I'm so sorry for your loss.", "Siento mucho tu pérdida."))
    )


def test_a_name_too_long_to_fit_is_left_out_rather_than_splitting_the_reply() -> None:
    text = reply("es", "María Guadalupe de los Ángeles Fernández")
    assert segments(text) <= 3 and "Guadalupe" not in text
