"""A person behind every crisis alert: who is paged, when, with what words; what staff may do.

An alert is paged in rounds, and a round pages the roster one person at a time, in escalation
order:

1. A round starts when a high-priority alert opens; when a low-priority one is still open and
   unpaged an hour after it opened; or when the caregiver's turn asks again (a NO to the
   follow-up, a yes to the indirect question, a new crisis while it is open). A round on an
   acknowledged alert opens it again; a resolved alert is never paged, the request is only
   recorded.
2. Each page has ``escalate_after`` to be acknowledged. If the alert is still open and its paging
   has not moved on, the next person is paged; after the last person the list starts again
   (the handler logs that the roster was exhausted).
3. An empty roster pages nobody; the step is tried again after ``empty_roster_retry``, so an
   alert is never silently dropped.

Every step of a round has a number of its own, so its jobs have keys of their own
(``page:<alert>:<round>:<step>``) and a retried or duplicated job never pages twice. A page
names the category and the priority and links to the alert in the dashboard: never the
caregiver's words or number.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal
from urllib.parse import quote

from careline_contracts.jobs import CrisisAlertJob
from careline_conversation.domain.roster import OnCall

Status = Literal["open", "acknowledged", "resolved"]
LOW_PRIORITY_GRACE = timedelta(minutes=60)
EMPTY_ROSTER_RETRY = timedelta(seconds=60)


@dataclass(frozen=True)
class NewAlert:
    """What opens an alert, whichever shape its ``crisis.alert`` job's payload has."""

    id: str
    user_id: str
    message_sid: str
    category: str
    tier: str
    priority: Literal["high", "low"]
    language: str = "en"
    correlation_id: str = ""

    @classmethod
    def from_job(cls, key: str, payload: Mapping[str, Any]) -> NewAlert:
        """A ``CrisisAlertJob``; a payload written before it (no priority, the detector's older
        category names) is read as the explicit tier: paged at once, never dropped."""
        if "priority" not in payload:
            return cls(
                id=key,
                user_id=str(payload["user_id"]),
                message_sid=str(payload["message_sid"]),
                category=str(payload["category"]),
                tier="explicit",
                priority="high",
                correlation_id=str(payload.get("correlation_id") or ""),
            )
        job = CrisisAlertJob.of(dict(payload))
        return cls(
            id=key,
            user_id=job.user_id,
            message_sid=job.message_sid,
            category=job.category,
            tier=job.tier,
            priority=job.priority,
            language=job.language,
            correlation_id=job.correlation_id,
        )


@dataclass(frozen=True)
class Paged:
    """What a page says about its alert."""

    id: str
    category: str
    priority: str

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Paged:
        return cls(
            id=str(doc["_id"]), category=str(doc["category"]), priority=str(doc.get("priority", "high"))
        )


@dataclass(frozen=True)
class PagingPolicy:
    escalate_after: timedelta
    base_url: str
    low_priority_grace: timedelta = LOW_PRIORITY_GRACE
    empty_roster_retry: timedelta = EMPTY_ROSTER_RETRY

    def link(self, alert_id: str) -> str:
        """The alert in the dashboard, which opens it from the fragment."""
        return f"{self.base_url.rstrip('/')}/admin/ui#alert={quote(alert_id, safe=':')}"


@dataclass(frozen=True)
class Cursor:
    """Where an alert's paging stands: its round, the step in it, and the roster position paged
    at that step (None when the roster was empty then)."""

    round: int
    step: int
    index: int | None

    def to_doc(self) -> dict[str, Any]:
        return {"round": self.round, "step": self.step, "index": self.index}

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any] | None) -> Cursor | None:
        if not doc:
            return None
        index = doc.get("index")
        return cls(
            round=int(doc["round"]), step=int(doc["step"]), index=None if index is None else int(index)
        )


@dataclass(frozen=True)
class Page:
    """One SMS to one person on call."""

    person: OnCall
    text: str
    escalated: bool


@dataclass(frozen=True)
class Step:
    """One step of a round: where paging stands after it, the page it sends (None: the roster
    was empty), when to look again, and whether the roster ran out to get here."""

    cursor: Cursor
    page: Page | None
    check_at: datetime
    wrapped: bool = False


