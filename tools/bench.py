"""`make bench`: Careline's ingress and full turn under load, beside the ceilings of this machine.

Starts its own NATS and MongoDB-wire servers, the four services (rules agent, outbound SMS to
a fake Twilio API in its own process), and two references served the same way: a bare ASGI
endpoint that only answers 200 on ingress's uvicorn settings (the HTTP ceiling) and a raw
nats-py JetStream publish loop (the broker's ceiling). The load generator posts signed Twilio
webhooks at a fixed rate and in a closed loop, and measures:

- ingress latency (until JetStream acknowledged) and throughput, as ratios to the ceilings;
- webhook to reply: from a post until its reply reached the fake Twilio API;
- a replay storm: every message posted 5 times at once; each must get exactly one reply.

Writes ``result.json`` and ``latency.png`` under ``--out`` and prints a table with PASS/FAIL
per target. ``--quick`` runs shorter phases.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import platform
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nats
import uvloop
from nats.js import api as js_api

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_report
from bench_load import HttpPool, Sample, closed_loop, fixed_rate, http_request, latency_summary

from careline_platform.services import BEHIND_EDGE
from careline_testing.processes import Cluster
from careline_testing.servers import ServerProcess, free_port, start_backends
from careline_testing.signing import inbound_sms_params, twilio_form

TOKEN = "bench-twilio-token"
SMS_PATH = "/webhooks/twilio/sms"
ONBOARDING = ("hi", "Maria", "my mom", "dementia", "94110")
MESSAGES = (
    "Mom had a rough night and I barely slept",
    "I am so tired today",
    "Work and caregiving are a lot this week",
    "Thanks for listening, it helps",
    "Dad forgot my name again this morning",
    "I feel guilty taking time for myself",
)


@dataclass(frozen=True)
class Config:
    rate: float = 300.0
    """Fixed-rate phases: requests per second."""
    duration_s: float = 10.0
    """Length of each load phase."""
    clients: int = 32
    """Closed-loop phases: concurrent clients."""
    users: int = 40
    """Onboarded caregivers the load is spread over (the rules agent answers them)."""
    e2e_rate: float = 5.0
    """Webhook-to-reply phase: messages per second (what the pipeline sustains, see README)."""
    e2e_messages: int = 150
    storm_messages: int = 200
    storm_copies: int = 5
    reply_timeout_s: float = 120.0


PRESETS = {
    "full": Config(),
    "quick": Config(duration_s=4.0, users=24, e2e_messages=50, storm_messages=60),
    "tiny": Config(
        rate=40.0, duration_s=0.5, clients=4, users=3, e2e_messages=6, storm_messages=6, reply_timeout_s=40.0
    ),
}


class Stack:
    """Everything the benchmark runs against, each its own process; ``stop`` ends them all."""

    def __init__(self, data: Path, log_level: str, env: dict[str, str] | None = None) -> None:
        self.data = data
        self.backends = start_backends(data)
        py = [sys.executable, str(Path(__file__).resolve().parent / "bench_servers.py")]
        self.twilio = self._helper("twilio", py)
        self.bare = self._helper("bare", py)
        self.cluster = Cluster(
            self.backends.nats_url,
            self.backends.mongodb_uri,
            data / "logs",
            nats_users=self.backends.nats.users,
            env={
                "TWILIO_ACCOUNT_SID": "AC" + "b" * 32,
                "TWILIO_AUTH_TOKEN": TOKEN,
                "TWILIO_API_BASE_URL": f"http://127.0.0.1:{self.twilio.port}",
                "LOG_LEVEL": log_level,
                # a benchmark caregiver writes far more than the product allows a person to
                "RATE_WINDOW_LIMIT": "1000000",
                "RATE_DAILY_LIMIT": "1000000",
                **(env or {}),
            },
        )
        self.cluster.start()

    def _helper(self, kind: str, py: list[str]) -> ServerProcess:
        port = free_port()
        server = ServerProcess(kind, port, [*py, kind, "--port", str(port)], self.data / f"{kind}.log")
        server.start()
        return server

    def pids(self) -> dict[str, int]:
        procs = {"nats": self.backends.nats.proc, "mongodb": self.backends.mongo.proc}
        procs |= {name: p.proc for name, p in self.cluster.processes.items()}
        return {name: proc.pid for name, proc in procs.items() if proc is not None}

    def pause_pipeline(self) -> None:
        """SIGSTOP conversation, billing and profile: ingress alone on the cores, as on its own host.

        What ingress accepts meanwhile waits in JetStream and is worked off after
        ``resume_pipeline``; nothing is dropped.
        """
        for name in BEHIND_EDGE:
            self.cluster.processes[name].signal(signal.SIGSTOP)

    def resume_pipeline(self) -> None:
        for name in BEHIND_EDGE:
            self.cluster.processes[name].signal(signal.SIGCONT)

    def stop(self) -> None:
        self.resume_pipeline()  # a stopped process ignores SIGTERM until it runs again
        self.cluster.stop()
        self.bare.stop()
        self.twilio.stop()
        self.backends.stop()


class Line:
    """Posts signed inbound SMS to ingress and reads the replies the fake Twilio API received."""

    def __init__(self, stack: Stack) -> None:
        self.ingress = HttpPool(stack.cluster.ingress_port)
        self.twilio = HttpPool(stack.twilio.port)
        self.url = stack.cluster.base_url + SMS_PATH
        self.port = stack.cluster.ingress_port
        self.sent: list[tuple[str, float]] = []  # (phone, monotonic time) of each distinct message

    def request(self, phone: str, text: str, sid: str | None = None) -> bytes:
        body, headers = twilio_form(TOKEN, self.url, inbound_sms_params(phone, text, sid))
        return http_request(self.port, SMS_PATH, body, headers)

    async def post(self, phone: str, text: str) -> bool:
        self.sent.append((phone, time.monotonic()))
        status, _ = await self.ingress.send(self.request(phone, text))
        return status == 200

    async def replies(self) -> list[dict[str, Any]]:
        status, body = await self.twilio.send(http_request(self.twilio.port, "/bench/sent"))
        assert status == 200, status
        return list(json.loads(body))

    async def wait_for_replies(self, expected: Counter[str], timeout_s: float) -> list[dict[str, Any]]:
        """Poll until every phone got at least its expected number of replies (or time runs out)."""
        deadline = time.monotonic() + timeout_s
        while True:
            got = await self.replies()
            counts = Counter(r["to"] for r in got)
            if all(counts[p] >= n for p, n in expected.items()) or time.monotonic() > deadline:
                return got
            await asyncio.sleep(0.2)


def phones(count: int, first: int = 0) -> list[str]:
    return [f"+1415555{i:04d}" for i in range(first, first + count)]


async def onboard(line: Line, users: list[str], timeout_s: float) -> None:
    """Walk every caregiver through onboarding, one answer at a time, all caregivers at once."""

    async def one(phone: str) -> None:
        for step, text in enumerate(ONBOARDING, start=1):
            status, _ = await line.ingress.send(line.request(phone, text))
            if status != 200:
                raise RuntimeError(f"onboarding post answered {status}")
            await line.wait_for_replies(Counter({phone: step}), timeout_s)

    await asyncio.gather(*(one(p) for p in users))


def webhook_op(line: Line, users: list[str]) -> Callable[[int], Awaitable[bool]]:
    return lambda i: line.post(users[i % len(users)], MESSAGES[i % len(MESSAGES)])


def bare_op(port: int, raw: bytes) -> Callable[[int], Awaitable[bool]]:
    pool = HttpPool(port)

    async def op(_i: int) -> bool:
        status, _ = await pool.send(raw)
        return status == 200

    return op


async def measure_e2e(
    line: Line, since: int, before: list[dict[str, Any]], timeout_s: float
) -> tuple[dict[str, Any], list[float]]:
    """Webhook to reply for the messages posted since ``line.sent[since]``, matched per phone in order.

    One caregiver's messages are handled one at a time in arrival order, and so are their
    replies, so the n-th new reply to a phone answers the n-th new message from it.
    """
    posted = line.sent[since:]
    baseline = Counter(r["to"] for r in before)
    wanted = Counter(p for p, _ in posted)
    got = await line.wait_for_replies(Counter({p: baseline[p] + n for p, n in wanted.items()}), timeout_s)
    reply_times: dict[str, list[float]] = {}
    for r in got:
        reply_times.setdefault(r["to"], []).append(r["at"])
    latencies: list[float] = []
    for phone in wanted:
        sends = sorted(t for p, t in posted if p == phone)
        answers = sorted(reply_times.get(phone, []))[baseline[phone] :]
        latencies += [(a - s) * 1000 for s, a in zip(sends, answers, strict=False)]
    return {
        "messages": len(posted),
        "replied": len(latencies),
        **latency_summary(sorted(latencies)),
    }, latencies


async def replay_storm(line: Line, users: list[str], config: Config) -> dict[str, Any]:
    """Every message posted ``storm_copies`` times at once; half from caregivers never seen before."""
    before = await line.replies()
    fresh = phones(config.storm_messages // 2, first=5000)
    expected: Counter[str] = Counter()
    statuses: Counter[int] = Counter()

    async def storm_one(j: int) -> None:
        phone = fresh[j // 2] if j % 2 and j // 2 < len(fresh) else users[j % len(users)]
        raw = line.request(phone, MESSAGES[j % len(MESSAGES)], sid=f"SM{j:032x}")
        expected[phone] += 1
        answers = await asyncio.gather(*(line.ingress.send(raw) for _ in range(config.storm_copies)))
        statuses.update(status for status, _ in answers)

    pace = 1 / 40  # distinct messages per second; five posts each
    await asyncio.gather(*(_after(j * pace, storm_one(j)) for j in range(config.storm_messages)))
    baseline = Counter(r["to"] for r in before)
    await line.wait_for_replies(
        Counter({p: baseline[p] + n for p, n in expected.items()}), config.reply_timeout_s
    )
    await asyncio.sleep(3.0)  # a duplicate reply would come about as fast as the first one
    after = Counter(r["to"] for r in await line.replies())
    got = {p: after[p] - baseline[p] for p in expected}
    return {
        "messages": config.storm_messages,
        "posts": sum(statuses.values()),
        "non_200": sum(n for s, n in statuses.items() if s != 200),
        "replies_expected": sum(expected.values()),
        "replies": sum(got.values()),
        "duplicates": sum(max(0, got[p] - n) for p, n in expected.items()),
        "missing": sum(max(0, n - got[p]) for p, n in expected.items()),
    }


async def _after(delay: float, work: Awaitable[None]) -> None:
    await asyncio.sleep(delay)
    await work


class BrokerCeiling:
    """A raw nats-py JetStream publish (with a Nats-Msg-Id, waiting for the ack): the broker's ceiling."""

    def __init__(self, nats_url: str) -> None:
        self.nats_url = nats_url
        self.runs = 0

    async def connect(self) -> None:
        self.nc = await nats.connect(self.nats_url)
        self.js = self.nc.jetstream()
        await self.js.add_stream(
            js_api.StreamConfig(
                name="BENCH", subjects=["bench.>"], storage=js_api.StorageType.FILE, duplicate_window=120.0
            )
        )

    def op(self) -> Callable[[int], Awaitable[bool]]:
        payload = b"x" * 420  # about the size of an sms.inbound.received event
        self.runs += 1
        run = self.runs

        async def publish(i: int) -> bool:
            headers = {"Nats-Msg-Id": f"b{run}:{i}"}
            await self.js.publish(f"bench.sms.{i % 8}", payload, headers=headers, timeout=2)
            return True

        return publish

    async def close(self) -> None:
        await self.nc.close()


