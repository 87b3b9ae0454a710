"""Admin requests and replies: ingress's admin API asking a service over NATS request/reply.

Ingress checks an HTTP body against a ``...Body`` model, adds who asks (the bearer token's user
id) and sends the matching request on ``admin.<service>.<operation>``; the service answers with
a reply model, or with ``Rejected`` when the request cannot be carried out (ingress turns it into
a 400, 404 or 409). Requests are strict; replies ignore fields they do not know, so a service
that answers with more than an older ingress expects is still understood during a rollout.

Nothing here carries a caregiver's words or phone number: an alert is shown by its category,
priority, status and pages, never by the message that raised it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

AlertStatus = Literal["open", "acknowledged", "resolved"]
Outcome = Literal["safe", "reached_988", "emergency_services", "no_response", "other"]
OUTCOMES: tuple[str, ...] = Outcome.__args__  # type: ignore[attr-defined]
STAFF_MESSAGE_MAX_CHARS = 480
ROSTER_MAX_PEOPLE = 20
RejectionKind = Literal["invalid", "not_found", "conflict"]
JobStatusName = Literal["pending", "processing", "completed", "failed", "dead"]
FinishedStatus = Literal["completed", "dead"]


def admin_subject(service: str, operation: str) -> str:
    """Where ``service`` answers ``operation`` (a queue group: one replica answers)."""
    return f"admin.{service}.{operation}"


class AdminRequest(BaseModel):
    """A request: frozen and strict about unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class AdminReply(BaseModel):
    """A reply: frozen; fields it does not know are ignored."""

    model_config = ConfigDict(frozen=True, extra="ignore")


class Rejected(AdminReply):
    """The request was understood and refused: bad input, no such thing, or not in this state."""

    rejected: RejectionKind
    reason: str


class AdminError(AdminReply):
    """The service failed to carry out the request; only the error's type leaves the service."""

    error: str


# --- every service: jobs, rollups, a caregiver's slice ------------------------------------------


class ListJobs(AdminRequest):
    """``jobs_list``: jobs in the statuses asked for (failed and dead by default), newest first."""

    statuses: list[JobStatusName] = ["failed", "dead"]
    type: str | None = Field(default=None, max_length=100, description="only jobs of this type")
    limit: int = Field(default=100, ge=1, le=500)


class JobSummary(AdminReply):
    """What an admin sees of a job: never its payload; its last error masked like the logs."""

    key: str
    type: str | None = None
    status: str | None = None
    attempts: int = 0
    max_attempts: int | None = Field(default=None, description="None: the job type's retry policy decides")
    last_error: str | None = None
    next_attempt_at: datetime | None = None
    created_at: datetime | None = None


class JobList(AdminReply):
    service: str
    jobs: list[JobSummary]


class ShowJob(AdminRequest):
    """``jobs_show``: one job in full, its personal data masked unless ``reveal`` is asked for."""

    key: str = Field(min_length=1, max_length=300)
    reveal: bool = Field(default=False, description="show payload strings in clear (logged)")


class JobDetail(JobSummary):
    """One job in full. Masked (the default): every string in its payload, progress and result
    that is not an id, a type or a status reads ``[redacted]``, and its last error is masked."""

    service: str
    actor: str | None = None
    completed_at: datetime | None = None
    dead_at: datetime | None = None
    dead_letter_published: bool | None = None
    lease: dict[str, Any] | None = None
    payload: dict[str, Any] = {}
    progress: dict[str, Any] = {}
    result: Any = None
    masked: bool = True


class RetryJob(AdminRequest):
    """``jobs_retry``: put a failed or dead job back in the queue."""

    key: str = Field(min_length=1, max_length=300)


class JobRetried(AdminReply):
    service: str
    retried: bool = Field(description="False: no failed or dead job with that key")
    status: str | None = Field(default=None, description="the job's status now; None: no such job")


class RetryDeadJobs(AdminRequest):
    """``jobs_retry_dead``: put every dead job of the service back in the queue."""

    limit: int = Field(default=1000, ge=1, le=10_000)


class DeadJobsRetried(AdminReply):
    service: str
    keys: list[str] = Field(description="the jobs retried, dead -> pending with attempts reset")


class PurgeJobs(AdminRequest):
    """``jobs_purge``: delete completed or dead jobs (never any other), optionally only those
    finished more than ``older_than_days`` ago; ``dry_run`` only counts them."""

    statuses: list[FinishedStatus] = Field(default=["completed", "dead"], min_length=1)
    older_than_days: float | None = Field(default=None, ge=0)
    dry_run: bool = False


