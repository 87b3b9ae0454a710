"""Profile's slice of a legacy backfill batch: ``user_profiles``.

A new profile is created whole from the legacy document (time zone from the ZIP when the
legacy one is missing); a live profile keeps its values and only its empty fields are filled.
The legacy assessment history stays on the profile (``legacy_assessments``, and the bands in
``band_history``): one document per caregiver keeps a large backfill fast, and the
``assessments`` collection keeps only assessments this system ran. A confirmation event counts
what the batch did.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from careline_contracts.migration import ImportedUser, ProfileBackfillApplied, UsersImported
from careline_platform.backfill import confirmation_id
from careline_platform.uow import HasMsgId
from careline_profile.domain import due
from careline_profile.domain.timezones import time_zone_for_zip
from careline_profile.repository import ProfileUow

Document = dict[str, Any]


def profile_slice(user: ImportedUser, now: datetime) -> Document:
    """The ``user_profiles`` document a legacy caregiver would have had from this service."""
    p = user.profile
    legacy = {
        "_id": user.user_id,
        "legacy_id": user.legacy_id,
        "first_name": p.first_name,
        "relationship": p.relationship,
        "zip": p.zip,
        "time_zone": p.time_zone or (time_zone_for_zip(p.zip) if p.zip else None),
        "journey_phase": p.journey_phase or "onboarding",
        "burnout_score": p.burnout_score,
        "burnout_band": p.burnout_band,
        "pressure_zones": list(p.pressure_zones),
        "last_contact_at": p.last_contact_at or user.conversation.last_inbound_at or user.created_at or now,
        "assessment_in_progress": None,
        "opted_out": user.conversation.opted_out,
        "next_checkin_at": None,
        "last_checkin_at": None,
        "band_history": [{"band": a.band, "at": a.completed_at} for a in p.assessments][-10:],
        "legacy_assessments": [
            {"instrument": a.instrument, "score": a.score, "band": a.band, "completed_at": a.completed_at}
            for a in p.assessments
        ],
        "reengagements_sent": [],
        "created_at": user.created_at or now,
        "updated_at": now,
        "backfilled_at": now,
    }
    return {**legacy, due.FIELD: due.next_due_at(legacy, now)}


async def on_users_imported(event: UsersImported, delivery: HasMsgId, uow: ProfileUow) -> None:
    async with uow.begin(delivery) as tx:
        counts = await tx.repo.backfill([profile_slice(u, tx.now) for u in event.users], tx.now)
        applied = ProfileBackfillApplied(
            occurred_at=tx.now,
            correlation_id=event.correlation_id,
            run_id=event.run_id,
            batch=event.batch,
            counts=counts,
        )
        await tx.emit(applied, key=applied.run_id, msg_id=confirmation_id("profile", applied))
