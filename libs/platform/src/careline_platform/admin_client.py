"""Asking a service an admin operation: the request model out, the reply model back.

The admin API (ingress) and the ``careline jobs`` commands both ask through :func:`ask`, with
the operation's contract from ``careline_contracts.admin``: the same request and reply models
the service answers with, so both sides are typed end to end. What is not the reply raises:
``Rejected`` as :class:`RequestRejected` (the caller decides how to show it), ``AdminError`` as
:class:`ServiceFailed`, no answer in time as :class:`NoAnswer`.
"""

from __future__ import annotations

from typing import Any, TypeVar

from faststream.nats import NatsBroker
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout

from careline_contracts.admin import AdminError, AdminReply, AdminRequest, Operation, Rejected, admin_subject

__all__ = ["NoAnswer", "RequestRejected", "ServiceFailed", "ask", "parse_reply"]

Req = TypeVar("Req", bound=AdminRequest)
Rep = TypeVar("Rep", bound=AdminReply)


class NoAnswer(Exception):
    """Nobody answered in time (the service is down, or busy beyond the timeout)."""


class ServiceFailed(Exception):
    """The service failed to carry out the request (``AdminError``: only the error's type)."""


class RequestRejected(Exception):
    """The service understood the request and refused it (bad input, no such thing, wrong state)."""

    def __init__(self, rejected: Rejected) -> None:
        super().__init__(rejected.reason)
        self.rejected = rejected


def parse_reply(operation: Operation[Any, Rep], answer: Any) -> Rep:
    """The decoded answer as the operation's reply model; refusals and failures raise."""
    if not isinstance(answer, dict):
        raise ServiceFailed("not a reply")
    if "rejected" in answer:
        raise RequestRejected(Rejected.model_validate(answer))
    if "error" in answer:
        raise ServiceFailed(AdminError.model_validate(answer).error)
    return operation.reply.model_validate(answer)


async def ask(
    broker: NatsBroker, service: str, operation: Operation[Req, Rep], request: Req, timeout_s: float
) -> Rep:
    """Send ``request`` to ``admin.<service>.<operation>`` and return the typed reply."""
    try:
        msg = await broker.request(request, admin_subject(service, operation.name), timeout=timeout_s)
    except (TimeoutError, NatsTimeout, NoRespondersError) as exc:
        raise NoAnswer(f"{service} did not answer") from exc
    return parse_reply(operation, await msg.decode())
