"""Conversation's handler for check-in control and a reported loss: profile's events, the reply sent."""

from __future__ import annotations

import pytest

from careline_contracts.conversation import (
    AssessmentRequested,
    CheckinPreferenceChanged,
    LossReported,
    OptOutChanged,
)
from careline_contracts.jobs import SendSmsJob
from careline_conversation.domain.loss import reply as loss_reply
from tests.unit.conversation.fakes import USER, conversation, settled, text

pytestmark = pytest.mark.asyncio
SPANISH = {"language": {"code": "es", "by": "keyword", "at": None}}


async def test_a_spanish_pause_is_told_to_profile_in_spanish_and_nothing_is_sent_yet() -> None:
    conv = conversation()
    conv.repo.states[USER] = settled(**SPANISH)
    await text(conv, "PAUSA")
    [change] = conv.uow.events(CheckinPreferenceChanged)
    assert isinstance(change, CheckinPreferenceChanged)
    assert (change.change, change.language, change.user_id) == ("pause", "es", USER)
    assert conv.uow.jobs(SendSmsJob) == []  # profile confirms, with the new schedule
    assert [e.msg_id for e in conv.uow.emitted if isinstance(e.event, CheckinPreferenceChanged)] == [
        "checkin-preference:SM1"
    ]


async def test_a_time_of_day_carries_the_hour_and_minute() -> None:
    conv = conversation()
    conv.repo.states[USER] = settled()
    await text(conv, "text me at 6:30pm")
    [change] = conv.uow.events(CheckinPreferenceChanged)
    assert (change.change, change.hour, change.minute) == ("time", 18, 30)  # type: ignore[attr-defined]


async def test_text_me_less_never_opts_out() -> None:
    conv = conversation()
    conv.repo.states[USER] = settled()
    await text(conv, "stop texting me so much")
    assert conv.uow.events(OptOutChanged) == [] and not conv.repo.states[USER].get("opted_out")
    [change] = conv.uow.events(CheckinPreferenceChanged)
    assert change.change == "less"  # type: ignore[attr-defined]


async def test_a_loss_is_answered_with_grief_support_and_reported_without_the_words() -> None:
    conv = conversation()
    conv.repo.states[USER] = settled(facts={"first_name": "Ana"})
    await text(conv, "My mom passed away last night")
    [reported] = conv.uow.events(LossReported)
    assert isinstance(reported, LossReported) and reported.message_sid == "SM1"
    assert "passed" not in reported.model_dump_json()
    [sms] = conv.uow.jobs(SendSmsJob)
    assert sms.job.body == loss_reply("en", "Ana") and sms.job.kind == "loss"  # type: ignore[attr-defined]


async def test_an_assessment_request_carries_the_caregivers_language() -> None:
    conv = conversation()
    conv.repo.states[USER] = settled(**SPANISH)
    await text(conv, "check in")
    [wanted] = conv.uow.events(AssessmentRequested)
    assert wanted.language == "es"  # type: ignore[attr-defined]
