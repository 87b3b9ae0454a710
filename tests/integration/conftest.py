"""Ingress alone, as a process, against the test's own NATS server and the session's MongoDB."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from nats import connect as nats_connect
from nats.js import JetStreamContext

from careline_testing.processes import Cluster
from careline_testing.servers import Backends, ServerProcess

TWILIO_TOKEN = "integration-twilio-token"
STRIPE_SECRETS = ("whsec_old_secret", "whsec_new_secret")
_prefixes = itertools.count()


@pytest.fixture
def ingress(backends: Backends, nats: ServerProcess, tmp_path: Path) -> Iterator[Cluster]:
    running = Cluster(
        f"nats://127.0.0.1:{nats.port}",
        backends.mongodb_uri,
        tmp_path / "logs",
        nats_users=nats.users,
        env={
            "DB_PREFIX": f"it{next(_prefixes)}",
            "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
            "STRIPE_WEBHOOK_SECRET": ",".join(STRIPE_SECRETS),
        },
    )
    running.start(("ingress",))
    yield running
    running.stop()


@pytest_asyncio.fixture
async def js(nats: ServerProcess) -> AsyncIterator[JetStreamContext]:
    nc = await nats_connect(nats.url)
    yield nc.jetstream()
    await nc.close()


async def stream_count(js: JetStreamContext, stream: str) -> int:
    info = await js.stream_info(stream)
    return int(info.state.messages)
