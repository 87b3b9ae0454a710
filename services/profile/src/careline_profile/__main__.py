"""Run the profile service: ``python -m careline_profile``."""

import asyncio

from careline_platform.logging import configure_logging
from careline_platform.settings import Settings
from careline_profile.app import NAME, create_service


async def main() -> None:
    settings = Settings()
    configure_logging(NAME, fmt=settings.log_format, level=settings.log_level)
    runtime = await create_service(settings)
    await runtime.run_until_signalled()


if __name__ == "__main__":
    asyncio.run(main())
