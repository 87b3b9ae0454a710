"""Staff roles on ingress's identities, and the ``ADMIN_USER_IDS`` bootstrap applied once.

Roles live on the identity (``users.roles``), granted and revoked by an admin (the admin API,
``careline admin grant|revoke``). ``ADMIN_USER_IDS`` exists so the first admin can get in; it
must not be a standing grant, or revoking (or erasing) a listed admin would last only until the
next request. So each listed id is bootstrapped once: ingress records it at start in
``admin_bootstrap`` (``{_id: user id, granted_at, revoked_at: None}``), and a listed id is an
admin only while that record is live. Revoking ``admin`` from the id, or erasing the user,
stamps ``revoked_at``; the record is never deleted, so a restart with the id still listed does
not grant it again. An id taken out of ``ADMIN_USER_IDS`` stops being a bootstrap admin too.

The record lives apart from ``users`` because a bootstrap admin need not have an identity (a
staff member who never texted the line), and ``users`` is keyed by a unique phone number.
Shared by ingress and the CLI, which both write ingress's database.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

Document = dict[str, Any]
BOOTSTRAP_COLLECTION = "admin_bootstrap"


class StaffRoles:
    """Who holds which role, in ingress's database ``db``."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.users = db.users
        self.bootstrap = db[BOOTSTRAP_COLLECTION]

    async def apply_bootstrap(self, user_ids: Iterable[str], now: datetime) -> None:
        """Record each listed id once (a live record); an id recorded before, revoked or not,
        is left as it is."""
        for user_id in sorted(user_ids):
            try:
                await self.bootstrap.update_one(
                    {"_id": user_id},
                    {"$setOnInsert": {"granted_at": now, "revoked_at": None}},
                    upsert=True,
                )
            except DuplicateKeyError:  # another replica recorded it at the same moment
                continue

    async def roles_of(self, user_id: str, listed: frozenset[str]) -> frozenset[str] | None:
        """The roles of ``user_id``: its identity's, plus ``admin`` while it is a live bootstrap
        admin (``listed`` is ``ADMIN_USER_IDS``). None when it has neither an identity nor a
        bootstrap record."""
        doc = await self.users.find_one({"_id": user_id}, {"roles": 1})
        record = await self.bootstrap.find_one({"_id": user_id}) if user_id in listed else None
        if doc is None and record is None:
            return None
        roles = set((doc or {}).get("roles") or [])
        if record is not None and record.get("revoked_at") is None:
            roles.add("admin")
        return frozenset(roles)

    async def grant(self, user_id: str, role: str) -> bool:
        """Give ``role`` to the identity ``user_id``; False when there is no such identity."""
        res = await self.users.update_one({"_id": user_id}, {"$addToSet": {"roles": role}})
        return res.matched_count == 1

    async def revoke(self, user_id: str, role: str, now: datetime) -> bool:
        """Take ``role`` from ``user_id``, for good: revoking ``admin`` also ends its bootstrap.
        False when the id has neither an identity nor a bootstrap record."""
        res = await self.users.update_one({"_id": user_id}, {"$pull": {"roles": role}})
        ended = role == "admin" and await self._end_bootstrap(user_id, now, upsert=False)
        return res.matched_count == 1 or ended

    async def never_bootstrap(self, user_id: str, now: datetime) -> None:
        """An erased user is never an admin again, even if ``ADMIN_USER_IDS`` lists them."""
        await self._end_bootstrap(user_id, now, upsert=True)

    async def _end_bootstrap(self, user_id: str, now: datetime, *, upsert: bool) -> bool:
        """Stamp ``revoked_at`` (kept if already stamped); True when ``user_id`` has a record
        now (``upsert`` creates a revoked one)."""
        live = {"_id": user_id, "revoked_at": None}
        if (await self.bootstrap.update_one(live, {"$set": {"revoked_at": now}})).matched_count:
            return True
        if not upsert:
            return await self.bootstrap.count_documents({"_id": user_id}, limit=1) == 1
        try:
            await self.bootstrap.update_one(
                {"_id": user_id}, {"$setOnInsert": {"granted_at": None, "revoked_at": now}}, upsert=True
            )
        except DuplicateKeyError:  # recorded by a concurrent bootstrap: revoke that one
            await self.bootstrap.update_one(live, {"$set": {"revoked_at": now}})
        return True
