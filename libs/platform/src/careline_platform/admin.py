"""Admin requests over NATS request/reply: how the admin API and the CLI reach every service.

Services never share databases, so the admin API and ``careline jobs`` ask. Each service
answers on ``admin.<service>.<operation>`` (a queue group, so one replica answers), each
operation a FastStream subscriber whose request and reply are models of
``careline_contracts.admin``: the operations every service answers (its jobs, its rollups, its
slice of a caregiver: ``careline_platform.admin_operations``) and operations of its own
(conversation's crisis alerts, say). Nothing here is dispatched by string or passed as a dict.

An operation that refuses raises :class:`Refused`, answered as ``Rejected``; a command (an
operation that changes data) is re-run when its transaction hits a write conflict with a
concurrent job, so the person waiting gets an answer rather than an error. Any other failure
gets an ``AdminError`` naming only the error's type.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from faststream import BaseMiddleware
from faststream.nats import NatsRouter
from pydantic import ValidationError

from careline_contracts.admin import (
    AdminError,
    AdminReply,
    AdminRequest,
    EraseCaregiver,
    Operation,
    Rejected,
    RejectionKind,
    admin_subject,
)
from careline_platform.logging import get_logger
from careline_platform.mongo import rerun_on_conflict
from careline_platform.uow import Tx, UnitOfWorkApi

__all__ = ["AdminOperation", "AnswerErrors", "CaregiverSlice", "Refused", "admin_router", "admin_subject"]

log = get_logger(__name__)
Document = dict[str, Any]
SliceHook = Callable[[str], Awaitable[Document]]
EraseHook = Callable[[EraseCaregiver], Awaitable[Document]]
AfterErase = Callable[[Tx[Any], str, Document], Awaitable[None]]
Req = TypeVar("Req", bound=AdminRequest)
Rep = TypeVar("Rep", bound=AdminReply)


@dataclass(frozen=True)
class CaregiverSlice:
    """How a service shows and erases its part of one caregiver's record."""

    read: SliceHook
    erase: EraseHook

    @classmethod
    def of(
        cls, uow: UnitOfWorkApi[ErasesCaregiver, ReadsCaregiver], after: AfterErase | None = None
    ) -> CaregiverSlice:
        """Read through the unit of work's read-only view; erase in one of its transactions.

        The erasure cancels every job about the caregiver, deletes the slice and buries them (a
        tombstone every consumer checks), all in one commit; ``after`` owes what the erasure
        itself must do (billing: cancel the subscription), given what the slice returned.
        """

        async def once(request: EraseCaregiver) -> Document:
            async with uow.begin() as tx:
                jobs = await tx.cancel_caregiver_jobs(request.user_id)
                done = await tx.repo.erase_caregiver(request.user_id)
                await tx.bury(request.user_id)
                if after is not None:
                    await after(tx, request.user_id, done)
            return {**done, "deleted": {**done.get("deleted", {}), "jobs": jobs}}

        async def erase(request: EraseCaregiver) -> Document:
            # a handler about the caregiver committing meanwhile conflicts on their fence: again
            return await rerun_on_conflict(lambda: once(request))

        return cls(lambda user_id: uow.read().read_caregiver(user_id), erase)


class ReadsCaregiver(Protocol):
    async def read_caregiver(self, user_id: str) -> Document: ...


class ErasesCaregiver(Protocol):
    async def erase_caregiver(self, user_id: str) -> Document: ...


class Refused(Exception):
    """The request was understood and cannot be carried out; ``kind`` decides how callers show it
    (the admin API: 400 invalid, 404 not found, 409 conflict)."""

    def __init__(self, kind: RejectionKind, reason: str) -> None:
        super().__init__(reason)
        self.kind, self.reason = kind, reason


@dataclass(frozen=True)
class AdminOperation(Generic[Req, Rep]):
    """One operation a service answers: its contract (name, request, reply) and its handler.

    ``handler`` takes the request model and returns the reply model, raising :class:`Refused`
    to refuse; ``command`` marks one that writes, re-run on a write conflict.
    """

    contract: Operation[Req, Rep]
    handler: Callable[[Req], Awaitable[Rep]]
    command: bool = False

    @property
    def name(self) -> str:
        return self.contract.name

    async def answer(self, request: Req) -> Rep | Rejected:
        """The reply to ``request``, or ``Rejected`` when the handler refused."""
        try:
            if self.command:
                return await rerun_on_conflict(lambda: self.handler(request))
            return await self.handler(request)
        except Refused as refusal:
            return Rejected(rejected=refusal.kind, reason=refusal.reason)


class AnswerErrors(BaseMiddleware):
    """An admin request always gets an answer, never a hang: a request that does not validate
    becomes ``Rejected`` (invalid), any other failure ``AdminError``."""

    async def consume_scope(self, call_next: Callable[[Any], Awaitable[Any]], msg: Any) -> Any:
        try:
            return await call_next(msg)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            return Rejected(rejected="invalid", reason=f"{where}: {first['msg']}")
        except Exception as exc:
            log.error("admin.failed", subject=msg.raw_message.subject, error=type(exc).__name__)
            return AdminError(error=type(exc).__name__)


def _subscriber(op: AdminOperation[Any, Any]) -> Callable[..., Awaitable[Any]]:
    """``op.answer`` as a FastStream subscriber: its request model annotated, so FastStream
    validates the body and documents the subject with it."""

    async def answer(request: AdminRequest) -> AdminReply:
        return await op.answer(request)

    answer.__annotations__ = {"request": op.contract.request, "return": op.contract.reply | Rejected}
    answer.__name__ = answer.__qualname__ = op.name
    return answer


def admin_router(service: str, operations: Sequence[AdminOperation[Any, Any]]) -> NatsRouter:
    """The FastStream subscribers of every operation of ``service``, one queue group per service."""
    names = [op.name for op in operations]
    clash = sorted({n for n in names if names.count(n) > 1})
    if clash:
        raise ValueError(f"admin operations may not share names: {clash}")
    router = NatsRouter(middlewares=[AnswerErrors])
    queue = f"admin-{service}"
    for op in operations:
        subject = admin_subject(service, op.name)
        router.subscriber(subject, queue=queue, title=f"{service}.{op.name}")(_subscriber(op))
    return router
