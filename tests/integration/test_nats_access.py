"""A real NATS server holds every identity to ``careline_contracts.access`` (issue 14, item 1).

Before this, any client on NATS's network could ask ``admin.conversation.*`` for a caregiver's
messages, erase anyone, text any caregiver from the official number (``profile.prompt.ready``,
``billing.checkout.link_ready``), forge inbound texts and Stripe events, or create identities
through ``migration.users.submitted``. Each of those is tried here with the wrong credentials.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import nats as nats_py
import pytest
import pytest_asyncio
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.errors import NoServersError

from careline_contracts import subjects
from careline_contracts.access import IDENTITIES, SERVICES
from careline_platform.publishing import declare_streams
from careline_testing.servers import ServerProcess

pytestmark = [pytest.mark.asyncio, pytest.mark.nats_violations]

FORGERIES = {
    "an inbound text from another phone": "sms.inbound.received.3",
    "a Stripe event": "stripe.event.received.1",
    "a new identity": "user.registered.2",
    "a backfill batch creating identities": "migration.users.submitted.0",
    "a text to any caregiver (a check-in prompt)": "profile.prompt.ready.4",
    "a phishing checkout link": "billing.checkout.link_ready.5",
    "a crisis": "conversation.crisis.detected.6",
    "an erase": "admin.conversation.caregiver_erase",
    "a read of a caregiver's messages": "admin.conversation.caregiver",
}
"""What an attacker on NATS's network would publish, and the owner who alone may."""
OWNER = {
    "sms.inbound.received.3": {"ingress"},
    "stripe.event.received.1": {"ingress"},
    "user.registered.2": {"ingress"},
    "migration.users.submitted.0": {"ingress", "operator"},
    "profile.prompt.ready.4": {"profile"},
    "billing.checkout.link_ready.5": {"billing"},
    "conversation.crisis.detected.6": {"conversation"},
    "admin.conversation.caregiver_erase": {"ingress", "operator"},
    "admin.conversation.caregiver": {"ingress", "operator"},
}


class Connected:
    """A client of one identity, collecting the permission violations the server reports."""

    def __init__(self, nc: Client, errors: list[str]) -> None:
        self.nc, self.errors = nc, errors

    async def denied(self, action: Callable[[], object]) -> bool:
        """Whether the server refused what ``action`` did (its violation reaches error_cb)."""
        before = len(self.errors)
        result = action()
        if asyncio.iscoroutine(result):
            await result
        await self.nc.flush(timeout=5)
        await asyncio.sleep(0.05)  # the -ERR follows the PONG on the same connection
        return any("permissions violation" in e.lower() for e in self.errors[before:])


async def connect_as(nats_server: ServerProcess, identity: str) -> Connected:
    assert nats_server.users is not None
    errors: list[str] = []

    async def on_error(exc: Exception) -> None:
        errors.append(str(exc))

    nc = await nats_py.connect(
        f"nats://127.0.0.1:{nats_server.port}",
        user=identity,
        password=nats_server.users.passwords[identity],
        inbox_prefix=IDENTITIES[identity].inbox_prefix,
        error_cb=on_error,
        allow_reconnect=False,
    )
    return Connected(nc, errors)


@pytest_asyncio.fixture
async def with_streams(nats: ServerProcess) -> AsyncIterator[ServerProcess]:
    harness = await nats_py.connect(nats.url)
    await declare_streams(harness.jetstream(), subjects.ALL_STREAMS)
    yield nats
    await harness.close()


async def test_an_anonymous_client_or_a_wrong_password_cannot_connect(nats: ServerProcess) -> None:
    url = f"nats://127.0.0.1:{nats.port}"
    for options in ({}, {"user": "conversation", "password": "not-its-password"}, {"user": "nobody"}):
        with pytest.raises((NoServersError, NatsError, OSError)):
            await nats_py.connect(url, allow_reconnect=False, max_reconnect_attempts=1, **options)