async def edge(stack: Stack, phase: Awaitable[Sample]) -> Sample:
    """Ingress as an edge: the same load with the pipeline behind it paused (on a real
    deployment the services run on other hosts; here they would share ingress's two cores)."""
    stack.pause_pipeline()
    try:
        return await phase
    finally:
        stack.resume_pipeline()


async def run_phases(stack: Stack, config: Config, say: Callable[[str], None]) -> dict[str, Any]:
    """Onboarding, webhook-to-reply, the storm, then the three targets in each load pattern.

    The reply measurements come first, on an idle pipeline; the fixed-rate and closed-loop
    phases then run the ceilings right before ingress, so each pair meets the same machine
    (ingress's phases leave the other services a backlog to work through, on the same cores).
    """
    line = Line(stack)
    count = int(config.rate * config.duration_s)
    users = phones(config.users)
    say(f"onboarding {len(users)} caregivers")
    await onboard(line, users, config.reply_timeout_s)
    say(f"webhook to reply: {config.e2e_messages} messages at {config.e2e_rate:.0f}/s")
    before, since = await line.replies(), len(line.sent)
    await fixed_rate(webhook_op(line, users), config.e2e_rate, config.e2e_messages)
    e2e, e2e_latencies = await measure_e2e(line, since, before, config.reply_timeout_s)
    say(f"replay storm: {config.storm_messages} messages x {config.storm_copies}")
    storm = await replay_storm(line, users, config)
    bare_raw = line.request(users[0], "bare")
    samples: dict[str, dict[str, Sample]] = {"bare": {}, "nats": {}, "ingress": {}, "ingress_live": {}}
    broker = BrokerCeiling(stack.backends.harness_url)  # its own stream: the harness user
    await broker.connect()
    try:
        say(f"fixed rate {config.rate:.0f}/s: bare endpoint, raw JetStream publish, ingress")
        samples["bare"]["fixed_rate"] = await fixed_rate(
            bare_op(stack.bare.port, bare_raw), config.rate, count
        )
        samples["nats"]["fixed_rate"] = await fixed_rate(broker.op(), config.rate, count)
        samples["ingress"]["fixed_rate"] = await edge(
            stack, fixed_rate(webhook_op(line, users), config.rate, count)
        )
        samples["ingress_live"]["fixed_rate"] = await fixed_rate(webhook_op(line, users), config.rate, count)
        say(f"closed loop, {config.clients} clients: bare endpoint, raw JetStream publish, ingress")
        loop = config.clients, config.duration_s
        samples["bare"]["closed_loop"] = await closed_loop(bare_op(stack.bare.port, bare_raw), *loop)
        samples["nats"]["closed_loop"] = await closed_loop(broker.op(), *loop)
        samples["ingress"]["closed_loop"] = await edge(stack, closed_loop(webhook_op(line, users), *loop))
        samples["ingress_live"]["closed_loop"] = await closed_loop(webhook_op(line, users), *loop)
    finally:
        stack.resume_pipeline()
        await broker.close()
    return {"samples": samples, "e2e": e2e, "e2e_latencies": e2e_latencies, "storm": storm}


