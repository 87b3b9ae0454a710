"""SMS segments: GSM-7 and UCS-2 boundaries, replies that fit, and text that stays GSM-7."""

from __future__ import annotations

import pytest

from careline_conversation.domain import replies
from careline_conversation.safety.sizing import fit, is_gsm7, normalise_for_gsm, segments

EMOJI = "\U0001f49b"  # yellow heart: outside the BMP, a surrogate pair in UTF-16


@pytest.mark.parametrize(
    ("text", "count"),
    [
        ("", 0),
        ("a", 1),
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("a" * 459, 3),
        ("a" * 460, 4),
        ("€" * 80, 1),  # extension characters count 2: 160 septets
        ("€" * 80 + "a", 2),
        ("[" * 80, 1),
        ("a" * 159 + "]", 2),
        ("a" * 152 + "{" + "a" * 152, 3),  # an escape pair is never split across parts
        ("é" * 161, 2),  # é is in the GSM-7 basic table
        ("ç" * 70, 1),  # ç is not: UCS-2
        ("ç" * 71, 2),
        ("ç" * 134, 2),
        ("ç" * 135, 3),
        ("a" * 69 + "\u2019", 1),  # one curly apostrophe makes the whole text UCS-2
        ("a" * 70 + "\u2019", 2),
        (EMOJI * 35, 1),  # 70 UTF-16 code units
        (EMOJI * 35 + "a", 2),
        ("a" + EMOJI * 34 + "a", 1),  # 70 code units
        ("a" + EMOJI * 35, 2),
        (EMOJI * 67, 3),  # a surrogate pair is never split: 67 units hold 33 pairs, not 33.5
    ],
)
def test_segments(text: str, count: int) -> None:
    """Single and concatenated limits for GSM-7 (160/153) and UCS-2 (70/67)."""
    assert segments(text) == count


def test_gsm7_alphabet() -> None:
    """Basic and extension characters are GSM-7; curly quotes, emoji and ç are not."""
    assert is_gsm7("Hello @ £5, 100% ok? [yes] {no} ~ | ^ € \\ ÄÖÑÜ äöñüà\n")
    for char in ("\u2019", "\u201c", "\u2014", "\u2026", "ç", EMOJI, "\t", "`"):
        assert not is_gsm7(char), char


@pytest.mark.parametrize(
    "text",
    [
        "Short enough.",
        "Caring for someone is hard. " * 40,
        "word " * 200,
        "x" * 2000,
        "Caring for someone is hard \u2014 you\u2019re doing more than you know. " * 20,
        "We\u2019re here for you " + EMOJI + ". " * 200,
        ("Take a breath" + EMOJI + " ") * 60,
        "€" * 500,
        "One very long sentence without a stop " * 30,
    ],
)
@pytest.mark.parametrize("max_segments", [1, 2, 3])
def test_fit_never_exceeds_the_limit(text: str, max_segments: int) -> None:
    """Whatever the text and encoding, the fitted text fits, and a text that fits is untouched."""
    fitted = fit(text, max_segments)
    assert segments(fitted) <= max_segments
    if segments(text) <= max_segments:
        assert fitted == text
    else:
        assert text.startswith(fitted.removesuffix("...").removesuffix("\u2026"))


def test_fit_prefers_a_whole_sentence() -> None:
    """A reply with sentences is cut after a sentence, without an ellipsis."""
    text = "That sounds exhausting. " * 30
    fitted = fit(text, 1)
    assert fitted.endswith("exhausting.")
    assert segments(fitted) == 1


def test_fit_cuts_at_a_word_with_three_dots_in_gsm7() -> None:
    """Without a sentence end, the cut falls between words and ends with '...' (GSM-7 stays GSM-7)."""
    fitted = fit("caring " * 100, 1)
    assert fitted.endswith("caring...")
    assert is_gsm7(fitted)
    assert len(fitted) <= 160


def test_fit_uses_the_ellipsis_character_only_in_ucs2() -> None:
    """A UCS-2 text may end with '…'; it costs one code unit where '...' costs three."""
    fitted = fit(EMOJI + " caring" * 100, 1)
    assert fitted.endswith("caring\u2026")
    assert segments(fitted) == 1


def test_fit_rejects_zero_segments() -> None:
    """Asking for no segments at all is a programming error."""
    with pytest.raises(ValueError, match="at least 1"):
        fit("hello", 0)


def test_normalise_for_gsm_keeps_ai_text_in_gsm7() -> None:
    """Curly quotes, dashes, ellipses and odd spaces become their GSM-7 look-alikes."""
    ai_text = (
        "\u201cYou\u2019re doing great\u201d \u2014 take a moment\u2026\u00a0really\u2009\u2013 \u2022 "
        "na\u00efve"
    )
    normalised = normalise_for_gsm(ai_text)
    assert normalised == '"You\'re doing great" - take a moment... really - - naive'
    assert is_gsm7(normalised)


def test_normalise_for_gsm_leaves_emoji_and_gsm_text_alone() -> None:
    """Emoji stay (and cost UCS-2); text that is already GSM-7 comes back unchanged."""
    assert normalise_for_gsm("Hi " + EMOJI) == "Hi " + EMOJI
    assert normalise_for_gsm("Ça va? €5 [ok]") == "Ça va? €5 [ok]"


def test_fixed_replies_fit() -> None:
    """The confirmations are one GSM-7 segment; HELP is at most two (crisis texts: test_crisis_texts)."""
    assert segments(replies.text("help")) <= 2
    assert segments(replies.text("stop")) == 1
    assert segments(replies.text("start")) == 1
    assert all(is_gsm7(text) for text in (replies.text("help"), replies.text("stop"), replies.text("start")))
