"""Conversation's jobs on the fake unit of work: sending once, composing once, summaries,
follow-ups, paging, staff's admin operations and the backfill."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

import pytest

from careline_contracts.admin import (
    AcknowledgeAlert,
    AlertList,
    AlertView,
    GetAlert,
    GetRoster,
    ListAlerts,
    OnCallPerson,
    Rejected,
    ReplaceRoster,
    ResolveAlert,
    Roster,
    SendStaffMessage,
    StaffMessageQueued,
)
from careline_contracts.conversation import AssessmentRequested, FactLearned
from careline_contracts.jobs import (
    CrisisEscalationJob,
    CrisisFollowUpJob,
    CrisisPageJob,
    SendSmsJob,
    SmsCompose,
)
from careline_contracts.migration import (
    BillingBackfillApplied,
    ConversationBackfillApplied,
    Entitlement,
    ImportedUser,
    SliceCounts,
    UsersImported,
)
from careline_conversation import alert_admin, backfill, paging, sending
from careline_conversation.agents import ToolCall
from careline_conversation.domain.alerts import PagingPolicy
from careline_conversation.safety.sizing import segments
from careline_platform.admin import AdminOperation
from careline_platform.jobs import Job, LeaseLost, PermanentJobError
from careline_testing.uow import delivery
from tests.unit.conversation.fakes import Conversation, ScriptedAgent, conversation

pytestmark = pytest.mark.asyncio
USER, PHONE = "u1", "+14155550100"
POLICY = PagingPolicy(escalate_after=timedelta(minutes=10), base_url="https://care.example.org")
ROSTER = [
    {"name": "Ana", "phone": "+14155550101", "order": 1},
    {"name": "Ben", "phone": "+14155550102", "order": 2},
]


def job(key: str, payload: dict[str, Any], **extra: Any) -> Job:
    return Job(
        key=key, type="t", payload=payload, attempts=1, max_attempts=None, progress={}, token="t", **extra
    )


def sms_job(key: str = "sms:reply:SM1", **fields: Any) -> Job:
    return job(key, SendSmsJob(to=PHONE, user_id=USER, kind="agent", **fields).to_payload())


# --- sms.send ----------------------------------------------------------------------------------


async def test_a_first_attempt_sends_and_records_only_its_outcome() -> None:
    conv = conversation()
    sms = sms_job(body="hello")
    assert await sending.send_sms(sms, conv.uow, conv.services) == {"sid": conv.sender.sent[0][0]}
    assert [(to, body) for _sid, to, body, _at in conv.sender.sent] == [(PHONE, "hello")]
    assert conv.sent.records[conv.sender.sent[0][0]]["job_key"] == "sms:reply:SM1"
    assert conv.progress.writes == 0 and conv.uow.commits == 0  # nothing written around the send


async def test_a_send_whose_job_was_cancelled_while_it_ran_texts_nobody() -> None:
    """An erasure deletes a job in ``processing`` too: its worker's last look before the send
    finds the claim gone, and the erased caregiver is not texted."""
    conv = conversation()
    sms = sms_job(body="hello")
    conv.progress.cancelled.add(sms.key)
    with pytest.raises(LeaseLost):
        await sending.send_sms(sms, conv.uow, conv.services)
    assert conv.sender.sent == [] and conv.sent.records == {}


async def test_a_retry_adopts_the_message_a_lost_answer_sent_instead_of_sending_twice() -> None:
    conv = conversation()
    conv.sender.lose_next = 1
    first = sms_job(body="hello")
    with pytest.raises(TimeoutError):
        await sending.send_sms(first, conv.uow, conv.services)
    retry = job(first.key, first.payload, claimed_before=conv.uow.now)
    result = await sending.send_sms(retry, conv.uow, conv.services)
    assert len(conv.sender.sent) == 1 and result == {"sid": conv.sender.sent[0][0]}
    assert conv.sent.records[result["sid"]]["job_key"] == first.key


async def test_a_retry_never_takes_another_jobs_identical_message() -> None:
    conv = conversation()
    await sending.send_sms(sms_job("sms:reply:one", body="same"), conv.uow, conv.services)
    other = sms_job("sms:reply:two", body="same")
    retry = job(other.key, other.payload, claimed_before=conv.uow.now)
    result = await sending.send_sms(retry, conv.uow, conv.services)
    assert len(conv.sender.sent) == 2 and conv.sent.records[result["sid"]]["job_key"] == "sms:reply:two"


@pytest.mark.parametrize(
    ("to", "region"),
    [
        pytest.param("+18765550100", "+1 876 (Jamaica, JM)", id="jamaica"),
        pytest.param("+18095550100", "+1 809 (Dominican Republic, DO)", id="dominican-republic"),
        pytest.param("+447700900123", "outside the North American Numbering Plan (+1)", id="uk"),
        pytest.param("+1876555", "not a valid +1 number", id="malformed"),
    ],
)
@pytest.mark.parametrize("retry", [False, True], ids=["first-attempt", "retry"])
async def test_a_text_outside_the_allowed_regions_dies_before_anything_is_composed_or_sent(
    to: str, region: str, retry: bool
) -> None:
    agent = ScriptedAgent("never composed")
    conv = conversation(agent=agent)
    conv.repo.states[USER] = {"_id": USER, "recent_messages": []}
    payload = SendSmsJob(to=to, user_id=USER, kind="agent", compose=SmsCompose(message="hi")).to_payload()
    sms = job("sms:reply:SMfar", payload, claimed_before=conv.uow.now if retry else None)
    with pytest.raises(sending.DestinationNotAllowed) as refused:
        await sending.send_sms(sms, conv.uow, conv.services)
    assert isinstance(refused.value, PermanentJobError)  # the worker marks it dead, no retry
    assert str(refused.value) == f"destination {region} is not in SMS_ALLOWED_REGIONS (CA,US): not sent"
    assert to[3:] not in str(refused.value)  # the reason never carries the number
    assert conv.sender.sent == [] and agent.asked == []
    assert conv.progress.writes == 0 and conv.repo.states[USER]["recent_messages"] == []


async def test_a_text_to_a_region_the_setting_allows_is_sent() -> None:
    conv = conversation()
    conv.services = dataclasses.replace(conv.services, sms_regions=frozenset({"US", "CA", "JM"}))
    payload = SendSmsJob(to="+18765550100", user_id=USER, kind="agent", body="hi").to_payload()
    sms = job("sms:reply:SMjm", payload)
    await sending.send_sms(sms, conv.uow, conv.services)
    assert [(to, body) for _sid, to, body, _at in conv.sender.sent] == [("+18765550100", "hi")]


async def test_a_composed_reply_asks_the_agent_once_and_is_kept_in_history_once() -> None:
    agent = ScriptedAgent("composed words")
    conv = conversation(agent=agent)
    conv.repo.states[USER] = {"_id": USER, "recent_messages": [], "summary": "earlier"}
    sms = sms_job(compose=SmsCompose(message="hi"))
    assert await sending.compose(sms, SendSmsJob.of(sms.payload), conv.uow, conv.services) == "composed words"
    assert await sending.compose(sms, SendSmsJob.of(sms.payload), conv.uow, conv.services) == "composed words"
    assert len(agent.asked) == 1 and agent.asked[0].message == "hi" and agent.asked[0].summary == "earlier"
    assert sms.progress["body"] == "composed words" and sms.progress["in_history"] is True
    assert [m["text"] for m in conv.repo.states[USER]["recent_messages"]] == ["composed words"]


async def test_a_composed_reply_keeps_the_question_that_follows_it_whole() -> None:
    question = "One more thing, if you'd like: What's your ZIP code? (Reply SKIP to skip.)"
    for words in ("composed words", "a long answer. " * 40):
        conv = conversation(agent=ScriptedAgent(words))
        conv.repo.states[USER] = {"_id": USER}
        sms = sms_job(compose=SmsCompose(message="hi", then=question))
        body = await sending.compose(sms, SendSmsJob.of(sms.payload), conv.uow, conv.services)
        assert body.endswith(f" {question}") and segments(body) <= 3
        assert body.startswith(words.strip()[:12])


async def test_tool_calls_become_events_once_and_invalid_facts_are_dropped() -> None:
    calls = (
        ToolCall("record_profile_fact", {"field": "zip", "value": "94110"}),
        ToolCall("record_profile_fact", {"field": "zip", "value": "not a zip"}),
        ToolCall("start_assessment", {"instrument": "burnout"}),
    )
    conv = conversation(agent=ScriptedAgent("ok", calls))
    conv.repo.states[USER] = {"_id": USER}
    sms = sms_job(compose=SmsCompose(message="I live in 94110"))
    await sending.send_sms(sms, conv.uow, conv.services)
    await sending.compose(sms, SendSmsJob.of(sms.payload), conv.uow, conv.services)  # a later attempt
    [fact] = conv.uow.events(FactLearned)
    assert (fact.field, fact.value) == ("zip", "94110")  # type: ignore[attr-defined]
    [request] = conv.uow.events(AssessmentRequested)
    assert request.instrument == "burnout"  # type: ignore[attr-defined]
    assert conv.repo.states[USER]["facts"] == {"zip": "94110"} and sms.progress["effects_done"] is True


async def test_the_summary_is_rewritten_from_the_recent_window() -> None:
    conv = conversation(agent=ScriptedAgent())
    conv.repo.states[USER] = {"_id": USER, "recent_messages": [{"dir": "in", "text": "a"}] * 3}
    result = await sending.refresh_summary(job("summary:u1:6", {"user_id": USER}), conv.uow, conv.services)
    assert conv.repo.states[USER]["summary"] == "summary of 3 messages" and result == {"chars": 21}


# --- crisis.follow_up --------------------------------------------------------------------------


def follow_up(conv: Conversation, step: int = 1) -> Job:
    payload = CrisisFollowUpJob(
        user_id=USER,
        alert_id="crisis:alert:SM1",
        step=step,
        crisis_at=conv.uow.now - timedelta(days=1),  # type: ignore[arg-type]
    )
    return job(f"crisis:follow_up:crisis:alert:SM1:{step}", payload.to_payload())


async def test_a_follow_up_asks_and_notes_it_on_the_alert() -> None:
    conv = conversation()
    conv.repo.states[USER] = {
        "_id": USER,
        "phone": PHONE,
        "last_inbound_at": conv.uow.now - timedelta(days=2),
    }
    conv.repo.alerts["crisis:alert:SM1"] = {"_id": "crisis:alert:SM1", "user_id": USER}
    assert await sending.send_follow_up(follow_up(conv), conv.uow) == {"sent": 1}
    [sms] = conv.uow.jobs(SendSmsJob)
    assert sms.key == "sms:follow_up:crisis:alert:SM1:1" and sms.job.kind == "crisis:follow_up"  # type: ignore[attr-defined]
    assert conv.repo.states[USER]["follow_up"]["step"] == 1
    assert "1" in conv.repo.alerts["crisis:alert:SM1"]["follow_up_sent"]


@pytest.mark.parametrize(
    ("state", "skipped"),
    [
        ({"phone": PHONE, "opted_out": True}, "opted_out"),
        ({}, "opted_out"),
        ({"phone": PHONE, "last_inbound_at": "now"}, "written_since"),
    ],
    ids=["opted-out", "no-number", "written-since"],
)
async def test_a_follow_up_is_skipped(state: dict[str, Any], skipped: str) -> None:
    conv = conversation()
    if state.get("last_inbound_at") == "now":
        state = {**state, "last_inbound_at": conv.uow.now}
    conv.repo.states[USER] = {"_id": USER, **state}
    assert await sending.send_follow_up(follow_up(conv), conv.uow) == {"skipped": skipped}
    assert conv.uow.scheduled == [] and "follow_up" not in conv.repo.states[USER]


# --- paging ------------------------------------------------------------------------------------


async def open_alert(conv: Conversation, priority: str = "high", sid: str = "SM1") -> str:
    payload = {
        "user_id": USER, "message_sid": sid, "category": "suicide_self",
        "tier": "explicit" if priority == "high" else "indirect", "priority": priority,
    }  # fmt: skip
    key = f"crisis:alert:{sid}"
    await paging.raise_crisis_alert(job(key, payload), conv.uow, POLICY)
    return key


def pages(conv: Conversation) -> list[SendSmsJob]:
    return [s.job for s in conv.uow.jobs(SendSmsJob) if s.job.kind == "page"]  # type: ignore[attr-defined]


async def test_a_high_priority_alert_pages_at_once_and_owes_its_escalation_check() -> None:
    conv = conversation()
    conv.repo.roster_doc["people"] = ROSTER
    alert_id = await open_alert(conv)
    [page] = pages(conv)
    assert page.to == ROSTER[0]["phone"] and page.user_id == USER and PHONE not in str(page)
    [check] = conv.uow.jobs(CrisisEscalationJob)
    assert check.run_at == conv.uow.now + timedelta(minutes=10)
    assert conv.repo.actions() == ["crisis.open", "crisis.page"]
    again = await paging.raise_crisis_alert(job(alert_id, {"user_id": USER, "message_sid": "SM1",
        "category": "suicide_self", "tier": "explicit", "priority": "high"}), conv.uow, POLICY)  # fmt: skip
    assert again == {"alert": alert_id, "opened": False} and len(pages(conv)) == 1


async def test_an_unacknowledged_page_escalates_to_the_next_person() -> None:
    conv = conversation()
    conv.repo.roster_doc["people"] = ROSTER
    alert_id = await open_alert(conv)
    [check] = conv.uow.jobs(CrisisEscalationJob)
    conv.uow.clock.advance(timedelta(minutes=11))
    result = await paging.escalate(job(check.key, check.job.to_payload()), conv.uow, POLICY)
    assert result == {"alert": alert_id, "step": 1}
    assert [p.to for p in pages(conv)] == [ROSTER[0]["phone"], ROSTER[1]["phone"]]
    assert "crisis.escalate" in conv.repo.actions()


async def test_a_low_priority_alert_waits_an_hour_and_a_resolved_alert_only_records_requests() -> None:
    conv = conversation()
    conv.repo.roster_doc["people"] = ROSTER
    alert_id = await open_alert(conv, priority="low")
    assert pages(conv) == []
    [wait] = conv.uow.jobs(CrisisPageJob)
    assert wait.key == f"crisis:page:{alert_id}:unacknowledged" and wait.run_at == conv.uow.now + timedelta(
        hours=1
    )
    conv.repo.alerts[alert_id]["status"] = "resolved"
    request = CrisisPageJob(user_id=USER, alert_id=alert_id, reason="new_crisis")
    result = await paging.page_again(job("crisis:page:x", request.to_payload()), conv.uow, POLICY)
    assert result == {"alert": alert_id, "recorded": "new_crisis"} and pages(conv) == []
    with pytest.raises(paging.AlertNotOpenYet):
        missing = CrisisPageJob(user_id=USER, alert_id="crisis:alert:nope", reason="confirmed")
        await paging.page_again(job("crisis:page:y", missing.to_payload()), conv.uow, POLICY)


# --- staff's admin operations ------------------------------------------------------------------


def staff(conv: Conversation) -> dict[str, AdminOperation[Any, Any]]:
    return {op.name: op for op in alert_admin.operations(conv.uow)}


async def test_staff_acknowledge_then_resolve_and_nothing_after() -> None:
    conv = conversation()
    alert_id = await open_alert(conv)
    ops = staff(conv)
    acked = await ops["alert_acknowledge"].answer(AcknowledgeAlert(alert_id=alert_id, by="staff"))
    assert isinstance(acked, AlertView)
    assert acked.status == "acknowledged" and acked.acknowledged_by == "staff"
    resolved = await ops["alert_resolve"].answer(
        ResolveAlert(alert_id=alert_id, by="staff", outcome="safe", note="")
    )
    assert isinstance(resolved, AlertView) and resolved.status == "resolved"
    refused = await ops["alert_acknowledge"].answer(AcknowledgeAlert(alert_id=alert_id, by="staff"))
    assert refused == Rejected(rejected="conflict", reason="the alert is resolved")
    missing = await ops["alert_acknowledge"].answer(AcknowledgeAlert(alert_id="nope", by="s"))
    assert isinstance(missing, Rejected) and missing.rejected == "not_found"
    assert conv.repo.actions()[-2:] == ["crisis.acknowledge", "crisis.resolve"]


async def test_staff_read_alerts_and_one_alert_never_with_the_message() -> None:
    conv = conversation()
    alert_id = await open_alert(conv)
    ops = staff(conv)
    listed = await ops["crisis_alerts"].answer(ListAlerts(limit=5))
    assert isinstance(listed, AlertList) and [a.id for a in listed.alerts] == [alert_id]
    one = await ops["alert_get"].answer(GetAlert(alert_id=alert_id))
    assert isinstance(one, AlertView) and one.id == alert_id and one.status == "open"
    assert "message_sid" not in one.model_dump()
    assert await ops["alert_get"].answer(GetAlert(alert_id="nope")) == Rejected(
        rejected="not_found", reason="no such alert"
    )
    assert await ops["crisis_alerts"].answer(ListAlerts(status="resolved")) == AlertList(alerts=[])


async def test_a_staff_message_is_queued_once_and_never_to_an_opted_out_number() -> None:
    conv = conversation()
    conv.repo.states[USER] = {"_id": USER, "phone": PHONE, "recent_messages": []}
    alert_id = await open_alert(conv)
    message = staff(conv)["alert_message"]
    request = SendStaffMessage(alert_id=alert_id, by="staff", text="Hi, Sam here.", request_id="r1")
    first = await message.answer(request)
    assert isinstance(first, StaffMessageQueued) and first.queued is True
    again = await message.answer(request)
    assert isinstance(again, StaffMessageQueued) and again.queued is False  # the same request again
    [sms] = [s for s in conv.uow.jobs(SendSmsJob) if s.job.kind == "staff"]  # type: ignore[attr-defined]
    assert sms.job.to_payload() == {
        "to": PHONE, "user_id": USER, "body": "Hi, Sam here.", "kind": "staff", "correlation_id": "staff:r1",
    }  # fmt: skip
    assert conv.repo.states[USER]["recent_messages"][-1]["by"] == "staff"
    conv.repo.states[USER].update(opted_out=True, last_inbound_at=conv.uow.now)
    refused = await message.answer(request.model_copy(update={"request_id": "r2"}))
    assert isinstance(refused, Rejected)
    assert refused.rejected == "conflict" and "opted out" in refused.reason


async def test_the_roster_is_replaced_whole_or_not_at_all() -> None:
    conv = conversation()
    ops = staff(conv)
    people = [OnCallPerson.model_validate(p) for p in ROSTER]
    replaced = await ops["oncall_put"].answer(ReplaceRoster(by="admin", people=people))
    assert isinstance(replaced, Roster) and replaced.updated_by == "admin"
    bad = await ops["oncall_put"].answer(
        ReplaceRoster(by="admin", people=[OnCallPerson(name="X", phone="12", order=1)])
    )
    assert isinstance(bad, Rejected) and bad.rejected == "invalid"
    roster = await ops["oncall_get"].answer(GetRoster())
    assert isinstance(roster, Roster) and [p.name for p in roster.people] == ["Ana", "Ben"]
    assert conv.repo.actions() == ["oncall.replace"]


# --- backfill ----------------------------------------------------------------------------------


async def test_a_backfill_batch_keeps_live_states_and_confirms_once() -> None:
    conv = conversation()
    conv.repo.states["u-live"] = {"_id": "u-live", "phone": "+1live", "summary": "live summary"}
    users = [
        ImportedUser(legacy_id=f"l-{u}", phone="+14155550199", user_id=u, identity="created")
        for u in ("u-live", "u-new")
    ]
    batch = UsersImported(occurred_at=conv.uow.now, run_id="r1", batch=0, users=users, counts=SliceCounts())
    await backfill.on_users_imported(batch, delivery("b1"), conv.uow)
    assert conv.repo.states["u-live"]["summary"] == "live summary"
    assert conv.repo.states["u-new"]["welcomed"] is True
    [applied] = conv.uow.emitted
    assert isinstance(applied.event, ConversationBackfillApplied)
    assert applied.msg_id == "backfill-applied:conversation:r1:0" and applied.event.counts.created == 1


async def test_backfilled_entitlements_are_projected_unless_a_newer_one_is_known() -> None:
    conv = conversation()
    now = conv.uow.now
    conv.repo.states["u-newer"] = {
        "_id": "u-newer",
        "entitlement": {"entitled": True, "status": "active", "at": now},
    }
    event = BillingBackfillApplied(
        occurred_at=now - timedelta(hours=1), run_id="r1", batch=0, counts=SliceCounts(),
        entitlements=[
            Entitlement(user_id="u-newer", entitled=False, status="canceled"),
            Entitlement(user_id="u-new", entitled=False, status="canceled"),
        ],
    )  # fmt: skip
    await backfill.on_billing_backfill_applied(event, delivery("bb1"), conv.uow)
    assert conv.repo.states["u-newer"]["entitlement"]["entitled"] is True
    assert conv.repo.states["u-new"] == {
        "_id": "u-new", "entitlement": {"entitled": False, "status": "canceled", "at": event.occurred_at},
    }  # fmt: skip
