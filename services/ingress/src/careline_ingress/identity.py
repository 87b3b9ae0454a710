"""Ingress's slice: the ``users`` collection (identity, keyed by E.164 phone number)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

Document = dict[str, Any]


class Users:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.db = db
        self.col = db.users

    async def ensure_indexes(self) -> None:
        await self.col.create_index("phone", unique=True)

    async def find_or_create(self, phone: str, now: datetime) -> tuple[Document, bool]:
        """The user for a phone number; created exactly once even under concurrent requests."""
        doc = await self.col.find_one({"phone": phone})
        if doc is not None:
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

    async def mark_registered_published(self, user_id: str) -> None:
        await self.col.update_one({"_id": user_id}, {"$set": {"registered_published": True}})

    async def get(self, user_id: str) -> Document | None:
        return await self.col.find_one({"_id": user_id})

    async def grant(self, user_id: str, role: str) -> bool:
        res = await self.col.update_one({"_id": user_id}, {"$addToSet": {"roles": role}})
        return res.matched_count == 1

    async def revoke(self, user_id: str, role: str) -> bool:
        res = await self.col.update_one({"_id": user_id}, {"$pull": {"roles": role}})
        return res.matched_count == 1

    async def erase(self, user_id: str) -> int:
        return (await self.col.delete_one({"_id": user_id})).deleted_count
