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

from careline_contracts.migration import (
    BillingBackfillApplied,
    ConversationBackfillApplied,
    ImportedUser,
    UsersImported,
)
from careline_conversation.repository import ConversationUow
from careline_platform.backfill import confirmation_id
from careline_platform.uow import HasMsgId

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


async def on_users_imported(event: UsersImported, delivery: HasMsgId, uow: ConversationUow) -> None:
    async with uow.begin(delivery) as tx:
        counts = await tx.repo.backfill([conversation_slice(u, tx.now) for u in event.users], tx.now)
        applied = ConversationBackfillApplied(
            occurred_at=tx.now,
            correlation_id=event.correlation_id,
            run_id=event.run_id,
            batch=event.batch,
            counts=counts,
        )
        await tx.emit(applied, key=applied.run_id, msg_id=confirmation_id("conversation", applied))


async def on_billing_backfill_applied(
    event: BillingBackfillApplied, delivery: HasMsgId, uow: ConversationUow
) -> None:
    """Project the entitlement of the accounts a backfill batch created, in one transaction.

    A newer projection (a live ``EntitlementChanged``) wins; a state not written yet gets a
    projection-only document, which the batch's slice then completes.
    """
    projection = {
        e.user_id: {"entitled": e.entitled, "status": e.status, "at": event.occurred_at}
        for e in event.entitlements
    }
    async with uow.begin(delivery) as tx:
        await tx.repo.project_backfilled_entitlements(projection, event.occurred_at)
