"""``careline admin``: mint an admin API token, grant and revoke roles on a user identity."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from typing import Any

from rich.console import Console

from careline_cli.common import CliError, mongo
from careline_platform.admin_tokens import ROLES, mint_token
from careline_platform.settings import Settings
from careline_platform.staff_roles import StaffRoles


async def token(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    """Print a bearer token for ``--user`` (who may do what is decided by the user's roles)."""
    if settings.admin_jwt_secret is None:
        raise CliError("ADMIN_JWT_SECRET is not set: there is nothing to sign tokens with")
    longest = settings.admin_token_max_hours
    if args.hours > longest:
        raise CliError(f"--hours {args.hours:g}: a token lives at most {longest:g} h (ADMIN_TOKEN_MAX_HOURS)")
    secret = settings.admin_jwt_secret.get_secret_value()
    print(mint_token(secret, args.user, timedelta(hours=args.hours), timedelta(hours=longest)))
    return 0


async def change_role(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    """Grant or revoke a role on an identity; revoking ``admin`` also ends an ``ADMIN_USER_IDS``
    bootstrap for good, exactly as the admin API does (``careline_platform.staff_roles``)."""
    async with mongo(settings, args.timeout) as client:
        roles = StaffRoles(client[settings.database_name("ingress")])
        if args.grant:
            changed = await roles.grant(args.user, args.role)
        else:
            changed = await roles.revoke(args.user, args.role, datetime.now(UTC))
        if not changed:
            raise CliError(f"no user {args.user}")
        held = await roles.roles_of(args.user, settings.bootstrap_admin_ids)
    console.print(f"{args.user}: roles {', '.join(sorted(held or [])) or 'none'}")
    return 0


def _hours(value: str) -> float:
    hours = float(value)
    if not 0 < hours <= 24 * 30:
        raise argparse.ArgumentTypeError("hours must be between 0 and 720")
    return hours


def add_parser(commands: Any, common: argparse.ArgumentParser) -> None:
    """``careline admin token|grant|revoke``."""
    admin = commands.add_parser("admin", help="admin API tokens and roles", parents=[common])
    sub = admin.add_subparsers(dest="action", metavar="ACTION", required=True)

    p = sub.add_parser("token", help="print a bearer token for the admin API", parents=[common])
    p.add_argument("--user", required=True, help="the user id the token names (its sub)")
    p.add_argument("--hours", type=_hours, default=12.0, help="lifetime (default 12)")
    p.set_defaults(handler=token)

    for action, grant in (("grant", True), ("revoke", False)):
        p = sub.add_parser(action, help=f"{action} a role on a user identity", parents=[common])
        p.add_argument("--user", required=True, help="the user id")
        p.add_argument("--role", required=True, choices=ROLES, help=" or ".join(ROLES))
        p.set_defaults(handler=change_role, grant=grant)
