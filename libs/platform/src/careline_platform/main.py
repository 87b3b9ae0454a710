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
import sys
from collections.abc import Awaitable, Callable
from types import FrameType
from typing import NoReturn, Protocol

from careline_platform.logging import configure_logging, get_logger
from careline_platform.production import EX_CONFIG, ConfigurationError, problems
from careline_platform.production import warnings as production_warnings
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


def refuse(name: str, reasons: list[str]) -> NoReturn:
    """One line per reason on stderr, then exit 78 (EX_CONFIG): nothing was started."""
    for reason in reasons:
        print(f"careline-{name}: refusing to start: {reason}", file=sys.stderr)
    raise SystemExit(EX_CONFIG)


def run_service(name: str, create_service: ServiceFactory) -> None:
    """Run the service ``name`` (one of ``careline_platform.services.SERVICES``) in this process.

    In production (``CARELINE_ENV``), a configuration with any problem
    (:func:`careline_platform.production.problems`) is refused before anything connects.
    """
    factory = loop_factory(name)  # an unknown name fails here, before anything connects
    signal.signal(signal.SIGTERM, exit_cleanly)
    settings = Settings()
    if found := problems(settings):
        refuse(name, found)
    key = settings.log_redaction_key
    configure_logging(
        name,
        fmt=settings.log_format,
        level=settings.log_level,
        tag_key=key.get_secret_value().encode() if key is not None else None,
    )
    log = get_logger(__name__)
    for warning in production_warnings(settings):
        log.warning("config.warning", warning=warning)
    log.info("service.mode", env=settings.careline_env)
    try:
        with asyncio.Runner(loop_factory=factory) as runner:
            runner.run(serve(create_service, settings))
    except ConfigurationError as exc:
        refuse(name, [str(exc)])
