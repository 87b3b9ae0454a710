"""`make run`: NATS with JetStream, a MongoDB-wire server and the four services, on one machine.

Data lives under `.data/` (`CARELINE_DATA_DIR`). Logs of every process are shown in this
terminal, prefixed by name. A service that exits without being asked to is restarted with a
growing delay, as compose's `restart: unless-stopped` would, and the terminal says so; after
five quick failures in a row the run stops everything and exits 1
(`careline_platform.supervision` decides, this file only watches and starts processes). A
service is up once it logged `service.started`, so `LOG_LEVEL` must stay INFO or DEBUG here.
Ctrl-C stops the services gracefully (SIGTERM), then the servers.

NATS refuses anonymous clients: each run generates a password for every identity of
`careline_contracts.access`, hands each service its own, and writes the operator's to
`.data/nats/operator.json` (mode 600), where the `careline` CLI and `make chat` find it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from careline_platform.nats_auth import local_credentials_path, write_local_credentials
from careline_platform.services import EDGE, SERVICES, ServiceInfo
from careline_platform.settings import Settings
from careline_platform.supervision import Exit, GiveUp, RestartPolicy, next_action, restart_report
from careline_testing.servers import NatsUsers, ServerProcess, mongo_server, nats_server

SERVICE_COLORS = (36, 35, 33, 32, 34, 31)  # cyan, magenta, yellow, green, then blue and red
COLORS = {"nats": 90, "mongodb": 90, "run": 1} | {
    s.name: c for s, c in zip(SERVICES, SERVICE_COLORS, strict=False)
}
POLICY = RestartPolicy()
STOP_TIMEOUT_S = 15.0
UP_EVENT = b"service.started"
"""What every service logs once it is up (console or JSON, at INFO): from then on it counts as up."""


def prefix(name: str) -> str:
    color = COLORS.get(name, 0) if sys.stdout.isatty() else None
    return f"\x1b[{color}m{name:>12}\x1b[0m |" if color else f"{name:>12} |"


def say(text: str) -> None:
    """A line of `make run` itself, among the services' lines."""
    sys.stdout.write(f"{prefix('run')} {text}\n")
    sys.stdout.flush()


def pump(name: str, stream: object, on_line: Callable[[bytes], None] | None = None) -> None:
    head = prefix(name)
    for line in iter(stream.readline, b""):  # type: ignore[attr-defined]
        sys.stdout.write(f"{head} {line.decode(errors='replace').rstrip()}\n")
        sys.stdout.flush()
        if on_line is not None:
            on_line(line)


def port_of(url: str, default: int) -> int:
    tail = url.split(",")[0].rsplit(":", 1)[-1].split("/")[0]
    return int(tail) if tail.isdigit() else default


@dataclass
class Supervised:
    """One service under supervision: its process, when that started, and its unasked exits."""

    info: ServiceInfo
    env: dict[str, str]
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    up_at: float | None = None
    history: list[Exit] = field(default_factory=list)
    restart_at: float | None = None

    def start(self) -> None:
        proc = subprocess.Popen(
            [sys.executable, "-m", self.info.package],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self.proc, self.started_at, self.up_at, self.restart_at = proc, time.monotonic(), None, None

        def watch(line: bytes) -> None:  # this run, not a later one, said it is up
            if self.proc is proc and self.up_at is None and UP_EVENT in line:
                self.up_at = time.monotonic()

        threading.Thread(target=pump, args=(self.info.name, proc.stdout, watch), daemon=True).start()
        say(f"started {self.info.name} (pid {proc.pid})")

    def due(self, now: float) -> bool:
        """Whether a restart waits and its delay is over."""
        return self.proc is None and self.restart_at is not None and now >= self.restart_at

    def exited(self) -> Exit | None:
        """The exit of a process that has just ended, once (None while it runs or waits)."""
        if self.proc is None or (code := self.proc.poll()) is None:
            return None
        self.proc = None
        ended = Exit(self.started_at, time.monotonic(), code, self.up_at)
        self.history.append(ended)
        return ended

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)

    def wait_stopped(self, deadline: float) -> None:
        if self.proc is None:
            return
        try:
            self.proc.wait(max(deadline - time.monotonic(), 0.0))
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def supervise(services: list[Supervised], stop: threading.Event, settings: Settings) -> int:
    """Restart what exits until Ctrl-C (0) or a service fails quickly too often (1)."""
    announced = False
    while not stop.is_set():
        for service in services:
            if stop.is_set():  # Ctrl-C reached the services too: their exits are asked for
                break
            ended = service.exited()
            if ended is not None:
                action = next_action(service.history, POLICY)
                say(restart_report(service.info.name, ended, action, POLICY))
                if isinstance(action, GiveUp):
                    print(f"make run: {service.info.name} keeps failing; stopped everything", file=sys.stderr)
                    return 1
                service.restart_at = time.monotonic() + action.delay_s
            elif service.due(time.monotonic()):
                service.start()
        if not announced and any(s.info.name == EDGE and s.up_at is not None for s in services):
            announced = True
            sandbox = "sandbox (no Twilio credential)" if settings.twilio_sandbox else "Twilio"
            say(f"Careline is up: {settings.public_base_url}  outbound SMS: {sandbox}")
            say("Text the line with `make chat` in another terminal. Ctrl-C stops everything.")
        stop.wait(0.2)
    say("stopping...")
    return 0


def main() -> int:
    settings = Settings()
    data = Path(os.environ.get("CARELINE_DATA_DIR", ".data")).resolve()
    data.mkdir(parents=True, exist_ok=True)
    users = NatsUsers.generate(harness=False)
    servers: list[ServerProcess] = [nats_server(data, port_of(settings.nats_url, 4222), users)]
    if "MONGODB_URI" not in os.environ:
        servers.append(mongo_server(data, port_of(settings.mongodb_uri, 27017)))
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):  # Ctrl-C (even twice) just asks for a clean stop
        signal.signal(sig, lambda *_: stop.set())
    env = {**os.environ, "LOG_FORMAT": os.environ.get("LOG_FORMAT", "console"), "PYTHONUNBUFFERED": "1"}
    services = [Supervised(info, {**env, **users.env(info.name)}) for info in SERVICES]
    try:
        for server in servers:
            say(f"starting {server.name} on port {server.port} (log: {server.log_path})")
            server.start()
        write_local_credentials(local_credentials_path(), "operator", users.passwords["operator"])
        for service in services:
            service.start()
        return supervise(services, stop, settings)
    finally:
        for service in services:
            service.stop()
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for service in services:
            service.wait_stopped(deadline)
        for server in reversed(servers):
            server.stop()
        say("stopped")


if __name__ == "__main__":
    sys.exit(main())
