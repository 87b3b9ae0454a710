"""Golden conversation transcripts: a file a person can read and write, parsed and written back.

A transcript is one caregiver's conversation with the line (``tests/e2e/golden/*.txt``)::

    # What this transcript checks, in a sentence or two (the header: any ``#`` lines on top).
    # phone: +14155550123          (optional: else a number derived from the file's name)

    > what the caregiver texts
    < a reply the line sends
    < another reply to the same message (as many ``<`` lines as replies)
    > a message that must get no reply at all
    < (no reply)
    ~ 10 min later                 (every service's clock moves ahead; replies it causes follow)

A reply that holds a line break goes on as ``| next line``. ``#`` and blank lines anywhere are
kept where they are when the file is written back from what the line really sent
(``make golden-update``); a ``>`` line with no ``<`` line after it is not recorded yet.

The harness texts from a number of the transcript's own and gives every message a MessageSid
derived from the transcript's name, the text and how many times that text came before in it:
the rules agent seeds its wording by message id, so a replay gets the same words, and adding a
line elsewhere in the file does not change the ids of the others.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Literal

NO_REPLY = "(no reply)"
_PHONE_HEADER = re.compile(r"^#\s*phone:\s*(\+\d{7,15})\s*$", re.IGNORECASE)
_WAIT = re.compile(r"^(\d+(?:\.\d+)?)\s*(s|sec|seconds?|m|min|minutes?|h|hours?|d|days?)\b", re.IGNORECASE)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class TranscriptError(ValueError):
    """A transcript file that cannot be read: the message names the file and the line."""


@dataclass(frozen=True)
class Step:
    """One thing that happens: the caregiver texts (``>``) or time passes (``~``).

    ``replies`` is what the line sends in answer (in order); None when the file records nothing
    yet. ``before`` holds the comment and blank lines written above the step, as written.
    """

    kind: Literal["text", "wait"]
    text: str
    replies: tuple[str, ...] | None = None
    before: tuple[str, ...] = ()

    @property
    def wait(self) -> timedelta:
        """How far a ``~`` step moves the clock."""
        match = _WAIT.match(self.text)
        if match is None:  # parse() checked it
            raise TranscriptError(f"not a wait: {self.text!r}")
        return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)[0].lower()])


@dataclass(frozen=True)
class Transcript:
    name: str
    header: tuple[str, ...]
    steps: tuple[Step, ...]
    trailer: tuple[str, ...] = ()

    @property
    def phone(self) -> str:
        """The number the caregiver texts from: the header's, or one derived from the name."""
        for line in self.header:
            if match := _PHONE_HEADER.match(line.strip()):
                return match.group(1)
        return derived_phone(self.name)

    @property
    def moves_clock(self) -> bool:
        return any(step.kind == "wait" for step in self.steps)

    def message_sids(self) -> list[str | None]:
        """The MessageSid of each step (None for a ``~`` step), stable across runs."""
        seen: dict[str, int] = {}
        sids: list[str | None] = []
        for step in self.steps:
            if step.kind != "text":
                sids.append(None)
                continue
            seen[step.text] = seen.get(step.text, 0) + 1
            digest = hashlib.sha256(f"{self.name}\n{step.text}\n{seen[step.text]}".encode()).hexdigest()
            sids.append("SM" + digest[:32])
        return sids

    def with_replies(self, replies: list[tuple[str, ...]]) -> Transcript:
        """The same transcript with each step's replies replaced (what the line really sent)."""
        if len(replies) != len(self.steps):
            raise ValueError(f"{len(replies)} reply lists for {len(self.steps)} steps")
        return replace(
            self, steps=tuple(replace(s, replies=r) for s, r in zip(self.steps, replies, strict=True))
        )


def derived_phone(name: str) -> str:
    """A fictional North American number (415-555-xxxx) of the transcript's own."""
    number = int(hashlib.sha256(name.encode()).hexdigest(), 16) % 10_000
    return f"+1415555{number:04d}"


