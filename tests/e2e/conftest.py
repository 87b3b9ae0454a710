"""A whole Careline (four service processes) against the session's servers and a fake Twilio."""

from __future__ import annotations

import itertools
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from pymongo import AsyncMongoClient
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver

from careline_ingress.integrations.signatures import SANDBOX_STRIPE_SECRET
from careline_testing.fakes import FakeTwilio, ThreadedServer
from careline_testing.processes import Cluster
from careline_testing.servers import Backends, ServerProcess

TWILIO_TOKEN = "e2e-twilio-auth-token"
STRIPE_SECRET = SANDBOX_STRIPE_SECRET
"""The cluster runs Stripe's sandbox (no Stripe credential at all: checkout is the local page),
so the tests sign Stripe events with the sandbox's public secret, as the page does."""
DUPLICATE_WINDOW_S = 2.0
CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
_prefixes = itertools.count()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        dest="update_golden",
        help="rewrite tests/e2e/golden/*.txt from what the line really sent (make golden-update)",
    )


@pytest.fixture
def fake_twilio() -> Iterator[tuple[FakeTwilio, str]]:
    fake = FakeTwilio()
    with ThreadedServer(fake.app()) as server:
        yield fake, server.url


@pytest.fixture
def clock_file(tmp_path: Path) -> Path:
    """The file whose number of seconds every service adds to its clock (set CLOCK_OFFSET_FILE to it)."""
    return tmp_path / "clock-offset"


@pytest.fixture
def cluster_env() -> dict[str, str]:
    """Settings a test module adds for its cluster (override the fixture in the module)."""
    return {}


@pytest.fixture
def cluster(
    backends: Backends,
    nats: ServerProcess,
    fake_twilio: tuple[FakeTwilio, str],
    tmp_path: Path,
    cluster_env: dict[str, str],
) -> Iterator[Cluster]:
    """The four services on the test's own NATS and its own databases (a name prefix)."""
    _fake, url = fake_twilio
    running = Cluster(
        f"nats://127.0.0.1:{nats.port}",
        backends.mongodb_uri,
        tmp_path / "logs",
        nats_users=nats.users,
        env={
            "DB_PREFIX": f"e2e{next(_prefixes)}",
            "TWILIO_ACCOUNT_SID": "AC" + "1" * 32,
            "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
            "TWILIO_API_BASE_URL": url,
            # a short de-duplication window lets tests post "after the window" in seconds
            "DUPLICATE_WINDOW_S": str(DUPLICATE_WINDOW_S),
            "TWILIO_TIMEOUT_S": "1",
            "JOBS_LEASE_S": "5",  # a killed worker's job is re-claimed within seconds
            **cluster_env,
        },
    )
    running.start()
    yield running
    running.stop()


@pytest_asyncio.fixture
async def mongo(backends: Backends) -> AsyncIterator[AsyncMongoClient[Any]]:
    """A client on the session's MongoDB-wire server, for tests that read the services' data."""
    client: AsyncMongoClient[Any] = AsyncMongoClient(backends.mongodb_uri, tz_aware=True)
    yield client
    await client.close()


@pytest.fixture
def browser() -> Iterator[WebDriver]:
    """Debian's headless Chromium, driven by Selenium through ChromeDriver (the browser tests)."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):  # `make test` installs them (make browser)
        pytest.fail("Debian's chromium and chromium-driver are not installed: run `make browser`")
    profile = tempfile.mkdtemp(prefix="careline-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,900",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
