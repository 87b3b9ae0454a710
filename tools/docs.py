"""`make docs`: the AsyncAPI document of every subject and the ingress OpenAPI document.

Both are generated from the code into ``docs/``; a test regenerates them and fails when the
checked-in files are out of date (``tests/unit/test_docs.py``), and ``make test`` validates them
with the official AsyncAPI parser and an OpenAPI validator (``tests/unit/test_api_documents.py``).

The AsyncAPI document is FastStream's own (``faststream.specification.AsyncAPI``), of a docs-only
broker that is never connected: it holds one router per service, built the way the service's
runtime builds it. Each router has

- the service's durable consumers, from its ``subscribers.py`` table (ingress: ``app.py``), wired
  by ``careline_platform.messaging.subscribe`` as in production: one typed subscriber per
  partition, the event model as its payload;
- its admin request subscribers, from ``careline_platform.admin.admin_router`` over the service's
  typed operations (every service's common ones, and conversation's alert and on-call ones);
- publisher declarations for what it sends: the events of the streams it owns (on
  ``<subject>.*``, one token per partition), a dead letter per consumer
  (``deadletter.<service>.<subject>``) and for its jobs (``deadletter.<service>.job.>``), and the
  reply of each admin operation (to the requester's inbox).

The tables are built with stand-ins for their dependencies (``Unconnected``): building a
subscriber only records its handler, which would touch them only when a message came in.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import re
import sys
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, NoReturn, TypeVar, cast

from faststream.nats import NatsBroker, NatsRouter
from faststream.specification import AsyncAPI

from careline_billing import subscribers as billing
from careline_billing.domain.access import Terms
from careline_billing.repository import BillingUow
from careline_contracts import admin as ops
from careline_contracts import subjects
from careline_contracts.access import IDENTITIES, authorization_block
from careline_contracts.base import Event
from careline_contracts.deadletter import DeadLetter
from careline_conversation import alert_admin
from careline_conversation import subscribers as conversation
from careline_conversation.handlers import Services
from careline_conversation.repository import ConversationUow
from careline_ingress import app as ingress
from careline_ingress.repository import Users
from careline_platform.admin import AdminOperation, admin_router
from careline_platform.admin_operations import JobBook, RollupBook, common_operations
from careline_platform.clock import SystemClock
from careline_platform.messaging import ConsumerPolicy, ConsumerSpec, Publisher, subscribe
from careline_platform.runtime import Infrastructure
from careline_platform.services import SERVICE_NAMES
from careline_platform.settings import Settings
from careline_profile import subscribers as profile
from careline_profile.repository import ProfileUow

DOCS = Path(__file__).resolve().parent.parent / "docs"
CONTRACT_MODULES = ("ingress", "conversation", "billing", "profile", "migration")
REPLY_INBOX = "_INBOX.>"
"""Where a reply goes: the request's reply subject (NATS request/reply), shown with NATS's default
prefix; on Careline's servers it is the requester's own, ``_INBOX_ingress.`` or
``_INBOX_operator.`` (careline_contracts.access)."""


class Unconnected:
    """Stands in for a connection-backed dependency: any use fails, naming what was asked for."""

    def __init__(self, what: str) -> None:
        self.what = what

    def __getattr__(self, name: str) -> NoReturn:
        raise RuntimeError(f"the docs-only {self.what} is not connected (asked for .{name})")


T = TypeVar("T")


def unconnected(kind: type[T]) -> T:
    return cast(T, Unconnected(kind.__name__))


@dataclass(frozen=True)
class ServiceDoc:
    """What a service consumes, answers and publishes, as the document shows it."""

    name: str
    consumers: list[ConsumerSpec]
    own_operations: list[AdminOperation[Any, Any]] = field(default_factory=list)

    @property
    def operations(self) -> list[AdminOperation[Any, Any]]:
        """Every operation the service answers: the common ones, then its own."""
        jobs, rollups = unconnected(JobBook), unconnected(RollupBook)
        return [*common_operations(self.name, jobs, rollups, None, SystemClock()), *self.own_operations]


def service_docs() -> list[ServiceDoc]:
    """Every service's consumer table, built with stand-ins for its dependencies."""
    terms = Terms(trial=timedelta(days=14), grace=timedelta(days=7))  # no effect on the document
    found = [
        ServiceDoc(
            ingress.NAME,
            [ingress.backfill_consumer(unconnected(Infrastructure), unconnected(Users))],
        ),
        ServiceDoc(
            conversation.NAME,
            conversation.subscribers(unconnected(ConversationUow), unconnected(Services)),
            alert_admin.operations(unconnected(ConversationUow)),
        ),
        ServiceDoc(billing.NAME, billing.subscribers(unconnected(BillingUow), terms)),
        ServiceDoc(profile.NAME, profile.subscribers(unconnected(ProfileUow))),
    ]
    assert [s.name for s in found] == list(SERVICE_NAMES), "a service is missing from the document"
    return found


