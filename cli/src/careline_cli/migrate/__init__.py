"""``careline migrate``: the legacy backfill and a generator of legacy documents."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from careline_cli.common import CliError
from careline_cli.migrate import legacy
from careline_cli.migrate.backfill import (
    SLICES,
    Checkpoint,
    Confirmations,
    Tally,
    batches,
    report_of,
    submitted,
)
from careline_cli.migrate.sources import Source, parse_source
from careline_contracts import subjects
from careline_platform.settings import Settings

DEFAULT_BATCH = 100
DEFAULT_WAIT_S = 600.0


async def backfill(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    source = parse_source(args.source, args.checkpoint)
    started = time.monotonic()
    if args.dry_run:
        return _finish(args, console, await _dry_run(args, source, started))
    checkpoint = _checkpoint(args, source)
    from careline_cli.deadletters import nats_client  # nats-py only for commands that need it

    async with nats_client(settings, args.timeout) as nc:
        js = nc.jetstream(timeout=max(args.timeout, 10.0))
        confirmations = Confirmations(checkpoint.run_id)
        await confirmations.start(js)
        report = await _publish_and_wait(args, source, checkpoint, js, nc.max_payload, confirmations, started)
    return _finish(args, console, report)


def _checkpoint(args: argparse.Namespace, source: Source) -> Checkpoint:
    if args.resume:
        if not source.checkpoint.exists():
            raise CliError(f"no checkpoint to resume at {source.checkpoint}")
        checkpoint = Checkpoint.load(source.checkpoint)
        if checkpoint.source != source.label or checkpoint.batch_size != args.batch:
            raise CliError(
                f"checkpoint {source.checkpoint} is for {checkpoint.source} with --batch "
                f"{checkpoint.batch_size}; resume with the same source and batch size"
            )
        return checkpoint
    checkpoint = Checkpoint.fresh(source.checkpoint, source.label, args.batch)
    checkpoint.save()
    return checkpoint


async def _dry_run(args: argparse.Namespace, source: Source, started: float) -> dict[str, Any]:
    tally, total = Tally(), 0
    async for _batch in batches(
        source, tally, size=args.batch, max_bytes=512_000, resume_at=0, first=0, timeout_s=args.timeout
    ):
        total += 1
    report = report_of(tally, source, run_id=None, batches_total=total, started=started, dry_run=True)
    report["would_write"] = {service: tally.valid for service in SLICES}
    report["coverage"] = dict(sorted(tally.coverage.items()))
    return report


async def _publish_and_wait(
    args: argparse.Namespace,
    source: Source,
    checkpoint: Checkpoint,
    js: Any,
    max_payload: int,
    confirmations: Confirmations,
    started: float,
) -> dict[str, Any]:
    tally = Tally()
    progress = Progress(
        TextColumn("{task.description:<24}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=False,
        disable=args.quiet,
    )
    with progress:
        read = progress.add_task("records read", total=None)
        slices = {s: progress.add_task(f"batches written: {s}", total=None) for s in SLICES}
        async for batch in batches(
            source,
            tally,
            size=checkpoint.batch_size,
            max_bytes=max_payload // 2,  # ingress passes the batch on with user ids added
            resume_at=checkpoint.next_record,
            first=checkpoint.next_batch,
            timeout_s=args.timeout,
        ):
            subject, payload, headers = submitted(checkpoint.run_id, batch)
            try:
                await js.publish(subject, payload, stream=subjects.MIGRATION.name, headers=headers)
            except Exception as exc:  # no stream (ingress never ran), timeout: the run can be resumed
                raise CliError(
                    f"JetStream did not accept batch {batch.number} ({type(exc).__name__}); is ingress "
                    f"running? resume with --resume"
                ) from exc
            checkpoint.next_record, checkpoint.next_batch = batch.end_record, batch.number + 1
            checkpoint.save()
            progress.update(read, completed=tally.read)
            _show(progress, slices, confirmations, checkpoint.next_batch)
        if not checkpoint.published_all:
            checkpoint.next_record = tally.read
            checkpoint.published_all = True
            checkpoint.save()
        progress.update(read, completed=tally.read, total=tally.read)
        total = checkpoint.next_batch
        deadline = time.monotonic() + args.wait
        while not confirmations.complete(total) and time.monotonic() < deadline:
            confirmations.changed.clear()
            _show(progress, slices, confirmations, total)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(confirmations.changed.wait(), timeout=1.0)
        _show(progress, slices, confirmations, total)
    report = report_of(
        tally, source, run_id=checkpoint.run_id, batches_total=total, started=started, dry_run=False
    )
    report["slices"] = confirmations.slice_report(total)
    report["complete"] = confirmations.complete(total)
    report["checkpoint"] = str(checkpoint.path)
    return report


def _show(progress: Progress, tasks: dict[str, Any], confirmations: Confirmations, total: int) -> None:
    for service, task in tasks.items():
        progress.update(task, completed=confirmations.confirmed(service, total), total=total)


def _finish(args: argparse.Namespace, console: Console, report: dict[str, Any]) -> int:
    if args.report:
        Path(args.report).write_text(json.dumps(report, indent=2) + "\n")
    _print_report(console, report)
    if not report["dry_run"] and not report["complete"]:
        print(
            f"error: not every batch was confirmed by every service within {args.wait:g}s; "
            f"run again with --resume to keep waiting",
            file=sys.stderr,
        )
        return 1
    return 0


def _print_report(console: Console, report: dict[str, Any]) -> None:
    title = (
        "backfill (dry run: nothing published)" if report["dry_run"] else f"backfill run {report['run_id']}"
    )
    console.print(f"[bold]{title}[/bold]  source {report['source']}  {report['seconds']}s")
    console.print(
        f"read {report['read']}  valid {report['valid']}  invalid {sum(report['invalid'].values())}  "
        f"skipped {sum(report['skipped'].values())}  batches {report['batches']}"
    )
    for kind in ("invalid", "skipped"):
        for reason, count in report[kind].items():
            console.print(f"  {kind}: {reason}: {count}")
    table = Table("slice", "created", "filled", "unchanged", "written", "confirmed batches")
    if report["dry_run"]:
        table = Table("slice", "would write")
        for service, count in report["would_write"].items():
            table.add_row(service, str(count))
        console.print(table)
        for fact, count in report["coverage"].items():
            console.print(f"  {fact}: {count}")
        return
    for service, counts in report["slices"].items():
        table.add_row(
            service,
            *(str(counts[k]) for k in ("created", "filled", "unchanged", "written")),
            f"{counts['confirmed_batches']}/{report['batches']}",
        )
    console.print(table)


async def generate(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    count = legacy.write_jsonl(
        Path(args.out), legacy.generate(args.count, args.seed), garbage_every=args.garbage_every
    )
    console.print(f"wrote {count} legacy users to {args.out} (seed {args.seed})")
    return 0


def _positive(value: str) -> int:
    number = int(value)
    if number <= 0:
        raise argparse.ArgumentTypeError("must be a positive whole number")
    return number


def add_parser(commands: Any, common: argparse.ArgumentParser) -> None:
    """``careline migrate backfill|generate``."""
    migrate = commands.add_parser(
        "migrate", help="backfill legacy users; generate legacy data", parents=[common]
    )
    sub = migrate.add_subparsers(dest="action", metavar="ACTION", required=True)

    p = sub.add_parser(
        "backfill", help="fan legacy users documents out into the four services", parents=[common]
    )
    p.add_argument("--source", required=True, help="FILE.jsonl or mongodb://host[:port]/database.collection")
    p.add_argument("--dry-run", action="store_true", help="validate and report; publish nothing")
    p.add_argument("--resume", action="store_true", help="continue the run recorded in the checkpoint")
    p.add_argument(
        "--batch", type=_positive, default=DEFAULT_BATCH, help=f"users per batch ({DEFAULT_BATCH})"
    )
    p.add_argument(
        "--checkpoint", help="checkpoint file (default: next to the file, or under .data/backfill)"
    )
    p.add_argument("--wait", type=float, default=DEFAULT_WAIT_S, help="seconds to wait for confirmations")
    p.add_argument("--report", metavar="FILE", help="also write the final report as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(handler=backfill)

    p = sub.add_parser("generate", help="write realistic, messy legacy users documents", parents=[common])
    p.add_argument("--count", type=_positive, required=True)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--out", required=True, help="FILE.jsonl")
    p.add_argument("--garbage-every", type=int, default=0, help="add a broken JSON line every N documents")
    p.set_defaults(handler=generate)
