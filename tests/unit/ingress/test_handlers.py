"""The webhook handlers (careline_ingress.handlers) on fakes: what they publish, and in which order."""

from __future__ import annotations

import asyncio
import json

import pytest

from careline_ingress import handlers
from careline_ingress.domain.webhooks import BadRequest, HeldSms
from careline_ingress.handlers import Background
from careline_platform.messaging import PublishFailed
from careline_testing.uow import FakeClock

from .fakes import FakePublisher, FakeUsers

pytestmark = pytest.mark.asyncio
SID = "SM" + "b" * 32
SID1, SID2 = "SM" + "1" * 32, "SM" + "2" * 32
ACCOUNT = "AC" + "c" * 32
PHONE = "+14155550100"


async def text(users: FakeUsers, publisher: FakePublisher, background: Background, sid: str = SID) -> None:
    params = {"MessageSid": sid, "From": PHONE, "To": "+18005550000", "Body": "hello", "AccountSid": ACCOUNT}
    await handlers.on_sms(
        params,
        "cid",
        users=users,
        publisher=publisher,
        clock=FakeClock(),
        background=background,
        identity_timeout_s=0.05,
    )


async def test_a_first_text_registers_the_caregiver_before_passing_the_message_on() -> None:
    users, publisher, background = FakeUsers(), FakePublisher(), Background()
    await text(users, publisher, background)
    assert publisher.subjects() == ["user.registered", "sms.inbound.received"]
    assert [p.msg_id for p in publisher.published] == ["user.registered:usr_1", f"twilio:{SID}"]
    assert {p.key for p in publisher.published} == {"usr_1"}
    assert await background.finish(1.0) == (1, 0)
    assert users.by_phone[PHONE]["registered_published"] is True


async def test_a_known_caregiver_only_has_the_message_published() -> None:
    users, publisher, background = FakeUsers(), FakePublisher(), Background()
    await text(users, publisher, background, sid=SID1)
    await background.finish(1.0)
    await text(users, publisher, background, sid=SID2)
    assert publisher.subjects() == ["user.registered", "sms.inbound.received", "sms.inbound.received"]
    assert not background.tasks


async def test_a_lost_registration_note_publishes_the_event_again_under_the_same_id() -> None:
    """Should noting the registration fail, the next text repeats it: JetStream de-duplicates."""
    users, publisher, background = FakeUsers(), FakePublisher(), Background()

    async def lost(_user_id: str) -> None:
        raise ConnectionError("the database went away")

    users.mark_registered_published = lost  # type: ignore[method-assign]
    await text(users, publisher, background, sid=SID1)
    await asyncio.sleep(0)  # the note fails; it is only logged
    assert await background.finish(1.0) == (1, 0)
    await text(users, publisher, background, sid=SID2)
    registered = [p for p in publisher.published if p.event.subject == "user.registered"]
    assert len(registered) == 1  # the fake broker de-duplicated the repeat by its id


async def test_when_the_broker_does_not_acknowledge_the_handler_fails_and_nothing_is_noted() -> None:
    users, publisher, background = FakeUsers(), FakePublisher(down=True), Background()
    with pytest.raises(PublishFailed):
        await text(users, publisher, background)
    assert not background.tasks and users.by_phone[PHONE]["registered_published"] is False


async def test_a_text_whose_sender_cannot_be_looked_up_in_time_is_held_whole() -> None:
    """MongoDB does not answer within the bound: the verified text is held, nothing published."""
    users, publisher, background = FakeUsers(down=True), FakePublisher(), Background()
    await text(users, publisher, background)
    assert publisher.published == [] and len(publisher.held) == 1
    held = publisher.held[0]
    assert (held.params["MessageSid"], held.correlation_id) == (SID, "cid")
    assert HeldSms.from_bytes(held.to_bytes()) == held


async def test_a_held_text_is_published_as_the_webhook_would_have_once_its_sender_is_known() -> None:
    users, publisher, background = FakeUsers(down=True), FakePublisher(), Background()
    await text(users, publisher, background)
    users.down = False
    await handlers.on_held_sms(publisher.held[0], users=users, publisher=publisher, background=background)
    assert [p.msg_id for p in publisher.published] == ["user.registered:usr_1", f"twilio:{SID}"]
    assert publisher.published[1].event.occurred_at == publisher.held[0].received_at


async def test_a_refused_text_touches_nothing() -> None:
    users, publisher = FakeUsers(), FakePublisher()
    with pytest.raises(BadRequest):
        await handlers.on_sms(
            {"From": PHONE},
            "cid",
            users=users,
            publisher=publisher,
            clock=FakeClock(),
            background=Background(),
            identity_timeout_s=0.05,
        )
    assert users.by_phone == {} and publisher.published == [] and publisher.held == []


async def test_status_and_stripe_events_are_published_whole() -> None:
    publisher, clock = FakePublisher(), FakeClock()
    await handlers.on_status(
        {"MessageSid": SID, "MessageStatus": "sent", "AccountSid": ACCOUNT},
        "cid",
        publisher=publisher,
        clock=clock,
    )
    raw = json.dumps({"id": "evt_9", "type": "invoice.paid", "created": 1, "data": {"object": {}}}).encode()
    await handlers.on_stripe(raw, "cid", publisher=publisher, clock=clock)
    assert [p.msg_id for p in publisher.published] == [f"twilio-status:{SID}:sent", "stripe:evt_9"]
    assert [p.stream for p in publisher.published] == ["SMS", "STRIPE"]


async def test_background_work_outlasting_the_grace_is_cancelled() -> None:
    background, started = Background(), asyncio.Event()

    async def slow() -> None:
        started.set()
        await asyncio.sleep(60)

    background.run(slow(), "slow_failed")
    await started.wait()
    assert await background.finish(0.01) == (0, 1)
    assert not background.tasks
