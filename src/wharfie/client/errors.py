"""Errors raised by the Engine API client.

    WharfieError
     ├── APIError          the daemon answered with a non-2xx status
     ├── ConnectionFailed  nothing listens at the daemon address
     └── StreamError       an in-band ``errorDetail`` ended a JSON-lines stream

``str(err)`` is the text the docker CLI prints for the same condition.
"""

from __future__ import annotations

from wharfie.errors import WharfieError


class APIError(WharfieError):
    """A non-2xx answer. ``message`` is the daemon's; str() adds docker's prefix."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    def __str__(self) -> str:
        return f"Error response from daemon: {self.message}"

    @property
    def is_not_found(self) -> bool:
        return self.status == 404


class ConnectionFailed(WharfieError):
    """The daemon socket could not be reached."""

    def __init__(self, host: str) -> None:
        self.host = host
        super().__init__(
            f"Cannot connect to the wharfie daemon at {host}. Is the daemon running?"
        )


class StreamError(WharfieError):
    """``{"errorDetail":{"code":N,"message":M}}`` inside a progress stream."""

    def __init__(self, message: str, code: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.code = code

    def __str__(self) -> str:
        return self.message
