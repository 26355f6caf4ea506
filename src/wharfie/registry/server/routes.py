"""The distribution API over `wharfie.api.http`: routing, auth, one handler per endpoint.

Handlers never block the loop: anything touching the disk runs in a worker thread
(`asyncio.to_thread`), blob bodies stream in 1 MiB reads, uploads hash and write in threads.
Every failure is answered in the spec's JSON error format; a request whose body we refuse to
read is answered with `Connection: close` so we never wait for bytes the client won't send.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import BinaryIO
from urllib.parse import quote

import h11

from wharfie.api.http import Request, Response
from wharfie.errors import NotFound
from wharfie.oci import digest as dg
from wharfie.oci import mediatypes as mt
from wharfie.registry.server import manifests, names
from wharfie.registry.server.auth import Htpasswd, challenge
from wharfie.registry.server.errors import RegistryError
from wharfie.registry.server.ranges import (
    Unsatisfiable,
    parse_content_range,
    parse_range,
    upload_range,
)
from wharfie.registry.server.storage import Storage
from wharfie.registry.server.uploads import Session, Uploads

log = logging.getLogger("wharfie.registry")

READ_CHUNK = 1 << 20
COMMON_HEADERS = [("Docker-Distribution-API-Version", "registry/2.0")]
_N = r"(?P<name>.+)"
PATTERNS = [
    ("base", re.compile(r"^/v2/?$")),
    ("catalog", re.compile(r"^/v2/_catalog$")),
    ("tags", re.compile(rf"^/v2/{_N}/tags/list$")),
    ("manifest", re.compile(rf"^/v2/{_N}/manifests/(?P<ref>[^/]+)$")),
    ("uploads", re.compile(rf"^/v2/{_N}/blobs/uploads/?$")),
    ("upload", re.compile(rf"^/v2/{_N}/blobs/uploads/(?P<sid>[^/]+)$")),
    ("blob", re.compile(rf"^/v2/{_N}/blobs/(?P<digest>[^/]+)$")),
    ("referrers", re.compile(rf"^/v2/{_N}/referrers/(?P<digest>[^/]+)$")),
]
run = asyncio.to_thread


def _has_body(req: Request) -> bool:
    return req.headers.get("content-length", "0") != "0" or "transfer-encoding" in req.headers


def error_response(e: RegistryError, req: Request) -> Response:
    headers: list[tuple[str, str]] = []
    if e.code == "UNAUTHORIZED":
        headers.append(challenge())
    if _has_body(req) and not req.body_done:
        headers.append(("Connection", "close"))
    return Response(e.status, e.body(), headers)


def _page(items: list[str], req: Request, url: str) -> tuple[list[str], list[tuple[str, str]]]:
    """`n`/`last` pagination with an RFC 5988 `Link: <…>; rel="next"` when more remain."""
    last = req.arg("last")
    if last:
        items = [i for i in items if i > last]
    raw_n = req.arg("n")
    if raw_n == "":
        return items, []
    if not raw_n.isdigit():
        raise RegistryError("UNSUPPORTED", f"invalid page size n={raw_n!r}", status=400)
    n = int(raw_n)
    page = items[:n]
    if n == 0 or len(items) <= n:
        return page, []
    return page, [("Link", f'<{url}?last={quote(page[-1])}&n={n}>; rel="next"')]


class Registry:
    """The request handler `wharfie.api.http.Connection` calls for every request."""

    def __init__(self, storage: Storage, uploads: Uploads, htpasswd: Htpasswd | None = None):
        self.storage, self.uploads, self.htpasswd = storage, uploads, htpasswd
        self.table: dict[tuple[str, str], Callable[..., Awaitable[Response]]] = {
            ("base", "GET"): self.base,
            ("catalog", "GET"): self.catalog,
            ("tags", "GET"): self.tags,
            ("manifest", "GET"): self.get_manifest,
            ("manifest", "PUT"): self.put_manifest,
            ("manifest", "DELETE"): self.delete_manifest,
            ("uploads", "POST"): self.start_upload,
            ("upload", "GET"): self.upload_status,
            ("upload", "PATCH"): self.patch_upload,
            ("upload", "PUT"): self.finish_upload,
            ("upload", "DELETE"): self.cancel_upload,
            ("blob", "GET"): self.get_blob,
            ("blob", "DELETE"): self.delete_blob,
            ("referrers", "GET"): self.referrers,
        }

    async def __call__(self, req: Request) -> Response:
        try:
            resp = await self._dispatch(req)
        except RegistryError as e:
            resp = error_response(e, req)
        except NotFound as e:  # a blob vanished between the link check and the read (GC)
            resp = error_response(RegistryError("BLOB_UNKNOWN", str(e)), req)
        except (h11.RemoteProtocolError, ConnectionError):
            raise  # the client is gone: let the connection close
        except Exception:
            log.exception("%s %r failed", req.method, req.path)
            err = RegistryError("UNKNOWN", "internal server error", status=500)
            resp = error_response(err, req)
        log.info("%s %r %d", req.method, req.path, resp.status)  # %r: a path can't forge lines
        return resp

    async def _dispatch(self, req: Request) -> Response:
        if self.htpasswd is not None:
            await self.htpasswd.check_async(req.headers.get("authorization", ""))
        method = "GET" if req.method == "HEAD" else req.method
        for kind, rx in PATTERNS:
            m = rx.fullmatch(req.path)
            if m:
                handler = self.table.get((kind, method))
                if handler is None or (req.method == "HEAD" and kind not in ("base", "manifest", "blob", "tags")):
                    raise RegistryError("UNSUPPORTED", f"{req.method} is not allowed on {req.path}")
                params = m.groupdict()
                if "name" in params:
                    names.check_name(params["name"])
                return await handler(req, **params)
        raise RegistryError("UNSUPPORTED", f"no such endpoint: {req.path}", status=404)

    # -- discovery -------------------------------------------------------------------------
    async def base(self, req: Request) -> Response:
        return Response(200, b"{}")

    async def catalog(self, req: Request) -> Response:
        repos, headers = _page(await run(self.storage.repositories), req, "/v2/_catalog")
        return Response(200, json.dumps({"repositories": repos}).encode(), headers)

    async def tags(self, req: Request, name: str) -> Response:
        tags, headers = _page(await run(self.storage.tags, name), req, f"/v2/{name}/tags/list")
        return Response(200, json.dumps({"name": name, "tags": tags}).encode(), headers)

    async def referrers(self, req: Request, name: str, digest: str) -> Response:
        try:
            names.check_digest(digest)
        except RegistryError as e:
            raise RegistryError("DIGEST_INVALID", e.message, status=400) from None
        wanted = req.arg("artifactType")
        found = await run(self.storage.referrers, name, digest, wanted)
        index = {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": found}
        headers = [("OCI-Filters-Applied", "artifactType")] if wanted else []
        return Response(200, json.dumps(index).encode(), headers, content_type=mt.OCI_INDEX)

    # -- manifests -------------------------------------------------------------------------
    async def get_manifest(self, req: Request, name: str, ref: str) -> Response:
        if names.is_digest(ref):
            names.check_digest(ref)
        elif not names.is_tag(ref):
            raise RegistryError("MANIFEST_UNKNOWN", f"invalid tag {ref!r}", status=404)
        digest, media_type = await run(self.storage.resolve, name, ref)
        data = await run(self.storage.read_manifest, digest)
        headers = [("Docker-Content-Digest", digest), ("ETag", f'"{digest}"'),
                   ("Content-Length", str(len(data)))]
        return Response(200, b"" if req.method == "HEAD" else data, headers, content_type=media_type)

    async def put_manifest(self, req: Request, name: str, ref: str) -> Response:
        tag = None
        if names.is_digest(ref):
            names.check_digest(ref)
        elif names.is_tag(ref):
            tag = ref
        else:
            raise RegistryError("MANIFEST_INVALID", f"invalid tag {ref!r}")
        data = await self._read_manifest_body(req)
        m, actual = await run(_parse_manifest, data, req.headers.get("content-type", ""))
        if tag is None and actual != ref:
            raise RegistryError("DIGEST_INVALID", f"manifest digest {actual} does not match {ref}")
        digest = await run(self.storage.put_manifest, name, data, m, tag, actual)
        headers = [("Location", f"/v2/{name}/manifests/{digest}"), ("Docker-Content-Digest", digest)]
        if m.subject:
            headers.append(("OCI-Subject", m.subject))
        return Response(201, b"", headers, content_type=None)

    async def _read_manifest_body(self, req: Request) -> bytes:
        limit = manifests.MAX_MANIFEST
        too_big = RegistryError("MANIFEST_INVALID", f"manifest exceeds {limit} bytes", status=413)
        declared = req.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise too_big
        buf = bytearray()
        async for chunk in req.body_chunks():
            buf += chunk
            if len(buf) > limit:
                raise too_big
        return bytes(buf)

    async def delete_manifest(self, req: Request, name: str, ref: str) -> Response:
        if not await run(self.storage.repo_exists, name):
            raise RegistryError("NAME_UNKNOWN", f"repository {name} not known to registry")
        if names.is_digest(ref):
            await run(self.storage.delete_manifest, name, names.check_digest(ref))
        elif names.is_tag(ref):
            await run(self.storage.delete_tag, name, ref)
        else:
            raise RegistryError("MANIFEST_UNKNOWN", f"invalid tag {ref!r}", status=404)
        return Response(202, b"", content_type=None)

    # -- blobs -----------------------------------------------------------------------------
    async def get_blob(self, req: Request, name: str, digest: str) -> Response:
        names.check_digest(digest)
        size = await run(self.storage.blob_size, name, digest)
        headers = [("Docker-Content-Digest", digest), ("ETag", f'"{digest}"'),
                   ("Accept-Ranges", "bytes")]
        ctype = "application/octet-stream"
        if req.method == "HEAD":
            return Response(200, b"", headers + [("Content-Length", str(size))], content_type=ctype)
        status, start, end = 200, 0, size - 1
        if req.headers.get("range"):
            try:
                span = parse_range(req.headers["range"], size)
            except Unsatisfiable:
                return Response(416, b"", [("Content-Range", f"bytes */{size}")], content_type=None)
            if span is not None:
                (start, end), status = span, 206
                headers.append(("Content-Range", f"bytes {start}-{end}/{size}"))
        fh = await run(self.storage.blobs.open, digest)
        headers.append(("Content-Length", str(end - start + 1)))
        return Response(status, _read_file(fh, start, end - start + 1), headers, content_type=ctype)

    async def delete_blob(self, req: Request, name: str, digest: str) -> Response:
        await run(self.storage.unlink_blob, name, names.check_digest(digest))
        return Response(202, b"", content_type=None)

    # -- uploads ---------------------------------------------------------------------------
    def _upload_headers(self, s: Session) -> list[tuple[str, str]]:
        return [("Location", f"/v2/{s.name}/blobs/uploads/{s.id}"), ("Range", upload_range(s.size)),
                ("Docker-Upload-UUID", s.id)]

    def _blob_created(self, name: str, digest: str) -> Response:
        headers = [("Location", f"/v2/{name}/blobs/{digest}"), ("Docker-Content-Digest", digest)]
        return Response(201, b"", headers, content_type=None)

    async def start_upload(self, req: Request, name: str) -> Response:
        mount, source = req.arg("mount"), req.arg("from")
        if mount:
            names.check_digest(mount)
            can_mount = bool(source and names.NAME_RE.match(source))
            if can_mount and await run(self.storage.visible, source, mount):
                await run(self.storage.link_blob, name, mount)
                return self._blob_created(name, mount)
            # not mountable: fall back to a fresh session (202), as the spec asks
        digest = req.arg("digest")
        if digest:
            names.check_digest(digest)
        s = await run(self.uploads.start, name)
        if not digest:
            return Response(202, b"", self._upload_headers(s), content_type=None)
        async with s.lock:
            try:
                await self._receive_chunk(req, s)
                await run(self.uploads.finish, s, digest)
            except BaseException:
                await run(self.uploads.cancel, s)
                raise
        await run(self.storage.link_blob, name, digest)
        return self._blob_created(name, digest)

    async def upload_status(self, req: Request, name: str, sid: str) -> Response:
        s = self.uploads.get(name, sid)
        return Response(204, b"", self._upload_headers(s), content_type=None)

    async def patch_upload(self, req: Request, name: str, sid: str) -> Response:
        s = self.uploads.get(name, sid)
        async with s.lock:
            self.uploads.live(s)  # not finished or cancelled while we waited
            await self._receive_chunk(req, s)
        return Response(202, b"", self._upload_headers(s), content_type=None)

    async def finish_upload(self, req: Request, name: str, sid: str) -> Response:
        s = self.uploads.get(name, sid)
        digest = req.arg("digest")
        if not digest:
            raise RegistryError("DIGEST_INVALID", "the closing PUT needs ?digest=")
        names.check_digest(digest)
        async with s.lock:
            self.uploads.live(s)
            await self._receive_chunk(req, s)
            await run(self.uploads.finish, s, digest)
        await run(self.storage.link_blob, name, digest)
        return self._blob_created(name, digest)

    async def cancel_upload(self, req: Request, name: str, sid: str) -> Response:
        s = self.uploads.get(name, sid)
        async with s.lock:  # not under a chunk that is still being written or committed
            self.uploads.live(s)
            await run(self.uploads.cancel, s)
        return Response(204, b"", content_type=None)

    async def _receive_chunk(self, req: Request, s: Session) -> None:
        """Append the request body, checking `Content-Range` (in order, else 416) and
        `Content-Length` against the bytes that actually arrived (else SIZE_INVALID)."""
        expected = None
        header = req.headers.get("content-range", "")
        if header:
            try:
                start, end = parse_content_range(header)
            except ValueError as e:
                raise RegistryError("BLOB_UPLOAD_INVALID", str(e), status=416) from None
            if start != s.size:
                raise RegistryError("BLOB_UPLOAD_INVALID",
                                    f"chunk starts at {start}, expected {s.size}", status=416)
            expected = end - start + 1
        declared = req.headers.get("content-length", "")
        if expected is not None and declared.isdigit() and int(declared) != expected:
            raise RegistryError("SIZE_INVALID", f"Content-Length {declared} != range length {expected}")
        size, hasher = s.size, s.hasher.copy()
        got = await self.uploads.receive(s, req.body_chunks())
        if expected is not None and got != expected:
            await run(self.uploads.rollback, s, size, hasher)
            raise RegistryError("SIZE_INVALID", f"chunk has {got} bytes, its range says {expected}")


def _parse_manifest(data: bytes, content_type: str) -> tuple[manifests.Manifest, str]:
    """Blocking (up to 4 MiB to parse and hash): the manifest's facts and its digest."""
    return manifests.parse(data, content_type), dg.of_bytes(data)


async def _read_file(fh: BinaryIO, start: int, length: int) -> AsyncIterator[bytes]:
    try:
        await run(fh.seek, start)
        while length > 0:
            data = await run(fh.read, min(READ_CHUNK, length))
            if not data:
                raise OSError(f"blob file {fh.name} is shorter than expected")
            length -= len(data)
            yield data
    finally:
        fh.close()
