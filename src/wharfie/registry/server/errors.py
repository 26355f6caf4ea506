"""The distribution spec's error vocabulary: a code, its HTTP status, and the JSON body.

These codes are part of the wire protocol (clients switch on them), so they live here rather
than in `wharfie.errors`; anything else that escapes a handler becomes a 500.
"""

from __future__ import annotations

import json
from typing import Any

STATUS = {
    "BLOB_UNKNOWN": 404,
    "BLOB_UPLOAD_INVALID": 400,
    "BLOB_UPLOAD_UNKNOWN": 404,
    "DIGEST_INVALID": 400,
    "MANIFEST_BLOB_UNKNOWN": 400,
    "MANIFEST_INVALID": 400,
    "MANIFEST_UNKNOWN": 404,
    "NAME_INVALID": 400,
    "NAME_UNKNOWN": 404,
    "SIZE_INVALID": 400,
    "UNAUTHORIZED": 401,
    "DENIED": 403,
    "UNSUPPORTED": 405,
    "TOOMANYREQUESTS": 429,
}


class RegistryError(Exception):
    """One spec error; `status` overrides the code's usual one (416 for a bad chunk, 413…)."""

    def __init__(self, code: str, message: str, status: int | None = None, detail: Any = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status or STATUS.get(code, 400)
        self.detail = detail

    def body(self) -> bytes:
        err: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.detail is not None:
            err["detail"] = self.detail
        return json.dumps({"errors": [err]}).encode() + b"\n"
