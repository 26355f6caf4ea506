"""Engine API client used by the ``wharfie`` CLI (stdlib only; never imports daemon code).

``APIClient`` speaks HTTP/1.1 to a Docker-compatible daemon (wharfied or dockerd) over
a UNIX socket or TCP, negotiates the API version like the docker CLI and turns error
responses into :class:`~wharfie.client.errors.APIError`.
"""

from wharfie.client.errors import APIError, ConnectionFailed, StreamError

DEFAULT_HOST = "unix:///run/wharfie/wharfie.sock"

__all__ = ["APIError", "ConnectionFailed", "StreamError", "DEFAULT_HOST"]
