"""Engine API client used by the ``wharfie`` CLI (stdlib only; never imports daemon code).

``APIClient`` speaks HTTP/1.1 to a Docker-compatible daemon (wharfied or dockerd) over
a UNIX socket or TCP, negotiates the API version like the docker CLI and turns error
responses into :class:`~wharfie.client.errors.APIError`.

The daemon address comes from ``-H/--host``, else ``$DOCKER_HOST``, else wharfied's
socket ``unix:///run/wharfie/wharfie.sock``. ``-H unix:///var/run/docker.sock`` talks
to a real dockerd instead; ``tcp://HOST:PORT`` works too (no TLS).
"""

from wharfie.client.errors import APIError, ConnectionFailed, StreamError

DEFAULT_HOST = "unix:///run/wharfie/wharfie.sock"

__all__ = ["APIError", "ConnectionFailed", "StreamError", "DEFAULT_HOST"]
