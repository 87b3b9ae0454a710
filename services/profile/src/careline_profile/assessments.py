"""Profile's assessment and check-in handlers: the engine's steps, stored and announced.

Profile owns the assessment in progress (on the caregiver's profile) and the history of
completed ones; conversation only carries the texts. Every text for the caregiver leaves as
a ``profile.prompt.ready`` event written with the state change, under an id that names the
step, so a redelivered answer never asks twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from careline_contracts.conversation import AssessmentAnswered, AssessmentRequested
from careline_contracts.profile import CheckinDue, PromptReady
from careline_platform.jobs import Job
from careline_platform.logging import get_logger
from careline_platform.mongo import AlreadyProcessed
from careline_platform.uow import HasMsgId
from careline_profile.domain import checkin_texts, due, journey, schedule, session, texts
from careline_profile.domain.instruments import INSTRUMENTS
from careline_profile.domain.scoring import Result, result_message
from careline_profile.domain.texts import say
from careline_profile.repository import ProfileUow, ProfileWriter

log = get_logger(__name__)
CHECKIN_SCAN = "checkin.scan"
SCAN_PAGE = 200
ENDED = say("session.ended", "en")
PURPOSES = {
    session.Outcome.NEXT: "question",
    session.Outcome.REASKED: "reask",
    session.Outcome.PAUSED: "paused",
    session.Outcome.FINISHED: "result",
    session.Outcome.EXPIRED: "expired",
    session.Outcome.ALL_SKIPPED: "retry",
}


async def on_assessment_requested(event: AssessmentRequested, delivery: HasMsgId, uow: ProfileUow) -> None:
    """Start the instrument asked for, or pick up the one already open."""
    user = event.user_id
    async with uow.begin(delivery) as tx:
        now = tx.now
        profile = await tx.repo.get_or_create(user, now)
        language = event.language or profile.get("language")
        open_state = profile.get("assessment_in_progress")
        ready_at = schedule.assessment_ready_at(profile, event.instrument, now)
        if open_state and not session.is_expired(open_state, now):
            step = session.resume(open_state, now, language)
            state, text = {**(step.state or open_state), "id": open_state["id"]}, step.reply or ""
        elif ready_at is not None:  # done too recently: say when it can be done again
            too_soon = _too_soon(event, profile, ready_at, now, language)
            await tx.emit(too_soon, key=user, msg_id=f"prompt:{delivery.msg_id}")
            return
        else:
            state = {**session.start(event.instrument, now, language), "id": f"asm:{delivery.msg_id}"}
            intro = INSTRUMENTS[event.instrument].intro_in(language)
            text = f"{intro} {session.current_question(state)}"
        fields: dict[str, Any] = {"assessment_in_progress": state}
        if event.language:
            fields["language"] = event.language
        await tx.repo.set_fields(user, fields, now)
        prompt = PromptReady(
            occurred_at=now,
            correlation_id=event.correlation_id,
            user_id=user,
            assessment_id=state["id"],
            text=text,
            purpose="question",
            assessment_open=True,
        )
        await tx.emit(prompt, key=user, msg_id=f"prompt:{delivery.msg_id}")


async def on_assessment_answered(event: AssessmentAnswered, delivery: HasMsgId, uow: ProfileUow) -> None:
    """Apply one answer: the next question, a re-ask, a pause, or the score and a suggestion."""
    user = event.user_id
    async with uow.begin(delivery) as tx:
        now = tx.now
        profile = await tx.repo.get_or_create(user, now)
        open_state = profile.get("assessment_in_progress")
        language = event.language or profile.get("language")
        if not open_state or open_state.get("id") != event.assessment_id:
            ended = _prompt(event, say("session.ended", language), "expired", False, now)
            await tx.emit(ended, key=user, msg_id=f"prompt:{delivery.msg_id}")
            return
        step = session.apply(open_state, event.text, now, event.language)
        fields: dict[str, Any] = {
            "assessment_in_progress": {**step.state, "id": open_state["id"]} if step.state else None
        }
        text = step.reply
        if step.finished is not None:
            instrument = INSTRUMENTS[open_state["instrument"]]
            fields.update(await _record_result(tx.repo, user, open_state, step.finished, profile, now))
            spoken = event.language or session.language_of(open_state)
            text = result_message(instrument, step.finished, spoken)
        await tx.repo.set_fields(user, due.with_next_due(profile, fields, now), now)
        if text:
            still_open = step.state is not None and step.outcome is not session.Outcome.PAUSED
            prompt = _prompt(event, text, PURPOSES[step.outcome], still_open, now)
            if step.finished is not None:  # conversation keeps the band and zones for its agent
                zones = tuple(str(z) for z in step.finished.pressure_zones)
                prompt = prompt.model_copy(update={"band": str(step.finished.band), "pressure_zones": zones})
            await tx.emit(prompt, key=user, msg_id=f"prompt:{delivery.msg_id}")


def _too_soon(
    event: AssessmentRequested,
    profile: dict[str, Any],
    ready_at: datetime,
    now: datetime,
    language: str | None,
) -> PromptReady:
    """The kind reply to an assessment asked for before its minimum interval, with when it opens."""
    values = {"title": event.instrument, "when": ready_at}
    zone = profile.get("time_zone")
    text = checkin_texts.render("too_soon", texts.language(language), values, time_zone=zone, now=now)
    return PromptReady(
        occurred_at=now,
        correlation_id=event.correlation_id,
        user_id=event.user_id,
        assessment_id="",
        text=text,
        purpose="too_soon",
        assessment_open=False,
    )


def _prompt(
    event: AssessmentAnswered, text: str, purpose: Any, still_open: bool, now: datetime
) -> PromptReady:
    return PromptReady(
        occurred_at=now,
        correlation_id=event.correlation_id,
        user_id=event.user_id,
        assessment_id=event.assessment_id,
        text=text,
        purpose=purpose,
        assessment_open=still_open,
    )


async def _record_result(
    repo: ProfileWriter,
    user: str,
    state: dict[str, Any],
    result: Result,
    profile: dict[str, Any],
    now: datetime,
) -> dict[str, Any]:
    """Keep the completed assessment in the history and return the profile fields it sets."""
    await repo.add_assessment(
        {
            "_id": state["id"],
            "user_id": user,
            "instrument": state["instrument"],
            "score": result.score,
            "band": str(result.band),
            "zone_pressure": {str(z): p for z, p in result.zone_pressure.items()},
            "pressure_zones": [str(z) for z in result.pressure_zones],
            "answered": result.answered,
            "started_at": state.get("started_at"),
            "completed_at": now,
        }
    )
    history = [*(profile.get("band_history") or []), {"band": str(result.band), "at": now}][-10:]
    updated = {**profile, "band_history": history, "burnout_band": str(result.band)}
    phase = journey.next_phase(
        profile.get("journey_phase") or "onboarding", event="assessment_completed", profile=updated, now=now
    )
    interval = schedule.next_checkin_interval(updated, now)
    completed = {**(profile.get("last_completed") or {}), state["instrument"]: now}
    return {
        "last_completed": completed,
        "next_checkin_at": now + interval if interval is not None else None,
        "burnout_score": result.score,
        "burnout_band": str(result.band),
        "pressure_zones": [str(z) for z in result.pressure_zones],
        "band_history": history,
        "last_assessment_at": now,
        "journey_phase": str(phase),
    }


async def scan_checkins(job: Job, uow: ProfileUow) -> dict[str, Any]:
    """Visit every caregiver whose ``next_due_at`` has come, a bounded page at a time, walking the
    index on (``next_due_at``, ``_id``) until no page is left: its cost follows the caregivers who
    need something, not the population. Churned, opted-out, bereaved and paused caregivers have no
    such moment (``domain.due``), so however many there are, they cost the scan nothing.

    A check-in's message id is the caregiver and the day, so two scheduler replicas (or a rerun of
    a slot) never send a second check-in the same day; the conditional update on
    ``last_checkin_at`` keeps the profile side single too.
    """
    now, reader, after = uow.now, uow.read(), None
    done = {"started": 0, "nudged": 0, "churned": 0, "calmed": 0, "rescheduled": 0, "read": 0}
    while page := await reader.due_profiles(now, after, SCAN_PAGE):
        for profile in page:
            done[await _visit(uow, profile, now)] += 1
        done["read"] += len(page)
        last = page[-1]
        after = (last[due.FIELD], last["_id"])
    log.info("checkin.scan", **done)
    return done


async def _visit(uow: ProfileUow, profile: dict[str, Any], now: datetime) -> str:
    """Do the one thing due for this caregiver (a check-in first), or move their next look on.

    Whatever is due next (a calm crisis support after a check-in, say) is the next scan's.
    """
    if schedule.is_due(profile, now) and await _start_checkin(uow, profile, now):
        return "started"
    if profile.get("journey_phase") == "crisis_support" and await _set_phase(
        uow, profile, "crisis_resolved", now
    ):
        return "calmed"
    if schedule.is_churned(profile, now) and await _set_phase(uow, profile, "silence", now):
        return "churned"
    if (days := schedule.reengagement_due(profile, now)) is not None and await _nudge(
        uow, profile, days, now
    ):
        return "nudged"
    async with uow.begin() as tx:
        await tx.repo.reschedule(profile["_id"], profile.get(due.FIELD), due.after_visit(profile, now))
    return "rescheduled"


NUDGES = {days: say(f"nudge.{days}", "en") for days in schedule.REENGAGEMENT_DAYS}
"""The English nudges; each is ``nudge.<days>`` in ``data/texts.toml``, in both languages."""


async def _nudge(uow: ProfileUow, profile: dict[str, Any], days: int, now: datetime) -> int:
    """A dormant caregiver's day-7, -14 or -30 nudge, once each (the id names the step)."""
    user = profile["_id"]
    msg_id = f"reengage:{user}:{days}"
    try:
        async with uow.begin(msg_id) as tx:
            after = {
                **profile,
                "last_checkin_at": now,
                "reengagements_sent": [*profile.get("reengagements_sent", ()), days],
            }
            next_due = due.next_due_at(after, now)
            claimed = await tx.repo.claim_nudge(user, profile.get("last_checkin_at"), days, next_due, now)
            if not claimed:
                return 0
            nudge = PromptReady(
                occurred_at=now,
                correlation_id=msg_id,
                user_id=user,
                assessment_id="",
                text=say(f"nudge.{days}", profile.get("language")),
                purpose="nudge",
                assessment_open=False,
            )
            await tx.emit(nudge, key=user, msg_id=msg_id)
    except AlreadyProcessed:
        return 0
    return 1


