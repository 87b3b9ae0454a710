"""The bodies of ingress's admin HTTP API (``/admin``) that are not admin replies themselves.

Routes that show one service's reply (an alert, the roster) answer with the reply model of
``careline_contracts.admin``; the ones that gather every service's answer, and the role routes,
answer with these. They are FastAPI's body and response models, so the OpenAPI document shows
them. Service names are keys, never fields, so a fifth service changes no model.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel

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
