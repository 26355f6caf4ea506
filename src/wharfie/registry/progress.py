"""Docker's JSON progress messages for pull and push (moby's streamformatter vocabulary).

    {"status":"Pulling fs layer","progressDetail":{},"id":"9c27e219663c"}
    {"status":"Downloading","progressDetail":{"current":1,"total":2},"progress":"[==>   ] 1B/2B","id":"…"}

Byte progress is throttled per id (every 100 ms, and always the last one) like dockerd.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from wharfie.units import human_size

Message = dict[str, Any]
Emit = Callable[[Message], None]
INTERVAL = 0.1


def bar(current: int, total: int) -> str:
    if total <= 0:
        return f"{human_size(current):>8}"
    pct = min(int(current * 50 / total), 50)
    return "[" + "=" * pct + ">" + " " * (50 - pct) + f"] {human_size(current):>8}/{human_size(total)}"


class Progress:
    """Thread-safe emitter of one operation's messages."""

    def __init__(self, emit: Emit | None) -> None:
        self._emit = emit or (lambda m: None)
        self._lock = threading.Lock()
        self._last: dict[str, float] = {}

    def say(self, status: str, ident: str | None = None) -> None:
        msg: Message = {"status": status}
        if ident:
            msg["id"] = ident
        self.send(msg)

    def layer(self, status: str, ident: str) -> None:
        self.send({"status": status, "progressDetail": {}, "id": ident})

    def bytes(self, status: str, ident: str, current: int, total: int, force: bool = False) -> None:
        now = time.monotonic()
        with self._lock:
            if not force and now - self._last.get(ident, 0.0) < INTERVAL and current < total:
                return
            self._last[ident] = now
        self.send({"status": status, "progressDetail": {"current": current, "total": total},
                   "progress": bar(current, total), "id": ident})

    def aux(self, obj: Any) -> None:
        self.send({"progressDetail": {}, "aux": obj})

    def send(self, msg: Message) -> None:
        with self._lock:
            self._emit(msg)
