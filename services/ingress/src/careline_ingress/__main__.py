"""Run the ingress service: ``python -m careline_ingress``."""

import signal
from types import FrameType

import uvicorn

from careline_ingress.app import NAME, create_app
from careline_platform.logging import configure_logging
from careline_platform.settings import Settings


def exit_cleanly(_signum: int, _frame: FrameType | None) -> None:
    """A SIGTERM before uvicorn runs, or re-raised by uvicorn after its graceful shutdown: exit 0."""
    raise SystemExit(0)


def main() -> None:
    signal.signal(signal.SIGTERM, exit_cleanly)
    settings = Settings()
    configure_logging(NAME, fmt=settings.log_format, level=settings.log_level)
    uvicorn.run(
        create_app(settings),
        host=settings.ingress_host,
        port=settings.ingress_port,
        log_config=None,
        access_log=False,
        lifespan="on",
        # SIGTERM: stop accepting, answer the requests in flight (each ends once JetStream acked
        # or refused), then the lifespan's shutdown; bounded so the pod stops within its grace
        timeout_graceful_shutdown=round(settings.shutdown_grace_s),
    )


if __name__ == "__main__":
    main()
