"""Ingress's part of the legacy backfill: resolve identities, then hand the batch to the others.

Ingress owns identity, so it decides which user id a legacy caregiver gets: the live identity
when the phone number already texted the new line (live data wins: its id, status and roles
stay; only missing fields such as the email are filled), otherwise a new identity whose id is
derived from the legacy id (the same legacy caregiver always gets the same id). It then
publishes ``user.imported`` for conversation, billing and profile.

The handler is idempotent by construction rather than through the processed-message inbox: a
redelivered batch finds its identities in place and publishes ``user.imported`` again under the
same ``Nats-Msg-Id``. Recording the batch as processed before publishing would lose the batch
for good if the process died between the two.
"""

from __future__ import annotations

import uuid
from collections import Counter

from careline_contracts import subjects
from careline_contracts.migration import ImportedUser, LegacyUsersSubmitted, SliceCounts, UsersImported
from careline_ingress.repository import LegacyIdentity, Users
from careline_platform.clock import Clock
from careline_platform.logging import get_logger
from careline_platform.messaging import Delivery, Publisher

log = get_logger(__name__)
LEGACY_NAMESPACE = uuid.UUID("6f2b8e0c-4d1a-4c1e-9a55-0b5c2f6d7e11")
DURABLE = "ingress-backfill"


def user_id_for_legacy(legacy_id: str) -> str:
    """The user id a legacy caregiver without a live identity gets: stable across runs."""
    return f"usr_{uuid.uuid5(LEGACY_NAMESPACE, legacy_id).hex}"


async def on_legacy_users_submitted(
    event: LegacyUsersSubmitted, delivery: Delivery, *, users: Users, publisher: Publisher, clock: Clock
) -> None:
    now = clock.now()
    erased = await users.erased_phones([legacy.phone for legacy in event.users])
    if erased:  # an erased caregiver stays erased: a backfill run does not bring them back
        log.info("backfill.erased_skipped", batch=event.batch, users=len(erased))
        event = event.model_copy(update={"users": [u for u in event.users if u.phone not in erased]})
    entries = [
        LegacyIdentity(
            user_id_for_legacy(legacy.legacy_id),
            legacy.legacy_id,
            legacy.phone,
            legacy.email,
            legacy.roles,
            legacy.created_at or now,
        )
        for legacy in event.users
    ]
    results = await users.import_legacy(entries, now)
    imported = [
        ImportedUser(
            **legacy.model_dump(),
            user_id=user["_id"],
            identity="created" if user["_id"] == entry.user_id else "linked",
        )
        for legacy, entry, (user, _outcome) in zip(event.users, entries, results, strict=True)
    ]
    outcomes = Counter(outcome for _user, outcome in results)
    created, filled, unchanged = outcomes["created"], outcomes["filled"], outcomes["unchanged"]
    out = UsersImported(
        occurred_at=now,
        correlation_id=f"backfill:{event.run_id}",
        run_id=event.run_id,
        batch=event.batch,
        users=imported,
        counts=SliceCounts(created=created, filled=filled, unchanged=unchanged),
    )
    await publisher.publish(
        out, msg_id=f"imported:{delivery.msg_id}", key=event.run_id, stream=subjects.USERS
    )
    log.info("backfill.batch", batch=event.batch, users=len(imported), created=created, filled=filled)
