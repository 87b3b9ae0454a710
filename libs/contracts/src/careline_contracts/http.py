"""The bodies of ingress's admin HTTP API (``/admin``) that are not admin replies themselves.

Routes that show one service's reply (an alert, the roster) answer with the reply model of
``careline_contracts.admin``; the ones that gather every service's answer, and the role routes,
answer with these. They are FastAPI's body and response models, so the OpenAPI document shows
them. Service names are keys, never fields, so a fifth service changes no model.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel, field_validator, model_validator

from careline_contracts.admin import JobSummary

Role = Literal["admin", "support"]


class HttpBody(BaseModel):
    """A request body: strict about unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class HttpView(BaseModel):
    """A response body."""

    model_config = ConfigDict(frozen=True)


class RoleGrant(HttpBody):
    """``POST /admin/users/{user_id}/roles``: the role to grant."""

    role: Role


class UserRoles(HttpView):
    user_id: str
    roles: list[str]


class RoleGranted(HttpView):
    user_id: str
    granted: Role


class RoleRevoked(HttpView):
    user_id: str
    revoked: Role


class JobsByService(HttpView):
    """``GET /admin/jobs``: each service's jobs in the statuses asked for, newest first."""

    jobs: dict[str, list[JobSummary]] = Field(description="service name -> its jobs")


class JobRetriedView(HttpView):
    retried: str = Field(description="the job's key")
    service: str


class CaregiverView(RootModel[dict[str, dict[str, Any]]]):
    """``GET /admin/caregivers/{user_id}``: service name -> its slice of the caregiver's record."""


class ErasureView(HttpView):
    """Every service deleted its slice; ``confirmed`` says how many documents each deleted."""

    erased: str = Field(description="the caregiver's user id")
    complete: bool
    confirmed: dict[str, dict[str, int]]


class MetricsView(RootModel[dict[str, list[dict[str, Any]]]]):
    """``GET /admin/metrics``: service name -> its daily rollups, newest first."""


class RollupsRefreshed(HttpView):
    refreshed: dict[str, str] = Field(description="service name -> the day recomputed (YYYY-MM-DD)")


class CaregiverLookup(HttpBody):
    """``POST /admin/caregivers/lookup``: the caregiver's phone number, exactly E.164. In the
    body, not the URL, so the number stays out of access logs, proxies and browser history."""

    phone: str = Field(description="E.164: a +, the country code and the number, e.g. +15551234567")


class CaregiverMatch(HttpView):
    """The caregiver a phone number belongs to (their record: ``GET /admin/caregivers/{user_id}``)."""

    user_id: str
    status: str | None = None


class AuditEntry(HttpView):
    """One audited action: who (user id and role), what, about which caregiver, when. Never a
    message text or a phone number (a number looked up appears as ``detail.phone_hash``)."""

    id: str = Field(description="pass as ?before= to page on from here")
    at: datetime
    actor: str
    role: str | None = None
    action: str = Field(description="dotted, e.g. caregiver.read, caregiver.lookup, role.revoke")
    user_id: str | None = Field(default=None, description="the caregiver (or staff member) concerned")
    ref: str | None = Field(default=None, description="the record acted on (an alert id, say)")
    detail: dict[str, Any] = Field(default_factory=dict)


class AuditPage(HttpView):
    """``GET /admin/audit``: entries newest first."""

    entries: list[AuditEntry]
    next: str | None = Field(description="?before= value of the next (older) page; null on the last")


REDRIVE_MAX = 500
SUBJECT_PATTERN = r"^[A-Za-z0-9_\-]+(\.([A-Za-z0-9_\-]+|\*))*(\.>)?$|^>$"
RedriveOutcome = Literal["would_redrive", "redriven", "skipped", "failed"]


class RedriveBody(HttpBody):
    """``POST /admin/deadletters/redrive``: which dead letters to publish again. At least one of
    ``ids``, ``seqs``, ``subject`` or ``since``; several narrow the choice together."""

    ids: list[str] = Field(
        default_factory=list, max_length=100, description="original message ids (the letters' msg id)"
    )
    seqs: list[int] = Field(default_factory=list, max_length=100, description="DEAD_LETTERS sequence numbers")
    subject: str | None = Field(
        default=None,
        max_length=200,
        pattern=SUBJECT_PATTERN,
        description="original subject: exact, a base subject (all its partitions), or * and > wildcards",
    )
    since: datetime | None = Field(default=None, description="letters dead at or after this time")
    service: list[Literal["ingress", "conversation", "billing", "profile"]] = Field(
        default_factory=list, max_length=4, description="only letters of these consumers' services"
    )
    dry_run: bool = Field(default=False, description="list what would be re-driven; publish nothing")
    limit: int = Field(default=100, ge=1, le=REDRIVE_MAX)

    @field_validator("since")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        """A time without a zone is UTC."""
        return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value

    @model_validator(mode="after")
    def _chooses(self) -> RedriveBody:
        if not (self.ids or self.seqs or self.subject or self.since):
            raise ValueError("choose dead letters by ids, seqs, subject or since")
        if any(not 1 <= len(i) <= 300 for i in self.ids) or any(s < 1 for s in self.seqs):
            raise ValueError("ids are 1-300 characters, seqs at least 1")
        return self


class RedrivenLetter(HttpView):
    seq: int
    service: str = Field(description="the service whose consumer dead-lettered it")
    subject: str
    msg_id: str = Field(description="the original message id")
    dead_at: datetime
    outcome: RedriveOutcome
    detail: str | None = Field(default=None, description="the new message id, or why not")


class RedriveView(HttpView):
    dry_run: bool
    letters: list[RedrivenLetter]
