"""Staff roles on the MongoDB-wire server: ``ADMIN_USER_IDS`` bootstraps once, a revoke or an
erase sticks however often the bootstrap is applied again."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
import pytest_asyncio
from pymongo import AsyncMongoClient

from careline_platform.mongo import connect
from careline_platform.staff_roles import StaffRoles
from careline_testing.servers import Backends

pytestmark = pytest.mark.asyncio
NOW = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)
LISTED = frozenset({"usr_boot", "usr_staffer"})
_dbs = itertools.count()


@pytest_asyncio.fixture
async def staff(backends: Backends) -> AsyncIterator[StaffRoles]:
    client: AsyncMongoClient[Any] = connect(backends.mongodb_uri)
    db = client[f"roles{next(_dbs)}_ingress"]
    await db.users.create_index("phone", unique=True)
    await db.users.insert_one({"_id": "usr_staffer", "phone": "+14155550300", "roles": ["support"]})
    roles = StaffRoles(db)
    await roles.apply_bootstrap(LISTED, NOW)
    yield roles
    await client.drop_database(db.name)
    await client.close()


async def test_a_listed_id_is_an_admin_with_or_without_an_identity(staff: StaffRoles) -> None:
    assert await staff.roles_of("usr_boot", LISTED) == {"admin"}  # no identity: the record alone
    assert await staff.roles_of("usr_staffer", LISTED) == {"admin", "support"}
    assert await staff.roles_of("usr_boot", frozenset()) is None  # taken out of the list: no one
    assert await staff.roles_of("usr_staffer", frozenset()) == {"support"}
    assert await staff.roles_of("usr_stranger", LISTED | {"usr_stranger"}) is None  # never applied


async def test_a_revoked_bootstrap_admin_stays_revoked_when_bootstrapped_again(staff: StaffRoles) -> None:
    assert await staff.revoke("usr_boot", "admin", NOW) is True
    assert await staff.revoke("usr_staffer", "admin", NOW) is True
    for _restart in range(2):
        await staff.apply_bootstrap(LISTED, NOW)
        assert await staff.roles_of("usr_boot", LISTED) == frozenset()
        assert await staff.roles_of("usr_staffer", LISTED) == {"support"}
    assert await staff.revoke("usr_boot", "admin", NOW) is True  # again: still known, idempotent
    assert await staff.revoke("usr_nobody", "admin", NOW) is False


async def test_revoking_support_leaves_a_bootstrap_admin_alone(staff: StaffRoles) -> None:
    assert await staff.revoke("usr_staffer", "support", NOW) is True
    assert await staff.roles_of("usr_staffer", LISTED) == {"admin"}


async def test_an_erased_user_is_never_bootstrapped_even_if_listed_later(staff: StaffRoles) -> None:
    await staff.never_bootstrap("usr_staffer", NOW)
    await staff.never_bootstrap("usr_later", NOW)  # erased before ever being listed
    await staff.apply_bootstrap(LISTED | {"usr_later"}, NOW)
    assert await staff.roles_of("usr_staffer", LISTED) == {"support"}
    assert await staff.roles_of("usr_later", LISTED | {"usr_later"}) == frozenset()


async def test_a_grant_needs_an_identity_and_counts_beside_the_bootstrap(staff: StaffRoles) -> None:
    assert await staff.grant("usr_boot", "support") is False  # no identity to hold the role
    assert await staff.grant("usr_staffer", "admin") is True
    await staff.revoke("usr_staffer", "admin", NOW)  # both the granted and the bootstrap admin go
    assert await staff.roles_of("usr_staffer", LISTED) == {"support"}
