"""Prometheus metrics every service exposes on ``/metrics``.

Counters and histograms are updated where things happen (the consumer runner, the job
worker, the webhook edge); the gauges that need a query (jobs by status, JetStream consumer
lag) are refreshed every 15 seconds by one background task, never per scrape.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, start_http_server

from careline_platform.logging import get_logger

log = get_logger(__name__)

MESSAGES = Counter(
    "careline_messages_total", "Messages handled, by subject and outcome", ["subject", "outcome"]
)
HANDLER_SECONDS = Histogram(
    "careline_handler_seconds",
    "Time a message handler took",
    ["durable"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
JOBS_FINISHED = Counter(
    "careline_jobs_finished_total", "Job attempts by type and outcome", ["type", "outcome"]
)
RETRIES = Counter("careline_job_retries_total", "Job attempts that failed and will be retried", ["type"])
DEAD_LETTERS = Counter("careline_dead_letters_total", "Messages and jobs given up on", ["kind"])
JOBS = Gauge(
    "careline_jobs", "Jobs waiting, running, failed or dead, by status (refreshed every 15 s)", ["status"]
)
CONSUMER_PENDING = Gauge(
    "careline_consumer_pending", "Messages waiting for a durable consumer (JetStream lag)", ["durable"]
)
WEBHOOK_SECONDS = Histogram(
    "careline_webhook_seconds",
    "Time until a webhook was answered (the JetStream ack included)",
    ["kind", "status"],
    buckets=(0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2.5),
)
SPOOL_DEPTH = Gauge("careline_spool_depth", "Webhooks waiting in ingress's local spool for JetStream")
SPOOLED = Counter(
    "careline_spooled_total", "Webhooks written to ingress's spool, by why JetStream was skipped", ["reason"]
)
SPOOL_DRAINED = Counter("careline_spool_drained_total", "Spooled webhooks republished and acknowledged")
SPOOL_WRITE_FAILURES = Counter(
    "careline_spool_write_failures_total", "Webhooks answered 503 because the spool could not write"
)
DB_COMMANDS = Counter(
    "careline_db_commands_total",
    "MongoDB commands this process sent (each one round trip to the server), by command name",
    ["command"],
)
REFRESH_S = 5.0


def serve(port: int) -> bool:
    """Serve /metrics on ``port`` in a thread; a busy port is logged, not fatal."""
    try:
        start_http_server(port, addr="0.0.0.0")
    except OSError as exc:
        log.warning("metrics.unavailable", port=port, error=type(exc).__name__)
        return False
    log.info("metrics.serving", port=port)
    return True
