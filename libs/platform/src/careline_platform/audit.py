"""The audit log: who did what, to which record, when; never what anyone said.

One collection (``audit_log``) in the database of the service that carries out the actions.
Each row is an ``AuditRecord``: a staff member's user id (from their admin token) and the role
they acted in, or ``system``, a dotted action name (``crisis.page``, ``caregiver.read``), the
caregiver the action concerns, the record acted on, and a few plain details (a round number, an
outcome). Message text and phone numbers never go in (where a number matters, its keyed hash,
``careline_platform.phone.phone_hash``): a row must stay safe to keep after the caregiver is erased.

Ingress keeps its own ``audit_log``: every read of a caregiver's data through the admin API
(``careline_ingress.access``), written before the data is answered.

Rows are written in the same transaction as the change they record, so an action and its row
exist together or not at all. Erasing a caregiver keeps their rows (that an alert was paged and
by whom stays accountable) but drops what points back at them beyond their user id.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection

Document = dict[str, Any]
SYSTEM = "system"
"""The actor of what the service does on its own (a page, an escalation)."""

Detail = str | int | float | bool | None | list[str]


class AuditRecord(BaseModel):
    """One audited action."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    at: datetime
    actor: str = Field(min_length=1, description="a staff user id, or 'system'")
    action: str = Field(pattern=r"^[a-z_]+(\.[a-z_]+)+$", description="dotted: <area>.<verb>")
    user_id: str | None = Field(default=None, description="the caregiver the action concerns")
    ref: str | None = Field(default=None, description="the record acted on (an alert id, say)")
    detail: dict[str, Detail] = Field(default_factory=dict, description="plain facts; no text")
    role: str | None = Field(default=None, description="the role the actor acted in (admin, support)")


async def ensure_audit_indexes(collection: AsyncCollection[Document]) -> None:
    """The ``audit_log`` indexes (time; caregiver and time; record). Also creates the collection
    up front: one created inside a transaction conflicts with every concurrent one that writes it.

    Rows are written by the service's repository inside the transaction of the change they
    record (``WriteDb["audit_log"].insert_one(record.model_dump())``).
    """
    await collection.create_index("at")
    await collection.create_index([("user_id", ASCENDING), ("at", ASCENDING)])
    await collection.create_index("ref")
