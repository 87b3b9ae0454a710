"""Golden conversations: every transcript in ``golden/`` replayed over the real webhook path.

Each caregiver texts the line through ingress's signed Twilio webhook; the message goes through
JetStream to conversation (and to profile and billing where the turn says so), and the replies
are read from the local SMS sandbox's stream, as `make chat` reads them. One cluster plays all
transcripts. They advance in rounds: every caregiver still texting sends its next message at
once (caregivers in parallel, one caregiver's messages in order), then the round waits until
the whole line has settled (every consumer caught up, no job running or due), so every reply a
message causes has been sent before the next message goes, and a message that gets none is seen
to get none. Transcripts that move the clock (``~ 10 min later``) play after the others, one at
a time, since the clock is every caregiver's.

Every reply must name only contacts in the resource catalogue and fit the SMS budget
(``MAX_SEGMENTS``; the first reply, the welcome, ``WELCOME_SEGMENTS``), whatever the files
say. A reply that differs from its file fails the test with a diff per transcript.
``make golden-update`` (``pytest tests/e2e/test_golden_transcripts.py --update-golden``)
writes the files from what the line really sent instead, for review in git.

The cluster counts at most ``RATE_WINDOW_LIMIT`` messages in an hour (``RATE_WINDOW_S``) so
that ``rate_limit.txt`` reaches the limit in a dozen messages; the hour keeps the caregiver over
the limit when its clock moves 10 minutes, to show the slowed reply. Any other transcript must
send fewer counted messages (answers to onboarding questions do not count).
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import nats
import pytest
from nats.js import JetStreamContext

from careline_contracts import subjects
from careline_contracts.conversation import SandboxSmsSent
from careline_conversation.domain.onboarding import WELCOME_SEGMENTS
from careline_conversation.handlers import MAX_SEGMENTS
from careline_conversation.safety import catalogue
from careline_conversation.safety.sizing import segments
from careline_testing.processes import Cluster
from careline_testing.signing import inbound_sms_params
from careline_testing.transcripts import Transcript, difference, load_all, render

from .conftest import TWILIO_TOKEN
from .helpers import clock_offset, move_clock, post_sms, wait_until_settled

pytestmark = [pytest.mark.asyncio, pytest.mark.slow]
GOLDEN = Path(__file__).parent / "golden"
RATE_WINDOW_S, RATE_WINDOW_LIMIT = 3600, 10
SETTLE_TIMEOUT_S = 60.0
POST_ATTEMPTS, POST_TIMEOUT_S = 3, 30.0
MIN_TRANSCRIPTS = 15
PINNED_START = datetime(2030, 1, 8, 15, 0, tzinfo=UTC)
"""When every run begins by the services' clock: a Tuesday, 10 AM in New York, 7 AM in Seattle."""


@pytest.fixture
def cluster_env(clock_file: Path) -> dict[str, str]:
    # no Twilio credential: the sandbox sender, whose sends land on the SANDBOX stream
    sandbox = {"TWILIO_ACCOUNT_SID": "", "TWILIO_AUTH_TOKEN": "", "SANDBOX_AUTH_TOKEN": TWILIO_TOKEN}
    limits = {"RATE_WINDOW_S": str(RATE_WINDOW_S), "RATE_WINDOW_LIMIT": str(RATE_WINDOW_LIMIT)}
    return {**sandbox, **limits, "CLOCK_OFFSET_FILE": str(clock_file)}


class Sandbox:
    """The SMS the sandbox sent, read from its stream by sequence number: after the line has
    settled, every send is in the stream, so a read then misses none."""

    def __init__(self, js: JetStreamContext) -> None:
        self.js, self.read_up_to = js, 0

    async def new_sends(self) -> list[SandboxSmsSent]:
        last = (await self.js.stream_info(subjects.SANDBOX.name)).state.last_seq
        sends = []
        for seq in range(self.read_up_to + 1, last + 1):
            raw = await self.js.get_msg(subjects.SANDBOX.name, seq)
            sends.append(SandboxSmsSent.model_validate_json(raw.data or b""))
        self.read_up_to = last
        return sends


