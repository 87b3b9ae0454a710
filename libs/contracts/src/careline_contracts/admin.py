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

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

# Operations every service answers (``admin.<service>.<operation>``).
JOBS_LIST = "jobs_list"
JOBS_RETRY = "jobs_retry"
ROLLUPS = "rollups"
ROLLUPS_REFRESH = "rollups_refresh"
CAREGIVER_GET = "caregiver_get"
CAREGIVER_ERASE = "caregiver_erase"
COMMON_OPERATIONS = (JOBS_LIST, JOBS_RETRY, ROLLUPS, ROLLUPS_REFRESH, CAREGIVER_GET, CAREGIVER_ERASE)

# Operations conversation answers (``admin.conversation.<operation>``).
CRISIS_ALERTS = "crisis_alerts"
ALERT_GET = "alert_get"
ALERT_ACKNOWLEDGE = "alert_acknowledge"
ALERT_RESOLVE = "alert_resolve"
ALERT_MESSAGE = "alert_message"
ONCALL_GET = "oncall_get"
ONCALL_PUT = "oncall_put"

AlertStatus = Literal["open", "acknowledged", "resolved"]
Outcome = Literal["safe", "reached_988", "emergency_services", "no_response", "other"]
OUTCOMES: tuple[str, ...] = Outcome.__args__  # type: ignore[attr-defined]
STAFF_MESSAGE_MAX_CHARS = 480
ROSTER_MAX_PEOPLE = 20
RejectionKind = Literal["invalid", "not_found", "conflict"]
JobStatusName = Literal["pending", "processing", "completed", "failed", "dead"]


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
    """``jobs_list``: jobs in the statuses asked for (failed and dead by default)."""

    statuses: list[JobStatusName] = ["failed", "dead"]
    limit: int = Field(default=100, ge=1, le=500)


class JobSummary(AdminReply):
    """What an admin sees of a job: never its payload; its last error masked like the logs."""

    key: str
    type: str | None = None
    status: str | None = None
    attempts: int = 0
    last_error: str | None = None
    next_attempt_at: datetime | None = None
    created_at: datetime | None = None


class JobList(AdminReply):
    service: str
    jobs: list[JobSummary]


class RetryJob(AdminRequest):
    """``jobs_retry``: put a failed or dead job back in the queue."""

    key: str = Field(min_length=1, max_length=300)


class JobRetried(AdminReply):
    service: str
    retried: bool = Field(description="False: no failed or dead job with that key")


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
    day: dict[str, Any]


class GetCaregiver(AdminRequest):
    """``caregiver_get``: the service's slice of one caregiver's record."""

    user_id: str = Field(min_length=1, max_length=100)


class EraseCaregiver(GetCaregiver):
    """``caregiver_erase``: delete the service's slice of one caregiver."""


class CaregiverRecord(AdminReply):
    """A service's slice of a caregiver: its own fields, whatever the service keeps."""

    model_config = ConfigDict(frozen=True, extra="allow")

    service: str


class CaregiverErased(AdminReply):
    service: str
    erased: bool
    deleted: dict[str, int] = {}


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
