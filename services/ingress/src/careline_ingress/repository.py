"""Ingress's own data: the ``users`` collection (identity, keyed by E.164 phone number), with
the staff roles on it (``careline_platform.staff_roles``)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from careline_ingress.callers import KnownCallers
from careline_platform.backfill import gap_fill
from careline_platform.erasure import TOMBSTONES, Tombstones, tombstone
from careline_platform.phone import phone_hash
from careline_platform.staff_roles import StaffRoles

Document = dict[str, Any]


@dataclass(frozen=True)
class LegacyIdentity:
    """What the backfill brings to ingress's slice for one legacy caregiver."""

    user_id: str
    legacy_id: str
    phone: str
    email: str | None
    roles: list[str]
    created_at: datetime

    def document(self, now: datetime) -> Document:
        return {
            "_id": self.user_id,
            "phone": self.phone,
            "email": self.email,
            "roles": list(self.roles),
            "status": "active",
            "created_at": self.created_at,
            "registered_published": True,  # the backfill creates every slice itself
            "legacy_id": self.legacy_id,
            "backfilled_at": now,
        }


class Users:
    def __init__(self, db: AsyncDatabase[Document], phone_key: bytes) -> None:
        self.db = db
        self.col = db.users
        self.known = KnownCallers()
        self.roles = StaffRoles(db)
        self.tombstones = Tombstones(db[TOMBSTONES])
        self.phone_key = phone_key

    async def ensure_indexes(self) -> None:
        await self.col.create_index("phone", unique=True)

    def phone_hash(self, phone: str) -> str:
        return phone_hash(phone, self.phone_key)

    async def find_or_create(self, phone: str, now: datetime) -> tuple[Document, bool]:
        """The user for a phone number; created exactly once even under concurrent requests.

        A number whose caregiver was erased has no identity any more: its next text creates a
        new one. A remembered identity is checked against the tombstones (erased on another
        replica, say) before it is reused.
        """
        known = self.known.get(phone)  # a caregiver seen moments ago: no users round trip
        if known is not None and not await self.tombstones.buried(known["_id"]):
            return known, False
        if known is not None:
            self.known.forget_user(known["_id"])
        doc = await self.col.find_one({"phone": phone})
        if doc is not None:
            self.known.remember(doc)
            return doc, False
        doc = {
            "_id": f"usr_{uuid.uuid4().hex}",
            "phone": phone,
            "email": None,
            "roles": [],
            "status": "active",
            "created_at": now,
            "registered_published": False,
        }
        try:
            await self.col.insert_one(doc)
        except DuplicateKeyError:
            existing = await self.col.find_one({"phone": phone})
            if existing is None:  # pragma: no cover - a concurrent erase
                raise
            return existing, False
        return doc, True

    async def import_legacy(self, entries: list[LegacyIdentity], now: datetime) -> list[tuple[Document, str]]:
        """Legacy caregivers' identities: each ``created``, or the live one ``filled`` or ``unchanged``.

        A live identity keeps its id, status and roles (a role is never granted by a backfill to
        someone who already uses the line); only empty fields (email, legacy id) are filled.
        Bulk: one read by phone, one unordered insert; no transaction (each write is idempotent).
        """
        live = {
            d["phone"]: d
            for d in await self.col.find({"phone": {"$in": [e.phone for e in entries]}}).to_list()
        }
        new = [e.document(now) for e in entries if e.phone not in live]
        taken: set[str] = set()
        if new:
            try:
                await self.col.insert_many(new, ordered=False)
            except BulkWriteError as exc:  # a live first message won the race, or an id exists
                taken = {
                    new[err["index"]]["phone"] for err in exc.details["writeErrors"] if err["code"] == 11000
                }
                for doc in await self.col.find({"phone": {"$in": list(taken)}}).to_list():
                    live[doc["phone"]] = doc
        created = {d["phone"]: d for d in new if d["phone"] not in taken}
        results = []
        for entry in entries:
            if entry.phone in created:
                results.append((created[entry.phone], "created"))
                continue
            existing = live.get(entry.phone) or await self.col.find_one({"_id": entry.user_id})
            if existing is None:  # pragma: no cover - a concurrent erase
                raise LookupError("identity vanished during the backfill")
            gaps = gap_fill(existing, {"email": entry.email, "legacy_id": entry.legacy_id})
            if gaps:
                await self.col.update_one({"_id": existing["_id"]}, {"$set": gaps})
            results.append(({**existing, **gaps}, "filled" if gaps else "unchanged"))
        return results

    async def mark_registered_published(self, user_id: str) -> None:
        await self.col.update_one({"_id": user_id}, {"$set": {"registered_published": True}})

    async def get(self, user_id: str) -> Document | None:
        return await self.col.find_one({"_id": user_id})

    async def by_phone(self, phone: str) -> Document | None:
        """The identity of an E.164 number (support's lookup), read from the database."""
        return await self.col.find_one({"phone": phone})

    async def erased_phones(self, phones: list[str]) -> set[str]:
        """Which of ``phones`` belonged to an erased caregiver (a backfill must not bring them back)."""
        hashes = {self.phone_hash(p): p for p in phones}
        return {hashes[h] for h in await self.tombstones.buried_phones(hashes)}

    async def is_erased(self, user_id: str) -> bool:
        return await self.tombstones.buried(user_id)

    async def erase(self, user_id: str, phone: str | None, now: datetime) -> int:
        """Bury the identity (its user id and the keyed hash of its number), then delete it.

        The tombstone goes first: from then on a remembered identity is not reused on any
        replica, and a backfill skips the number.
        """
        doc = tombstone(user_id, now, self.phone_hash(phone) if phone else None)
        await self.tombstones.col.replace_one({"_id": user_id}, doc, upsert=True)
        self.known.forget_user(user_id)
        return (await self.col.delete_one({"_id": user_id})).deleted_count
