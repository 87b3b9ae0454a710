"""`make bench-scale`: the check-in scan, a rollup and the backfill at 10k and 100k caregivers,
then the line's sustained capacity and its database round trips per inbound text.

Starts the same stack as ``make bench`` (its own NATS and MongoDB-wire servers, the four
services, outbound SMS to a fake Twilio API; the services' own check-in scan is switched off so
the benchmark runs it when it measures it). Then:

1. Seeds caregivers through the services' own events: legacy documents fanned out by
   ``careline migrate backfill`` (``users.imported`` batches every service applies), first up to
   the first size, then up to the second. The wall time of each run is the backfill rate.
2. At each size, with the same number of caregivers due (``due``; everyone else wrote an hour
   ago, churned, or opted out), runs profile's check-in scan once, timed, with its round trips
   counted, at an instant that is noon in New York (where the seeded caregivers live), then
   the profile rollup once. The target: the scan at the largest size costs at most 1.5 times
   the scan at the smallest.
3. Capacity: onboarded caregivers text at rising steady rates; the highest rate at which
   webhook-to-reply p95 stays under 1 s (rules agent) is the capacity. At the lowest rate, every
   service's ``careline_db_commands_total`` (PyMongo command monitoring: one command, one round
   trip) is read before and after, less what the same span costs idle, per inbound text.

Writes ``result.json`` and ``result.md`` under ``--out`` (default ``.data/bench-scale``).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench import Line, Stack, machine, measure_e2e, onboard, phones, webhook_op
from bench_load import HttpPool, fixed_rate, http_request

from careline_cli.migrate import legacy
from careline_contracts import subjects
from careline_platform import metrics
from careline_platform.jobs import Job, JobStore
from careline_platform.mongo import connect
from careline_platform.rollups import write_rollup
from careline_platform.uow import UnitOfWork
from careline_profile import assessments
from careline_profile.repository import MongoProfileReader, MongoProfileWriter

P95_LIMIT_MS = 1000.0
SCAN_RATIO_TARGET = 1.5
NEW_YORK = ZoneInfo("America/New_York")


@dataclass(frozen=True)
class Config:
    sizes: tuple[int, ...] = (10_000, 100_000)
    due: int = 200
    """Caregivers due a check-in at each size (the same number at every size)."""
    batch: int = 500
    users: int = 30
    """Onboarded caregivers the capacity phases spread their texts over."""
    rates: tuple[float, ...] = (1, 2, 4, 6, 8, 10, 12, 15, 20, 25, 30)
    step_s: float = 20.0
    reply_timeout_s: float = 180.0


PRESETS = {
    "full": Config(),
    "tiny": Config(sizes=(60, 120), due=10, batch=50, users=3, rates=(1, 2), step_s=3),
}


def scan_instant(now: datetime) -> datetime:
    """The next noon in New York: every seeded caregiver is inside the send window then."""
    local = now.astimezone(NEW_YORK)
    noon = local.replace(hour=12, minute=0, second=0, microsecond=0)
    return (noon if noon > local else noon + timedelta(days=1)).astimezone(UTC)


def shaped(doc: dict[str, Any], n: int, is_due: bool, at: datetime) -> dict[str, Any]:
    """A generated legacy document given what the scan reads: ``is_due`` ones are high-band and
    silent 4 days; of the rest 30% churned, 20% opted out, 50% wrote an hour before ``at``."""
    kind = n % 10
    silent = (
        timedelta(days=4)
        if is_due
        else timedelta(days=40)
        if kind < 3
        else timedelta(days=10)
        if kind < 5
        else timedelta(hours=1)
    )
    contact = (at - silent).isoformat()
    doc.update(
        phoneNumber=f"+1{200 + n % 700}{200 + (n // 700) % 700}{n % 10000:04d}",  # unique below 490,000
        deletedAt=None,
        zipCode="10001",
        timezone="America/New_York",
        lastContactAt=contact,
        lastInboundAt=contact,
        smsOptOut=not is_due and 3 <= kind < 5,
        journeyPhase="churned" if not is_due and kind < 3 else "active",
    )
    if is_due:
        doc.update(burnoutScore=70, burnoutBand="high", checkinFrequency=None)
    return doc


def write_seed(path: Path, first: int, last: int, due: int, at: datetime) -> int:
    """Legacy documents ``first``..``last - 1`` (seed 7), the first ``due`` of them due at ``at``."""
    docs = itertools.islice(legacy.generate(last, seed=7), first, last)
    return legacy.write_jsonl(path, (shaped(d, first + i, i < due, at) for i, d in enumerate(docs)))


def backfill(stack: Stack, source: Path, batch: int, report: Path) -> dict[str, Any]:
    """``careline migrate backfill`` over ``source``, as an operator runs it; users per second."""
    started = time.monotonic()
    run = subprocess.run(
        [sys.executable, "-m", "careline_cli.main", "migrate", "backfill", "--source", str(source),
         "--batch", str(batch), "--wait", "7200", "--quiet", "--report", str(report)],
        env=stack.cluster.service_env("operator"), capture_output=True, text=True, check=False,
    )  # fmt: skip
    seconds = time.monotonic() - started
    if run.returncode != 0:
        raise RuntimeError(f"backfill failed: {run.stderr[-2000:]}")
    valid = int(json.loads(report.read_text())["valid"])
    return {"users": valid, "seconds": round(seconds, 1), "users_per_s": round(valid / seconds, 1)}


class FixedClock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


def db_commands() -> float:
    """This process's MongoDB commands so far (``careline_platform.mongo.CommandCounter``)."""
    return sum(s.value for m in metrics.DB_COMMANDS.collect() for s in m.samples if s.name.endswith("_total"))