def page_key(alert_id: str, cursor: Cursor) -> str:
    return f"page:{alert_id}:{cursor.round}:{cursor.step}"


def check_key(alert_id: str, cursor: Cursor) -> str:
    return f"crisis:escalate:{alert_id}:{cursor.round}:{cursor.step}"


def page_text(category: str, priority: str, link: str, escalated: bool) -> str:
    """The words of a page: category, priority and the link; nothing the caregiver said."""
    again = " Not acknowledged yet, escalated to you." if escalated else ""
    return (
        f"Careline crisis alert, {priority.upper()} priority: {category}.{again} Open and acknowledge: {link}"
    )


def first_step(
    previous: Cursor | None,
    roster: Sequence[OnCall],
    alert: Paged,
    now: datetime,
    policy: PagingPolicy,
) -> Step:
    """A new round: the first person on the roster, whatever happened in earlier rounds."""
    cursor = Cursor(round=(previous.round if previous else 0) + 1, step=0, index=0 if roster else None)
    return _step(cursor, roster, alert, now, policy, escalated=False)


def next_step(
    cursor: Cursor,
    roster: Sequence[OnCall],
    alert: Paged,
    now: datetime,
    policy: PagingPolicy,
) -> Step:
    """Nobody acknowledged the page of ``cursor``: the next person, from the top after the last."""
    wrapped = False
    if not roster:
        index = None
    elif cursor.index is None:  # the roster was empty at the last step
        index = 0
    else:
        wrapped = cursor.index + 1 >= len(roster)
        index = 0 if wrapped else cursor.index + 1
    following = Cursor(round=cursor.round, step=cursor.step + 1, index=index)
    step = _step(following, roster, alert, now, policy, escalated=cursor.index is not None)
    return Step(step.cursor, step.page, step.check_at, wrapped=wrapped)


def _step(
    cursor: Cursor,
    roster: Sequence[OnCall],
    alert: Paged,
    now: datetime,
    policy: PagingPolicy,
    *,
    escalated: bool,
) -> Step:
    if cursor.index is None:
        return Step(cursor, None, now + policy.empty_roster_retry)
    text = page_text(alert.category, alert.priority, policy.link(alert.id), escalated)
    return Step(cursor, Page(roster[cursor.index], text, escalated), now + policy.escalate_after)


def escalation_due(status: str, cursor: Cursor | None, round_: int, step: int) -> bool:
    """Whether the check of page (``round_``, ``step``) should page on: nobody acknowledged or
    resolved the alert, and no later step or round has taken over."""
    return status == "open" and cursor is not None and (cursor.round, cursor.step) == (round_, step)


PageRequestVerdict = Literal["page", "record", "skip"]


def on_page_request(status: str, reason: str, cursor: Cursor | None) -> PageRequestVerdict:
    """What a ``crisis.page`` request does: a resolved alert only records it; the hour's check
    of a low-priority alert pages only if it is still open and nobody paged it yet."""
    if status == "resolved":
        return "record"
    if reason == "unacknowledged" and (status != "open" or cursor is not None):
        return "skip"
    return "page"


AckVerdict = Literal["acknowledge", "already", "resolved"]


def acknowledgement(status: str) -> AckVerdict:
    if status == "resolved":
        return "resolved"
    return "already" if status == "acknowledged" else "acknowledge"


MessageVerdict = Literal["send", "no_number", "opted_out"]


def staff_message(state: Mapping[str, Any] | None) -> MessageVerdict:
    """Whether staff may text the caregiver: never a number that opted out, unless the caregiver
    wrote after opting out (an unknown opt-out time counts as not written since)."""
    if not state or not state.get("phone"):
        return "no_number"
    if not state.get("opted_out"):
        return "send"
    opted_out_at, last_inbound_at = state.get("opted_out_at"), state.get("last_inbound_at")
    if opted_out_at is not None and last_inbound_at is not None and last_inbound_at > opted_out_at:
        return "send"
    return "opted_out"
