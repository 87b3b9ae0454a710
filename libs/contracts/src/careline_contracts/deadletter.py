"""The envelope of a message a consumer gave up on, and the headers of its re-drive.

A re-drive (``careline deadletters redrive``, ``POST /admin/deadletters/redrive``) publishes the
letter's payload again on its original subject under a new ``Nats-Msg-Id``. Two headers tell
the consumers what it is: ``REDRIVE_OF`` carries the original message id, which every consumer
records and checks as if it were the message's own (so a consumer that handled the message
already, or a second re-drive of it, changes nothing); ``REDRIVE_FOR`` names the service (and
``REDRIVE_DURABLE`` the consumer) that dead-lettered it, the only one that acts on it: every
other consumer of the subject acks it and does nothing.

The new id must differ from the original: JetStream drops a repeated ``Nats-Msg-Id`` within the
stream's duplicate window. Our headers are ``Careline-``: NATS reserves the ``Nats-`` prefix for
headers its server recognises (docs.nats.io, "JetStream > Headers").
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class DeadLetter(BaseModel):
    """Why and where a message was parked; the original payload travels base64-free as text."""

    model_config = ConfigDict(frozen=True)

    v: int = 1
    service: str
    subject: str
    msg_id: str
    reason: str
    deliveries: int
    payload: str
    dead_at: datetime
    durable: str | None = None
    """The consumer that gave up (absent in letters written before re-drives existed, and for
    dead jobs, whose subject is ``job.<type>`` and which are retried, not re-driven)."""


REDRIVE_OF = "Careline-Redrive-Of"
REDRIVE_FOR = "Careline-Redrive-For"
REDRIVE_DURABLE = "Careline-Redrive-Durable"
JOB_SUBJECT_PREFIX = "job."
"""A dead job's letter (``job.<type>``): nothing to re-publish; ``careline jobs retry`` it."""
