"""Billing's notices: the texts billing owes a caregiver (``BillingNoticeReady``), and the jobs
that owe them later (a trial's warning, a billing portal link).

Conversation words and sends each notice once: its message id names the fact (a trial's end, an
invoice, a message), and conversation's SMS job is keyed by it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from careline_billing.domain import lifecycle
from careline_billing.integrations.stripe_gateway import BillingGateway
from careline_billing.repository import BillingUow, BillingWriter
from careline_contracts.billing import BillingNoticeReady
from careline_contracts.jobs import PortalNoticeJob, TrialWarningJob
from careline_platform.jobs import Job
from careline_platform.uow import Tx


async def warn_trial(job: Job, uow: BillingUow) -> dict[str, Any]:
    """A few days before a local trial ends: a kind warning, unless a subscription replaced the
    trial or this trial's warning went out already (Stripe's trial_will_end marks it too)."""
    payload = TrialWarningJob.of(job.payload)
    async with uow.begin() as tx:
        warned = await owe_trial_warning(
            tx, payload.user_id, payload.trial_end, payload.correlation_id, local=True
        )
    return {"warned": warned}


async def owe_trial_warning(
    tx: Tx[BillingWriter], user: str, trial_end: datetime, correlation_id: str | None, *, local: bool
) -> bool:
    """Owe the warning that the trial ending at ``trial_end`` ends soon, once per trial: from the
    local job (``local``) or Stripe's trial_will_end; whether it was owed now."""
    account = await tx.repo.find_account(user)
    if account is None or account.get("status") != "trialing" or trial_end <= tx.now:
        return False
    if local and account.get("stripe_subscription_id"):
        return False  # Stripe runs the trial now: its trial_will_end warns
    if not await tx.repo.mark_trial_warned(user, trial_end, tx.now):
        return False  # this trial's warning went out already
    notice_id = f"trial_ending:{user}:{int(trial_end.timestamp())}"
    days = lifecycle.whole_days(trial_end - tx.now)
    notice = "trial_ending" if local else "trial_converting"  # Stripe's trial becomes a subscription
    await notify(tx, user, notice, notice_id, correlation_id, days_left=days)
    return True


async def notify(
    tx: Tx[BillingWriter],
    user: str,
    notice: Any,
    notice_id: str,
    correlation_id: str | None,
    *,
    url: str | None = None,
    days_left: int | None = None,
) -> None:
    """Owe conversation a notice; its message id names the fact, so it is texted once."""
    ready = BillingNoticeReady(
        occurred_at=tx.now, correlation_id=correlation_id or notice_id, user_id=user,
        notice=notice, notice_id=notice_id, url=url, days_left=days_left,
    )  # fmt: skip
    await tx.emit(ready, key=user, msg_id=f"notice:{notice_id}")


async def send_portal_notice(job: Job, uow: BillingUow, *, gateway: BillingGateway) -> dict[str, Any]:
    """Open a billing portal session (idempotent under the job's key) and owe its notice."""
    payload = PortalNoticeJob.of(job.payload)
    url = await gateway.create_portal(customer_id=payload.customer_id, idempotency_key=job.key)
    async with uow.begin() as tx:
        await notify(tx, payload.user_id, payload.notice, payload.notice_id, payload.correlation_id, url=url)
    return {"notice": payload.notice}
