"""The one ``main()`` of every service process: ``python -m careline_<name>`` calls :func:`run_service`.

Each service's ``__main__`` hands over its name and its composition root
(``create_service(settings)``); this reads the settings, configures logging once, builds the
service and runs it until SIGTERM or SIGINT. The service's factory is passed in rather than
looked up by name, because libraries never import services.
"""

from __future__ import annotations

import asyncio
import importlib.util
import signal
from collections.abc import Awaitable, Callable
from types import FrameType
from typing import Protocol

from careline_platform.logging import configure_logging
from careline_platform.services import service
from careline_platform.settings import Settings


class Runnable(Protocol):
    """What a composition root returns: a service that runs until it is signalled."""

    async def run_until_signalled(self) -> None: ...


ServiceFactory = Callable[[Settings], Awaitable[Runnable]]


def exit_cleanly(_signum: int, _frame: FrameType | None) -> None:
    """A SIGTERM while still connecting, before the runtime handles signals: exit 0, not -15."""
    raise SystemExit(0)


async def serve(create_service: ServiceFactory, settings: Settings) -> None:
    """Build the service (connects to NATS and MongoDB) and run it until signalled."""
    runtime = await create_service(settings)
    await runtime.run_until_signalled()


def loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop for a service that asks for it and has it installed; else asyncio's default."""
    if not service(name).uvloop or importlib.util.find_spec("uvloop") is None:
        return None
    import uvloop

    return uvloop.new_event_loop


def run_service(name: str, create_service: ServiceFactory) -> None:
    """Run the service ``name`` (one of ``careline_platform.services.SERVICES``) in this process."""
    factory = loop_factory(name)  # an unknown name fails here, before anything connects
    signal.signal(signal.SIGTERM, exit_cleanly)
    settings = Settings()
    configure_logging(name, fmt=settings.log_format, level=settings.log_level)
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(serve(create_service, settings))
