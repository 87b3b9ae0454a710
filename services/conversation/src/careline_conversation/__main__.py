"""Run the conversation service: ``python -m careline_conversation``."""

from careline_conversation.app import NAME, create_service
from careline_platform.main import run_service

if __name__ == "__main__":
    run_service(NAME, create_service)