@pytest.mark.parametrize("identity", [*SERVICES, "operator"])
async def test_no_identity_can_forge_what_another_owns(with_streams: ServerProcess, identity: str) -> None:
    client = await connect_as(with_streams, identity)
    try:
        for what, subject in FORGERIES.items():
            allowed = identity in OWNER[subject]
            denied = await client.denied(lambda s=subject: client.nc.publish(s, b"{}"))
            assert denied != allowed, (
                f"{identity} {'may not' if denied else 'may'} publish {what} ({subject})"
            )
    finally:
        await client.nc.close()


async def test_a_forged_event_never_reaches_the_stream(with_streams: ServerProcess) -> None:
    """Through JetStream too: conversation's credentials publish an inbound text and get no ack."""
    client = await connect_as(with_streams, "conversation")
    harness = await nats_py.connect(with_streams.url)
    try:
        js = client.nc.jetstream(timeout=1)
        with pytest.raises(NatsError):
            await js.publish("sms.inbound.received.3", b'{"from_phone": "+15551234567"}')
        assert (await harness.jetstream().stream_info("SMS")).state.messages == 0
        own = await js.publish("conversation.fact.learned.3", b"{}")  # its own event goes through
        assert own.stream == "CONVERSATION"
    finally:
        await client.nc.close()
        await harness.close()


@pytest.mark.parametrize("identity", ["conversation", "billing", "profile", "operator"])
async def test_no_identity_reads_another_s_requests_replies_or_events(
    with_streams: ServerProcess, identity: str
) -> None:
    client = await connect_as(with_streams, identity)
    try:
        for subject in ("admin.ingress.>", "_INBOX_ingress.>", "_INBOX.>", "sms.>", ">"):
            assert await client.denied(lambda s=subject: client.nc.subscribe(s)), (
                f"{identity} reads {subject}"
            )
        if identity != "operator":  # a service may read its own admin requests
            assert not await client.denied(lambda: client.nc.subscribe(f"admin.{identity}.>"))
    finally:
        await client.nc.close()


async def test_a_service_answers_an_admin_request_only_from_ingress_or_the_operator(
    with_streams: ServerProcess,
) -> None:
    """profile answers on its admin subject; ingress's request gets the answer, billing's is refused."""
    profile = await connect_as(with_streams, "profile")
    ingress = await connect_as(with_streams, "ingress")
    billing = await connect_as(with_streams, "billing")

    async def answer(msg: Msg) -> None:
        await msg.respond(b"answer")

    try:
        await profile.nc.subscribe("admin.profile.jobs_list", cb=answer)
        await profile.nc.flush()
        reply = await ingress.nc.request("admin.profile.jobs_list", b"{}", timeout=5)
        assert reply.data == b"answer"
        assert await billing.denied(lambda: billing.nc.publish("admin.profile.jobs_list", b"{}"))
        assert not profile.errors  # answering, once, on ingress's inbox is allowed
    finally:
        for client in (profile, ingress, billing):
            await client.nc.close()


@pytest.mark.parametrize("identity", ["conversation", "billing", "profile"])
async def test_a_service_reads_a_dead_letter_by_sequence_to_redrive_it_but_cannot_delete_one(
    with_streams: ServerProcess, identity: str
) -> None:
    """A re-drive (``careline_platform.deadletters``): the owner of a subject reads the letter
    itself; deleting letters stays ingress's (an erasure) and the operator's."""
    harness = await nats_py.connect(with_streams.url)
    client = await connect_as(with_streams, identity)
    try:
        ack = await harness.jetstream().publish(subjects.dead_letter_subject("billing", "x.y"), b"{}")
        js = client.nc.jetstream(timeout=2)
        assert (await js.get_msg(subjects.DEAD_LETTERS.name, ack.seq)).data == b"{}"
        with pytest.raises(NatsError):
            await js.delete_msg(subjects.DEAD_LETTERS.name, ack.seq)
        assert (await harness.jetstream().stream_info(subjects.DEAD_LETTERS.name)).state.messages == 1
    finally:
        await client.nc.close()
        await harness.close()
