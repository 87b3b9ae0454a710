"""Conversation's message handlers on the fake unit of work: what each records, owes and refuses."""

from __future__ import annotations

from datetime import timedelta

import pytest

from careline_contracts.billing import CheckoutLinkReady, EntitlementChanged
from careline_contracts.conversation import (
    ContactRecorded,
    CrisisDetected,
    FactLearned,
    OptOutChanged,
)
from careline_contracts.ingress import SmsReceived, SmsStatusUpdated
from careline_contracts.jobs import (
    CrisisAlertJob,
    CrisisFollowUpJob,
    SendSmsJob,
    SummaryRefreshJob,
)
from careline_contracts.profile import CheckinDue, PromptReady
from careline_conversation import handlers, sending
from careline_conversation.domain import onboarding, replies
from careline_platform.jobs import Job
from careline_platform.mongo import AlreadyProcessed
from careline_testing.uow import delivery
from tests.unit.conversation.fakes import (
    PHONE,
    USER,
    ScriptedAgent,
    conversation,
    settled,
    text,
)

pytestmark = pytest.mark.asyncio
CRISIS_TEXT = "I can't do this anymore, I want to end it all"


async def test_a_message_is_recorded_and_an_instant_agent_reply_is_owed_in_the_callers_order() -> None:
    conv = conversation()
    conv.repo.states[USER] = settled()
    await text(conv, "I am so tired")
    [reply] = conv.uow.jobs(SendSmsJob)
    sms = reply.job
    assert isinstance(sms, SendSmsJob) and reply.key == "sms:reply:SM1" and reply.actor == USER
    assert sms.to == PHONE and sms.agent == "rules" and sms.body and sms.compose is None
    recent = conv.repo.states[USER]["recent_messages"]
    assert [(m["dir"], m["text"]) for m in recent] == [("in", "I am so tired"), ("out", sms.body)]
    [contact] = conv.uow.events(ContactRecorded)
    assert contact.user_id == USER  # type: ignore[attr-defined]
    assert conv.uow.wakes == 1
    with pytest.raises(AlreadyProcessed):  # a redelivered message owes nothing twice
        await text(conv, "I am so tired")
    assert len(conv.uow.jobs(SendSmsJob)) == 1


async def test_a_slow_agents_reply_is_composed_in_the_job_not_the_turn() -> None:
    agent = ScriptedAgent()
    conv = conversation(agent=agent)
    conv.repo.states[USER] = settled()
    await text(conv, "hello there")
    [reply] = conv.uow.jobs(SendSmsJob)
    sms = reply.job
    assert isinstance(sms, SendSmsJob) and sms.body is None and sms.compose is not None
    assert sms.compose.message == "hello there" and agent.asked == []


async def test_a_crisis_turn_owes_the_alert_the_follow_ups_and_the_event_and_jumps_the_queue() -> None:
    conv = conversation()
    conv.repo.states[USER] = settled()
    await text(conv, CRISIS_TEXT, sid="SMc")
    [reply] = conv.uow.jobs(SendSmsJob)
    assert reply.actor is None and reply.job.kind.startswith("crisis")  # type: ignore[attr-defined]
    [alert] = conv.uow.jobs(CrisisAlertJob)
    assert alert.key == "crisis:alert:SMc" and alert.job.priority == "high"  # type: ignore[attr-defined]
    follow_ups = conv.uow.jobs(CrisisFollowUpJob)
    assert [f.key for f in follow_ups] == [
        "crisis:follow_up:crisis:alert:SMc:1",
        "crisis:follow_up:crisis:alert:SMc:2",
    ]
    assert [f.run_at for f in follow_ups] == [
        conv.uow.now + timedelta(hours=24),
        conv.uow.now + timedelta(hours=48),
    ]
    [detected] = [e for e in conv.uow.emitted if isinstance(e.event, CrisisDetected)]
    assert detected.msg_id == "crisis:SMc" and detected.event.category == "suicide_self"  # type: ignore[attr-defined]
    assert conv.repo.states[USER]["crisis"]["category"] == "suicide_self"


async def test_a_crisis_from_outside_the_allowed_regions_still_alerts_staff_but_no_sms_answers() -> None:
    """Inbound is accepted from anywhere: the crisis is recorded and staff are alerted; the reply
    job is owed as for anyone, and dies at its send with the region as its reason."""
    conv = conversation()
    jamaica = "+18765550100"
    conv.repo.states[USER] = {**settled(), "phone": jamaica}
    event = SmsReceived(
        occurred_at=conv.uow.now, message_sid="SMj", user_id=USER, phone=jamaica, body=CRISIS_TEXT
    )
    await handlers.on_sms_received(event, delivery("twilio:SMj"), conv.uow, conv.services)
    [alert] = conv.uow.jobs(CrisisAlertJob)
    assert alert.key == "crisis:alert:SMj" and alert.job.priority == "high"  # type: ignore[attr-defined]
    [reply] = conv.uow.jobs(SendSmsJob)
    assert reply.job.to == jamaica  # type: ignore[attr-defined]
    job = Job(reply.key, "sms.send", reply.job.to_payload(), 1, None, {}, "t")
    with pytest.raises(sending.DestinationNotAllowed, match=r"\+1 876 \(Jamaica, JM\)"):
        await sending.send_sms(job, conv.uow, conv.services)
    assert conv.sender.sent == []


