"""The four Careline services, listed once: every place that enumerates them reads this list.

``make run``, the test clusters, the CLI, the admin API's fan-out, the compose and Kubernetes
checks and each service's default metrics port all used to spell the four names out; a fifth
service (or a renamed one) now changes here only. Plain data, no imports of the services
themselves: libraries never import services (see ``tests/unit/test_layering.py``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ServiceInfo:
    """One service: its name, the package that runs it and where it listens by default."""

    name: str
    metrics_port: int | None
    """Default port of its own ``/metrics`` server; None when its HTTP app serves ``/metrics``."""
    http_port: int | None = None
    """Default HTTP port, for the one service that has an HTTP edge (``INGRESS_PORT``)."""
    uvloop: bool = False
    """Run on uvloop when it is installed (ingress, as uvicorn ran it: the webhook's latency)."""

    @property
    def package(self) -> str:
        """The import name of the service's package: ``python -m <package>`` runs it."""
        return f"careline_{self.name}"


SERVICES: tuple[ServiceInfo, ...] = (
    ServiceInfo("ingress", metrics_port=None, http_port=8080, uvloop=True),
    ServiceInfo("conversation", metrics_port=9101),
    ServiceInfo("billing", metrics_port=9102),
    ServiceInfo("profile", metrics_port=9103),
)
SERVICE_NAMES: tuple[str, ...] = tuple(s.name for s in SERVICES)
EDGE = "ingress"
"""The service with the HTTP edge; the others are reached over NATS only."""
BEHIND_EDGE: tuple[str, ...] = tuple(name for name in SERVICE_NAMES if name != EDGE)
"""The services the edge asks over NATS (admin fan-out, backfill slices)."""


def service(name: str) -> ServiceInfo:
    """The entry of ``name``; a name not in the list is a programming error (KeyError)."""
    for info in SERVICES:
        if info.name == name:
            return info
    raise KeyError(f"no Careline service named {name!r}; known: {', '.join(SERVICE_NAMES)}")


def default_metrics_ports() -> dict[str, int]:
    """Service name -> its default ``/metrics`` port, for the services that serve one apart."""
    return {s.name: s.metrics_port for s in SERVICES if s.metrics_port is not None}