def event_models() -> list[type[Event]]:
    """Every event class of the contracts, in a stable order."""
    found: dict[str, type[Event]] = {}
    for name in CONTRACT_MODULES:
        module = importlib.import_module(f"careline_contracts.{name}")
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, Event) and cls is not Event and cls.__module__ == module.__name__:
                found[cls.__name__] = cls
    return [found[k] for k in sorted(found)]


def stream_of(subject: str) -> subjects.Stream:
    for stream in subjects.ALL_STREAMS:
        for pattern in stream.subjects:
            prefix = pattern.rstrip(">*").rstrip(".")
            if subject == prefix or subject.startswith(prefix + "."):
                return stream
    raise LookupError(f"no stream captures {subject}")


def event_address(model: type[Event]) -> str:
    """Where an event is published: ``<subject>.*`` (one token: the partition), or the subject."""
    stream = stream_of(model.subject)
    return model.subject if model.subject in stream.subjects else f"{model.subject}.*"


def service_router(service: ServiceDoc, broker: NatsBroker) -> NatsRouter:
    """A service's router as its runtime builds it, plus the declarations of what it publishes."""
    policy = ConsumerPolicy(Publisher(broker))
    router = NatsRouter(middlewares=[policy])
    for spec in service.consumers:
        subscribe(router, policy, spec)
    router.include_router(admin_router(service.name, service.operations))
    declare_publishers(router, service)
    return router


def declare_publishers(router: NatsRouter, service: ServiceDoc) -> None:
    name = service.name
    for model in event_models():
        stream = stream_of(model.subject)
        if stream.owner == name:
            router.publisher(
                event_address(model),
                schema=model,
                title=f"{name}:{model.subject}",
                description=f"{(model.__doc__ or '').strip().splitlines()[0]} "
                f"JetStream stream {stream.name}; the last token is the partition, "
                f"crc32(key) mod {subjects.PARTITIONS}: one caregiver, one partition.",
            )
    for spec in service.consumers:
        dead = subjects.dead_letter_subject(name, spec.base_subject)
        router.publisher(
            dead,
            schema=DeadLetter,
            title=f"{name}:{dead}",
            description=f"{spec.durable} gave up on a message (stream {subjects.DEAD_LETTERS.name})",
        )
    dead_jobs = subjects.dead_letter_subject(name, "job.>")
    router.publisher(
        dead_jobs,
        schema=DeadLetter,
        title=f"{name}:{dead_jobs}",
        description=f"a {name} job ran out of attempts: deadletter.{name}.job.<job type>",
    )
    for op in service.operations:
        request = ops.admin_subject(name, op.name)
        router.publisher(
            REPLY_INBOX,
            schema=op.contract.reply | ops.Rejected | ops.AdminError,
            title=f"{request}:reply",
            description=f"{name}'s answer to {request}, sent to the request's reply subject "
            "(under the requester's own inbox prefix, _INBOX_<NATS user>.)",
        )


def asyncapi() -> dict[str, Any]:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]  # defaults only: no local .env
    broker = NatsBroker(settings.nats_url)  # never connected
    for service in service_docs():
        broker.include_router(service_router(service, broker))
    document = AsyncAPI(
        broker,
        title="Careline",
        version="1",
        description="Every subject the Careline services use over NATS: JetStream events (one "
        "subscriber per partition), dead letters, and admin request/reply.",
        schema_version="3.0.0",
    )
    jsonable: dict[str, Any] = document.to_specification().to_jsonable()
    return jsonable


def openapi() -> dict[str, Any]:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]  # defaults only: no local .env
    return ingress.create_app(settings).openapi()


def rendered() -> dict[str, str]:
    return {
        "asyncapi.json": json.dumps(asyncapi(), indent=2, sort_keys=True) + "\n",
        "openapi.json": json.dumps(openapi(), indent=2, sort_keys=True) + "\n",
    }


NATS_CONFS = (DOCS.parent / "deploy" / "k8s" / "nats.conf", DOCS.parent / "deploy" / "compose" / "nats.conf")
GENERATED = re.compile(r"(# BEGIN authorization \(generated\)\n)(.*)(# END authorization)", re.S)


def write_nats_authorization() -> None:
    """The authorization block of each nats.conf, from careline_contracts.access."""
    block = authorization_block({name: f"$NATS_PASSWORD_{name.upper()}" for name in IDENTITIES})
    for path in NATS_CONFS:
        text = path.read_text(encoding="utf-8")
        path.write_text(GENERATED.sub(lambda m: m.group(1) + block + m.group(3), text), encoding="utf-8")
        print(f"wrote the authorization block of {path.relative_to(DOCS.parent)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if docs/ is not current")
    args = parser.parse_args()
    stale = []
    for name, text in rendered().items():
        path = DOCS / name
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            DOCS.mkdir(exist_ok=True)
            path.write_text(text)
            print(f"wrote docs/{name}")
    if not args.check:
        write_nats_authorization()
    if stale:
        print(f"out of date: {', '.join(stale)}; run `make docs`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
