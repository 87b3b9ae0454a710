"""`make run`: NATS with JetStream, a MongoDB-wire server and the four services, on one machine.

Data lives under `.data/`. Logs of every process are shown in this terminal, prefixed by name.
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
from pathlib import Path

from careline_platform.nats_auth import local_credentials_path, write_local_credentials
from careline_platform.services import EDGE, SERVICES
from careline_platform.settings import Settings
from careline_testing.servers import NatsUsers, ServerProcess, mongo_server, nats_server, wait_for_port

SERVICE_COLORS = (36, 35, 33, 32, 34, 31)  # cyan, magenta, yellow, green, then blue and red
COLORS = {"nats": 90, "mongodb": 90} | {s.name: c for s, c in zip(SERVICES, SERVICE_COLORS, strict=False)}


def pump(name: str, stream: object) -> None:
    color = COLORS.get(name, 0) if sys.stdout.isatty() else None
    prefix = f"\x1b[{color}m{name:>12}\x1b[0m |" if color else f"{name:>12} |"
    for line in iter(stream.readline, b""):  # type: ignore[attr-defined]
        sys.stdout.write(f"{prefix} {line.decode(errors='replace').rstrip()}\n")
        sys.stdout.flush()


def port_of(url: str, default: int) -> int:
    tail = url.rsplit(":", 1)[-1].split("/")[0]
    return int(tail) if tail.isdigit() else default


def main() -> int:
    settings = Settings()
    data = Path(os.environ.get("CARELINE_DATA_DIR", ".data")).resolve()
    data.mkdir(parents=True, exist_ok=True)
    users = NatsUsers.generate(harness=False)
    servers: list[ServerProcess] = [nats_server(data, port_of(settings.nats_url, 4222), users)]
    if "MONGODB_URI" not in os.environ:
        servers.append(mongo_server(data, port_of(settings.mongodb_uri, 27017)))
    procs: list[tuple[str, subprocess.Popen[bytes]]] = []
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):  # Ctrl-C (even twice) just asks for a clean stop
        signal.signal(sig, lambda *_: stop.set())
    try:
        for server in servers:
            print(f"starting {server.name} on port {server.port} (log: {server.log_path})")
            server.start()
        write_local_credentials(local_credentials_path(), "operator", users.passwords["operator"])
        env = {**os.environ, "LOG_FORMAT": os.environ.get("LOG_FORMAT", "console"), "PYTHONUNBUFFERED": "1"}
        for info in SERVICES:
            name = info.name
            proc = subprocess.Popen(
                [sys.executable, "-m", info.package],
                env={**env, **users.env(name)},
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
            threading.Thread(target=pump, args=(name, proc.stdout), daemon=True).start()
            procs.append((name, proc))
        wait_for_port(settings.ingress_port, timeout_s=60, proc=dict(procs)[EDGE])
        sandbox = "sandbox (no Twilio credential)" if settings.twilio_sandbox else "Twilio"
        print(f"\nCareline is up: {settings.public_base_url}  outbound SMS: {sandbox}")
        print("Text the line with `make chat` in another terminal. Ctrl-C stops everything.\n")
        while not stop.is_set() and all(p.poll() is None for _, p in procs):
            stop.wait(0.5)
        dead = [n for n, p in procs if p.poll() is not None]
        if dead:
            print(f"service(s) exited: {', '.join(dead)}; stopping", file=sys.stderr)
            return 1
        print("\nstopping...")
        return 0
    finally:
        for _, proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for _, proc in procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
        for server in reversed(servers):
            server.stop()


if __name__ == "__main__":
    sys.exit(main())
