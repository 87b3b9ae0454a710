"""``careline admin``: tokens the admin API accepts, roles granted and revoked on identities."""

from __future__ import annotations

from typing import Any

import pytest
from pymongo import MongoClient

from careline_platform.admin_tokens import InvalidToken, user_of
from careline_testing.servers import Backends

from .test_cli import Cli, plain_cli, prefix  # noqa: F401 - the fixtures

SECRET = "cli-test-admin-secret-0123456789abcdef"


def users(backends: Backends, db_prefix: str) -> Any:
    client: MongoClient[dict[str, Any]] = MongoClient(backends.mongodb_uri, serverSelectionTimeoutMS=5000)
    return client, client[f"{db_prefix}_ingress"].users


def test_a_minted_token_names_its_user_and_needs_the_secret(plain_cli: Cli) -> None:  # noqa: F811
    cli = plain_cli
    cli.env["ADMIN_JWT_SECRET"] = SECRET
    res = cli("admin", "token", "--user", "usr_ops", "--hours", "1")
    assert res.code == 0, res.err
    token = res.out.strip()
    assert user_of(SECRET, token) == "usr_ops"
    with pytest.raises(InvalidToken):
        user_of("another-secret-0123456789abcdef0123456", token)
    too_long = cli("admin", "token", "--user", "usr_ops", "--hours", "13")
    assert too_long.code == 1 and "at most 12 h" in too_long.err and not too_long.out.strip()
    del cli.env["ADMIN_JWT_SECRET"]
    missing = cli("admin", "token", "--user", "usr_ops")
    assert missing.code == 1 and "ADMIN_JWT_SECRET" in missing.err


def test_grant_and_revoke_change_the_roles_on_the_identity(
    plain_cli: Cli,  # noqa: F811
    backends: Backends,
    prefix: str,  # noqa: F811
) -> None:
    cli = plain_cli
    client, col = users(backends, prefix)
    try:
        col.insert_one({"_id": "usr_ops", "phone": "+14155550222", "roles": []})
        assert cli("admin", "grant", "--user", "usr_ops", "--role", "support").code == 0
        assert cli("admin", "grant", "--user", "usr_ops", "--role", "support").code == 0  # idempotent
        assert col.find_one({"_id": "usr_ops"})["roles"] == ["support"]
        assert cli("admin", "revoke", "--user", "usr_ops", "--role", "support").code == 0
        assert col.find_one({"_id": "usr_ops"})["roles"] == []
        unknown = cli("admin", "grant", "--user", "usr_nobody", "--role", "admin")
        assert unknown.code == 1 and "no user usr_nobody" in unknown.err
        bad_role = cli("admin", "grant", "--user", "usr_ops", "--role", "owner")
        assert bad_role.code == 2
    finally:
        client.close()


def test_revoking_a_bootstrap_admin_from_the_cli_ends_the_bootstrap(
    plain_cli: Cli,  # noqa: F811
    backends: Backends,
    prefix: str,  # noqa: F811
) -> None:
    cli = plain_cli
    cli.env["ADMIN_USER_IDS"] = "usr_boot"
    client: MongoClient[dict[str, Any]] = MongoClient(backends.mongodb_uri, serverSelectionTimeoutMS=5000)
    bootstrap = client[f"{prefix}_ingress"].admin_bootstrap
    try:
        bootstrap.insert_one(
            {"_id": "usr_boot", "granted_at": None, "revoked_at": None}
        )  # as ingress's start
        revoked = cli("admin", "revoke", "--user", "usr_boot", "--role", "admin")
        assert revoked.code == 0, revoked.err
        assert "usr_boot: roles none" in revoked.out
        assert bootstrap.find_one({"_id": "usr_boot"})["revoked_at"] is not None
    finally:
        client.close()
