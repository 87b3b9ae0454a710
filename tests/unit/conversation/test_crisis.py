"""Crisis detection: the older labelled table is still caught, tiers and categories, disguises, odd input.

The evaluation sets in ``evals/crisis`` decide quality (``test_crisis_eval.py``); this table is
the regression set from before the categories were split.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from careline_conversation.safety.crisis import LABELS, CrisisMatch, detect
from careline_conversation.safety.normalise import english as normalise

TABLE = Path(__file__).resolve().parents[1] / "data" / "crisis_cases.csv"
MAX_FALSE_ALARM_RATE = 0.10
# the table's older, coarser categories, and the new ones each may become
COARSE = {
    "suicide": {"suicide_self", "suicide_other"},
    "self_harm": {"suicide_self", "suicide_other"},
    "abuse": {"abuse_of_caregiver", "abuse_of_recipient"},
    "harm_to_others": {"harm_to_others"},
    "medical_emergency": {"medical_emergency", "suicide_self", "suicide_other"},
}
MIN_CATEGORY_AGREEMENT = 0.90


def load_table() -> tuple[list[tuple[str, str]], list[str]]:
    """(crisis rows with their category, non-crisis rows) from the labelled table."""
    with TABLE.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    crisis = [(row["text"], row["category"]) for row in rows if row["label"] == "crisis"]
    calm = [row["text"] for row in rows if row["label"] == "none"]
    assert len(crisis) + len(calm) == len(rows), "every row is labelled crisis or none"
    return crisis, calm


CRISIS_ROWS, CALM_ROWS = load_table()


def test_table_is_big_and_covers_every_category() -> None:
    """At least 100 rows: 50 crises spread over all five categories, and 50 look-alikes."""
    assert len(CRISIS_ROWS) + len(CALM_ROWS) >= 100
    assert len(CRISIS_ROWS) >= 50
    assert len(CALM_ROWS) >= 50
    assert {category for _, category in CRISIS_ROWS} == set(COARSE)


def test_recall_is_total_and_false_alarms_are_rare(capsys: pytest.CaptureFixture[str]) -> None:
    """Every crisis row is detected; at most 10% of the look-alikes raise a false alarm."""
    misses = [text for text, _ in CRISIS_ROWS if detect(text) is None]
    alarms = [text for text in CALM_ROWS if detect(text) is not None]
    recall = 1 - len(misses) / len(CRISIS_ROWS)
    alarm_rate = len(alarms) / len(CALM_ROWS)
    with capsys.disabled():
        print(
            f"\ncrisis table: {len(CRISIS_ROWS)} crisis rows, recall {recall:.1%}; "
            f"{len(CALM_ROWS)} look-alikes, false alarms {len(alarms)} ({alarm_rate:.1%})"
        )
        for text in alarms:
            print(f"  false alarm (accepted): {text!r}")
    assert not misses, "missed crisis messages:\n" + "\n".join(misses)
    assert alarm_rate <= MAX_FALSE_ALARM_RATE, "too many false alarms:\n" + "\n".join(alarms)


def test_detected_category_matches_the_label_for_most_rows() -> None:
    """The category names what the caregiver said for at least 90% of crisis rows."""
    matches = [(text, category, detect(text)) for text, category in CRISIS_ROWS]
    wrong = [
        f"{text!r}: {found} (labelled {category})"
        for text, category, found in matches
        if found is None or found.category not in COARSE[category]
    ]
    agreement = 1 - len(wrong) / len(matches)
    assert agreement >= MIN_CATEGORY_AGREEMENT, "\n".join(wrong)


def test_match_label_is_a_fixed_label_never_the_message() -> None:
    """What matched is reported as one of the fixed labels, never the caregiver's words."""
    for text, _ in CRISIS_ROWS:
        match = detect(text)
        assert match is not None
        assert match.pattern in LABELS
        assert len(text) <= len(match.pattern) or text not in match.pattern
    match = detect("Bartholomew at 555-0101 here, I want to die")
    assert match == CrisisMatch("suicide_self", "explicit", "en", "want to die")