class Line:
    """Plays transcripts against a running cluster and records what the line sent to each."""

    def __init__(
        self, cluster: Cluster, clock_file: Path, client: httpx.AsyncClient, sandbox: Sandbox
    ) -> None:
        self.cluster, self.clock_file, self.client, self.sandbox = cluster, clock_file, client, sandbox
        self.sent: dict[str, list[tuple[str, ...]]] = {}
        self.finished: set[str] = set()
        """Phones of transcripts already played: a later clock move may bring them a proactive
        text (a check-in they chose, a nudge), which belongs to no step of theirs."""

    async def play(self, transcripts: list[Transcript]) -> None:
        """In rounds: each transcript's next step at once, then wait for the line to settle."""
        by_phone = {t.phone: t for t in transcripts}
        sids = {t.name: t.message_sids() for t in transcripts}
        for t in transcripts:
            self.sent[t.name] = []
        for index in range(max((len(t.steps) for t in transcripts), default=0)):
            playing = [t for t in transcripts if index < len(t.steps)]
            await asyncio.gather(*(self.step(t, index, sids[t.name][index]) for t in playing))
            for t in playing:
                self.sent[t.name].append(())
            await wait_until_settled(self.cluster, timeout_s=SETTLE_TIMEOUT_S)
            for sms in await self.sandbox.new_sends():
                owner = by_phone.get(sms.to)
                if owner is None and sms.to in self.finished:
                    continue  # a proactive text to a conversation that has ended, after a clock move
                assert owner is not None, "the sandbox sent a text to a number no transcript plays"
                self.sent[owner.name][-1] += (sms.body,)  # after the caregiver's latest step
        self.finished.update(by_phone)

    async def step(self, transcript: Transcript, index: int, sid: str | None) -> None:
        step = transcript.steps[index]
        if step.kind == "wait":
            move_clock(self.clock_file, clock_offset(self.cluster) + step.wait)
            return
        assert sid is not None
        params = inbound_sms_params(transcript.phone, step.text, sid=sid)
        for attempt in range(1, POST_ATTEMPTS + 1):
            try:
                response = await post_sms(self.client, self.cluster, params)
                break
            except httpx.TransportError:  # a busy machine: post again, as Twilio retries
                if attempt == POST_ATTEMPTS:  # the same MessageSid, so ingress takes it once
                    raise
        assert response.status_code == 200, f"{transcript.name}: ingress answered {response.status_code}"


def out_of_bounds(transcript: Transcript, sent: list[tuple[str, ...]], own_link: str) -> Iterator[str]:
    """Replies that name a contact outside the catalogue (``own_link``: the links the line
    makes itself, such as a checkout page) or exceed the SMS budget."""
    for index, (step, replies) in enumerate(zip(transcript.steps, sent, strict=True)):
        budget = WELCOME_SEGMENTS if index == 0 else MAX_SEGMENTS  # the welcome may take a fourth
        for reply in replies:
            if unknown := catalogue.unknown_contacts(reply, allowed_links_extra=(own_link,)):
                yield f"{transcript.name}: after {step.text!r}, contacts not in the catalogue {unknown}"
            if (cost := segments(reply)) > budget:
                yield f"{transcript.name}: after {step.text!r}, {cost} SMS segments (at most {budget})"


async def test_golden_transcripts(cluster: Cluster, clock_file: Path, request: pytest.FixtureRequest) -> None:
    update = bool(request.config.getoption("update_golden", default=False))
    transcripts = load_all(GOLDEN)
    assert len(transcripts) >= MIN_TRANSCRIPTS, f"only {len(transcripts)} transcripts in {GOLDEN}"
    # Replies name days and hours ("paused until Monday, January 14", "tomorrow after 5 PM"):
    # every run starts at the same instant, ahead of any real clock, so the files do not age.
    move_clock(clock_file, PINNED_START - datetime.now(UTC))
    started = time.monotonic()
    nc = await nats.connect(cluster.harness_url)
    try:
        async with httpx.AsyncClient(timeout=POST_TIMEOUT_S) as client:
            line = Line(cluster, clock_file, client, Sandbox(nc.jetstream()))
            await line.play([t for t in transcripts if not t.moves_clock])
            for transcript in (t for t in transcripts if t.moves_clock):
                await line.play([transcript])
    finally:
        await nc.close()
    played_s = time.monotonic() - started

    problems: dict[str, list[str]] = defaultdict(list)
    for transcript in transcripts:
        sent = line.sent[transcript.name]
        problems["bounds"].extend(out_of_bounds(transcript, sent, cluster.base_url))
        if update:
            path = GOLDEN / f"{transcript.name}.txt"
            text = render(transcript.with_replies(sent))
            if path.read_text(encoding="utf-8") != text:
                path.write_text(text, encoding="utf-8")
                problems["updated"].append(transcript.name)
        elif (diff := difference(transcript, sent)) is not None:
            problems["differ"].append(diff)

    print(f"\n{len(transcripts)} golden transcripts played in {played_s:.1f} s")  # seen with -s
    if problems["updated"]:
        print(f"rewrote {len(problems['updated'])}: {', '.join(problems['updated'])}")
    if problems["bounds"]:
        pytest.fail("\n".join(problems["bounds"]), pytrace=False)
    if problems["differ"]:  # only the diffs: the traceback would say nothing more
        differ = problems["differ"]
        pytest.fail(f"{len(differ)} transcripts differ from golden/\n\n" + "\n\n".join(differ), pytrace=False)
