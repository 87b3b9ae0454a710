"""Re-driving dead letters: choosing them, publishing them again, and who acts on them.

A consumer that gives up on a message parks it in DEAD_LETTERS (``messaging``). Once the cause
is fixed, an operator re-drives it (``careline deadletters redrive``, or the admin API and its
dashboard button): the letter's payload is published again on its original subject under a new
``Nats-Msg-Id``, with the original id in ``REDRIVE_OF`` and the consumer that gave up in
``REDRIVE_FOR``/``REDRIVE_DURABLE`` (``careline_contracts.deadletter``).

Who publishes: the service that owns the original subject's stream, the only identity NATS lets
publish there (``careline_contracts.access``). The CLI (as ``operator``) and ingress's admin API
choose the letters (:func:`choose`, reading DEAD_LETTERS by sequence number, which both may) and
ask the owner ``admin.<owner>.deadletter_redrive`` with the letter's sequence number only; the
owner reads the letter itself (:class:`Redriver`). So no new publish permission exists, and
nobody can have an arbitrary payload "re-driven": only what a consumer really dead-lettered,
and only the consumer that wrote the letter (its ``deadletter.<service>.>`` subject is its own)
acts on it.

On the consuming side (``messaging.ConsumerPolicy``) the original id stands for the message's
id, so the processed-message record of the first handling (or of an earlier re-drive) makes a
re-drive change nothing; consumers other than the named one ack it and skip it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from pydantic import ValidationError

from careline_contracts import subjects
from careline_contracts.admin import DeadLetterRedriven, RedriveDeadLetter
from careline_contracts.deadletter import (
    JOB_SUBJECT_PREFIX,
    REDRIVE_DURABLE,
    REDRIVE_FOR,
    REDRIVE_OF,
    DeadLetter,
)
from careline_contracts.http import RedriveOutcome
from careline_platform.admin import Refused
from careline_platform.logging import fingerprint, get_logger
from careline_platform.publishing import Publisher
from careline_platform.services import SERVICE_NAMES

__all__ = ["Chosen", "Outcome", "Redriver", "Selection", "choose", "not_redrivable", "owner_of", "redrive"]

log = get_logger(__name__)
SCAN_MAX = 20_000
"""The most DEAD_LETTERS messages one choice reads (newest first)."""
SINCE_SLACK = timedelta(minutes=5)
"""Letters are appended as they die, so a scan stops at the first one this much before ``since``
(two replicas' clocks and publish retries can put a letter slightly out of order)."""


@dataclass(frozen=True)
class Selection:
    """Which letters: every given criterion must hold (ids and seqs: any of them)."""

    ids: tuple[str, ...] = ()
    seqs: tuple[int, ...] = ()
    subject: str | None = None
    since: datetime | None = None
    services: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not (self.ids or self.seqs or self.subject or self.since):
            raise ValueError("choose dead letters by id, sequence number, subject or time")

    def matches(self, seq: int, letter: DeadLetter) -> bool:
        if (self.ids or self.seqs) and letter.msg_id not in self.ids and seq not in self.seqs:
            return False
        if self.subject and not (
            subjects.subject_matches(self.subject, letter.subject)
            or subjects.subject_matches(f"{self.subject}.*", letter.subject)  # a base: any partition
        ):
            return False
        if self.since is not None and letter.dead_at < self.since:
            return False
        return not self.services or letter.service in self.services


def owner_of(letter: DeadLetter) -> str | None:
    """The service that may publish the letter's original subject."""
    stream = subjects.stream_of(letter.subject)
    return stream.owner if stream is not None and stream.owner in SERVICE_NAMES else None


def not_redrivable(letter: DeadLetter) -> str | None:
    """Why a letter cannot be re-driven, or None."""
    if letter.subject.startswith(JOB_SUBJECT_PREFIX):
        return "a dead job: retry it with `careline jobs retry` or the dashboard"
    if letter.service not in SERVICE_NAMES:
        return f"unknown service {letter.service!r}"
    if owner_of(letter) is None:
        return f"no stream captures {letter.subject}"
    return None


@dataclass(frozen=True)
class Chosen:
    """A letter chosen for a re-drive, at its DEAD_LETTERS sequence number."""

    seq: int
    letter: DeadLetter
    skip: str | None = None
    """Why it will not be re-driven (a dead job, a newer letter of the same message)."""


@dataclass
class _Seen:
    chosen: list[Chosen] = field(default_factory=list)
    consumers: set[tuple[str, str | None, str]] = field(default_factory=set)


async def choose(js: JetStreamContext, selection: Selection, limit: int) -> list[Chosen]:
    """The letters of DEAD_LETTERS that ``selection`` names, newest first, at most ``limit``.

    Read one by one by sequence number (no consumer is left on the server). A message
    dead-lettered more than once (re-driven while still failing) is chosen once, at its newest
    letter; the older ones are listed as skipped. Raises ``NotFoundError`` when the stream does
    not exist.
    """
    info = await js.stream_info(subjects.DEAD_LETTERS.name)
    first, last = max(int(info.state.first_seq or 0), 1), int(info.state.last_seq or 0)
    seen = _Seen()
    stop_before = scan_floor(selection.since)
    wanted_seqs = sorted(set(selection.seqs), reverse=True)
    scan = wanted_seqs if selection.seqs and not selection.ids else range(last, first - 1, -1)
    for read, seq in enumerate(scan):
        if read >= SCAN_MAX or len(seen.chosen) >= limit:
            break
        if not first <= seq <= last:
            continue
        letter = await _letter_at(js, seq)
        if letter is None:
            continue
        if stop_before is not None and letter.dead_at < stop_before:
            break
        if selection.matches(seq, letter):
            key = (letter.service, letter.durable, letter.msg_id)
            skip = "an older letter of a message chosen above" if key in seen.consumers else None
            seen.consumers.add(key)
            seen.chosen.append(Chosen(seq, letter, skip or not_redrivable(letter)))
    return seen.chosen


def scan_floor(since: datetime | None) -> datetime | None:
    """Where a newest-first scan may stop: ``SINCE_SLACK`` before ``since`` (None: read on)."""
    if since is None or since - datetime.min.replace(tzinfo=since.tzinfo) <= SINCE_SLACK:
        return None  # the year 1 asks for everything, and has no five minutes before it
    return since - SINCE_SLACK


async def _letter_at(js: JetStreamContext, seq: int) -> DeadLetter | None:
    try:
        msg = await js.get_msg(subjects.DEAD_LETTERS.name, seq=seq)
    except NotFoundError:  # deleted (an erasure) or expired meanwhile
        return None
    return _as_letter(msg.subject or "", msg.data or b"")


def _as_letter(subject: str, data: bytes) -> DeadLetter | None:
    """The letter, if it is one and was written by the service it names (only that service may
    publish under ``deadletter.<service>.``)."""
    try:
        letter = DeadLetter.model_validate_json(data)
    except (ValidationError, json.JSONDecodeError):
        return None
    if not subject.startswith(f"{subjects.DEAD_LETTER_PREFIX}.{letter.service}."):
        return None
    return letter


Ask = Callable[[str, RedriveDeadLetter], Awaitable[DeadLetterRedriven]]
"""Asks ``admin.<owner>.deadletter_redrive``: the owner service, the request; the reply. Raises
with a message fit to show when the owner refuses or does not answer."""


@dataclass(frozen=True)
class Outcome:
    """What became of one chosen letter."""

    seq: int
    letter: DeadLetter
    outcome: RedriveOutcome
    """``would_redrive`` (a dry run), ``redriven``, ``skipped`` or ``failed``."""
    detail: str | None
    """The new message id, or why not."""


async def redrive(chosen: Sequence[Chosen], ask: Ask, by: str, *, dry_run: bool) -> list[Outcome]:
    """Re-drive each chosen letter that may be, oldest first, through its owner; one outcome per
    chosen letter, newest first as chosen. A failure (an owner down or refusing) is that letter's
    outcome; the others go on."""
    done: dict[int, Outcome] = {}
    for item in sorted(chosen, key=lambda c: c.seq):
        owner = owner_of(item.letter)
        if item.skip is not None or owner is None:
            done[item.seq] = Outcome(item.seq, item.letter, "skipped", item.skip)
        elif dry_run:
            done[item.seq] = Outcome(item.seq, item.letter, "would_redrive", f"by {owner}")
        else:
            try:
                reply = await ask(owner, RedriveDeadLetter(seq=item.seq, by=by))
                done[item.seq] = Outcome(item.seq, item.letter, "redriven", reply.redrive_id)
            except Exception as exc:  # one owner down does not stop the others
                done[item.seq] = Outcome(item.seq, item.letter, "failed", str(exc) or type(exc).__name__)
    return [done[c.seq] for c in chosen]


class Redriver:
    """The owner's side: read the letter at a sequence number and publish it again.

    Refuses a letter that is not one, that names a subject of another service's stream, or a
    dead job. The new ``Nats-Msg-Id`` is fresh each time (``redrive:<seq>:<random>``): two
    re-drives of one letter both reach the consumer, whose record of the original id makes the
    second change nothing.
    """

    def __init__(self, service: str, js: JetStreamContext, publisher: Publisher) -> None:
        self.service, self.js, self.publisher = service, js, publisher

    async def redrive(self, request: RedriveDeadLetter) -> DeadLetterRedriven:
        try:
            msg = await self.js.get_msg(subjects.DEAD_LETTERS.name, seq=request.seq)
        except NotFoundError as exc:
            raise Refused("not_found", f"no dead letter at sequence {request.seq}") from exc
        letter = _as_letter(msg.subject or "", msg.data or b"")
        if letter is None:
            raise Refused("invalid", f"the message at sequence {request.seq} is not a dead letter")
        if (why := not_redrivable(letter)) is not None:
            raise Refused("invalid", why)
        stream = subjects.stream_of(letter.subject)
        if stream is None or stream.owner != self.service:
            raise Refused("invalid", f"{letter.subject} is not {self.service}'s to publish")
        redrive_id = f"redrive:{request.seq}:{uuid.uuid4().hex[:12]}"
        headers = {REDRIVE_OF: letter.msg_id, REDRIVE_FOR: letter.service}
        if letter.durable:
            headers[REDRIVE_DURABLE] = letter.durable
        await self.publisher.publish_raw(
            letter.subject, letter.payload.encode(), redrive_id, stream.name, headers=headers
        )
        log.warning(
            "deadletter.redriven",
            seq=request.seq,
            subject=letter.subject,
            msg=fingerprint(letter.msg_id),
            consumer=letter.durable or letter.service,
            by=request.by,
        )
        return DeadLetterRedriven(
            seq=request.seq,
            subject=letter.subject,
            msg_id=letter.msg_id,
            redrive_id=redrive_id,
            consumer=letter.service,
        )
