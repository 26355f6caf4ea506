"""Blob uploads (OCI distribution "push"): monolithic, chunked, and cross-repository mounts.

    POST  /v2/<repo>/blobs/uploads/                       → 202, Location
    PATCH <location>  Content-Range: start-end  (chunk)   → 202, Location   (repeat)
    PUT   <location>?digest=<d>  [last bytes]             → 201
    POST  /v2/<repo>/blobs/uploads/?mount=<d>&from=<r>    → 201 mounted (202: upload instead)

A blob that fits in one chunk goes up monolithically (POST, then one PUT with the body); larger
ones are sent as chunks while they are being produced (compressed on the fly), so nothing is
spooled to disk and the digest is known only at the end.
"""

from __future__ import annotations

import hashlib
from urllib.parse import quote

from wharfie.registry.session import Session, content_length, error_for

CHUNK_SIZE = 32 << 20
OCTET = "application/octet-stream"


def _with_digest(location: str, digest: str) -> str:
    return location + ("&" if "?" in location else "?") + "digest=" + quote(digest, safe="")


def start(session: Session, repo: str) -> str:
    """Open an upload session; returns its absolute location."""
    url = session.url(f"/v2/{repo}/blobs/uploads/")
    resp = session.request("POST", url, headers={"Content-Length": "0"}, content=b"", idempotent=False)
    if resp.status_code != 202 or "location" not in resp.headers:
        raise error_for(resp, "failed to start a blob upload")
    return session.resolve(resp.headers["location"], url)


def cancel(session: Session, location: str) -> None:
    try:
        session.request("DELETE", location, idempotent=False).close()
    except Exception:  # best effort: the registry expires abandoned uploads
        pass


def exists(session: Session, repo: str, digest: str) -> int | None:
    """The blob's size when the repository has it (HEAD), else None."""
    resp = session.request("HEAD", f"/v2/{repo}/blobs/{digest}")
    resp.close()
    if resp.status_code == 200:
        size = content_length(resp)
        return -1 if size is None else size
    if resp.status_code == 404:
        return None
    raise error_for(resp, f"failed to check blob {digest}")


def mount(session: Session, repo: str, digest: str, source_repo: str) -> bool:
    """Try a cross-repository mount; False when the registry started an upload instead."""
    url = session.url(f"/v2/{repo}/blobs/uploads/?mount={quote(digest, safe='')}&from={quote(source_repo, safe='/')}")
    resp = session.request("POST", url, headers={"Content-Length": "0"}, content=b"", idempotent=False)
    if resp.status_code == 201:
        return True
    if resp.status_code == 202 and "location" in resp.headers:
        cancel(session, session.resolve(resp.headers["location"], url))
        return False
    if resp.status_code in (401, 403, 404):
        return False
    raise error_for(resp, f"failed to mount blob {digest} from {source_repo}")


def put_bytes(session: Session, repo: str, data: bytes, digest: str) -> None:
    """Monolithic upload of a small blob."""
    location = start(session, repo)
    resp = session.request("PUT", _with_digest(location, digest), content=data,
                           headers={"Content-Type": OCTET}, idempotent=False)
    if resp.status_code not in (201, 204):
        raise error_for(resp, f"failed to upload blob {digest}")


class ChunkedUpload:
    """A write-only file: hashes what it is given and sends it in chunks as it goes."""

    def __init__(self, session: Session, repo: str, chunk_size: int = CHUNK_SIZE) -> None:
        self.session, self.repo, self.chunk_size = session, repo, chunk_size
        self.location = start(session, repo)
        self.hasher = hashlib.sha256()
        self.size = 0
        self.sent = 0
        self.buf = bytearray()

    def write(self, data: bytes) -> int:
        self.hasher.update(data)
        self.size += len(data)
        self.buf += data
        if len(self.buf) >= self.chunk_size:
            self._patch()
        return len(data)

    def flush(self) -> None:
        pass

    def _patch(self) -> None:
        body, self.buf = bytes(self.buf), bytearray()
        end = self.sent + len(body) - 1
        resp = self.session.request("PATCH", self.location, content=body, idempotent=False,
                                    headers={"Content-Type": OCTET, "Content-Range": f"{self.sent}-{end}"})
        if resp.status_code != 202:
            raise error_for(resp, "blob upload failed")
        self.sent += len(body)
        if "location" in resp.headers:
            self.location = self.session.resolve(resp.headers["location"], self.location)

    def finish(self) -> tuple[str, int]:
        """Send what is left with the closing PUT; returns (digest, size)."""
        digest = "sha256:" + self.hasher.hexdigest()
        body, self.buf = bytes(self.buf), bytearray()
        headers = {"Content-Type": OCTET}
        if body and self.sent:
            headers["Content-Range"] = f"{self.sent}-{self.sent + len(body) - 1}"
        resp = self.session.request("PUT", _with_digest(self.location, digest), content=body,
                                    headers=headers, idempotent=False)
        if resp.status_code not in (201, 204):
            raise error_for(resp, f"failed to upload blob {digest}")
        return digest, self.size

    def abort(self) -> None:
        cancel(self.session, self.location)

