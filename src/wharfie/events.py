"""The daemon's event bus (what `GET /events` streams).

Services publish from any thread; the bus keeps the last events in a ring (for `since`) and
fans each one out to subscribers' asyncio queues on the event loop.
"""

from __future__ import annotations

import asyncio
import collections
import threading
import time
from typing import Any

RING_SIZE = 1024
Event = dict[str, Any]


class EventBus:
    def __init__(self) -> None:
        self.ring: collections.deque[Event] = collections.deque(maxlen=RING_SIZE)
        self.subscribers: set[asyncio.Queue[Event]] = set()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.lock = threading.Lock()

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    def publish(self, type_: str, action: str, actor_id: str, attributes: dict[str, str] | None = None,
                scope: str = "local") -> Event:
        now = time.time_ns()
        event: Event = {
            "Type": type_,
            "Action": action,
            "Actor": {"ID": actor_id, "Attributes": dict(attributes or {})},
            "scope": scope,
            "time": now // 1_000_000_000,
            "timeNano": now,
        }
        if type_ in ("container", "image"):
            # The legacy fields older clients (and `docker events` before 1.22) read.
            event = {"status": action, "id": actor_id, **({"from": attributes["image"]} if attributes and "image" in attributes else {}), **event}
        with self.lock:
            self.ring.append(event)
        if self.loop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self._fan_out, event)
        return event

    def _fan_out(self, event: Event) -> None:
        for q in list(self.subscribers):
            q.put_nowait(event)

    def subscribe(self, since_ns: int | None) -> tuple[list[Event], asyncio.Queue[Event]]:
        """Past events newer than `since_ns` plus a queue of live ones (call on the loop)."""
        q: asyncio.Queue[Event] = asyncio.Queue()
        with self.lock:
            past = [e for e in self.ring if since_ns is not None and e["timeNano"] >= since_ns]
            self.subscribers.add(q)
        return past, q

    def unsubscribe(self, q: asyncio.Queue[Event]) -> None:
        self.subscribers.discard(q)
