"""The skeleton every service process shares: connect once, declare, consume, work, stop.

A service describes itself (name, owned streams, consumers, job types) and the runtime does
the plumbing in a fixed order: MongoDB, NATS, streams it owns, consumers it reads, the job
worker; on SIGTERM/SIGINT it stops fetching, lets in-flight work finish, then disconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, TypeVar

from faststream.exceptions import IncorrectState
from faststream.nats import NatsBroker, NatsRouter
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from careline_contracts import subjects
from careline_contracts.deadletter import DeadLetter
from careline_platform import metrics, mongo, nats_auth
from careline_platform.admin import AdminOperation, CaregiverSlice, admin_router
from careline_platform.admin_operations import MongoJobBook, common_operations
from careline_platform.clock import Clock, clock_from
from careline_platform.deadletters import Redriver
from careline_platform.erasure import (
    TOMBSTONES,
    CaregiverErased,
    Tombstones,
    admitted,
    caregivers_of,
    handling,
    scrub_streams,
)
from careline_platform.jobs import UNFINISHED, Job, JobStatus, JobStore, JobType, JobWorker, Periodic
from careline_platform.logging import get_logger
from careline_platform.messaging import (
    ConsumerPolicy,
    ConsumerSpec,
    Delivery,
    Publisher,
    declare_streams,
    ensure_consumers,
    stop_consuming,
    subscribe,
)
from careline_platform.metrics import CONSUMER_PENDING, JOBS
from careline_platform.outbox import OUTBOX_PUBLISH, relay_job_type
from careline_platform.production import ConfigurationError
from careline_platform.rollups import ROLLUP_JOB, MongoRollups, rollup_job_type, rollup_periodic
from careline_platform.services import default_metrics_ports
from careline_platform.settings import Settings
from careline_platform.uow import ReadDb, UnitOfWork, WriteDb

log = get_logger(__name__)
Document = dict[str, Any]
W = TypeVar("W")
R = TypeVar("R")
DEFAULT_METRICS_PORTS = default_metrics_ports()  # ingress: none, its HTTP app serves /metrics
EDGE_METRICS_PORT = 9100
"""Where ingress serves /metrics in production (METRICS_PORT overrides): not its public port."""
GAUGE_REFRESH_S = 15.0
"""How often the query-backed gauges are refreshed: Prometheus's default scrape interval. Each
refresh is a count per job status and a consumer-info request per durable, so a quicker one
would be load on MongoDB and NATS that no scrape reads."""
GAUGED_STATUSES = (*UNFINISHED, JobStatus.DEAD)
"""The job statuses the ``careline_jobs`` gauge counts: the work waiting and the work given up,
both small. Completed jobs are left out: they pile up until their TTL (every text leaves a few),
and a count walks every index entry it matches (measured on the MongoDB-wire server: 0.7 s for
20,000), which every service would repeat every 15 s for ever larger numbers. Completions are
counted as they happen (``careline_jobs_finished_total``)."""


def instance_name(service: str) -> str:
    """A name for this replica, unique enough to tell lease owners apart."""
    return f"{service}@{socket.gethostname()}:{os.getpid()}"


@dataclass
class Infrastructure:
    """The connections a service holds for its lifetime."""

    settings: Settings
    service: str
    client: AsyncMongoClient[Document]
    db: AsyncDatabase[Document]
    broker: NatsBroker
    publisher: Publisher
    clock: Clock
    jobs: JobStore
    wake: Callable[[], None] = lambda: None
    """Wakes the job worker; the runtime sets it, units of work call it after a commit."""

    @property
    def js(self) -> JetStreamContext:
        stream: JetStreamContext = self.broker.connection.jetstream()
        return stream

    def broker_connected(self) -> bool:
        """Whether NATS is connected now (False before the first connection, too)."""
        try:
            return bool(self.broker.connection.is_connected)
        except IncorrectState:  # FastStream's answer before ``connect``
            return False

    async def connect(self, timeout_s: float | None) -> None:
        """Connect to NATS and prepare the jobs collection, the inbox and the tombstones, trying
        again until they answer: for ``timeout_s`` at most, or for as long as it takes (None).
        Credentials NATS refuses are not tried again: ``ConfigurationError``, exit status 78."""

        async def prepare() -> None:
            try:
                await self.broker.connect()
            except NatsError as exc:
                if "authorization violation" in str(exc).lower():  # the server's words for it
                    raise ConfigurationError(
                        f"NATS refused the {self.service} user's credentials (NATS_USER, NATS_PASSWORD)"
                    ) from exc
                raise
            await self.jobs.ensure_indexes()
            await mongo.ensure_inbox(self.db)
            await Tombstones(self.db[TOMBSTONES]).ensure_indexes()

        await retry_until_ready(prepare, "connect", timeout_s)

    def unit_of_work(
        self,
        stream: subjects.Stream,
        writer: Callable[[WriteDb], W],
        reader: Callable[[ReadDb], R],
    ) -> UnitOfWork[W, R]:
        """The service's unit of work: its events go to ``stream``, its commits wake the worker."""
        uow = UnitOfWork(
            self.client,
            self.db,
            jobs=self.jobs,
            clock=self.clock,
            stream=stream,
            writer=writer,
            reader=reader,
        )
        uow.wake = lambda: self.wake()
        return uow


