"""Run the ingress service: ``python -m careline_ingress``."""

from careline_ingress.app import NAME, create_service
from careline_platform.main import run_service

if __name__ == "__main__":
    run_service(NAME, create_service)