async def measure_size(stack: Stack, at: datetime) -> dict[str, Any]:
    """One check-in scan at ``at`` (timed, its round trips counted), an idle rescan, one rollup."""
    client = connect(stack.backends.mongodb_uri)
    db = client["careline_profile"]
    clock = FixedClock(at)
    uow = UnitOfWork(client, db, jobs=JobStore(db.jobs, clock), clock=clock, stream=subjects.PROFILE,
                     writer=MongoProfileWriter, reader=MongoProfileReader)  # fmt: skip
    job = Job(key="checkin.scan:bench", type=assessments.CHECKIN_SCAN, payload={}, attempts=1,
              max_attempts=None, progress={}, token="bench")  # fmt: skip
    try:
        profiles = await db.user_profiles.count_documents({})
        commands, started = db_commands(), time.perf_counter()
        scan = await assessments.scan_checkins(job, uow)
        scan_s, scan_commands = time.perf_counter() - started, db_commands() - commands
        started = time.perf_counter()
        rescan = await assessments.scan_checkins(job, uow)
        rescan_s = time.perf_counter() - started
        started = time.perf_counter()
        await write_rollup(db, "profile", uow.read().daily_metrics, at, at)
        rollup_s = time.perf_counter() - started
    finally:
        await client.close()
    return {
        "profiles": profiles, "scan": scan, "scan_ms": round(scan_s * 1000, 1),
        "scan_round_trips": int(scan_commands), "rescan": rescan, "rescan_ms": round(rescan_s * 1000, 1),
        "rollup_ms": round(rollup_s * 1000, 1),
    }  # fmt: skip


async def service_commands(stack: Stack) -> dict[str, float]:
    """Every service's ``careline_db_commands_total`` now, from its /metrics."""
    ports = {**stack.cluster.metrics_ports, "ingress": stack.cluster.ingress_port}
    found = {}
    for name, port in ports.items():
        _status, body = await HttpPool(port).send(http_request(port, "/metrics"))
        found[name] = sum(
            float(m.group(1))
            for m in re.finditer(rb"^careline_db_commands_total\{[^}]*\} (\S+)$", body, re.M)
        )
    return found


async def capacity(stack: Stack, config: Config, say: Any) -> dict[str, Any]:
    """Rising steady rates until webhook-to-reply p95 passes 1 s; round trips at the lowest rate."""
    line = Line(stack)
    users = phones(config.users)
    say(f"capacity: onboarding {len(users)} caregivers")
    await onboard(line, users, config.reply_timeout_s)
    idle_from = await service_commands(stack)
    await asyncio.sleep(config.step_s)
    idle = Counter(await service_commands(stack))
    idle.subtract(idle_from)
    steps, best, round_trips = [], 0.0, {}
    for rate in config.rates:
        count = max(1, int(rate * config.step_s))
        say(f"capacity: {count} texts at {rate:g}/s")
        before, since, commands = await line.replies(), len(line.sent), await service_commands(stack)
        started = time.monotonic()
        await fixed_rate(webhook_op(line, users), rate, count)
        e2e, _ = await measure_e2e(line, since, before, config.reply_timeout_s)
        if not round_trips:
            span = time.monotonic() - started
            used = Counter(await service_commands(stack))
            used.subtract(commands)
            net = {k: (used[k] - idle[k] * span / config.step_s) / count for k in used}
            round_trips = {
                "per_text": round(sum(net.values()), 1),
                "by_service": {k: round(v, 1) for k, v in net.items()},
                "gross_per_text": round(sum(used.values()) / count, 1),
                "texts": count,
            }
        ok = e2e["replied"] == count and e2e["p95_ms"] < P95_LIMIT_MS
        steps.append({"rate": rate, "ok": ok, **e2e})
        if not ok:
            break
        best = rate
    return {"capacity_texts_per_s": best, "steps": steps, "round_trips": round_trips}