@pytest.mark.parametrize(
    "text",
    [
        "this paperwork is killing me and I want to die",
        "my feet are killing me and he hits me",
        "It finally hit me. He hit me again last night",
        "I hit him up about Saturday. I'm going to hurt him",
        "I'm dying of laughter but honestly I wish I was dead",
    ],
)
def test_an_idiom_excuses_only_its_own_words(text: str) -> None:
    """A look-alike idiom in a message never hides a real signal elsewhere in it."""
    assert detect(text) is not None


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("kms", "suicide_self"),
        ("kys", "suicide_self"),
        ("thinking about suicde", "suicide_self"),
        ("thinking about sucide", "suicide_self"),
        ("i wanna die", "suicide_self"),
        ("dont want to be here anymore", "suicide_self"),
        ("my husband says he wants to end it", "suicide_other"),
        ("mom keeps saying she wants to die", "suicide_other"),
        ("the aide slapped mom", "abuse_of_recipient"),
        ("my brother is draining dads bank account", "abuse_of_recipient"),
        ("im scared im going to hurt her", "harm_to_others"),
        ("me quiero morir", "suicide_self"),
        ("mi esposo dice que se va a quitar la vida", "suicide_other"),
        ("mi mamá se cayó y no se puede levantar", "medical_emergency"),
        ("mi esposo me pega", "abuse_of_caregiver"),
        ("la cuidadora le pega a mi papá", "abuse_of_recipient"),
        ("tengo miedo de hacerle daño a mi mamá", "harm_to_others"),
        ("going to end it all", "suicide_self"),
        ("they'd be better off without me", "suicide_self"),
        ("i want to hurt myself", "suicide_self"),
        ("cutting myself again", "suicide_self"),
        ("he took an overdose", "medical_emergency"),
        ("i think dad od", "medical_emergency"),
        ("he hits me", "abuse_of_caregiver"),
        ("hit me", "abuse_of_caregiver"),
        ("I'm afraid he will hurt me", "abuse_of_caregiver"),
        ("she's not breathing", "medical_emergency"),
        ("chest pain", "medical_emergency"),
        ("I think mom is having a stroke", "medical_emergency"),
        ("dad fell and can't get up", "medical_emergency"),
        ("the worst headache of my life", "medical_emergency"),
        ("I'm going to hurt him", "harm_to_others"),
        ("kill him", "harm_to_others"),
        ("K!LL MYSELF", "suicide_self"),
        ("I want to diiiiie", "suicide_self"),
        ("she\u2019s not breathing \U0001f62d", "medical_emergency"),
    ],
)
def test_phrasings_from_the_brief(text: str, category: str) -> None:
    """Shorthand, misspellings, repeated letters and curly quotes still match, in the right category."""
    match = detect(text)
    assert match is not None
    assert match.category == category


@pytest.mark.parametrize(
    "text",
    [
        "this is killing me, the paperwork",
        "my feet are killing me",
        "I could kill for a coffee",
        "dying to see the new movie",
        "dead tired",
        "the battery died",
        "I'm dying of laughter \U0001f602",
        "overdue bills",
        "a killer headache",
        "Stop",
        "HELP",
        "I need help with mom",
    ],
)
def test_look_alikes_from_the_brief(text: str) -> None:
    """Everyday idioms with kill, die, dead and hurt are not a crisis."""
    assert detect(text) is None


@pytest.mark.parametrize(
    ("text", "normalised"),
    [
        ("KILLLL", "kil"),
        ("I can't, she's, we'll, I'd", "i can not she is we wil i would"),
        ("k!ll su1c1de", "kil suicide"),
        ("k\u0456ll my\u00adself", "kil myself"),
        ("su1c1d3 d13", "suicide die"),
        ("k i l l  m y s e l f", "kil myself"),  # a double space keeps the words apart
        ("800mg at 3am, 84yo, zip 10001", "800mg at 3am 84yo zip 10001"),
        ("ki\u200bll m\u200dyself \u202e", "kil myself"),
        ("u r   gonna", "you are going to"),
        ("I feel... it fell", "i feel it fel"),
        ("Naïve café", "naive cafe"),
    ],
)
def test_normalise(text: str, normalised: str) -> None:
    """Case, punctuation, contractions, leetspeak, letter runs and shorthand are evened out."""
    assert normalise(text) == normalised


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   \n\t ",
        "\U0001f600\U0001f64f\U0001f3fd\u200d\u2642\ufe0f" * 50,
        "\x00\x1b[31m\x7f",
        "\u0645\u0627\u0645\u0627 \u4f60\u597d \u0416\u0435\u043d\u044f",
        "'''''",
        "a" * 100_000,
        ("Mom had a rough day at the clinic and the paperwork never ends. " * 25)[:1600],
    ],
)
def test_odd_and_huge_input_is_handled(text: str) -> None:
    """Empty, emoji-only, control characters, other scripts and very long text: no error, no alarm."""
    assert detect(text) is None


def test_signal_at_the_end_of_a_long_message_is_found() -> None:
    """A long message with the danger in its last words is still a crisis."""
    text = "Mom had a rough day at the clinic and the paperwork never ends. " * 24 + "I want to die."
    assert len(text) > 1_500
    assert detect(text) == CrisisMatch("suicide_self", "explicit", "en", "want to die")


@pytest.mark.parametrize(
    ("text", "tier", "category", "language"),
    [
        ("i want to die", "explicit", "suicide_self", "en"),
        ("they'd be fine without me around", "indirect", "suicide_self", "en"),
        ("there's nothing left for me", "indirect", "suicide_self", "en"),
        ("i've said my goodbyes", "indirect", "suicide_self", "en"),
        ("my husband says he wants to end it", "explicit", "suicide_other", "en"),
        ("i have all of her oxy in front of me \U0001f62d", "explicit", "suicide_self", "en"),
        ("ya no quiero vivir", "explicit", "suicide_self", "es"),
        ("soy una carga para todos", "indirect", "suicide_self", "es"),
    ],
)
def test_tier_category_and_language(text: str, tier: str, category: str, language: str) -> None:
    """Plans, means and intent are explicit; hopelessness and burden indirect; the words name the language."""
    match = detect(text)
    assert match is not None
    assert (match.tier, match.category, match.language) == (tier, category, language)


@pytest.mark.parametrize(
    "text",
    [
        "tylenol 500mg for mom's back, how much can she take?",
        "picked up her 800mg ibuprofen refill",
        "I'm so tired of living with my mother in law",
        "the cancer is slowly killing dad",
        "we called 911 last month when she fell, she's fine now",
    ],
)
def test_means_words_and_history_alone_are_not_a_crisis(text: str) -> None:
    """A medicine, a dose or a past emergency without distress or intent is ordinary caregiving."""
    assert detect(text) is None