class JobsPurged(AdminReply):
    service: str
    matched: int
    deleted: int


class ListRollups(AdminRequest):
    """``rollups``: the most recent daily rollups, newest first."""

    days: int = Field(default=7, ge=1, le=90)


class RollupList(AdminReply):
    service: str
    rollups: list[dict[str, Any]]


class RefreshRollup(AdminRequest):
    """``rollups_refresh``: recompute today's rollup now."""


class RollupRefreshed(AdminReply):
    service: str
    day: str = Field(description="the day recomputed (YYYY-MM-DD)")


class GetCaregiver(AdminRequest):
    """``caregiver_get``: the service's slice of one caregiver's record."""

    user_id: str = Field(min_length=1, max_length=100)


class EraseCaregiver(GetCaregiver):
    """``caregiver_erase``: delete the service's slice of one caregiver, cancel their jobs, keep
    a tombstone of them, and delete the messages about them from the streams the service owns.

    ``phone`` (E.164, from ingress's identity) and ``identifiers`` (other ids of theirs, such as
    their Stripe customer) mark the messages to delete besides the user id; none is kept."""

    phone: str | None = Field(default=None, max_length=20)
    identifiers: tuple[str, ...] = Field(default=(), max_length=20)


class CaregiverRecord(AdminReply):
    """A service's slice of a caregiver: its own fields, whatever the service keeps."""

    model_config = ConfigDict(frozen=True, extra="allow")

    service: str


class CaregiverErased(AdminReply):
    service: str
    erased: bool
    deleted: dict[str, int] = {}
    scrubbed: dict[str, int] = {}
    """Messages about the caregiver deleted from each stream the service owns."""
    identifiers: list[str] = []
    """Other ids of the caregiver this service knew (their Stripe customer and subscription, their
    number): the messages that name them are deleted from the streams other services own."""


# --- the on-call roster ---------------------------------------------------------------------


class OnCallPerson(AdminRequest):
    """One person on call for crisis alerts. Paged in ``order`` (lowest first)."""

    name: str = Field(min_length=1, max_length=100)
    phone: str = Field(
        min_length=1, max_length=32, description="E.164, or a number that normalises to it (+1 assumed)"
    )
    order: int = Field(ge=0, le=1000, description="escalation order: the lowest is paged first")


class GetRoster(AdminRequest):
    """``oncall_get``: the roster as it stands."""


class RosterBody(AdminRequest):
    """The whole roster, replacing the one before (``PUT /admin/oncall``)."""

    people: list[OnCallPerson] = Field(max_length=ROSTER_MAX_PEOPLE)


class ReplaceRoster(RosterBody):
    """``oncall_put``: replace the roster; ``by`` is the admin's user id."""

    by: str = Field(min_length=1, max_length=100)


class Roster(AdminReply):
    """The roster, in escalation order (``oncall_get`` and ``oncall_put``)."""

    people: list[OnCallPerson]
    updated_at: datetime | None = None
    updated_by: str | None = None


# --- crisis alerts --------------------------------------------------------------------------


class PageView(AdminReply):
    """One page of an alert: who was paged, when, in which round and step."""

    round: int
    step: int
    index: int = Field(description="position on the roster when paged")
    name: str
    at: datetime
    reason: str = Field(description="why the round started (opened, unacknowledged, follow_up_no, ...)")
    escalated: bool = Field(description="the person before did not acknowledge in time")


class AlertView(AdminReply):
    """What staff see of an alert: never the message that raised it."""

    id: str
    user_id: str
    category: str
    tier: str | None = None
    priority: str
    status: AlertStatus
    opened_at: datetime
    pages: list[PageView] = []
    paging_round: int | None = None
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    resolved_by: str | None = None
    resolved_at: datetime | None = None
    outcome: Outcome | None = None
    note: str | None = None
    staff_messages: int = 0


class ListAlerts(AdminRequest):
    """``crisis_alerts``: the most recent alerts, newest first, optionally of one status."""

    limit: int = Field(default=50, ge=1, le=200)
    status: AlertStatus | None = None


class AlertList(AdminReply):
    alerts: list[AlertView]


class GetAlert(AdminRequest):
    """``alert_get``: one alert."""

    alert_id: str = Field(min_length=1, max_length=200)


class AcknowledgeAlert(GetAlert):
    """``alert_acknowledge``: someone has it; escalation stops."""

    by: str = Field(min_length=1, max_length=100)


class ResolveBody(AdminRequest):
    """How an alert ended (``POST /admin/crisis-alerts/{id}/resolve``)."""

    outcome: Outcome
    note: str = Field(default="", max_length=1000)