def build_infrastructure(settings: Settings, service: str, clock: Clock | None = None) -> Infrastructure:
    """The service's clients, not yet connected (nothing here waits on the network)."""
    clock = clock or clock_from(settings.clock_offset_file)
    client = mongo.connect(settings.mongodb_uri)
    db = client[settings.database_name(service)]
    broker = NatsBroker(
        settings.nats_servers,
        max_reconnect_attempts=-1,
        reconnect_time_wait=1,
        logger=logging.getLogger("faststream"),
        connect_timeout=5,
        **nats_auth.broker_options(settings, service),
    )
    return Infrastructure(
        settings=settings,
        service=service,
        client=client,
        db=db,
        broker=broker,
        publisher=Publisher(broker, settings.publish_timeout_s),
        clock=clock,
        jobs=JobStore(db.jobs, clock),
    )


async def connect_infrastructure(
    settings: Settings, service: str, clock: Clock | None = None
) -> Infrastructure:
    """Connect to MongoDB and NATS, and prepare the service's jobs collection and inbox."""
    infra = build_infrastructure(settings, service, clock)
    await infra.connect(settings.startup_timeout_s)
    return infra


async def retry_until_ready(
    step: Callable[[], Awaitable[None]], what: str, timeout_s: float | None, first_delay_s: float = 0.5
) -> None:
    """Run an idempotent start-up step until it succeeds or ``timeout_s`` passed (None: never).

    A service that starts while NATS or MongoDB is restarting waits for them instead of dying:
    nothing supervises a process on a developer's machine, and the steps are safe to repeat.
    """
    deadline = None if timeout_s is None else asyncio.get_running_loop().time() + timeout_s
    delay = first_delay_s
    while True:
        try:
            await step()
            return
        except ConfigurationError:  # waiting will not change it (refused credentials)
            log.error("startup.refused", step=what)
            raise
        except Exception as exc:
            if deadline is not None and asyncio.get_running_loop().time() + delay > deadline:
                log.error("startup.gave_up", step=what, error=type(exc).__name__)
                raise
            log.warning("startup.retry", step=what, error=type(exc).__name__, delay_s=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


@dataclass
class ServiceDefinition:
    """What a service is: its streams, its consumers, its job types, its start-up steps."""

    name: str
    owned_streams: tuple[subjects.Stream, ...] = ()
    consumers: list[ConsumerSpec] = field(default_factory=list)
    job_types: dict[str, JobType] = field(default_factory=dict)
    on_start: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    edge_first: bool = False
    """Start the edge before connecting, then wait for NATS and MongoDB for as long as it takes.
    For ingress, whose spool makes a webhook durable while they are away: a replica that starts
    during an outage still answers Twilio (``careline_ingress.app``). Its ``before_edge`` steps
    run first (opening the spool)."""
    before_edge: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    on_stop: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    """Run after consumers and jobs drained, before the connections close (e.g. HTTP clients)."""
    periodic: list[Periodic] = field(default_factory=list)
    rollup: Callable[[datetime, datetime], Awaitable[Document]] | None = None
    """This service's daily metrics (start, end) -> values; written hourly to ``rollups``."""
    caregiver: CaregiverSlice | None = None
    """How the admin API reads and erases this service's slice of a caregiver."""
    admin_operations: list[AdminOperation[Any, Any]] = field(default_factory=list)
    """Admin operations of this service's own (``admin.<service>.<name>``, a request model in,
    a reply model out), beside the ones every service answers (jobs, rollups, caregiver)."""
    worker_concurrency: int = 4


async def publish_dead_job(infra: Infrastructure, doc: Document) -> None:
    """Publish the dead-letter event of a job that ran out of attempts."""
    letter = DeadLetter(
        service=infra.service,
        subject=f"job.{doc['type']}",
        msg_id=doc["_id"],
        reason=str(doc.get("last_error")),
        deliveries=doc["attempts"],
        payload="",
        dead_at=infra.clock.now(),
    )
    await infra.publisher.publish_raw(
        subjects.dead_letter_subject(infra.service, f"job.{doc['type']}"),
        letter.model_dump_json().encode(),
        f"deadjob:{infra.service}:{doc['_id']}:{doc['attempts']}",
        subjects.DEAD_LETTERS.name,
    )


class ServiceRuntime:
    """Starts and stops one service process around its definition."""

    def __init__(self, infra: Infrastructure, definition: ServiceDefinition) -> None:
        self.infra = infra
        self.definition = definition
        self.worker: JobWorker | None = None
        self.running = False
        """True once every part started; a stop before that says ``during="start-up"``."""
        infra.wake = self.wake_worker  # a committed unit of work starts its jobs at once
        self.policy = ConsumerPolicy(infra.publisher)
        self.router = NatsRouter(middlewares=[self.policy])
        """The service's one FastStream router: its typed subscribers under one delivery policy."""
        self._gauges: asyncio.Task[None] | None = None

    async def _refresh_gauges(self, consumers: list[tuple[str, str]]) -> None:
        """Keep the query-backed gauges current (jobs by status, consumer lag); errors skip a round."""
        while True:
            try:
                for status in GAUGED_STATUSES:
                    count = await self.infra.jobs.col.count_documents({"status": status.value})
                    JOBS.labels(status.value).set(count)
                for stream, durable in consumers:
                    info = await self.infra.js.consumer_info(stream, durable)
                    CONSUMER_PENDING.labels(durable).set(info.num_pending or 0)
            except Exception as exc:  # the broker or database is away: try again next round
                log.debug("metrics.refresh_failed", error=type(exc).__name__)
            await asyncio.sleep(GAUGE_REFRESH_S)

    def wake_worker(self) -> None:
        """Tell the job worker a job was just committed, so it starts without waiting a poll."""
        if self.worker is not None:
            self.worker.wake()

    async def start(self) -> None:
        """Start everything, the edge last (or first: ``ServiceDefinition.edge_first``);
        ``service.started`` says the service is whole."""
        for step in self.definition.before_edge:
            await step()
        if self.definition.edge_first:
            await self.start_edge()
            log.info("service.edge_started", waiting_for="nats, mongodb")
            await self.infra.connect(None)
            await self.start_pipeline()
        else:
            await self.start_pipeline()
            await self.start_edge()
        self.running = True
        job_types = sorted(self.worker.types) if self.worker is not None else []
        log.info("service.started", consumers=len(self.definition.consumers), job_types=job_types)

    async def start_edge(self) -> None:
        """What a service puts in front of its pipeline, started last (the HTTP server); none here."""

    async def stop_edge(self) -> None:
        """Stop the edge, first of all."""

    def guarded(self, spec: ConsumerSpec) -> ConsumerSpec:
        """``spec`` whose handler never sees an erased caregiver: an event about one is acked and
        dropped (a late or re-published event must not re-create what the erasure deleted); a
        backfill batch goes on without them."""
        tombstones = Tombstones(self.infra.db[TOMBSTONES])
        handler = spec.handler

        async def handle(event: Any, delivery: Delivery) -> None:
            about = caregivers_of(event)
            kept = admitted(event, await tombstones.buried_among(about)) if about else event
            if kept is None:
                log.info("message.caregiver_erased", subject=delivery.subject)
                return
            one = about[0] if len(about) == 1 and getattr(event, "users", None) is None else None
            try:
                with handling(one):  # its transactions fence the caregiver against an erasure
                    await handler(kept, delivery)
            except CaregiverErased:
                log.info("message.caregiver_erased", subject=delivery.subject, during="handling")

        return replace(spec, handler=handle)

    async def scrub(self, marks: Sequence[str]) -> dict[str, int]:
        """Delete the messages naming ``marks`` from the streams this service owns (DEAD_LETTERS
        is ``erasure.DEAD_LETTERS_SCRUBBER``'s to clean)."""
        names = [s.name for s in self.definition.owned_streams]
        return await scrub_streams(self.infra.js, names, marks)

    async def start_pipeline(self) -> None:
        infra, definition = self.infra, self.definition
        consumers: list[tuple[ConsumerSpec, list[tuple[str, str]]]] = []
        for spec in definition.consumers:
            subscribe(
                self.router,
                self.policy,
                self.guarded(spec),
                nats_auth.inbox_of(infra.settings, definition.name),
            )

        async def prepare() -> None:
            await declare_streams(
                infra.js,
                (*definition.owned_streams, subjects.DEAD_LETTERS),
                infra.settings.duplicate_window_s,
                infra.settings.stream_replicas,
            )
            for step in definition.on_start:
                await step()
            consumers.clear()
            for spec in definition.consumers:
                consumers.append((spec, await ensure_consumers(infra.js, spec)))

        await retry_until_ready(prepare, "declare", infra.settings.startup_timeout_s)
        common = common_operations(
            definition.name,
            MongoJobBook(infra.jobs),
            MongoRollups(infra.db, definition.name, infra.clock, definition.rollup),
            definition.caregiver,
            infra.clock,
            self.scrub,
            Redriver(definition.name, infra.js, infra.publisher).redrive,
        )
        self.router.include_router(admin_router(definition.name, [*common, *definition.admin_operations]))
        infra.broker.include_router(self.router)
        await infra.broker.start()
        metrics_port = infra.settings.metrics_port or DEFAULT_METRICS_PORTS.get(definition.name)
        if metrics_port is None and infra.settings.production:  # not on the public HTTP port
            metrics_port = EDGE_METRICS_PORT
        if metrics_port is not None:  # else the service's own HTTP app serves /metrics (ingress)
            metrics.serve(metrics_port)
        durables = [(spec.stream.name, durable) for spec, pairs in consumers for _, durable in pairs]
        self._gauges = asyncio.create_task(self._refresh_gauges(durables))
        # every service relays its outbox; its own job types come on top
        job_types = {OUTBOX_PUBLISH: relay_job_type(infra.publisher, infra.jobs), **definition.job_types}
        periodics = list(definition.periodic)
        if definition.rollup is not None:
            job_types[ROLLUP_JOB] = rollup_job_type(infra.db, definition.name, infra.clock, definition.rollup)
            periodics.append(rollup_periodic())
        for periodic in periodics:
            job_types[periodic.job_type] = self._rescheduling(periodic, job_types[periodic.job_type])
            await infra.jobs.enqueue(periodic.current(infra.clock.now()))
        self.worker = JobWorker(
            infra.jobs,
            job_types,
            owner=instance_name(definition.name),
            dead_letter_sink=lambda doc: publish_dead_job(infra, doc),
            concurrency=definition.worker_concurrency,
            lease_s=infra.settings.jobs_lease_s,
            poll_interval_s=infra.settings.jobs_poll_interval_s,
        )
        self.worker.start()

    def _rescheduling(self, periodic: Periodic, job_type: JobType) -> JobType:
        """The periodic job's handler, after enqueuing its next slot (a failing run never ends the chain)."""

        async def run(job: Job) -> Any:
            await self.infra.jobs.enqueue(periodic.following(self.infra.clock.now()))
            return await job_type.handler(job)

        return JobType(run, job_type.policy, job_type.permanent)

    async def stop(self) -> None:
        """Stop fetching and claiming, let work in flight finish or release it, then disconnect.

        Consumers and the job worker drain together within one grace period (``SHUTDOWN_GRACE_S``,
        kept below Kubernetes' ``terminationGracePeriodSeconds``): what outlasts it is handed back
        (messages naked, jobs released to ``pending``) for another replica to take at once. The
        connections close last, because finishing handlers still write and jobs still publish.
        """
        began = time.monotonic()
        await self.stop_edge()
        if self._gauges is not None:
            self._gauges.cancel()
        grace = self.infra.settings.shutdown_grace_s

        async def stop_worker() -> tuple[int, int]:
            return await self.worker.stop(grace) if self.worker is not None else (0, 0)

        consumers, (jobs_finished, jobs_released) = await asyncio.gather(
            stop_consuming(self.infra.broker, grace), stop_worker()
        )
        for step in self.definition.on_stop:
            try:
                await step()
            except Exception as exc:  # closing a client must not keep the process from exiting
                log.warning("service.stop_step_failed", error=type(exc).__name__)
        await self.infra.broker.stop()
        await self.infra.client.close()
        log.info(
            "service.stopped",
            during="running" if self.running else "start-up",
            messages_finished=consumers.finished,
            messages_released=consumers.released,
            jobs_finished=jobs_finished,
            jobs_released=jobs_released,
            seconds=round(time.monotonic() - began, 2),
        )

    async def run_until_signalled(self) -> None:
        """Run until SIGTERM or SIGINT, then shut down gracefully."""
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        starting = asyncio.create_task(self.start())
        signalled = asyncio.create_task(stop.wait())
        await asyncio.wait({starting, signalled}, return_when=asyncio.FIRST_COMPLETED)
        if not starting.done():  # signalled while starting: stop what had started (a worker, a port)
            starting.cancel()
            await asyncio.gather(starting, return_exceptions=True)
            await self.stop()
            return
        if starting.exception() is not None:
            signalled.cancel()
        starting.result()  # a failed start-up raises here
        await signalled
        log.info("service.stopping")
        await self.stop()
