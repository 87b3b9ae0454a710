"""The spool (careline_ingress.spool) and its drainer (careline_ingress.durable) on a real SQLite file."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from careline_contracts import subjects
from careline_contracts.ingress import StripeEventReceived
from careline_ingress.domain.webhooks import HeldSms
from careline_ingress.durable import Drainer, SpoolingPublisher
from careline_ingress.handlers import Background, on_held_sms
from careline_ingress.spool import EVENT, Entry, Spool, SpoolUnavailable
from careline_platform.messaging import PublishFailed

from .fakes import FakeJetStream, FakeUsers

pytestmark = pytest.mark.asyncio
ACCOUNT = "AC" + "c" * 32


def entry(n: int) -> Entry:
    headers = {"Correlation-Id": "c"}
    return Entry(EVENT, f"sms.inbound.received.{n % 8}", "SMS", f"twilio:SM{n:032x}", b"{}", headers)


def drainer_of(spool: Spool, jetstream: FakeJetStream, users: FakeUsers | None = None) -> Drainer:
    async def replay(held: HeldSms) -> None:
        await on_held_sms(held, users=users or FakeUsers(), publisher=jetstream, background=Background())

    return Drainer(spool, jetstream, replay, lambda: True)


async def test_entries_come_back_in_arrival_order_with_everything_a_republish_needs(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    for n in range(5):
        await spool.append(entry(n))
    assert spool.depth == 5
    first = await spool.oldest()
    assert first is not None and first.msg_id == entry(0).msg_id
    assert (first.subject, first.stream, first.payload) == ("sms.inbound.received.0", "SMS", b"{}")
    assert first.headers == {"Correlation-Id": "c"}
    await spool.delete(first.seq)
    second = await spool.oldest()
    assert second is not None and second.msg_id == entry(1).msg_id and second.seq > first.seq
    await spool.close()


async def test_a_drained_entry_leaves_no_trace_of_its_text_in_the_spools_files(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    text = b"Body=my+husband+fell+again+call+me+at+5551234"  # what a held text carries
    kept = Entry(EVENT, "sms.inbound.received.0", "SMS", "twilio:SMkept", b"{}", {})
    for first in (Entry(EVENT, "sms.inbound.received.0", "SMS", "twilio:SMgone", text, {}), kept):
        await spool.append(first)
    gone = await spool.oldest()
    assert gone is not None and gone.payload == text
    await spool.delete(gone.seq)
    await spool.close()  # the last connection checkpoints the write-ahead log into the file
    contents = await asyncio.to_thread(lambda: [f.read_bytes() for f in tmp_path.iterdir() if f.is_file()])
    assert contents and all(text not in content for content in contents)
    reopened = Spool(tmp_path)
    assert await reopened.count() == 1  # the other entry is intact
    await reopened.close()


async def test_what_a_killed_process_appended_is_there_when_the_spool_is_reopened(tmp_path: Path) -> None:
    """SIGKILL right after the appends returned (no close, no checkpoint): the WAL was fsync'd."""
    script = f"""
import asyncio, os, signal
from pathlib import Path
from careline_ingress.spool import EVENT, Entry, Spool
async def main():
    spool = Spool(Path({str(tmp_path)!r}))
    for n in range(3):
        await spool.append(Entry(EVENT, "s", "SMS", f"id{{n}}", b"x", {{}}))
    os.kill(os.getpid(), signal.SIGKILL)
asyncio.run(main())
"""
    killed = await asyncio.create_subprocess_exec(sys.executable, "-c", script)
    assert await asyncio.wait_for(killed.wait(), 60) == -9
    spool = Spool(tmp_path)
    assert await spool.open() == 3
    oldest = await spool.oldest()
    assert oldest is not None and oldest.msg_id == "id0"
    await spool.close()


async def test_a_full_spool_refuses_the_write(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=64 * 1024)
    big = Entry(EVENT, "s", "SMS", "id", b"x" * 8000, {})
    with pytest.raises(SpoolUnavailable, match="SQLITE_FULL"):
        for _ in range(100):
            await spool.append(big)
    assert 0 < spool.depth < 100
    await spool.close()


async def test_a_full_spool_makes_the_publisher_raise_so_the_webhook_is_a_503(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=16 * 1024)
    jetstream = FakeJetStream(down=True)
    publisher = SpoolingPublisher(jetstream, spool, lambda: False, lambda: None)
    event = StripeEventReceived(
        occurred_at=datetime(2030, 1, 1, tzinfo=UTC),
        event_id="evt_1",
        type="t",
        created=1,
        data={"x": "y" * 9000},
    )
    with pytest.raises(SpoolUnavailable):
        for n in range(10):
            await publisher.publish(event, msg_id=f"stripe:evt_{n}", key="cus_1", stream=subjects.STRIPE)
    assert jetstream.attempts == []  # never connected: straight to the spool
    await spool.close()


