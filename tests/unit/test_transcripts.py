"""careline_testing.transcripts: the golden transcript format reads, writes back and compares."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from careline_platform.phone import is_e164
from careline_testing.transcripts import (
    NO_REPLY,
    TranscriptError,
    derived_phone,
    difference,
    load_all,
    parse,
    render,
)

GOLDEN = Path(__file__).resolve().parents[1] / "e2e" / "golden"
SAMPLE = """\
# What this checks.
# phone: +14155550123

> hi
< Welcome.
< What's your first name?
# a comment above a step stays above it
> STOP
< (no reply)
~ 10 min later
> two
< first line
| second line

"""


def test_a_transcript_reads_its_header_steps_replies_and_waits() -> None:
    transcript = parse(SAMPLE, "sample")
    assert transcript.phone == "+14155550123"
    assert [(s.kind, s.text, s.replies) for s in transcript.steps] == [
        ("text", "hi", ("Welcome.", "What's your first name?")),
        ("text", "STOP", ()),
        ("wait", "10 min later", None),
        ("text", "two", ("first line\nsecond line",)),
    ]
    assert transcript.steps[1].before == ("# a comment above a step stays above it",)
    assert transcript.steps[2].wait == timedelta(minutes=10)
    assert transcript.moves_clock


def test_rendering_gives_back_the_file_as_written() -> None:
    assert render(parse(SAMPLE, "sample")) == SAMPLE


@pytest.mark.parametrize("path", sorted(GOLDEN.glob("*.txt")), ids=lambda p: p.stem)
def test_every_golden_file_is_recorded_described_and_written_as_the_update_writes_it(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    transcript = parse(text, path.stem)
    assert render(transcript) == text  # `make golden-update` would change nothing but replies
    assert all(step.replies is not None for step in transcript.steps if step.kind == "text")
    assert any(line.startswith("# ") and len(line) > 20 for line in transcript.header), "no note"


def test_the_golden_folder_has_enough_transcripts_each_with_a_number_of_its_own() -> None:
    transcripts = load_all(GOLDEN)
    assert len(transcripts) >= 15
    assert len({t.phone for t in transcripts}) == len(transcripts)
    assert all(is_e164(t.phone) for t in transcripts)


@pytest.mark.parametrize(
    ("written", "seconds"),
    [("10 min later", 600), ("90s", 90), ("2 hours later", 7200), ("1 day", 86400), ("1.5h", 5400)],
)
def test_a_wait_is_a_number_and_a_unit(written: str, seconds: int) -> None:
    assert parse(f"> hi\n~ {written}\n", "w").steps[1].wait == timedelta(seconds=seconds)


def test_message_sids_are_stable_distinct_and_local_to_their_line() -> None:
    sids = parse("> hello\n> hello\n> bye\n", "a").message_sids()
    assert sids == parse("> hello\n> hello\n> bye\n", "a").message_sids()  # a replay matches
    assert len(set(sids)) == 3  # a repeated text is a new message
    assert all(s is not None and s.startswith("SM") and len(s) == 34 for s in sids)
    assert parse("> hello\n", "b").message_sids()[0] != sids[0]  # another transcript's own
    inserted = parse("> hello\n> new line\n> hello\n~ 1h\n> bye\n", "a").message_sids()
    assert [inserted[0], inserted[2], inserted[4]] == sids and inserted[3] is None


def test_a_derived_number_is_e164_and_depends_on_the_name_only() -> None:
    assert derived_phone("respite_60614") == derived_phone("respite_60614")
    assert is_e164(derived_phone("x")) and derived_phone("x").startswith("+1415555")
    assert parse("> hi\n", "x").phone == derived_phone("x")


def test_two_transcripts_with_one_number_are_refused(tmp_path: Path) -> None:
    for name in ("one", "two"):
        (tmp_path / f"{name}.txt").write_text("# phone: +14155550100\n> hi\n< hello\n")
    with pytest.raises(TranscriptError, match="same number"):
        load_all(tmp_path)


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("< hello\n", "must follow"),
        ("> hi\n\n< hello\n", "must follow"),
        ("> hi\n~ soon\n", "a wait is a number"),
        ("> hi\nhello\n", "a line starts with"),
        ("> hi\n< (no reply)\n< hello\n", "a reply after"),
        ("> hi\n< hello\n< (no reply)\n", "stands alone"),
        ("> hi\n| more\n", "continues the reply"),
        (">   \n", "an empty message"),
    ],
)
def test_a_malformed_line_is_named_with_its_file_and_line(text: str, complaint: str) -> None:
    with pytest.raises(TranscriptError, match=complaint) as error:
        parse(text, "bad")
    assert str(error.value).startswith("bad:")


def test_the_difference_is_none_when_the_line_sent_what_the_file_says() -> None:
    transcript = parse(SAMPLE, "sample")
    sent = [("Welcome.", "What's your first name?"), (), (), ("first line\nsecond line",)]
    assert difference(transcript, sent) is None


def test_a_different_reply_shows_as_a_unified_diff_of_the_file() -> None:
    transcript = parse(SAMPLE, "sample")
    sent = [("Welcome.", "What's your name?"), ("Bye.",), (), ("first line\nsecond line",)]
    diff = difference(transcript, sent)
    assert diff is not None
    lines = diff.splitlines()
    assert lines[:2] == ["--- golden/sample.txt", "+++ what the line sent"]
    assert "-< What's your first name?" in lines and "+< What's your name?" in lines
    assert f"-< {NO_REPLY}" in lines and "+< Bye." in lines


def test_an_unrecorded_message_never_agrees_and_says_how_to_record_it() -> None:
    transcript = parse("> hi\n", "new")
    diff = difference(transcript, [("Welcome.",)])
    assert diff is not None and "make golden-update" in diff and "+< Welcome." in diff
    assert render(transcript.with_replies([("Welcome.",)])) == "> hi\n< Welcome.\n"
    assert render(transcript.with_replies([()])) == f"> hi\n< {NO_REPLY}\n"
