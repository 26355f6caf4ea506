"""One error vocabulary for the whole engine.

Library code raises these; the API layer maps them once to HTTP status codes
(`wharfie.api.errors`) and the CLI maps API failures once to exit codes.
Every message is meant to be read by a user and acted on.
"""


class WharfieError(Exception):
    """Base of every error wharfie raises on purpose. HTTP status 500."""

    status = 500


class InvalidArgument(WharfieError):
    """The request or input is malformed (bad reference, bad archive, bad flag). 400."""

    status = 400


class Unauthorized(WharfieError):
    """Credentials are missing or wrong. 401."""

    status = 401


class Forbidden(WharfieError):
    """The operation is not allowed on this object. 403."""

    status = 403


class NotFound(WharfieError):
    """The named object does not exist. 404."""

    status = 404


class NotModified(WharfieError):
    """Nothing to do (e.g. container already stopped). 304."""

    status = 304


class Conflict(WharfieError):
    """The object is in use or in a state that forbids the operation. 409."""

    status = 409


class Unavailable(WharfieError):
    """The daemon cannot serve this right now (shutting down, locked). 503."""

    status = 503


class NotImplementedByDriver(WharfieError):
    """The configured driver cannot do this (e.g. `logs` with the `none` log driver). 501."""

    status = 501


class ImageNotFound(NotFound):
    """An image reference resolves to nothing. Docker's text: `No such image: ref`."""

    def __init__(self, ref: str) -> None:
        super().__init__(f"No such image: {ref}")


class DigestMismatch(InvalidArgument):
    """Content did not hash to the digest (or size) it claimed."""


class UnsafeLayer(InvalidArgument):
    """A layer tar tried to escape its root, exceed a size limit, or is otherwise hostile."""