async def _set_phase(uow: ProfileUow, profile: dict[str, Any], event: str, now: datetime) -> int:
    """Apply a journey event the scan found; 1 if the phase changed."""
    current = profile.get("journey_phase") or "onboarding"
    phase = journey.next_phase(current, event=event, profile=profile, now=now)
    if str(phase) == current:
        return 0
    async with uow.begin() as tx:
        fields = due.with_next_due(profile, {"journey_phase": str(phase)}, now)
        await tx.repo.set_fields(profile["_id"], fields, now)
    return 1


async def _start_checkin(uow: ProfileUow, profile: dict[str, Any], now: datetime) -> bool:
    user = profile["_id"]
    msg_id = f"checkin:{user}:{now.date().isoformat()}"
    try:
        return await _claim_and_owe_checkin(uow, profile, msg_id, now)
    except AlreadyProcessed:
        return False  # today's check-in was already started (another replica, an earlier slot)


async def _claim_and_owe_checkin(
    uow: ProfileUow, profile: dict[str, Any], msg_id: str, now: datetime
) -> bool:
    user = profile["_id"]
    async with uow.begin(msg_id) as tx:
        language = profile.get("language")
        state = {**session.start("checkin", now, language), "id": f"asm:{msg_id}"}
        next_due = due.next_due_at({**profile, "last_checkin_at": now}, now)
        claimed = await tx.repo.claim_checkin(user, profile.get("last_checkin_at"), state, next_due, now)
        if not claimed:
            return False
        text = f"{INSTRUMENTS['checkin'].intro_in(language)} {session.current_question(state)}"
        checkin = CheckinDue(
            occurred_at=now, correlation_id=msg_id, user_id=user, assessment_id=state["id"], text=text
        )
        await tx.emit(checkin, key=user, msg_id=msg_id)
    return True