class ResolveAlert(ResolveBody):
    """``alert_resolve``: close the alert with an outcome and a note."""

    alert_id: str = Field(min_length=1, max_length=200)
    by: str = Field(min_length=1, max_length=100)


class StaffMessageBody(AdminRequest):
    """A message staff write to the caregiver an alert is about."""

    text: str = Field(min_length=1, max_length=STAFF_MESSAGE_MAX_CHARS)

    @field_validator("text")
    @classmethod
    def _not_blank(cls, text: str) -> str:
        if not text.strip():
            raise ValueError("the message is empty")
        return text.strip()


class SendStaffMessage(StaffMessageBody):
    """``alert_message``: text the caregiver; the same ``request_id`` never sends twice."""

    alert_id: str = Field(min_length=1, max_length=200)
    by: str = Field(min_length=1, max_length=100)
    request_id: str = Field(min_length=1, max_length=100)


class StaffMessageQueued(AdminReply):
    """The staff message is owed as an SMS job (``queued`` is False for a repeated request)."""

    alert_id: str
    key: str
    queued: bool


# --- every service: re-driving a dead letter onto a subject it owns ---------------------------


class RedriveDeadLetter(AdminRequest):
    """Publish the dead letter at ``seq`` of the DEAD_LETTERS stream again, on its original
    subject. Asked of the service that owns that subject's stream; it reads the letter itself,
    so a caller can only re-drive what a consumer really dead-lettered."""

    seq: int = Field(ge=1)
    by: str = Field(default="system", min_length=1, max_length=100, description="who asked")


class DeadLetterRedriven(AdminReply):
    seq: int
    subject: str
    msg_id: str = Field(description="the original message id, sent in the Careline-Redrive-Of header")
    redrive_id: str = Field(description="the new Nats-Msg-Id")
    consumer: str = Field(description="the service whose consumer dead-lettered it, the only one to act")


# --- the operations: a name, a request model and a reply model, shared by both sides --------

Req = TypeVar("Req", bound=AdminRequest)
Rep = TypeVar("Rep", bound=AdminReply)


@dataclass(frozen=True)
class Operation(Generic[Req, Rep]):
    """One admin operation as both sides know it: the service answers ``request`` with ``reply``
    (or ``Rejected``/``AdminError``); the caller sends ``request`` and parses ``reply``."""

    name: str
    request: type[Req]
    reply: type[Rep]


# Operations every service answers (``admin.<service>.<operation>``).
JOBS_LIST = Operation("jobs_list", ListJobs, JobList)
JOBS_SHOW = Operation("jobs_show", ShowJob, JobDetail)
JOBS_RETRY = Operation("jobs_retry", RetryJob, JobRetried)
JOBS_RETRY_DEAD = Operation("jobs_retry_dead", RetryDeadJobs, DeadJobsRetried)
JOBS_PURGE = Operation("jobs_purge", PurgeJobs, JobsPurged)
ROLLUPS = Operation("rollups", ListRollups, RollupList)
ROLLUPS_REFRESH = Operation("rollups_refresh", RefreshRollup, RollupRefreshed)
CAREGIVER_GET = Operation("caregiver_get", GetCaregiver, CaregiverRecord)
CAREGIVER_ERASE = Operation("caregiver_erase", EraseCaregiver, CaregiverErased)
DEADLETTER_REDRIVE = Operation("deadletter_redrive", RedriveDeadLetter, DeadLetterRedriven)
COMMON_OPERATIONS: tuple[Operation[Any, Any], ...] = (
    JOBS_LIST, JOBS_SHOW, JOBS_RETRY, JOBS_RETRY_DEAD, JOBS_PURGE,
    ROLLUPS, ROLLUPS_REFRESH, CAREGIVER_GET, CAREGIVER_ERASE, DEADLETTER_REDRIVE,
)  # fmt: skip

# Operations conversation answers (``admin.conversation.<operation>``).
CRISIS_ALERTS = Operation("crisis_alerts", ListAlerts, AlertList)
ALERT_GET = Operation("alert_get", GetAlert, AlertView)
ALERT_ACKNOWLEDGE = Operation("alert_acknowledge", AcknowledgeAlert, AlertView)
ALERT_RESOLVE = Operation("alert_resolve", ResolveAlert, AlertView)
ALERT_MESSAGE = Operation("alert_message", SendStaffMessage, StaffMessageQueued)
ONCALL_GET = Operation("oncall_get", GetRoster, Roster)
ONCALL_PUT = Operation("oncall_put", ReplaceRoster, Roster)