async def test_the_drainer_republishes_in_order_under_the_same_ids_and_deletes_each_after_its_ack(
    tmp_path: Path,
) -> None:
    spool, jetstream = Spool(tmp_path), FakeJetStream(fail_after=2)
    for n in range(4):
        await spool.append(entry(n))
    drainer = drainer_of(spool, jetstream)
    with pytest.raises(PublishFailed):
        await drainer.drain()
    # two acknowledged and deleted; the third failed and stays, with the fourth behind it
    assert jetstream.msg_ids() == [entry(0).msg_id, entry(1).msg_id]
    assert spool.depth == 2
    left = await spool.oldest()
    assert left is not None and left.msg_id == entry(2).msg_id
    jetstream.fail_after = None
    assert await drainer.drain() == 2
    assert jetstream.msg_ids() == [entry(n).msg_id for n in range(4)]
    assert jetstream.attempts == [entry(n).msg_id for n in (0, 1, 2, 2, 3)]  # the retry: same id
    assert spool.depth == 0 and await spool.oldest() is None
    await spool.close()


async def test_an_entry_acked_but_not_deleted_is_published_again_and_deduplicated(tmp_path: Path) -> None:
    """A crash between the ack and the delete: the next drain sends the same id; JetStream drops it."""
    spool, jetstream = Spool(tmp_path), FakeJetStream()
    await spool.append(entry(1))
    await jetstream.publish_raw("s", b"{}", entry(1).msg_id, "SMS")  # the ack that came before the crash
    assert await drainer_of(spool, jetstream).drain() == 1
    assert jetstream.msg_ids() == [entry(1).msg_id] and spool.depth == 0
    await spool.close()


async def test_a_held_text_is_looked_up_when_drained_before_what_came_after(tmp_path: Path) -> None:
    spool, jetstream, users = Spool(tmp_path), FakeJetStream(), FakeUsers(down=True)
    publisher = SpoolingPublisher(jetstream, spool, lambda: True, lambda: None)
    sid = "SM" + "d" * 32
    params = {"MessageSid": sid, "From": "+14155550100", "Body": "hi", "AccountSid": ACCOUNT}
    await publisher.hold_sms(HeldSms(params, "cid", datetime(2030, 1, 1, tzinfo=UTC)))
    await spool.append(entry(9))  # a later webhook, queued behind the held text
    drainer = drainer_of(spool, jetstream, users)
    users.down = False
    assert await drainer.drain() == 2
    assert jetstream.msg_ids() == ["user.registered:usr_1", f"twilio:{sid}", entry(9).msg_id]
    await spool.close()


class StalledJetStream(FakeJetStream):
    """Connected, but every publish waits for ``gate`` and then gets no ack."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()

    async def publish_raw(
        self, subject: str, payload: bytes, msg_id: str, stream: str, headers: dict[str, str] | None = None
    ) -> bool:
        self.attempts.append(msg_id)
        await self.gate.wait()
        raise PublishFailed("TimeoutError")


async def test_a_caregivers_later_text_waits_for_the_earlier_ack_and_queues_behind_it(tmp_path: Path) -> None:
    """The second text must not overtake the first while the first waits for an ack that never
    comes; another caregiver is not held back."""
    spool, jetstream = Spool(tmp_path), StalledJetStream()
    publisher = SpoolingPublisher(jetstream, spool, lambda: True, lambda: None)
    event = StripeEventReceived(
        occurred_at=datetime(2030, 1, 1, tzinfo=UTC), event_id="evt", type="t", created=1, data={}
    )

    def publish(msg_id: str, key: str) -> asyncio.Task[bool]:
        return asyncio.create_task(publisher.publish(event, msg_id=msg_id, key=key, stream=subjects.STRIPE))

    tasks = [publish("first", "usr_1"), publish("second", "usr_1"), publish("other", "usr_2")]
    await asyncio.sleep(0.05)
    assert jetstream.attempts == ["first", "other"]  # "second" waits for its turn
    jetstream.gate.set()
    assert await asyncio.gather(*tasks) == [False, False, False]  # all spooled
    assert jetstream.attempts == ["first", "other"]  # "second" went straight behind them
    spooled = []
    while (oldest := await spool.oldest()) is not None:
        spooled.append(oldest.msg_id)
        await spool.delete(oldest.seq)
    assert [m for m in spooled if m != "other"] == ["first", "second"]
    await spool.close()
