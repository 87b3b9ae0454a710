"""The four Careline services as real processes, as `make run` and the e2e tests start them.

A process is started by a *launcher*: by default ``subprocess.Popen([python, -m, package])``;
the test suite installs a :class:`~careline_testing.zygote.Zygote` (:func:`use_launcher`), which
forks the same thing from an interpreter that has already imported every service.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from careline_platform.services import EDGE, SERVICE_NAMES, service
from careline_platform.services import SERVICES as SERVICE_INFOS
from careline_testing.servers import NatsUsers, Process, free_port, wait_for_port
from careline_testing.zygote import Zygote, zygote_supported

SERVICES = SERVICE_NAMES  # the one list (careline_platform.services), under its old name here


class Launcher(Protocol):
    def spawn(self, package: str, env: dict[str, str], log_path: Path) -> Process:
        """Start ``python -m package`` in a new session, stdout and stderr appended to ``log_path``."""
        ...


class Subprocesses:
    """A fresh interpreter per process: what ``make run``, the bench and the tools use."""

    def spawn(self, package: str, env: dict[str, str], log_path: Path) -> Process:
        with open(log_path, "ab") as log:  # the child has its own copy of the descriptor
            return subprocess.Popen(
                [sys.executable, "-m", package],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )


def service_zygote() -> Zygote:
    """A zygote that imports the four services."""
    return Zygote(tuple(info.package for info in SERVICE_INFOS))


def launcher_from_environment() -> Launcher:
    """Fresh interpreters; or forks of a zygote when ``CARELINE_ZYGOTE=1``, which the tests set
    for the tools they run (``make latency`` and ``make bench`` themselves never do: a fork
    carries every service's imports, so its memory is not a lone service's)."""
    if os.environ.get("CARELINE_ZYGOTE") == "1" and zygote_supported():
        return service_zygote()
    return Subprocesses()


_launcher: Launcher = launcher_from_environment()


def use_launcher(launcher: Launcher) -> Launcher:
    """Start every later :class:`ServiceProcess` with ``launcher``; returns the one it replaces."""
    global _launcher
    previous, _launcher = _launcher, launcher
    return previous


@dataclass
class ServiceProcess:
    name: str
    env: dict[str, str]
    log_path: Path
    proc: Process | None = None
    _log_offset: int = 0

    def start(self) -> None:
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        self.proc = _launcher.spawn(service(self.name).package, self.env, self.log_path)

    def wait_started(self, timeout_s: float = 60.0) -> None:
        """Block until this run of the process logged ``service.started``."""
        deadline = time.monotonic() + timeout_s
        while True:
            with open(self.log_path, "rb") as log:
                log.seek(self._log_offset)
                if b'"service.started"' in log.read():
                    return
            if self.proc is None or self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited during start-up; see {self.log_path}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name} did not start in {timeout_s} s; see {self.log_path}")
            time.sleep(0.05)

    def signal(self, sig: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)

    def stop(self, timeout_s: float = 15.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.signal(signal.SIGTERM)
        self.wait_stopped(time.monotonic() + timeout_s)

    def wait_stopped(self, deadline: float) -> None:
        """Wait (until ``deadline``, a monotonic time) for a process told to stop; then kill it."""
        if self.proc is None:
            return
        try:
            self.proc.wait(max(deadline - time.monotonic(), 0.0))
        except subprocess.TimeoutExpired:  # Popen's and ForkedProcess's
            self.signal(signal.SIGKILL)
            self.proc.wait()

    def kill(self) -> None:
        self.signal(signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait()


@dataclass
class Cluster:
    """All four services against given backends; ``env`` overrides settings for every one."""

    nats_url: str
    mongodb_uri: str
    log_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    ingress_port: int = field(default_factory=free_port)
    processes: dict[str, ServiceProcess] = field(default_factory=dict)
    metrics_ports: dict[str, int] = field(default_factory=dict)
    nats_users: NatsUsers | None = None
    """The NATS server's users: each service connects as itself (None: an open server)."""

    @property
    def harness_url(self) -> str:
        """The NATS URL for a test's own client: the harness user's, which may do anything."""
        return self.nats_users.url(self.nats_url) if self.nats_users is not None else self.nats_url

    @property
    def harness_servers(self) -> list[str]:
        """Every server of ``nats_url`` (a cluster lists several) with the harness user's credentials."""
        urls = [url.strip() for url in self.nats_url.split(",") if url.strip()]
        return [self.nats_users.url(url) for url in urls] if self.nats_users is not None else urls

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.ingress_port}"

    def service_env(self, name: str | None = None) -> dict[str, str]:
        """The environment of service ``name`` (with its NATS credentials), or what all share."""
        credentials = self.nats_users.env(name) if self.nats_users is not None and name else {}
        return {
            **os.environ,
            "NATS_URL": self.nats_url,
            "MONGODB_URI": self.mongodb_uri,
            "INGRESS_PORT": str(self.ingress_port),
            "PUBLIC_BASE_URL": self.base_url,
            "LOG_FORMAT": "json",
            # ingress's spool beside the logs, never the checkout's .data/ (each test its own)
            "INGRESS_SPOOL_DIR": str(self.log_dir.parent / "spool"),
            **credentials,
            **self.env,
        }

    def start(self, names: tuple[str, ...] = SERVICES) -> None:
        level = self.service_env().get("LOG_LEVEL", "INFO").upper()
        if level not in ("DEBUG", "INFO"):  # a service is up once it logged service.started
            raise ValueError(f"LOG_LEVEL {level}: a cluster needs INFO or DEBUG to see its services start")
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for name in names:
            env = self.service_env(name)
            if service(name).metrics_port is not None:  # else /metrics is on its HTTP port
                self.metrics_ports[name] = free_port()
                env["METRICS_PORT"] = str(self.metrics_ports[name])
            proc = ServiceProcess(name, env, self.log_dir / f"{name}.log")
            proc.start()
            self.processes[name] = proc
        if EDGE in names:
            wait_for_port(self.ingress_port, timeout_s=60, proc=self.processes[EDGE].proc)
        for name in names:
            self.processes[name].wait_started()

    def stop(self, timeout_s: float = 15.0) -> None:
        """SIGTERM to every service at once, then wait for all: they drain in parallel."""
        running = [p for p in self.processes.values() if p.proc is not None and p.proc.poll() is None]
        for proc in running:
            proc.signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for proc in running:
            proc.wait_stopped(deadline)
