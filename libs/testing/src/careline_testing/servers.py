"""Real NATS (JetStream) and MongoDB-wire servers on free ports, for tests and `make run`."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from careline_contracts.access import IDENTITIES, authorization_block

PORTS_PER_WORKER = 1000
FIRST_WORKER_PORT = 10_000
"""pytest-xdist worker ``gwN`` hands out ports from its own block, ``FIRST_WORKER_PORT + N * 1000``
onwards: below the kernel's ephemeral range (32768-60999), so no other worker, and no outgoing
connection, is given a port this worker picked but has not bound yet."""

_next_port: dict[int, int] = {}


def free_port() -> int:
    """A port nothing listens on. Under pytest-xdist, one from this worker's own block."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker.startswith("gw"):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return int(s.getsockname()[1])
    first = FIRST_WORKER_PORT + int(worker[2:]) * PORTS_PER_WORKER
    # a child process (a tool a test runs) starts elsewhere in the block than the worker
    offset = _next_port.setdefault(first, os.getpid() % PORTS_PER_WORKER)
    for step in range(PORTS_PER_WORKER):
        port = first + (offset + step) % PORTS_PER_WORKER
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _next_port[first] = (offset + step + 1) % PORTS_PER_WORKER
        return port
    raise RuntimeError(f"no free port in {first}-{first + PORTS_PER_WORKER - 1}")


class Process(Protocol):
    """What the harness uses of a started process (``subprocess.Popen`` has it, and so has
    :class:`careline_testing.zygote.ForkedProcess`)."""

    pid: int
    returncode: int | None

    def poll(self) -> int | None: ...

    def wait(self, timeout: float | None = None) -> int: ...


def wait_for_port(port: int, timeout_s: float = 30.0, proc: Process | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {port}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on port {port} after {timeout_s}s")


def _bin(name: str) -> str:
    """A console script of the current environment (the venv's bin dir first)."""
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name} is not installed; run `make install`")
    return found


