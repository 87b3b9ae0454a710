"""Billing's own data: ``billing_accounts``, one per caregiver.

``BillingWriter`` is what a transaction may do, ``BillingReader`` what a read outside one may;
the MongoDB classes below implement them on the unit of work's ``WriteDb`` and ``ReadDb``, and
the unit tests' in-memory fake implements them too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

from careline_billing.domain.lifecycle import FACT_FIELDS, to_millis
from careline_contracts.migration import SliceCounts
from careline_platform.backfill import write_slices
from careline_platform.uow import ReadDb, UnitOfWorkApi, WriteDb

Document = dict[str, Any]
STATUSES = ("trialing", "active", "past_due", "canceled", "incomplete", "unpaid", "none")
FILLABLE_WHEN_LIVE = frozenset({"legacy_id", "stripe_customer_id"})
"""A live account keeps its status and subscription (Stripe's events move them); a backfill
only fills these."""


class BillingReader(Protocol):
    async def read_caregiver(self, user_id: str) -> Document: ...
    async def daily_metrics(self, start: datetime, end: datetime) -> Document: ...


class BillingWriter(Protocol):
    async def find_account(self, user_id: str) -> Document | None: ...
    async def user_for_customer(self, customer: str | None) -> str | None: ...
    async def open_trial(self, user_id: str, now: datetime, trial_end: datetime) -> bool: ...
    async def end_trial_if_unsubscribed(self, user_id: str, now: datetime) -> bool: ...
    async def link_checkout(
        self, user_id: str, customer: str | None, subscription: str | None, created: datetime, now: datetime
    ) -> None: ...
    async def apply_subscription(
        self, user_id: str, customer: str | None, fields: Document, created: datetime, now: datetime
    ) -> Document | None: ...
    async def overwrite_subscription(
        self, user_id: str, fields: Document, now: datetime
    ) -> Document | None: ...
    async def record_invoice_event(
        self, user_id: str, kind: str, invoice_id: str | None, created: datetime, now: datetime
    ) -> Document | None: ...
    async def mark_trial_warned(self, user_id: str, trial_end: datetime, now: datetime) -> bool: ...
    async def park_event(self, event: Document, customer: str | None, now: datetime) -> None: ...
    async def take_parked(self, customer: str | None) -> list[Document]: ...
    async def record_checkout_link(self, user_id: str, session_id: str, url: str, now: datetime) -> None: ...
    async def backfill(self, slices: list[Document], now: datetime) -> tuple[SliceCounts, list[Document]]: ...
    async def erase_caregiver(self, user_id: str) -> Document: ...


BillingUow = UnitOfWorkApi[BillingWriter, BillingReader]
PARKED_TTL_S = 30 * 24 * 3600
"""How long an event for an unknown customer waits for its checkout. Stripe retries an
undelivered event for up to three days and a checkout's own event follows its customer's
within seconds, so a month is generous; after it the event is dropped by MongoDB's TTL monitor."""


async def ensure_indexes(db: AsyncDatabase[Document]) -> None:
    await db.billing_accounts.create_index("stripe_customer_id", sparse=True)
    await db.billing_accounts.create_index([("status", ASCENDING)])
    await db.parked_stripe_events.create_index([("customer", ASCENDING), ("created", ASCENDING)])
    # A customer whose checkout never reaches billing leaves its events here: gone after PARKED_TTL_S.
    await db.parked_stripe_events.create_index("parked_at", expireAfterSeconds=PARKED_TTL_S)


class MongoBillingReader:
    def __init__(self, db: ReadDb) -> None:
        self.accounts = db["billing_accounts"]

    async def read_caregiver(self, user_id: str) -> Document:
        return {"billing_account": await self.accounts.find_one({"_id": user_id})}

    async def daily_metrics(self, start: datetime, end: datetime) -> Document:
        """Subscriptions by status (index-backed counts)."""
        return {"subscriptions": {s: await self.accounts.count_documents({"status": s}) for s in STATUSES}}


class MongoBillingWriter:
    def __init__(self, db: WriteDb) -> None:
        self.accounts = db["billing_accounts"]
        self.jobs = db["jobs"]
        self.parked = db["parked_stripe_events"]

    async def find_account(self, user_id: str) -> Document | None:
        return await self.accounts.find_one({"_id": user_id})

    async def user_for_customer(self, customer: str | None) -> str | None:
        if not customer:
            return None
        doc = await self.accounts.find_one({"stripe_customer_id": customer}, {"_id": 1})
        return doc["_id"] if doc else None

    async def open_trial(self, user_id: str, now: datetime, trial_end: datetime) -> bool:
        """Open the caregiver's trial; True if this created the account."""
        res = await self.accounts.update_one(
            {"_id": user_id},
            {
                "$setOnInsert": {
                    "status": "trialing",
                    "trial_end": trial_end,
                    "created_at": now,
                    "stripe_customer_id": None,
                    "stripe_subscription_id": None,
                    "last_event_at": None,
                    "updated_at": now,
                }
            },
            upsert=True,
        )
        return res.upserted_id is not None

    async def end_trial_if_unsubscribed(self, user_id: str, now: datetime) -> bool:
        """A trial no subscription replaced ends: status ``none``. True if it changed."""
        res = await self.accounts.update_one(
            {"_id": user_id, "status": "trialing", "stripe_subscription_id": None},
            {"$set": {"status": "none", "trial_ended_at": now, "updated_at": now}},
        )
        return res.modified_count == 1

    async def link_checkout(
        self, user_id: str, customer: str | None, subscription: str | None, created: datetime, now: datetime
    ) -> None:
        """Link the Stripe customer; the subscription's own events set its status."""
        await self.accounts.update_one(
            {"_id": user_id},
            {
                "$set": {
                    "stripe_customer_id": customer,
                    "updated_at": now,
                    "stripe_subscription_id": subscription,
                    "checkout_completed_at": created,
                },
                "$setOnInsert": {"created_at": now, "status": "none", "last_event_at": None},
            },
            upsert=True,
        )

    async def apply_subscription(
        self, user_id: str, customer: str | None, fields: Document, created: datetime, now: datetime
    ) -> Document | None:
        """Apply subscription fields unless a newer event was applied already.

        Returns the account as it was before, or None when nothing changed.
        """
        return await self.accounts.find_one_and_update(
            {"_id": user_id, "last_event_at": {"$not": {"$gt": created}}},  # none yet, or not newer
            {"$set": {**fields, "stripe_customer_id": customer, "last_event_at": created, "updated_at": now}},
            return_document=ReturnDocument.BEFORE,
        )

    async def overwrite_subscription(self, user_id: str, fields: Document, now: datetime) -> Document | None:
        """Apply Stripe's current view of the subscription (after a tie); returns the account before."""
        return await self.accounts.find_one_and_update(
            {"_id": user_id}, {"$set": {**fields, "synced_at": now, "updated_at": now}}
        )

    async def record_invoice_event(
        self, user_id: str, kind: str, invoice_id: str | None, created: datetime, now: datetime
    ) -> Document | None:
        """Invoices are kept as facts, the newest of each kind; the subscription events move the
        status. Returns the account before, or None when a newer fact of the kind was kept."""
        field = FACT_FIELDS[kind]
        return await self.accounts.find_one_and_update(
            {"_id": user_id, field: {"$not": {"$gte": created}}},  # none yet, or older
            {"$set": {field: created, f"{field}_invoice": invoice_id, "updated_at": now}},
            return_document=ReturnDocument.BEFORE,
        )

    async def mark_trial_warned(self, user_id: str, trial_end: datetime, now: datetime) -> bool:
        """Note that the trial ending at ``trial_end`` was warned about; False if it was already."""
        end = to_millis(trial_end)
        res = await self.accounts.update_one(
            {"_id": user_id, "trial_warned_for": {"$ne": end}},
            {"$set": {"trial_warned_for": end, "trial_warned_at": now}},
        )
        return res.modified_count == 1

    async def park_event(self, event: Document, customer: str | None, now: datetime) -> None:
        """Keep a Stripe event for a customer no checkout linked yet (once per event id)."""
        await self.parked.update_one(
            {"_id": event["event_id"]},
            {
                "$setOnInsert": {
                    "customer": customer,
                    "created": event["created"],
                    "event": event,
                    "parked_at": now,
                }
            },
            upsert=True,
        )

    async def take_parked(self, customer: str | None) -> list[Document]:
        """The events parked for ``customer``, oldest first, removed from the parking."""
        if not customer:
            return []
        found = await self.parked.find({"customer": customer}).sort("created", ASCENDING).to_list()
        if found:
            await self.parked.delete_many({"_id": {"$in": [d["_id"] for d in found]}})
        return [d["event"] for d in found]

    async def record_checkout_link(self, user_id: str, session_id: str, url: str, now: datetime) -> None:
        await self.accounts.update_one(
            {"_id": user_id},
            {"$set": {"checkout_session_id": session_id, "checkout_url": url, "checkout_created_at": now}},
        )

    async def backfill(self, slices: list[Document], now: datetime) -> tuple[SliceCounts, list[Document]]:
        """Create the missing accounts of a legacy batch, fill the gaps of live ones; returns the
        counts and the accounts created (their trial and grace ends are owed)."""
        return await write_slices(
            self.accounts, slices, fill_stamp={"updated_at": now}, fillable=FILLABLE_WHEN_LIVE
        )

    async def erase_caregiver(self, user_id: str) -> Document:
        """The account (the unit of work cancels the jobs); its Stripe ids are returned: the
        subscription is cancelled, and the messages naming them go from the streams."""
        account = await self.accounts.find_one({"_id": user_id}) or {}
        accounts = await self.accounts.delete_one({"_id": user_id})
        stripe_ids = [account.get("stripe_customer_id"), account.get("stripe_subscription_id")]
        return {
            "erased": True,
            "deleted": {"billing_accounts": accounts.deleted_count},
            "identifiers": [i for i in stripe_ids if i],
            "subscription_id": account.get("stripe_subscription_id"),
            "subscription_status": account.get("status"),
        }
