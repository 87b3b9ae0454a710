"""Who may say what on NATS: each identity's publish and subscribe permissions, in one place.

Every service connects as its own NATS user, and the CLI as ``operator``. An identity may:
- publish only its own events (the subjects of the streams it owns, and its own dead letters);
- read only the streams it consumes, through durable consumers it creates on them;
- answer ``admin.<itself>.>`` requests, and reply only to what it was asked;
- receive replies only on its own inbox prefix (``_INBOX_<name>.``), so no identity reads
  another's replies (an admin reply carries a caregiver's phone number and messages).

Only ingress (the admin API) and the operator may send ``admin.>`` requests. Anonymous
connections are refused: the servers that ``make run``, the tests and k8s start list these
users and nothing else (``authorization_block`` renders them for ``nats-server``).

``tests/unit/test_access.py`` checks the table against each service's definition, and
``tests/integration/test_nats_access.py`` checks a real server enforces it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from careline_contracts import subjects
from careline_contracts.subjects import Stream

JS = "$JS.API"


@dataclass(frozen=True)
class Identity:
    """One NATS user and what it needs."""

    name: str
    owns: tuple[Stream, ...] = ()
    """Streams it declares and whose subjects it alone publishes."""
    reads: tuple[Stream, ...] = ()
    """Streams it reads through consumers it creates (durable, or the CLI's ordered ones)."""
    fetches: tuple[Stream, ...] = ()
    """Streams whose messages it reads or deletes one by one, by sequence number."""
    peeks: tuple[Stream, ...] = ()
    """Streams whose messages it reads one by one and never deletes (a dead letter to re-drive)."""
    publishes: tuple[str, ...] = ()
    """Subjects beyond its own streams' (the operator's backfill batches)."""
    subscribes: tuple[str, ...] = ()
    """Core NATS subjects beyond its inbox and admin requests."""
    service: bool = True
    """A service answers ``admin.<name>.>`` and dead-letters under ``deadletter.<name>.>``."""
    calls_admin: bool = False

    @property
    def inbox_prefix(self) -> str:
        return inbox_prefix(self.name)

    def publish_allow(self) -> list[str]:
        allow: list[str] = [f"{JS}.INFO"]
        for stream in self.owns:
            allow += stream.subjects
        if self.service:
            allow.append(f"{subjects.DEAD_LETTER_PREFIX}.{self.name}.>")
        allow += self.publishes
        declared = [*self.owns, subjects.DEAD_LETTERS] if self.service else []
        for stream in declared:
            allow += [f"{JS}.STREAM.CREATE.{stream.name}", f"{JS}.STREAM.UPDATE.{stream.name}"]
        seen = {s.name for s in (*declared, *self.reads, *self.fetches, *self.peeks)}
        allow += [f"{JS}.STREAM.INFO.{name}" for name in sorted(seen)]
        for stream in self.reads:
            allow += [
                f"{JS}.CONSUMER.CREATE.{stream.name}",
                f"{JS}.CONSUMER.CREATE.{stream.name}.>",
                f"{JS}.CONSUMER.DURABLE.CREATE.{stream.name}.>",
                f"{JS}.CONSUMER.INFO.{stream.name}.>",
                f"{JS}.CONSUMER.DELETE.{stream.name}.>",
                f"{JS}.CONSUMER.MSG.NEXT.{stream.name}.>",
                f"$JS.ACK.{stream.name}.>",
                f"$JS.FC.{stream.name}.>",  # flow control of a push (ordered) consumer
            ]
        for stream in self.fetches:
            allow += [f"{JS}.STREAM.MSG.GET.{stream.name}", f"{JS}.STREAM.MSG.DELETE.{stream.name}"]
        allow += [f"{JS}.STREAM.MSG.GET.{stream.name}" for stream in self.peeks]
        if self.calls_admin:
            allow.append("admin.>")
        return allow

    def subscribe_allow(self) -> list[str]:
        allow = [f"{self.inbox_prefix}.>"]
        if self.service:
            allow.append(f"admin.{self.name}.>")
        return [*allow, *self.subscribes]

    def permissions(self) -> dict[str, object]:
        """This identity's ``permissions`` entry of a ``nats-server`` configuration."""
        return {
            "publish": {"allow": self.publish_allow()},
            "subscribe": {"allow": self.subscribe_allow()},
            # answer a request on its reply subject, once, whatever that subject is
            "allow_responses": {"max": 1, "expires": "1m"} if self.service else False,
        }


def inbox_prefix(user: str) -> str:
    """Where ``user`` receives replies (JetStream acks, fetched messages, admin answers)."""
    return f"_INBOX_{user}"


BACKFILL_CONFIRMATIONS = (subjects.USERS, subjects.CONVERSATION, subjects.BILLING, subjects.PROFILE)
"""The streams ``careline migrate`` follows for each service's confirmation of a batch."""

OWNED_BY_INGRESS = (subjects.SMS, subjects.STRIPE, subjects.USERS, subjects.MIGRATION)
IDENTITIES: dict[str, Identity] = {
    identity.name: identity
    for identity in (
        Identity(
            "ingress",
            owns=OWNED_BY_INGRESS,
            reads=(subjects.MIGRATION,),
            # an erasure deletes the caregiver's messages from its streams and from DEAD_LETTERS
            fetches=(
                subjects.SMS,
                subjects.STRIPE,
                subjects.USERS,
                subjects.MIGRATION,
                subjects.DEAD_LETTERS,
            ),
            subscribes=(subjects.SANDBOX_SMS_SENT,),  # the development simulator's live replies
            calls_admin=True,
        ),
        Identity(
            "conversation",
            owns=(subjects.CONVERSATION, subjects.SANDBOX),
            reads=(subjects.SMS, subjects.USERS, subjects.BILLING, subjects.PROFILE),
            fetches=(subjects.CONVERSATION, subjects.SANDBOX),
            peeks=(subjects.DEAD_LETTERS,),  # re-drives a dead letter onto its own subjects
        ),
        Identity(
            "billing",
            owns=(subjects.BILLING,),
            reads=(subjects.USERS, subjects.STRIPE, subjects.CONVERSATION),
            fetches=(subjects.BILLING,),
            peeks=(subjects.DEAD_LETTERS,),
        ),
        Identity(
            "profile",
            owns=(subjects.PROFILE,),
            reads=(subjects.USERS, subjects.CONVERSATION),
            fetches=(subjects.PROFILE,),
            peeks=(subjects.DEAD_LETTERS,),
        ),
        Identity(
            "operator",
            reads=BACKFILL_CONFIRMATIONS,
            fetches=(subjects.DEAD_LETTERS,),
            publishes=(f"{subjects.MIGRATION_USERS_SUBMITTED}.*",),
            subscribes=(subjects.SANDBOX_SMS_SENT,),  # `make chat` shows the sandbox's replies
            service=False,
            calls_admin=True,
        ),
    )
}
SERVICES = ("ingress", "conversation", "billing", "profile")


def authorization_block(passwords: Mapping[str, str], superusers: Mapping[str, str] | None = None) -> str:
    """The ``authorization`` section of a ``nats-server`` configuration: one user per identity.

    ``passwords`` maps each identity to its password, or to ``$VARIABLE``, which nats-server
    reads from its environment (how k8s hands it the Secret). JSON is valid NATS configuration.
    ``superusers`` (tests only: the harness that inspects streams) may do anything.
    """
    users: list[dict[str, object]] = [
        {"user": name, "password": json.dumps(password), "permissions": {"publish": ">", "subscribe": ">"}}
        for name, password in (superusers or {}).items()
    ]
    for name, identity in IDENTITIES.items():
        password = passwords[name]
        users.append(  # a service's permissions stay exactly what it needs
            {
                "user": name,
                "password": password if password.startswith("$") else json.dumps(password),
                "permissions": identity.permissions(),
            }
        )
    lines = ["authorization {", "  users = ["]
    for user in users:
        body = json.dumps(user["permissions"], indent=2).replace("\n", "\n      ")
        lines += [
            "    {",
            f"      user: {user['user']}",
            f"      password: {user['password']}",
            f"      permissions: {body}",
            "    }",
        ]
    lines += ["  ]", "}"]
    return "\n".join(lines) + "\n"
