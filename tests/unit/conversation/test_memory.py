"""The caregiver's memory through conversation's handlers and jobs, on the fake unit of work:
what a message teaches, what is kept and embedded (in jobs only), what a reply recalls, the
agent's remember tool, profile's band, and the erasure of it all."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from careline_contracts.jobs import EmbedMessageJob, SendSmsJob, SmsCompose
from careline_contracts.profile import PromptReady
from careline_conversation import handlers, remembering, sending
from careline_conversation.agents import AgentContext, ToolCall
from careline_conversation.integrations.embeddings import EmbeddingUnavailable
from careline_conversation.remembering import Recall
from careline_platform.jobs import Job
from careline_testing.uow import delivery
from tests.unit.conversation.fakes import (
    PHONE,
    USER,
    Conversation,
    FakeEmbedder,
    ScriptedAgent,
    conversation,
    settled,
    text,
)

pytestmark = pytest.mark.asyncio


def job(key: str, payload: dict[str, Any]) -> Job:
    return Job(key=key, type="t", payload=payload, attempts=1, max_attempts=None, progress={}, token="t")


class InstantAgent(ScriptedAgent):
    """A scripted agent that answers in the turn itself, as the rules agent does."""

    instant = True


async def test_a_statement_is_remembered_and_the_same_turns_reply_already_knows_it() -> None:
    agent = InstantAgent("noted")
    conv = conversation(agent=agent)
    conv.repo.states[USER] = settled()
    await text(conv, "She has dementia and she lives with us now")
    memory = conv.repo.states[USER]["memory"]
    assert (memory["condition"], memory["living_situation"]) == ("dementia", "lives with the caregiver")
    [asked] = agent.asked
    assert asked.condition == "dementia"  # the rules agent's {condition}
    assert ("the care recipient's condition", "dementia") in asked.remembered


async def test_a_message_is_kept_and_its_embedding_owed_to_a_job_only_with_an_embedder() -> None:
    without = conversation()
    without.repo.states[USER] = settled()
    await text(without, "mom wanders at night and I cannot sleep")
    assert without.repo.kept["SM1"]["text"] == "mom wanders at night and I cannot sleep"
    assert without.uow.jobs(EmbedMessageJob) == []  # no key: recall goes by words

    embedder = FakeEmbedder()
    conv = conversation(recall=Recall(embedder))
    conv.repo.states[USER] = settled()
    await text(conv, "mom wanders at night and I cannot sleep")
    [owed] = conv.uow.jobs(EmbedMessageJob)
    assert (owed.key, owed.actor) == ("embed:SM1", None)  # never ahead of, or behind, a reply
    assert owed.job.message_sid == "SM1" and "text" not in owed.job.to_payload()  # type: ignore[attr-defined]
    assert embedder.asked == []  # the handler waited on no embedding
    await text(conv, "ok", sid="SM2")  # too short to be worth recalling
    assert "SM2" not in conv.repo.kept and len(conv.uow.jobs(EmbedMessageJob)) == 1


@pytest.mark.parametrize(
    "body",
    ["I want to end it all, she has dementia and I can't", "STOP"],
    ids=["crisis", "keyword"],
)
async def test_a_crisis_or_a_keyword_teaches_the_memory_nothing(body: str) -> None:
    conv = conversation(recall=Recall(FakeEmbedder()))
    conv.repo.states[USER] = settled()
    await text(conv, body)
    assert "memory" not in conv.repo.states[USER]
    assert conv.repo.kept == {} and conv.uow.jobs(EmbedMessageJob) == []


async def test_the_embed_job_stores_the_vector_once_and_skips_what_is_gone() -> None:
    embedder = FakeEmbedder()
    conv = conversation(recall=Recall(embedder))
    conv.repo.states[USER] = settled()
    await text(conv, "mom wanders at night and I cannot sleep")
    payload = EmbedMessageJob(user_id=USER, message_sid="SM1").to_payload()
    assert await remembering.embed_message(job("embed:SM1", payload), conv.uow, conv.services.recall) == {
        "dimensions": 256,
        "stored": True,
    }
    assert conv.repo.kept["SM1"]["model"] == "fake-embedding" and len(conv.repo.kept["SM1"]["vector"]) == 256
    again = await remembering.embed_message(job("embed:SM1", payload), conv.uow, conv.services.recall)
    assert again == {"skipped": "embedded"} and len(embedder.asked) == 1
    del conv.repo.kept["SM1"]  # erased meanwhile
    gone = await remembering.embed_message(job("embed:SM1", payload), conv.uow, conv.services.recall)
    assert gone == {"skipped": "gone"}


async def test_a_failing_embeddings_api_fails_the_job_so_it_is_retried() -> None:
    conv = conversation(recall=Recall(FakeEmbedder(fail=True)))
    conv.repo.states[USER] = settled()
    await text(conv, "mom wanders at night and I cannot sleep")
    payload = EmbedMessageJob(user_id=USER, message_sid="SM1").to_payload()
    with pytest.raises(EmbeddingUnavailable):
        await remembering.embed_message(job("embed:SM1", payload), conv.uow, conv.services.recall)
    assert conv.repo.kept["SM1"]["vector"] is None


async def earlier_messages(conv: Conversation) -> None:
    """Three earlier messages, kept, then an hour passes."""
    for n, body in enumerate(
        ("the adult day program gave me a real break", "money is tight this month", "mom wanders at night"),
        start=1,
    ):
        await text(conv, body, sid=f"SM{n}")
        conv.uow.clock.advance(timedelta(minutes=20))


@pytest.mark.parametrize(
    "embedder",
    [None, FakeEmbedder(), FakeEmbedder(fail=True)],
    ids=["words", "embeddings", "embeddings-down"],
)
async def test_a_composed_reply_recalls_related_earlier_messages_and_catalogue_entries(
    embedder: FakeEmbedder | None,
) -> None:
    agent = ScriptedAgent("composed")
    conv = conversation(agent=agent, recall=Recall(embedder))
    conv.repo.states[USER] = settled()
    await earlier_messages(conv)
    if embedder is not None and not embedder.fail:
        for sid in ("SM1", "SM2", "SM3"):
            payload = EmbedMessageJob(user_id=USER, message_sid=sid).to_payload()
            await remembering.embed_message(job(f"embed:{sid}", payload), conv.uow, conv.services.recall)
    conv.repo.states[USER]["recent_messages"] = []  # the earlier ones left the recent window
    await text(conv, "is there respite care or an adult day program so I get a break", sid="SM9")
    reply = conv.uow.jobs(SendSmsJob)[-1]
    compose = SendSmsJob.of(reply.job.to_payload()).compose
    assert compose == SmsCompose(
        message="is there respite care or an adult day program so I get a break", message_sid="SM9"
    )
    sms = job(reply.key, reply.job.to_payload())
    await sending.compose(sms, SendSmsJob.of(sms.payload), conv.uow, conv.services)
    [asked] = agent.asked
    assert asked.recalled[0] == "the adult day program gave me a real break"
    assert (
        "is there respite care or an adult day program so I get a break" not in asked.recalled
    )  # the message itself
    assert "money is tight this month" not in asked.recalled
    assert asked.resources[0].startswith("ARCH National Respite Locator:")  # with its own contacts
    assert asked.resources[0].endswith("(archrespite.org)")


async def test_the_remember_tool_stores_valid_facts_and_never_a_number() -> None:
    calls = (
        ToolCall("remember", {"field": "what_helped", "value": "the adult day program"}),
        ToolCall("remember", {"field": "stressor", "value": "call her at 415-555-0100"}),
        ToolCall("remember", {"field": "password", "value": "hunter2"}),
        ToolCall("remember", {"field": "condition", "value": "x" * 200}),
    )
    conv = conversation(agent=ScriptedAgent("ok", calls))
    conv.repo.states[USER] = settled()
    sms = job(
        "sms:reply:SM1",
        SendSmsJob(to=PHONE, user_id=USER, kind="agent", compose=SmsCompose(message="hi")).to_payload(),
    )
    await sending.send_sms(sms, conv.uow, conv.services)
    memory = conv.repo.states[USER]["memory"]
    assert memory["what_helped"] == ["the adult day program"]
    assert set(memory) == {"what_helped", "updated_at"}


async def test_profiles_result_leaves_the_band_and_zones_for_the_agent() -> None:
    conv = conversation()
    conv.repo.states[USER] = settled()
    result = PromptReady(
        occurred_at=conv.uow.now, user_id=USER, assessment_id="asm:1", text="Your band: high.",
        purpose="result", assessment_open=False, band="high", pressure_zones=("emotional", "time"),
    )  # fmt: skip
    await handlers.on_prompt_ready(result, delivery("p1"), conv.uow)
    context = handlers.context(conv.repo.states[USER], "hi", conv.uow.now)
    assert (context.band, context.pressure_zones) == ("high", ("emotional", "time"))
    question = result.model_copy(update={"purpose": "question", "band": None, "pressure_zones": ()})
    await handlers.on_prompt_ready(question, delivery("p2"), conv.uow)
    assert conv.repo.states[USER]["wellbeing"]["band"] == "high"  # a question leaves it


async def test_erasing_the_caregiver_erases_their_memory_and_kept_messages() -> None:
    conv = conversation(recall=Recall(FakeEmbedder()))
    conv.repo.states[USER] = settled()
    await text(conv, "She has dementia and the nights are the hardest part")
    conv.repo.states["u2"] = settled(_id="u2")
    await conv.repo.keep_message("u2", "SMx", "someone else's words", conv.uow.now)
    report = await conv.repo.erase_caregiver(USER)
    assert report["deleted"]["message_memory"] == 1
    assert USER not in conv.repo.states and list(conv.repo.kept) == ["SMx"]


async def test_an_agent_context_never_carries_the_crisis_text() -> None:
    conv = conversation()
    conv.repo.states[USER] = settled()
    await text(conv, "I want to end it all")
    conv.uow.clock.advance(timedelta(days=3))
    context: AgentContext = handlers.context(conv.repo.states[USER], "hi", conv.uow.now)
    assert context.recent_crisis is not None and context.post_crisis is None
    assert "end it all" not in repr((context.remembered, context.recalled, context.recent_crisis))