@dataclass
class ServerProcess:
    """A server we started; ``restart`` keeps its port and data."""

    name: str
    port: int
    args: list[str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    env: dict[str, str] = field(default_factory=dict)
    users: NatsUsers | None = None
    """A NATS server's users (None: a server without authentication, or not NATS)."""

    @property
    def url(self) -> str:
        """A NATS server's URL for the harness user (everything allowed), for tests to inspect."""
        base = f"nats://127.0.0.1:{self.port}"
        return self.users.url(base) if self.users is not None else base

    def start(self) -> None:
        log = open(self.log_path, "ab")  # noqa: SIM115 - closed with the process
        self.proc = subprocess.Popen(
            self.args,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **self.env},
            start_new_session=True,
        )
        wait_for_port(self.port, proc=self.proc)

    def stop(self, timeout_s: float = 10.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def restart(self) -> None:
        self.stop()
        self.start()


HARNESS_USER = "harness"
"""The tests' own NATS user, allowed everything: a test reads streams and consumers, publishes
forged events, as no Careline identity may. ``make run`` has no such user."""


@dataclass(frozen=True)
class NatsUsers:
    """Passwords, generated for one server run, of every identity in ``careline_contracts.access``."""

    passwords: dict[str, str]
    harness: str | None = None
    """The harness user's password (tests), or None (``make run``)."""

    @classmethod
    def generate(cls, *, harness: bool = True) -> NatsUsers:
        return cls(
            {name: secrets.token_urlsafe(24) for name in IDENTITIES},
            secrets.token_urlsafe(24) if harness else None,
        )

    def env(self, identity: str) -> dict[str, str]:
        """The settings a process needs to connect as ``identity``."""
        return {"NATS_USER": identity, "NATS_PASSWORD": self.passwords[identity]}

    def url(self, url: str, identity: str = HARNESS_USER) -> str:
        """``url`` with ``identity``'s credentials in it (the harness's, by default)."""
        password = self.harness if identity == HARNESS_USER else self.passwords[identity]
        if password is None:
            raise ValueError("this server has no harness user")
        return url.replace("://", f"://{identity}:{password}@", 1)

    def authorization(self) -> str:
        superusers = {HARNESS_USER: self.harness} if self.harness is not None else {}
        return authorization_block(self.passwords, superusers)


def nats_server(data_dir: Path, port: int | None = None, users: NatsUsers | None = None) -> ServerProcess:
    """A JetStream server on ``port``; with ``users`` (generated when not given), it refuses
    anonymous connections and holds every identity to its permissions."""
    port = port or free_port()
    store = data_dir / "nats"
    store.mkdir(parents=True, exist_ok=True)
    users = users or NatsUsers.generate()
    config = data_dir / "nats.conf"
    config.touch(mode=0o600)
    config.chmod(0o600)  # a file left by an older run keeps its mode otherwise: it holds passwords
    config.write_text(users.authorization())
    return ServerProcess(
        "nats",
        port,
        [
            _bin("nats-server"),
            "-c",
            str(config),
            "-js",
            "-a",
            "127.0.0.1",
            "-p",
            str(port),
            "-sd",
            str(store),
        ],
        data_dir / "nats.log",
        users=users,
    )


def nats_cluster(data_dir: Path, users: NatsUsers | None = None, size: int = 3) -> list[ServerProcess]:
    """``size`` JetStream servers routed into one cluster on free local ports, sharing ``users``.

    Each server's ``name`` is its ``server_name`` (``n0``, ``n1``, ...), the name JetStream gives
    a stream's leader, and each keeps its store under ``data_dir/<name>``, so a server killed and
    started again rejoins with what it held. Plain TCP on 127.0.0.1: the TLS of the Kubernetes
    configuration is tested on its own (tests/integration/test_nats_cluster.py).
    """
    users = users or NatsUsers.generate()
    ports = [(free_port(), free_port()) for _ in range(size)]  # (client, route)
    routes = ", ".join(f"nats://127.0.0.1:{route}" for _, route in ports)
    servers = []
    for i, (client, route) in enumerate(ports):
        home = data_dir / f"n{i}"
        store = home / "jetstream"
        store.mkdir(parents=True, exist_ok=True)
        config = home / "nats.conf"
        config.touch(mode=0o600)
        config.write_text(
            "\n".join(
                (
                    f"server_name: n{i}",
                    f"listen: 127.0.0.1:{client}",
                    f'jetstream {{ store_dir: "{home / "jetstream"}" }}',
                    f"cluster {{ name: careline, listen: 127.0.0.1:{route}, routes: [{routes}] }}",
                    users.authorization(),
                )
            )
        )
        servers.append(
            ServerProcess(
                f"n{i}", client, [_bin("nats-server"), "-c", str(config)], home / "nats.log", users=users
            )
        )
    return servers


TRANSACTION_LIFETIME_S = 15.0
"""How long a dead client's open transaction holds its documents (mongod's default is 60 s)."""


def mongo_server(data_dir: Path, port: int | None = None) -> ServerProcess:
    port = port or free_port()
    store = data_dir / "mongo"
    store.mkdir(parents=True, exist_ok=True)
    return ServerProcess(
        "mongodb",
        port,
        [
            sys.executable,
            "-m",
            "careline_testing.secantusd",
            "--transaction-lifetime-s",
            str(TRANSACTION_LIFETIME_S),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--storage-path",
            str(store),
            "--log-level",
            "WARNING",
        ],
        data_dir / "mongo.log",
    )


@dataclass
class Backends:
    """A NATS server and a MongoDB-wire server, both started and owned by the caller."""

    nats: ServerProcess
    mongo: ServerProcess
    data_dir: Path

    @property
    def nats_url(self) -> str:
        """The URL services connect to, each with its own credentials (``nats_env``)."""
        return f"nats://127.0.0.1:{self.nats.port}"

    @property
    def harness_url(self) -> str:
        """The URL with the harness user's credentials, for a test's own client."""
        return self.nats.url

    @property
    def mongodb_uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.mongo.port}/?directConnection=true"

    def stop(self) -> None:
        self.nats.stop()
        self.mongo.stop()


def start_backends(data_dir: Path | None = None) -> Backends:
    data = data_dir or Path(tempfile.mkdtemp(prefix="careline-"))
    backends = Backends(nats_server(data), mongo_server(data), data)
    backends.nats.start()
    backends.mongo.start()
    return backends