async def test_stop_confirms_and_owes_the_opt_out_event() -> None:
    conv = conversation()
    conv.repo.states[USER] = settled()
    await text(conv, "STOP")
    [change] = [e for e in conv.uow.emitted if isinstance(e.event, OptOutChanged)]
    assert change.msg_id == "optout:SM1" and change.event.opted_out is True  # type: ignore[attr-defined]
    assert conv.repo.states[USER]["opted_out"] is True
    [reply] = conv.uow.jobs(SendSmsJob)
    assert reply.job.body == replies.text("stop")  # type: ignore[attr-defined]


async def test_an_onboarding_answer_becomes_a_fact_event() -> None:
    conv = conversation()
    conv.repo.states[USER] = settled(onboarding=onboarding.start())
    await text(conv, "Maria", sid="SMn")
    [fact] = conv.uow.events(FactLearned)
    assert (fact.field, fact.value) == ("first_name", "Maria")  # type: ignore[attr-defined]
    assert [e.msg_id for e in conv.uow.emitted if isinstance(e.event, FactLearned)] == ["fact:SMn:first_name"]
    assert conv.repo.states[USER]["facts"]["first_name"] == "Maria"


async def test_contact_is_announced_at_most_hourly() -> None:
    conv = conversation()
    conv.repo.states[USER] = settled()
    await text(conv, "one", sid="SM1")
    conv.uow.clock.advance(timedelta(minutes=30))
    await text(conv, "two", sid="SM2")
    assert [e.msg_id for e in conv.uow.emitted if isinstance(e.event, ContactRecorded)] == ["contact:SM1"]
    conv.uow.clock.advance(timedelta(minutes=31))
    await text(conv, "three", sid="SM3")
    contacts = [e.msg_id for e in conv.uow.emitted if isinstance(e.event, ContactRecorded)]
    assert contacts == ["contact:SM1", "contact:SM3"]


async def test_every_nth_message_owes_a_summary_refresh_without_an_actor() -> None:
    conv = conversation(summary_every=3)
    conv.repo.states[USER] = settled()
    for n in range(1, 7):
        await text(conv, f"message {n}", sid=f"SM{n}")
    summaries = conv.uow.jobs(SummaryRefreshJob)
    assert [s.key for s in summaries] == [f"summary:{USER}:3", f"summary:{USER}:6"]
    assert all(s.actor is None for s in summaries)


async def test_entitlement_projection_keeps_the_newest_word() -> None:
    conv = conversation()
    now = conv.uow.now
    newer = EntitlementChanged(occurred_at=now, user_id=USER, entitled=False, status="canceled")
    older = EntitlementChanged(
        occurred_at=now - timedelta(hours=1), user_id=USER, entitled=True, status="active"
    )
    await handlers.on_entitlement_changed(newer, delivery("e1"), conv.uow)
    await handlers.on_entitlement_changed(older, delivery("e2"), conv.uow)
    assert conv.repo.states[USER]["entitlement"] == {
        "entitled": False,
        "status": "canceled",
        "at": now,
        "subscribed": False,
    }
    assert conv.uow.wakes == 0


async def test_a_checkout_link_is_texted_unless_the_caregiver_opted_out() -> None:
    conv = conversation()
    conv.repo.states[USER] = settled()
    link = CheckoutLinkReady(
        occurred_at=conv.uow.now, user_id=USER, session_id="cs_1", url="https://pay.example/cs_1"
    )
    await handlers.on_checkout_link_ready(link, delivery("l1"), conv.uow)
    [sms] = conv.uow.jobs(SendSmsJob)
    assert sms.key == "sms:checkout:cs_1" and "https://pay.example/cs_1" in (sms.job.body or "")  # type: ignore[attr-defined]
    assert sms.job.kind == "checkout" and sms.actor == USER  # type: ignore[attr-defined]

    opted_out = conversation()
    opted_out.repo.states[USER] = settled(opted_out=True)
    await handlers.on_checkout_link_ready(link, delivery("l1"), opted_out.uow)
    assert opted_out.uow.scheduled == [] and opted_out.repo.states[USER].get("recent_messages") is None


async def test_a_prompt_is_sent_and_notes_the_open_assessment() -> None:
    conv = conversation()
    conv.repo.states[USER] = settled()
    prompt = PromptReady(
        occurred_at=conv.uow.now, user_id=USER, assessment_id="asm:1", text="Q1?", purpose="question",
        assessment_open=True,
    )  # fmt: skip
    await handlers.on_prompt_ready(prompt, delivery("p1"), conv.uow)
    assert conv.repo.states[USER]["assessment"] == {"id": "asm:1", "since": conv.uow.now}
    [sms] = conv.uow.jobs(SendSmsJob)
    assert (sms.key, sms.job.body, sms.job.kind) == ("sms:profile:p1", "Q1?", "profile")  # type: ignore[attr-defined]
    closed = prompt.model_copy(update={"assessment_open": False, "text": "Done."})
    await handlers.on_prompt_ready(closed, delivery("p2"), conv.uow)
    assert conv.repo.states[USER]["assessment"] is None