async def run(stack: Stack, config: Config, work: Path, out: Path, say: Any) -> dict[str, Any]:
    at = scan_instant(datetime.now(UTC))
    sizes, seeded = [], 0
    for size in config.sizes:
        say(f"seeding caregivers {seeded}..{size - 1} through the backfill")
        source = work / f"legacy-{size}.jsonl"
        write_seed(source, seeded, size, config.due, at)
        filled = backfill(stack, source, config.batch, work / f"report-{size}.json")
        seeded = size
        say(f"{size}: scan, rollup")
        sizes.append({"size": size, "backfill": filled, **await measure_size(stack, at)})
        (out / "sizes.json").write_text(json.dumps(sizes, indent=2) + "\n")  # kept if capacity never ends
    return {"scan_at": at.isoformat(), "sizes": sizes, **await capacity(stack, config, say)}


def summary(preset: str, config: Config, host: dict[str, Any], measured: dict[str, Any]) -> dict[str, Any]:
    first, last = measured["sizes"][0], measured["sizes"][-1]
    ratio = round(last["scan_ms"] / first["scan_ms"], 2)
    return {
        "preset": preset, "config": asdict(config), "machine": host, **measured,
        "scan_ratio": ratio, "targets": [{"name": "scan_ratio", "limit": SCAN_RATIO_TARGET, "measured": ratio,
                                          "pass": ratio <= SCAN_RATIO_TARGET}],
    }  # fmt: skip


COLUMNS = ("size", "profiles", "due started", "scan ms", "scan round trips", "idle rescan ms", "rollup ms",
           "backfill users/s")  # fmt: skip


def table(result: dict[str, Any]) -> str:
    """The markdown table and the three headline lines the README quotes."""
    rows = ["| " + " | ".join(COLUMNS) + " |", "|" + "---:|" * len(COLUMNS)]
    for s in result["sizes"]:
        cells = (f"{s['size']:,}", f"{s['profiles']:,}", s["scan"]["started"], f"{s['scan_ms']:.0f}",
                 s["scan_round_trips"], f"{s['rescan_ms']:.0f}", f"{s['rollup_ms']:.0f}",
                 f"{s['backfill']['users_per_s']:.0f}")  # fmt: skip
        rows.append("| " + " | ".join(str(c) for c in cells) + " |")
    trips = result["round_trips"]
    verdict = "PASS" if result["targets"][0]["pass"] else "FAIL"
    steps = ", ".join(f"{s['rate']:g}/s p95 {s['p95_ms']:.0f} ms" for s in result["steps"])
    services = ", ".join(f"{k} {v}" for k, v in sorted(trips["by_service"].items()))
    return "\n".join(
        [
            *rows,
            "",
            f"scan ratio, largest / smallest size: **{result['scan_ratio']}** "
            f"(target <= {SCAN_RATIO_TARGET}: {verdict})",
            f"capacity (webhook-to-reply p95 < 1 s, rules agent): "
            f"**{result['capacity_texts_per_s']:g} texts/s**; steps: {steps}",
            f"database round trips per inbound text: **{trips['per_text']}** "
            f"(net of idle; gross {trips['gross_per_text']}; {services})",
        ]
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--tiny", action="store_true", help="a few dozen caregivers: proves the harness works"
    )
    parser.add_argument("--out", type=Path, default=Path(".data/bench-scale"))
    parser.add_argument("--log-level", default="INFO", help="the services' LOG_LEVEL")
    args = parser.parse_args()
    preset = "tiny" if args.tiny else "full"
    config = PRESETS[preset]
    args.out.mkdir(parents=True, exist_ok=True)
    host = machine()
    work = Path(tempfile.mkdtemp(prefix="careline-bench-scale-"))
    stack = Stack(work, args.log_level, env={"CHECKIN_SCAN_S": str(10**8)})  # the benchmark runs the scan
    try:
        time.sleep(1.0)  # let the consumers bind before measuring
        measured = uvloop.run(
            run(stack, config, work, args.out, lambda s: print(f"[bench-scale] {s}", flush=True))
        )
    finally:
        stack.stop()
    host["load_average_1m_at_end"] = round(os.getloadavg()[0], 2)
    result = summary(preset, config, host, measured)
    (args.out / "result.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / "result.md").write_text(table(result) + "\n")
    print(table(result))
    print(f"\nwrote {args.out / 'result.json'} and {args.out / 'result.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
