"""HTTP-level behaviour of the Engine API server: versions, headers, errors, chunked bodies."""

from __future__ import annotations

import json
import socket

from support.daemon import WharfieDaemon


def test_ping_headers(daemon: WharfieDaemon) -> None:
    for method in ("GET", "HEAD"):
        status, headers, body = daemon.request(method, "/_ping")
        assert status == 200
        assert headers["api-version"] == "1.50"
        assert headers["ostype"] == "linux"
        assert headers["docker-experimental"] == "false"
        assert headers["builder-version"] == "1"
        assert headers["swarm"] == "inactive"
        assert headers["cache-control"] == "no-cache, no-store, must-revalidate"
        assert headers["pragma"] == "no-cache"
        assert body == (b"OK" if method == "GET" else b"")


def test_version_prefixes(daemon: WharfieDaemon) -> None:
    for prefix in ("", "/v1.24", "/v1.41", "/v1.50"):
        status, _, body = daemon.request("GET", f"{prefix}/version")
        assert status == 200, prefix
        assert json.loads(body)["ApiVersion"] == "1.50"
    status, headers, body = daemon.request("GET", "/v1.51/version")
    assert status == 400
    assert headers["content-type"] == "application/json"
    assert json.loads(body)["message"] == "client version 1.51 is too new. Maximum supported API version is 1.50"
    status, _, body = daemon.request("GET", "/v1.12/version")
    assert status == 400 and "too old" in json.loads(body)["message"]


def test_errors_are_json_messages(daemon: WharfieDaemon) -> None:
    status, headers, body = daemon.request("GET", "/v1.50/images/nothing:here/json")
    assert status == 404
    assert headers["content-type"] == "application/json"
    assert json.loads(body) == {"message": "No such image: nothing:here"}
    status, _, body = daemon.request("GET", "/v1.50/no/such/route")
    assert status == 404 and json.loads(body)["message"] == "page not found"
    status, _, body = daemon.request("GET", "/v1.50/images/json?filters=%7Bbroken")
    assert status == 400


def test_keep_alive_and_chunked_body(daemon: WharfieDaemon) -> None:
    """Two requests on one connection; the second has a chunked body (like the docker CLI)."""
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(10)
        s.connect(str(daemon.sock))
        s.sendall(b"GET /v1.50/_ping HTTP/1.1\r\nHost: x\r\n\r\n")
        first = _read_response(s)
        assert first.startswith(b"HTTP/1.1 200") and first.endswith(b"OK")
        body = b'{"bogus":'  # malformed import body still exercises chunk decoding
        chunk = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
        s.sendall(b"POST /v1.50/images/create?fromSrc=-&repo=x HTTP/1.1\r\nHost: x\r\n"
                  b"Transfer-Encoding: chunked\r\nContent-Type: application/x-tar\r\n\r\n" + chunk)
        second = _read_response(s)
        assert second.startswith(b"HTTP/1.1 200")
        assert b"errorDetail" in second  # not a tar: reported in-band after the 200


def test_socket_is_root_only(daemon: WharfieDaemon) -> None:
    import os
    import stat

    st = os.stat(daemon.sock)
    assert stat.S_ISSOCK(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o660
    assert st.st_uid == 0 and st.st_gid == 0


def _read_response(s: socket.socket) -> bytes:
    """Read one response: headers, then a Content-Length or chunked body."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        buf += s.recv(65536)
    head, _, rest = buf.partition(b"\r\n\r\n")
    headers = head.lower()
    if b"content-length:" in headers:
        n = int(headers.split(b"content-length:")[1].split(b"\r\n")[0])
        while len(rest) < n:
            rest += s.recv(65536)
        return head + b"\r\n\r\n" + rest
    while not rest.endswith(b"0\r\n\r\n"):
        rest += s.recv(65536)
    return head + b"\r\n\r\n" + rest