def parse(text: str, name: str) -> Transcript:
    """Read a transcript; ``name`` (the file's stem) seeds its phone number and message ids."""
    header: list[str] = []
    pending: list[str] = []  # comment and blank lines waiting for the next step
    steps: list[Step] = []
    replies: list[str] | None = None

    def close_step() -> None:
        if steps and replies is not None:
            steps[-1] = replace(steps[-1], replies=tuple(replies))

    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip("\r")
        where = f"{name}:{number}"
        if line.startswith(">") or line.startswith("~"):
            close_step()
            kind: Literal["text", "wait"] = "text" if line.startswith(">") else "wait"
            body = line[1:].removeprefix(" ")
            if kind == "wait" and _WAIT.match(body) is None:
                raise TranscriptError(f"{where}: a wait is a number and a unit, as in '~ 10 min later'")
            if kind == "text" and not body.strip():
                raise TranscriptError(f"{where}: an empty message")
            steps.append(Step(kind, body, None, tuple(pending)))
            pending, replies = [], None
        elif line.startswith("<"):
            if not steps or pending:
                raise TranscriptError(f"{where}: a reply must follow a '>' or '~' line or another reply")
            body = line[1:].removeprefix(" ")
            replies = replies if replies is not None else []
            if body == NO_REPLY:
                if replies or steps[-1].kind != "text":
                    raise TranscriptError(f"{where}: '{NO_REPLY}' stands alone, under a '>' line")
                replies.append(NO_REPLY)
            else:
                if NO_REPLY in replies:
                    raise TranscriptError(f"{where}: a reply after '{NO_REPLY}'")
                replies.append(body)
        elif line.startswith("|"):
            if not replies or replies[-1] == NO_REPLY or pending:
                raise TranscriptError(f"{where}: '|' continues the reply just above it")
            replies[-1] += "\n" + line[1:].removeprefix(" ")
        elif not line.strip() or line.startswith("#"):
            (pending if steps else header).append(line)
        else:
            raise TranscriptError(f"{where}: a line starts with '>', '<', '|', '~' or '#' (or is blank)")
    close_step()
    fixed = [replace(s, replies=()) if s.replies == (NO_REPLY,) else s for s in steps]
    return Transcript(name, tuple(header), tuple(fixed), tuple(pending))


def render(transcript: Transcript) -> str:
    """The file's text: what :func:`parse` reads back as the same transcript."""
    lines = list(transcript.header)
    for step in transcript.steps:
        lines.extend(step.before)
        lines.append(f"{'>' if step.kind == 'text' else '~'} {step.text}")
        if step.replies is None:
            continue
        if not step.replies and step.kind == "text":
            lines.append(f"< {NO_REPLY}")
        for reply in step.replies:
            first, *more = reply.split("\n")
            lines.append(f"< {first}")
            lines.extend(f"| {line}" for line in more)
    lines.extend(transcript.trailer)
    return "\n".join(lines) + "\n"


def difference(transcript: Transcript, sent: list[tuple[str, ...]]) -> str | None:
    """A unified diff of the transcript's file against what the line sent (one tuple of replies
    per step), or None when they agree; a ``>`` line with nothing recorded under it never agrees."""
    unrecorded = any(step.replies is None for step in transcript.steps if step.kind == "text")
    if not unrecorded and [step.replies or () for step in transcript.steps] == sent:
        return None
    diff = difflib.unified_diff(
        render(transcript).splitlines(),
        render(transcript.with_replies(sent)).splitlines(),
        f"golden/{transcript.name}.txt",
        "what the line sent",
        lineterm="",
    )
    note = ["a '>' line has no '<' line under it: run `make golden-update`"] if unrecorded else []
    return "\n".join([*note, *diff])


def load(path: Path) -> Transcript:
    return parse(path.read_text(encoding="utf-8"), path.stem)


def load_all(folder: Path) -> list[Transcript]:
    """Every ``*.txt`` transcript in ``folder``, by name; two with the same number are refused."""
    transcripts = [load(path) for path in sorted(folder.glob("*.txt"))]
    owners: dict[str, str] = {}
    for transcript in transcripts:
        other = owners.setdefault(transcript.phone, transcript.name)
        if other != transcript.name:
            raise TranscriptError(
                f"{transcript.name} and {other} text from the same number {transcript.phone}: "
                "give one a '# phone: +1...' header line"
            )
    return transcripts