async def test_a_check_in_is_skipped_the_day_after_a_crisis_and_sent_after() -> None:
    conv = conversation()
    crisis = {"category": "suicide_self", "at": conv.uow.now - timedelta(hours=2)}
    conv.repo.states[USER] = settled(crisis=crisis)
    due = CheckinDue(occurred_at=conv.uow.now, user_id=USER, assessment_id="asm:c", text="How are you?")
    await handlers.on_checkin_due(due, delivery("c1"), conv.uow)
    assert conv.uow.scheduled == [] and "assessment" not in conv.repo.states[USER]
    conv.uow.clock.advance(timedelta(hours=23))
    await handlers.on_checkin_due(due, delivery("c2"), conv.uow)
    [sms] = conv.uow.jobs(SendSmsJob)
    assert sms.job.body == "How are you?" and conv.repo.states[USER]["assessment"]["id"] == "asm:c"  # type: ignore[attr-defined]


async def test_a_status_callback_only_moves_forward() -> None:
    conv = conversation()
    now = conv.uow.now
    for n, status in enumerate(("delivered", "sent", "read")):
        update = SmsStatusUpdated(occurred_at=now, message_sid="SMo", status=status)
        await handlers.on_sms_status(update, delivery(f"s{n}"), conv.uow)
        if n == 1:
            assert conv.repo.outbound["SMo"]["status"] == "delivered"  # "sent" came late: ignored
    assert conv.repo.outbound["SMo"]["status"] == "read"


async def test_a_spanish_first_text_stores_spanish_for_the_caregiver() -> None:
    conv = conversation()
    await text(conv, "hola, estoy muy cansada y no se que hacer con mi mama")
    assert conv.repo.states[USER]["language"]["code"] == "es"
    await text(conv, "ok", sid="SM2")  # a short text later does not flip it
    assert conv.repo.states[USER]["language"]["code"] == "es"


async def test_an_answer_to_the_lines_own_question_is_left_out_of_the_rate_count() -> None:
    conv = conversation()
    conv.repo.states[USER] = settled(assessment={"id": "a1", "since": conv.uow.now - timedelta(minutes=2)})
    await text(conv, "4", sid="SM1")
    assert conv.repo.states[USER]["inbound_at"] == []  # recorded in the history, not counted
    assert [m["text"] for m in conv.repo.states[USER]["recent_messages"]] == ["4"]
    conv.repo.states[USER].pop("assessment")
    await text(conv, "thanks for that", sid="SM2")
    assert conv.repo.states[USER]["inbound_at"] == [conv.uow.now]  # an ordinary message counts


async def test_facts_stated_out_of_order_each_become_a_fact_event() -> None:
    conv = conversation()
    conv.repo.states[USER] = settled(onboarding=onboarding.start())
    await text(conv, "my husband has Parkinson's, we live in 60614", sid="SMo")
    facts = {(e.field, e.value) for e in conv.uow.events(FactLearned)}  # type: ignore[attr-defined]
    # and the language the message set, for profile's texts
    assert facts == {
        ("relationship", "spouse"),
        ("condition", "Parkinson's"),
        ("zip", "60614"),
        ("language", "en"),
    }
    assert conv.repo.states[USER]["facts"] == {
        "relationship": "spouse",
        "condition": "Parkinson's",
        "zip": "60614",
    }
    assert conv.repo.states[USER]["onboarding"]["field"] == "first_name"


async def test_a_re_ask_ends_the_instant_agents_reply_and_a_composed_one() -> None:
    yesterday = {"field": None, "tries": 0, "done_at": None}
    for agent, sid in ((None, "SMr"), (ScriptedAgent(), "SMs")):
        conv = conversation(agent=agent) if agent else conversation()
        yesterday["done_at"] = conv.uow.now - timedelta(hours=25)
        conv.repo.states[USER] = settled(onboarding=dict(yesterday), facts={"first_name": "Ana"})
        await text(conv, "she slept better last night", sid=sid)
        [reply] = conv.uow.jobs(SendSmsJob)
        sms = reply.job
        assert isinstance(sms, SendSmsJob)
        relationship = onboarding.question("relationship")
        if agent is None:
            assert (
                sms.body is not None
                and sms.body.endswith(relationship)
                and len(sms.body) > len(relationship) + 40
            )
        else:
            assert sms.body is None and sms.compose is not None and sms.compose.then is not None
            assert sms.compose.then.endswith(relationship)
        assert conv.repo.states[USER]["onboarding"]["reasked"] == ["relationship"]
