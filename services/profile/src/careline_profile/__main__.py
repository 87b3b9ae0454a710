"""Run the profile service: ``python -m careline_profile``."""

from careline_platform.main import run_service
from careline_profile.app import NAME, create_service

if __name__ == "__main__":
    run_service(NAME, create_service)
