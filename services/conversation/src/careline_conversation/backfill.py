"""Conversation's slice of a legacy backfill batch: ``conversation_state``.

A new state carries the legacy window of recent messages, the running summary and the
opt-out (an opted-out caregiver stays silent until START); legacy caregivers were welcomed long
ago, so no welcome or onboarding is replayed. A live state keeps its values; only fields it
lacks are filled (a state that is only billing's entitlement projection so far gets them all;
an opt-out it never recorded is taken from the legacy document). Entitlement stays billing's
word: it publishes the projection for accounts that are not entitled. A confirmation event
counts what the batch did.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from careline_contracts import subjects
from careline_contracts.migration import (
    BillingBackfillApplied,
    ConversationBackfillApplied,
    ImportedUser,
    UsersImported,
)
from careline_conversation.handlers import Deps
from careline_platform.backfill import owe_confirmation, write_slices
from careline_platform.messaging import Delivery
from careline_platform.uow import WriteCollection

Document = dict[str, Any]


def conversation_slice(user: ImportedUser, now: datetime) -> Document:
    """The ``conversation_state`` document a legacy caregiver would have had from this service."""
    c = user.conversation
    return {
        "_id": user.user_id,
        "legacy_id": user.legacy_id,
        "phone": user.phone,
        "recent_messages": [{"dir": m.dir, "text": m.text, "at": m.at} for m in c.recent_messages],
        "summary": c.summary or "",
        "opted_out": c.opted_out,
        "welcomed": True,
        "onboarding": None,
        "total_interactions": c.total_interactions,
        "conversation_started_at": c.started_at or user.created_at or now,
        "last_inbound_at": c.last_inbound_at,
        "updated_at": now,
        "backfilled_at": now,
    }


async def on_users_imported(event: UsersImported, delivery: Delivery, deps: Deps) -> None:
    now = deps.clock.now()
    async with deps.uow.transaction(delivery.msg_id, now) as session:
        counts, _created = await write_slices(
            WriteCollection(deps.repo.states, session),
            [conversation_slice(u, now) for u in event.users],
            fill_stamp={"updated_at": now},
            placeholder=frozenset({"entitlement"}),
        )
        applied = ConversationBackfillApplied(
            occurred_at=now,
            correlation_id=event.correlation_id,
            run_id=event.run_id,
            batch=event.batch,
            counts=counts,
        )
        await owe_confirmation(deps.jobs, applied, "conversation", subjects.CONVERSATION, now, session)
    deps.wake_worker()


async def on_billing_backfill_applied(event: BillingBackfillApplied, delivery: Delivery, deps: Deps) -> None:
    """Project the entitlement of the accounts a backfill batch created, in one transaction.

    A newer projection (a live ``EntitlementChanged``) wins; a state not written yet gets a
    projection-only document, which the batch's slice then completes.
    """
    now = deps.clock.now()
    projection = {
        e.user_id: {"entitled": e.entitled, "status": e.status, "at": event.occurred_at}
        for e in event.entitlements
    }
    async with deps.uow.transaction(delivery.msg_id, now) as session:
        found = {
            d["_id"]: d
            for d in await deps.repo.states.find(
                {"_id": {"$in": list(projection)}}, {"entitlement": 1}, session=session
            ).to_list()
        }
        missing = [{"_id": uid, "entitlement": p} for uid, p in projection.items() if uid not in found]
        if missing:
            await deps.repo.states.insert_many(missing, session=session)
        groups: dict[tuple[bool, str], list[str]] = {}
        for e in event.entitlements:
            if e.user_id in found:
                groups.setdefault((e.entitled, e.status), []).append(e.user_id)
        for (is_entitled, status), ids in groups.items():  # few statuses: a handful of bulk updates
            value = {"entitled": is_entitled, "status": status, "at": event.occurred_at}
            for older in ({"entitlement": None}, {"entitlement.at": {"$lte": event.occurred_at}}):
                await deps.repo.states.update_many(
                    {"_id": {"$in": ids}, **older}, {"$set": {"entitlement": value}}, session=session
                )
