"""The benchmark's load generator: a lean HTTP/1.1 client and the two load patterns.

The client is a few lines over asyncio streams (keep-alive, pre-built requests), so the
generator spends as little of the machine's two cores as possible and the same generator
drives every target. An operation is any awaitable that returns True on success: a webhook
post, or a raw JetStream publish.

Fixed rate (open loop): operation ``i`` is due at ``start + i / rate`` and runs whether or
not earlier ones finished; its latency counts from when it was due, so a stalled server is
not hidden by a generator that waited for it (no coordinated omission). Closed loop: N
clients, each starts its next operation when the last one answered; throughput is the result.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

Operation = Callable[[int], Awaitable[bool]]


class HttpConnection:
    """One keep-alive HTTP/1.1 connection; answers must carry Content-Length (uvicorn's do)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> HttpConnection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def send(self, raw: bytes) -> tuple[int, bytes]:
        """Send one pre-built request; the answer's status code and body."""
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        body = await self.reader.readexactly(length) if length else b""
        return int(head[9:12]), body

    def close(self) -> None:
        self.writer.close()


def http_request(port: int, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> bytes:
    """A POST with ``body`` (a GET without one), as bytes ready to send."""
    method = "POST" if body else "GET"
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class HttpPool:
    """Connections to one port, opened on demand and reused (one request per connection at a time).

    A connection idle for longer than ``max_idle_s`` is dropped rather than reused: uvicorn
    closes keep-alive connections after 5 s, and a request written into a closing one is lost.
    """

    def __init__(self, port: int, max_idle_s: float = 3.0) -> None:
        self.port = port
        self.max_idle_s = max_idle_s
        self.idle: list[tuple[float, HttpConnection]] = []
        self.opened = 0

    async def _connection(self) -> HttpConnection:
        while self.idle:
            since, conn = self.idle.pop()
            if time.monotonic() - since < self.max_idle_s:
                return conn
            conn.close()
        self.opened += 1
        return await HttpConnection.open(self.port)

    async def send(self, raw: bytes) -> tuple[int, bytes]:
        conn = await self._connection()
        try:
            answer = await conn.send(raw)
        except BaseException:
            conn.close()
            raise
        self.idle.append((time.monotonic(), conn))
        return answer

    def close(self) -> None:
        for _, conn in self.idle:
            conn.close()
        self.idle.clear()


@dataclass
class Sample:
    """What one load phase measured: per-operation latencies (ms) and the wall time it took."""

    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    elapsed_s: float = 0.0
    sent_at: dict[int, float] = field(default_factory=dict)
    """Monotonic time each operation was due (fixed rate) or started (closed loop)."""

    def summary(self) -> dict[str, Any]:
        ordered = sorted(self.latencies_ms)
        ok = len(ordered)
        return {
            "requests": ok + self.errors,
            "errors": self.errors,
            "seconds": round(self.elapsed_s, 3),
            "throughput_rps": round(ok / self.elapsed_s, 1) if self.elapsed_s else 0.0,
            **latency_summary(ordered),
        }


def percentile(ordered: list[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    if not ordered:
        return float("nan")
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def latency_summary(ordered: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(percentile(ordered, 50), 2),
        "p95_ms": round(percentile(ordered, 95), 2),
        "p99_ms": round(percentile(ordered, 99), 2),
        "max_ms": round(ordered[-1], 2) if ordered else float("nan"),
        "mean_ms": round(sum(ordered) / len(ordered), 2) if ordered else float("nan"),
    }


async def _timed(op: Operation, i: int, due: float, sample: Sample) -> None:
    try:
        ok = await op(i)
    except (TimeoutError, OSError, asyncio.IncompleteReadError):
        ok = False
    if ok:
        sample.latencies_ms.append((time.monotonic() - due) * 1000)
    else:
        sample.errors += 1


async def fixed_rate(op: Operation, rate: float, count: int) -> Sample:
    """``count`` operations at ``rate`` per second, each timed from when it was due."""
    sample, tasks = Sample(), []
    start = time.monotonic() + 0.05
    for i in range(count):
        due = start + i / rate
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        sample.sent_at[i] = due
        tasks.append(asyncio.create_task(_timed(op, i, due, sample)))
    await asyncio.gather(*tasks)
    sample.elapsed_s = time.monotonic() - start
    return sample


async def closed_loop(op: Operation, clients: int, duration_s: float, limit: int | None = None) -> Sample:
    """``clients`` concurrent clients for ``duration_s`` (or ``limit`` operations in all)."""
    sample, counter = Sample(), iter(range(limit if limit is not None else 10**9))
    start = time.monotonic()
    stop_at = start + duration_s

    async def client() -> None:
        for i in counter:
            if time.monotonic() >= stop_at:
                return
            begun = time.monotonic()
            sample.sent_at[i] = begun
            await _timed(op, i, begun, sample)

    await asyncio.gather(*(client() for _ in range(clients)))
    sample.elapsed_s = time.monotonic() - start
    return sample
