"""Two ingress replicas on one MongoDB-wire server: an erase on one is seen by the other at once.

Each replica remembers recent callers for 30 s (``KnownCallers``), so before tombstones the
replica that did not erase kept answering the old number with the erased identity (issue 14).
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
import pytest_asyncio
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from careline_ingress.repository import Users
from careline_platform.mongo import connect
from careline_testing.servers import Backends

pytestmark = pytest.mark.asyncio
NOW = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
PHONE = "+14155550321"
KEY = b"replica-test-phone-hash-key-0123456789"
_dbs = itertools.count()


@pytest_asyncio.fixture
async def db(backends: Backends) -> AsyncIterator[AsyncDatabase[Any]]:
    client: AsyncMongoClient[Any] = connect(backends.mongodb_uri)
    database = client[f"replicas{next(_dbs)}_ingress"]
    yield database
    await client.drop_database(database.name)
    await client.close()


async def test_a_caregiver_erased_on_one_replica_is_a_new_identity_on_the_other(
    db: AsyncDatabase[Any],
) -> None:
    first, second = Users(db, KEY), Users(db, KEY)
    await first.ensure_indexes()
    await first.tombstones.ensure_indexes()
    old, created = await second.find_or_create(PHONE, NOW)
    assert created
    again, created = await second.find_or_create(PHONE, NOW)
    assert (again["_id"], created) == (old["_id"], False)  # remembered: the replica's cache

    assert await first.erase(old["_id"], PHONE, NOW) == 1
    new, created = await second.find_or_create(PHONE, NOW)  # the same number texts again
    assert created and new["_id"] != old["_id"]
    assert await second.is_erased(old["_id"]) and not await second.is_erased(new["_id"])
    stone = await db.tombstones.find_one({"_id": old["_id"]})
    assert stone is not None and PHONE not in str(stone) and stone["phone_hash"] == first.phone_hash(PHONE)
