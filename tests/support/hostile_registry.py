"""A registry that lies: a tiny threaded HTTP server on 127.0.0.1 serving crafted responses.

It serves one small image (`/v2/evil/...`) and misbehaves the way `mode` says:

    ok                  an honest registry (anonymous)
    token               honest, behind a bearer token server (`/token`), which counts its calls
    digest-mismatch     the layer blob's bytes do not hash to the manifest's digest
    truncated           the layer body stops half-way (Content-Length promises more), every time
    flaky               the layer body stops half-way once; then Range requests are honoured
    wrong-size          the manifest declares a layer size larger than the blob
    huge-manifest       a 5 MiB manifest
    malformed-manifest  a manifest that is not JSON
    auth-loop           a bearer challenge whose tokens are never accepted
    slow                honest, but the layer trickles out over ~2 s
    flaky-upload        accepts pushes (and forgets them), but the first blob upload fails with 503
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

REPO = "evil"


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _layer_tar() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        # 512 KiB that gzip cannot shrink, so a body cut in half has really sent bytes
        data = b"".join(hashlib.sha256(b"%d" % i).digest() for i in range(1 << 14))
        ti = tarfile.TarInfo("payload.txt")
        ti.size, ti.mtime = len(data), 1700000000
        tf.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


class Image:
    def __init__(self) -> None:
        tar = _layer_tar()
        self.layer = gzip.compress(tar, mtime=0)
        self.layer_digest = _sha(self.layer)
        self.config = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["sh"]},
                                  "rootfs": {"type": "layers", "diff_ids": [_sha(tar)]}}).encode()
        self.config_digest = _sha(self.config)

    def manifest(self, layer_size: int | None = None) -> bytes:
        return json.dumps({
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                       "size": len(self.config), "digest": self.config_digest},
            "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                        "size": len(self.layer) if layer_size is None else layer_size,
                        "digest": self.layer_digest}],
        }).encode()


class HostileRegistry:
    def __init__(self, mode: str = "ok") -> None:
        self.mode = mode
        self.image = Image()
        self.token_requests = 0
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self._flaky_failed = False
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.server.handle_error = lambda request, address: None  # type: ignore[method-assign]  # clients hang up on lies
        self.host = f"127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> HostileRegistry:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> HostileRegistry:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- responses ---------------------------------------------------------------------------
    def manifest_body(self) -> bytes:
        if self.mode == "huge-manifest":
            doc = json.loads(self.image.manifest())
            doc["annotations"] = {"padding": "x" * (5 << 20)}
            return json.dumps(doc).encode()
        if self.mode == "malformed-manifest":
            return b"{this is not json"
        if self.mode == "wrong-size":
            return self.image.manifest(layer_size=len(self.image.layer) + 100)
        return self.image.manifest()

    def blob(self, digest: str) -> bytes | None:
        if digest == self.image.config_digest:
            return self.image.config
        if digest == self.image.layer_digest:
            if self.mode == "digest-mismatch":
                corrupt = bytearray(self.image.layer)
                corrupt[len(corrupt) // 2] ^= 0xFF
                return bytes(corrupt)
            return self.image.layer
        return None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        reg = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def error(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
                body = json.dumps({"errors": [{"code": code, "message": message}]}).encode()
                self.send(status, body, {"Content-Type": "application/json", **(headers or {})})

            def authorized(self) -> bool:
                if reg.mode not in ("token", "auth-loop"):
                    return True
                if reg.mode == "token" and self.headers.get("Authorization", "").startswith("Bearer tok-"):
                    return True
                realm = f"http://{reg.host}/token"
                self.error(401, "UNAUTHORIZED", "authentication required", {
                    "WWW-Authenticate": f'Bearer realm="{realm}",service="hostile",scope="repository:{REPO}:pull"'})
                return False

            def do_HEAD(self) -> None:
                self.do_GET()

            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                with reg._lock:
                    reg.requests.append((self.command, self.path, dict(self.headers)))
                if path == "/token":
                    self.token("offline_token=true" in self.path)
                    return
                if not self.authorized():
                    return
                if path == "/v2/":
                    self.send(200, b"{}", {"Content-Type": "application/json"})
                elif path.startswith(f"/v2/{REPO}/manifests/"):
                    self.manifest(path.rsplit("/", 1)[1])
                elif path.startswith(f"/v2/{REPO}/blobs/"):
                    self.blob(path.rsplit("/", 1)[1])
                else:
                    self.error(404, "NAME_UNKNOWN", "repository name not known to registry")

            def token(self, offline: bool) -> None:
                with reg._lock:
                    reg.token_requests += 1
                    n = reg.token_requests
                doc: dict[str, Any] = {"token": f"tok-{n}", "expires_in": 300}
                if offline:
                    doc["refresh_token"] = "refresh-me"
                self.send(200, json.dumps(doc).encode(), {"Content-Type": "application/json"})

            def do_POST(self) -> None:
                body = self.body()
                if self.path.startswith("/token"):  # OAuth2: grant_type=refresh_token
                    with reg._lock:
                        reg.requests.append((self.command, self.path, {**dict(self.headers), "body": body.decode()}))
                    self.token(False)
                    return
                if self.path.startswith(f"/v2/{REPO}/blobs/uploads/"):
                    self.send(202, b"", {"Location": f"/v2/{REPO}/blobs/uploads/u{len(reg.requests)}"})
                else:
                    self.error(404, "NAME_UNKNOWN", "repository name not known to registry")

            def do_PATCH(self) -> None:
                self.body()
                self.send(202, b"", {"Location": self.path.split("?")[0]})

            def do_PUT(self) -> None:
                self.body()
                with reg._lock:
                    reg.requests.append((self.command, self.path, dict(self.headers)))
                    first = "/blobs/uploads/" in self.path and not reg._flaky_failed
                    if first:
                        reg._flaky_failed = True
                if first:
                    self.error(503, "UNAVAILABLE", "try again later")
                else:
                    self.send(201, b"")

            def body(self) -> bytes:
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def manifest(self, ref: str) -> None:
                body = reg.manifest_body()
                if ref not in ("latest", _sha(body)):
                    self.error(404, "MANIFEST_UNKNOWN", "manifest unknown")
                    return
                self.send(200, body, {"Content-Type": "application/vnd.docker.distribution.manifest.v2+json",
                                      "Docker-Content-Digest": _sha(body)})

            def blob(self, digest: str) -> None:
                data = reg.blob(digest)
                if data is None:
                    self.error(404, "BLOB_UNKNOWN", "blob unknown to registry")
                    return
                is_layer = digest == reg.image.layer_digest
                if is_layer and reg.mode == "truncated":
                    self.cut_short(data)
                    return
                if is_layer and reg.mode == "flaky":
                    with reg._lock:
                        first = not reg._flaky_failed
                        reg._flaky_failed = True
                    if first:
                        self.cut_short(data)
                        return
                    rng = self.headers.get("Range", "")
                    if rng.startswith("bytes="):
                        start = int(rng[6:].split("-")[0])
                        self.send(206, data[start:], {"Content-Range": f"bytes {start}-{len(data) - 1}/{len(data)}"})
                        return
                if is_layer and reg.mode == "slow":
                    self.trickle(data)
                    return
                self.send(200, data, {"Content-Type": "application/octet-stream", "Docker-Content-Digest": digest})

            def trickle(self, data: bytes, pieces: int = 40, seconds: float = 2.0) -> None:
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                step = len(data) // pieces + 1
                for i in range(0, len(data), step):
                    self.wfile.write(data[i:i + step])
                    self.wfile.flush()
                    time.sleep(seconds / pieces)

            def cut_short(self, data: bytes) -> None:
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data[: len(data) // 2])
                self.wfile.flush()
                self.close_connection = True

        return Handler
