"""Known callers: a short memory of phone number -> identity for the webhook's hot path.

A caregiver writes in bursts, and every webhook needs the user id of its sender. Asking
MongoDB each time put a database round trip on the path that must answer Twilio fast, and
that round trip waits behind every other service's transactions on the same server (the
benchmark's ingress p99). A phone's user id never changes while the user exists, so an
identity seen recently is reused for ``ttl_s``.

Only identities whose ``user.registered`` is already published are remembered, so a new
caregiver still takes the full path. Erasing a user forgets them here at once; another
ingress replica forgets within ``ttl_s``, which only widens, by that much, the race a
message already has with an erasure that is in progress.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

Document = dict[str, Any]


class KnownCallers:
    def __init__(
        self,
        ttl_s: float = 30.0,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self.clock = clock
        self._by_phone: OrderedDict[str, tuple[float, Document]] = OrderedDict()

    def get(self, phone: str) -> Document | None:
        """The remembered identity of ``phone``, if seen within ``ttl_s``."""
        entry = self._by_phone.get(phone)
        if entry is None:
            return None
        if self.clock() - entry[0] > self.ttl_s:
            del self._by_phone[phone]
            return None
        return entry[1]

    def remember(self, user: Document) -> None:
        """Keep a registered identity; the oldest entry goes when the memory is full."""
        if not user.get("registered_published"):
            return
        self._by_phone[user["phone"]] = (self.clock(), user)
        self._by_phone.move_to_end(user["phone"])
        while len(self._by_phone) > self.max_entries:
            self._by_phone.popitem(last=False)

    def forget_user(self, user_id: str) -> None:
        for phone in [p for p, (_, u) in self._by_phone.items() if u["_id"] == user_id]:
            del self._by_phone[phone]