def machine() -> dict[str, Any]:
    model = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in ln
        ),
        platform.processor(),
    )
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "load_average_1m_at_start": round(os.getloadavg()[0], 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="shorter phases (about a minute)")
    parser.add_argument("--tiny", action="store_true", help="a few dozen requests: proves the harness works")
    parser.add_argument(
        "--out", type=Path, default=Path(".data/bench"), help="directory for result.json, latency.png"
    )
    parser.add_argument("--log-level", default="INFO", help="the services' LOG_LEVEL (production logs INFO)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args()
    preset = "tiny" if args.tiny else "quick" if args.quick else "full"
    config = PRESETS[preset]
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.time()
    host = machine()
    stack = Stack(Path(tempfile.mkdtemp(prefix="careline-bench-")), args.log_level)
    try:
        (args.out / "pids.json").write_text(json.dumps(stack.pids()))  # for a profiler (py-spy -p)
        time.sleep(1.0)  # let the consumers bind before measuring
        measured = uvloop.run(run_phases(stack, config, lambda s: print(f"[bench] {s}", flush=True)))
    finally:
        stack.stop()
    host["load_average_1m_at_end"] = round(os.getloadavg()[0], 2)
    result = bench_report.result(
        preset, dataclasses.asdict(config), host, measured, started, measured["e2e_latencies"]
    )
    (args.out / "result.json").write_text(json.dumps(result, indent=2) + "\n")
    bench_report.chart(measured, args.out / "latency.png")
    print(bench_report.table(result))
    print(f"\nwrote {args.out / 'result.json'} and {args.out / 'latency.png'}")
    return 1 if args.strict and not all(t["pass"] for t in result["targets"]) else 0


if __name__ == "__main__":
    sys.exit(main())
