"""Run the ingress service: ``python -m careline_ingress``."""

import uvicorn

from careline_ingress.app import NAME, create_app
from careline_platform.logging import configure_logging
from careline_platform.settings import Settings


def main() -> None:
    settings = Settings()
    configure_logging(NAME, fmt=settings.log_format, level=settings.log_level)
    uvicorn.run(
        create_app(settings),
        host=settings.ingress_host,
        port=settings.ingress_port,
        log_config=None,
        access_log=False,
        lifespan="on",
    )


if __name__ == "__main__":
    main()
