"""Latency of the Twilio SMS webhook: N sequential signed posts against a real local stack.

Starts its own NATS and MongoDB-wire servers and the four services (sandbox SMS), then posts
N signed inbound messages one after another from ``--senders`` numbers and reports the median,
p95 and p99 of the time until ingress answered (i.e. until JetStream acknowledged the message),
over all posts and split into known callers and first contacts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from careline_testing.processes import Cluster
from careline_testing.servers import start_backends
from careline_testing.signing import inbound_sms_params, twilio_form

TOKEN = "latency-token"
WARM_UP = 20
"""Posts that warm up connections and caches first, not counted."""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


async def measure(cluster: Cluster, count: int, senders: int) -> tuple[list[float], list[float]]:
    """Timings of every post after the warm-up, and of those that were a sender's first text
    (a new caregiver: ingress creates the identity and announces it before the message)."""
    url = f"{cluster.base_url}/webhooks/twilio/sms"
    timings: list[float] = []
    first_contacts: list[float] = []
    async with httpx.AsyncClient(timeout=10) as client:
        for i in range(count + WARM_UP):
            params = inbound_sms_params(f"+1415555{i % senders:04d}", f"message {i}")
            body, headers = twilio_form(TOKEN, url, params)
            started = time.perf_counter()
            resp = await client.post(url, content=body, headers=headers)
            elapsed = (time.perf_counter() - started) * 1000
            if resp.status_code != 200:
                raise SystemExit(f"post {i} answered {resp.status_code}")
            if i >= WARM_UP:
                timings.append(elapsed)
                if i < senders:
                    first_contacts.append(elapsed)
    return timings, first_contacts


def summary(timings: list[float]) -> dict[str, float]:
    return {
        "median_ms": round(statistics.median(timings), 2),
        "p95_ms": round(percentile(timings, 95), 2),
        "p99_ms": round(percentile(timings, 99), 2),
        "max_ms": round(max(timings), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--senders", type=int, default=50)
    parser.add_argument("--out", type=Path, default=None, help="write the figures as JSON")
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="careline-latency-"))
    backends = start_backends(data)
    cluster = Cluster(
        backends.nats_url,
        backends.mongodb_uri,
        data / "logs",
        nats_users=backends.nats.users,
        env={"SANDBOX_AUTH_TOKEN": TOKEN, "LOG_LEVEL": "INFO"},  # as in production
    )
    try:
        cluster.start()
        time.sleep(2.0)  # let the consumers bind before measuring
        timings, first = asyncio.run(measure(cluster, args.count, args.senders))
    finally:
        cluster.stop()
        backends.stop()
    known = sorted(timings)
    for t in first:
        known.remove(t)
    result: dict[str, object] = {"posts": len(timings), **summary(timings)}
    if first and known:
        result["known_callers"] = {"posts": len(known), **summary(known)}
        result["first_contacts"] = {"posts": len(first), **summary(first)}
    print(json.dumps(result, indent=2))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
