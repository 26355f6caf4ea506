"""The CLI end to end against a fake Engine API server on a UNIX socket.

The fake records every request (method, path, query, headers, decoded body), so
these tests pin what goes on the wire as well as what the user sees.
"""

from __future__ import annotations

import io
import json
import socketserver
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from wharfie.cli.main import main
from wharfie.client.api import APIClient
from wharfie.client.errors import APIError, StreamError

Handler = Callable[["Request"], tuple[int, dict[str, str], Any]]


class Request:
    def __init__(self, method: str, path: str, query: dict[str, list[str]],
                 headers: dict[str, str], body: bytes) -> None:
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body


class FakeDaemon:
    """A tiny HTTP/1.1 server: routes by (method, unversioned path)."""

    def __init__(self, sock: Path, api_version: str | None = "1.50") -> None:
        self.sock = sock
        self.api_version = api_version
        self.routes: dict[tuple[str, str], Handler] = {}
        self.requests: list[Request] = []
        daemon = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding") == "chunked":
                    out = b""
                    while True:
                        size = int(self.rfile.readline().strip(), 16)
                        if size == 0:
                            self.rfile.readline()
                            return out
                        out += self.rfile.read(size)
                        self.rfile.readline()
                n = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(n) if n else b""

            def _handle(self) -> None:
                url = urlsplit(self.path)
                path = url.path
                version = ""
                if path.startswith("/v1."):
                    version, _, rest = path[2:].partition("/")
                    path = "/" + rest
                req = Request(self.command, path, parse_qs(url.query), dict(self.headers),
                              self._body())
                req.headers["X-Version"] = version
                daemon.requests.append(req)
                handler = daemon.routes.get((self.command, path))
                if path == "/_ping":
                    status, headers, body = 200, {}, b"OK"
                elif handler is None:
                    status, headers, body = 404, {"Content-Type": "application/json"}, \
                        {"message": f"page not found: {path}"}
                else:
                    status, headers, body = handler(req)
                if daemon.api_version:
                    headers = {"Api-Version": daemon.api_version, **headers}
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                if isinstance(body, (dict, list)):
                    body = json.dumps(body).encode()
                if isinstance(body, (bytes, str)) or body is None:
                    data = body.encode() if isinstance(body, str) else (body or b"")
                    if self.command == "HEAD":
                        data = b""
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    if data:
                        self.wfile.write(data)
                    return
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for chunk in body:
                    if isinstance(chunk, (dict, list)):
                        chunk = (json.dumps(chunk) + "\r\n").encode()
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")

            def _handle_quietly(self) -> None:
                try:
                    self._handle()
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True  # the client went away: fine

            do_GET = do_POST = do_DELETE = do_HEAD = do_PUT = _handle_quietly

        class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a client hanging up mid-request is not a test failure

        self.server = Server(str(sock), H)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def host(self) -> str:
        return f"unix://{self.sock}"

    def route(self, method: str, path: str, handler: Handler) -> None:
        self.routes[(method, path)] = handler

    def json(self, method: str, path: str, body: Any, status: int = 200) -> None:
        self.route(method, path, lambda r: (status, {"Content-Type": "application/json"}, body))

    def api_requests(self) -> list[Request]:
        return [r for r in self.requests if r.path != "/_ping"]


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[FakeDaemon]:
    d = FakeDaemon(tmp_path / "d.sock")
    d.thread.start()
    yield d
    d.server.shutdown()
    d.server.server_close()


def run(capsys: pytest.CaptureFixture[str], daemon: FakeDaemon, *argv: str) -> tuple[int, str, str]:
    rc = main(["-H", daemon.host, *argv])
    out, err = capsys.readouterr()
    return rc, out, err


# --- client -------------------------------------------------------------------


@pytest.mark.parametrize(
    "server, expected", [("1.50", "1.50"), ("1.41", "1.41"), ("1.99", "1.50"), (None, "1.24")]
)
def test_version_negotiation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                             server: str | None, expected: str) -> None:
    monkeypatch.delenv("DOCKER_API_VERSION", raising=False)
    d = FakeDaemon(tmp_path / "n.sock", api_version=server)
    d.thread.start()
    try:
        d.json("GET", "/info", {"ID": "x"})
        client = APIClient(d.host)
        assert client.info() == {"ID": "x"}
        assert client.version == expected
        ping, req = d.requests
        assert (ping.method, ping.path) == ("HEAD", "/_ping")
        assert req.headers["X-Version"] == expected
        assert req.headers["Host"] == "api.moby.localhost"
        assert req.headers["User-Agent"].startswith("wharfie-cli/")
    finally:
        d.server.shutdown()
        d.server.server_close()


def test_pinned_api_version(daemon: FakeDaemon, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_API_VERSION", "1.43")
    daemon.json("GET", "/info", {})
    APIClient(daemon.host).info()
    assert [r.path for r in daemon.requests] == ["/info"]
    assert daemon.requests[0].headers["X-Version"] == "1.43"


def test_error_decoding(daemon: FakeDaemon) -> None:
    daemon.json("GET", "/images/nope/json", {"message": "No such image: nope:latest"}, 404)
    daemon.route("GET", "/images/plain/json", lambda r: (500, {"Content-Type": "text/plain"},
                                                          b"  boom \n"))
    daemon.route("GET", "/images/ctype/json",
                 lambda r: (409, {"Content-Type": "application/json; charset=utf-8"},
                            b'{"message":"x"}'))
    client = APIClient(daemon.host)
    with pytest.raises(APIError) as exc:
        client.image_inspect_raw("nope")
    assert exc.value.status == 404 and exc.value.is_not_found
    assert str(exc.value) == "Error response from daemon: No such image: nope:latest"
    with pytest.raises(APIError) as exc:
        client.image_inspect_raw("plain")
    assert str(exc.value) == "Error response from daemon: boom"
    # docker compares the content type with ==: anything else is shown raw
    with pytest.raises(APIError) as exc:
        client.image_inspect_raw("ctype")
    assert exc.value.message == '{"message":"x"}'


def test_chunked_upload_and_stream_error(daemon: FakeDaemon) -> None:
    def load(req: Request) -> tuple[int, dict[str, str], Any]:
        assert req.headers.get("Transfer-Encoding") == "chunked"
        assert req.headers.get("Content-Type") == "application/x-tar"
        assert req.body == b"x" * 200_000
        return 200, {"Content-Type": "application/json"}, iter([
            {"stream": "Loading layer\n"},
            {"errorDetail": {"code": 3, "message": "bad archive"}, "error": "bad archive"},
        ])

    daemon.route("POST", "/images/load", load)
    client = APIClient(daemon.host)
    resp = client.image_load(io.BytesIO(b"x" * 200_000), quiet=True)
    from wharfie.cli.progress import display_stream

    out = io.StringIO()
    with pytest.raises(StreamError) as exc:
        display_stream(resp.iter_json(), out)
    assert exc.value.code == 3 and str(exc.value) == "bad archive"
    assert out.getvalue() == "Loading layer\n"
    assert daemon.api_requests()[0].query == {"quiet": ["1"]}


# --- commands -------------------------------------------------------------------


IMAGES = [
    {"Id": "sha256:" + "a" * 64, "RepoTags": ["busybox:latest"], "RepoDigests": [],
     "Created": 0, "Size": 1982297, "SharedSize": -1, "Containers": -1, "ParentId": "",
     "Labels": None},
]


def test_images_sends_filters(capsys: pytest.CaptureFixture[str], daemon: FakeDaemon) -> None:
    daemon.json("GET", "/images/json", IMAGES)
    rc, out, err = run(capsys, daemon, "images", "-a", "--filter", "dangling=false",
                       "-f", "label=a=b", "busy*", "--format", "{{.Repository}} {{.Size}}")
    assert (rc, out, err) == (0, "busybox 1.98MB\n", "")
    req = daemon.api_requests()[0]
    assert req.query["all"] == ["1"]
    assert json.loads(req.query["filters"][0]) == {
        "dangling": {"false": True}, "label": {"a=b": True}, "reference": {"busy*": True}}


def test_images_ambiguous_hint(capsys: pytest.CaptureFixture[str], daemon: FakeDaemon) -> None:
    daemon.json("GET", "/images/json", [])
    rc, out, err = run(capsys, daemon, "images", "ls")
    assert out == "REPOSITORY   TAG       IMAGE ID   CREATED   SIZE\n"
    assert err == '\nNo images found matching "ls": did you mean "wharfie image ls"?\n'


def test_daemon_error_exit_code(capsys: pytest.CaptureFixture[str], daemon: FakeDaemon) -> None:
    daemon.json("GET", "/images/nope/history", {"message": "No such image: nope"}, 404)
    rc, out, err = run(capsys, daemon, "history", "nope")
    assert (rc, out, err) == (1, "", "Error response from daemon: No such image: nope\n")


def test_tag_normalizes_target(capsys: pytest.CaptureFixture[str], daemon: FakeDaemon) -> None:
    daemon.route("POST", "/images/busybox/tag", lambda r: (201, {}, b""))
    daemon.route("POST", "/images/sha256:abc/tag", lambda r: (201, {}, b""))
    assert run(capsys, daemon, "tag", "busybox", "foo")[0] == 0
    assert run(capsys, daemon, "image", "tag", "busybox", "localhost:5000/my/img:1")[0] == 0
    queries = [r.query for r in daemon.api_requests()]
    assert queries == [
        {"repo": ["docker.io/library/foo"], "tag": ["latest"]},
        {"repo": ["localhost:5000/my/img"], "tag": ["1"]},
    ]
    rc, out, err = run(capsys, daemon, "tag", "busybox", "Bad")
    assert rc == 1 and err == (
        'Error parsing reference: "Bad" is not a valid repository/tag: invalid reference '
        "format: repository name (library/Bad) must be lowercase\n")


def test_rmi_continues_and_fails(capsys: pytest.CaptureFixture[str], daemon: FakeDaemon) -> None:
    daemon.json("DELETE", "/images/a", [{"Untagged": "a:latest"}, {"Deleted": "sha256:1"}])
    daemon.json("DELETE", "/images/nope", {"message": "No such image: nope:latest"}, 404)
    daemon.json("DELETE", "/images/b", [{"Untagged": "b:latest"}])
    rc, out, err = run(capsys, daemon, "rmi", "a", "nope", "b")
    assert rc == 1
    assert out == "Untagged: a:latest\nDeleted: sha256:1\nUntagged: b:latest\n"
    assert err == "Error response from daemon: No such image: nope:latest\n"
    # -f: not-found errors are printed but the exit status is 0
    rc, out, err = run(capsys, daemon, "rmi", "-f", "--no-prune", "nope")
    assert rc == 0 and err == "Error response from daemon: No such image: nope:latest\n"
    assert daemon.api_requests()[-1].query == {"force": ["1"], "noprune": ["1"]}


def test_inspect_probes_and_indents(capsys: pytest.CaptureFixture[str],
                                    daemon: FakeDaemon) -> None:
    raw = b'{"Id":"sha256:1","RepoTags":["x:1"],"Config":{"Env":[],"Labels":{}},"Size":5}\n'
    daemon.route("GET", "/images/x/json",
                 lambda r: (200, {"Content-Type": "application/json"}, raw))
    rc, out, err = run(capsys, daemon, "inspect", "x")
    assert rc == 0 and err == ""
    assert out == (
        '[\n    {\n        "Id": "sha256:1",\n        "RepoTags": [\n            "x:1"\n'
        '        ],\n        "Config": {\n            "Env": [],\n            "Labels": {}\n'
        '        },\n        "Size": 5\n    }\n]\n'
    )
    assert [r.path for r in daemon.api_requests()] == ["/containers/x/json", "/images/x/json"]
    rc, out, err = run(capsys, daemon, "inspect", "nope")
    assert (rc, out, err) == (1, "[]\n", "Error: No such object: nope\n")
    assert [r.path for r in daemon.api_requests()][-5:] == [
        "/containers/nope/json", "/images/nope/json", "/networks/nope", "/volumes/nope",
        "/plugins/nope/json"]
    rc, out, err = run(capsys, daemon, "image", "inspect", "-f", "{{.Size}} {{.ID}}", "x")
    assert (rc, out, err) == (0, "5 sha256:1\n", "")
    rc, out, err = run(capsys, daemon, "image", "inspect", "--format", "json", "x")
    assert out == "[" + raw.decode().strip() + "]\n"
    rc, out, err = run(capsys, daemon, "image", "inspect", "-f", "{{.Nope}}", "x")
    assert rc == 1 and out == "\n"
    assert err == ('template parsing error: template: :1:2: executing "" at <.Nope>: '
                   'map has no entry for key "Nope"\n')
    rc, out, err = run(capsys, daemon, "inspect", "--type", "bogus", "x")
    assert rc == 1 and err.startswith('unknown type: "bogus": must be one of "config"')


def test_version_and_info(capsys: pytest.CaptureFixture[str], daemon: FakeDaemon) -> None:
    daemon.json("GET", "/version", {
        "Platform": {"Name": ""}, "Version": "0.1.0", "ApiVersion": "1.50",
        "MinAPIVersion": "1.24", "GitCommit": "abc", "GoVersion": "python3.11", "Os": "linux",
        "Arch": "amd64", "KernelVersion": "6.1", "BuildTime": "2024-01-02T03:04:05.000000000Z",
        "Components": [{"Name": "Engine", "Version": "0.1.0", "Details": {
            "ApiVersion": "1.50", "MinAPIVersion": "1.24", "GitCommit": "abc",
            "GoVersion": "python3.11", "Os": "linux", "Arch": "amd64",
            "BuildTime": "2024-01-02T03:04:05.000000000Z", "Experimental": "false"}}],
    })
    rc, out, err = run(capsys, daemon, "version")
    assert rc == 0
    assert out.endswith(
        "Server:\n Engine:\n"
        "  Version:          0.1.0\n"
        "  API version:      1.50 (minimum version 1.24)\n"
        "  Go version:       python3.11\n"
        "  Git commit:       abc\n"
        "  Built:            Tue Jan  2 03:04:05 2024\n"
        "  OS/Arch:          linux/amd64\n"
        "  Experimental:     false\n"
    )
    assert " API version:       1.50\n" in out
    rc, out, err = run(capsys, daemon, "version", "-f", "{{.Server.Version}}")
    assert out == "0.1.0\n"
    rc, out, err = run(capsys, daemon, "version", "-f", "{{.Bad")
    assert rc == 64 and err == "template parsing error: template: version:1: unclosed action\n"

    daemon.json("GET", "/info", {"ID": "X", "Containers": 1, "ServerVersion": "0.1.0",
                                 "OSType": "linux", "MemTotal": 2048, "NCPU": 2,
                                 "SecurityOptions": ["name=seccomp,profile=builtin"]})
    rc, out, err = run(capsys, daemon, "info", "-f", "{{.ServerVersion}} {{.NCPU}}")
    assert (rc, out, err) == (0, "0.1.0 2\n", "")
    rc, out, err = run(capsys, daemon, "info")
    assert rc == 0
    assert " Containers: 1\n" in out and " Total Memory: 2KiB\n" in out
    assert " Security Options:\n  seccomp\n   Profile: builtin\n" in out


def test_events_lines(capsys: pytest.CaptureFixture[str], daemon: FakeDaemon,
                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "UTC")
    import time

    time.tzset()
    daemon.route("GET", "/events", lambda r: (200, {"Content-Type": "application/json"}, iter([
        {"status": "tag", "id": "sha256:1", "Type": "image", "Action": "tag",
         "Actor": {"ID": "sha256:1", "Attributes": {"name": "busybox:x"}}, "scope": "local",
         "time": 1704067200, "timeNano": 1704067200000000123},
    ])))
    rc, out, err = run(capsys, daemon, "events", "--since", "1704067100", "--until", "1704067300",
                       "--filter", "type=image")
    assert out == "2024-01-01T00:00:00.000000123Z image tag sha256:1 (name=busybox:x)\n"
    req = daemon.api_requests()[-1]
    assert req.query["since"] == ["1704067100"] and req.query["until"] == ["1704067300"]
    assert json.loads(req.query["filters"][0]) == {"type": {"image": True}}
    rc, out, err = run(capsys, daemon, "events", "--format", "{{.Type}}/{{.Actor.Attributes.name}}")
    assert out == "image/busybox:x\n"
    rc, out, err = run(capsys, daemon, "events", "--format", "json")
    assert json.loads(out) == {
        "status": "tag", "id": "sha256:1", "Type": "image", "Action": "tag",
        "Actor": {"ID": "sha256:1", "Attributes": {"name": "busybox:x"}}, "scope": "local",
        "time": 1704067200, "timeNano": 1704067200000000123}
    rc, out, err = run(capsys, daemon, "events", "--format", "{{.Nope}}")
    assert rc == 64 and err.startswith("Error parsing format: template: :1:2:")


def test_save_load_import(capsys: pytest.CaptureFixture[str], daemon: FakeDaemon,
                          tmp_path: Path) -> None:
    daemon.route("GET", "/images/get", lambda r: (200, {"Content-Type": "application/x-tar"},
                                                  iter([b"tar", b"data"])))
    out_file = tmp_path / "x.tar"
    rc, out, err = run(capsys, daemon, "save", "-o", str(out_file), "a", "b:1")
    assert (rc, out, err) == (0, "", "")
    assert out_file.read_bytes() == b"tardata"
    assert (out_file.stat().st_mode & 0o777) == 0o600
    assert daemon.api_requests()[-1].query == {"names": ["a", "b:1"]}
    rc, out, err = run(capsys, daemon, "save", "-o", str(tmp_path / "no" / "x.tar"), "a")
    assert rc == 1 and err.startswith("failed to save image: invalid output path: stat ")

    daemon.route("POST", "/images/load", lambda r: (200, {"Content-Type": "application/json"},
                                                    iter([{"stream": "Loaded image: a:1\n"}])))
    rc, out, err = run(capsys, daemon, "load", "-i", str(out_file))
    assert (rc, out, err) == (0, "Loaded image: a:1\n", "")
    assert daemon.api_requests()[-1].body == b"tardata"
    rc, out, err = run(capsys, daemon, "load", "-i", str(tmp_path / "missing.tar"))
    assert rc == 1 and err == f"open {tmp_path}/missing.tar: no such file or directory\n"

    daemon.route("POST", "/images/create", lambda r: (200, {"Content-Type": "application/json"},
                                                      iter([{"status": "sha256:" + "f" * 64}])))
    rc, out, err = run(capsys, daemon, "import", "-c", "CMD [\"sh\"]", "-c", "ENV A=1",
                       "-m", "hi there", str(out_file), "my/img:2")
    assert (rc, out, err) == (0, "sha256:" + "f" * 64 + "\n", "")
    req = daemon.api_requests()[-1]
    assert req.query == {"fromSrc": ["-"], "repo": ["my/img:2"], "message": ["hi there"],
                         "changes": ['CMD ["sh"]', "ENV A=1"]}
    assert req.body == b"tardata" and req.headers.get("Transfer-Encoding") == "chunked"
    rc, out, err = run(capsys, daemon, "import", "http://example.invalid/x.tar")
    assert daemon.api_requests()[-1].query == {"fromSrc": ["http://example.invalid/x.tar"]}


def test_prune_prompt_and_report(capsys: pytest.CaptureFixture[str], daemon: FakeDaemon,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    daemon.json("POST", "/images/prune", {"ImagesDeleted": [
        {"Untagged": "a:1"}, {"Deleted": "sha256:1"}], "SpaceReclaimed": 1982297})
    monkeypatch.setattr("sys.stdin", io.StringIO("n\n"))
    rc, out, err = run(capsys, daemon, "image", "prune")
    assert (rc, err) == (0, "")
    assert out == ("WARNING! This will remove all dangling images.\n"
                   "Are you sure you want to continue? [y/N] ")
    assert daemon.api_requests() == []
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))
    rc, out, err = run(capsys, daemon, "image", "prune", "-a", "--filter", "until=24h")
    assert out.endswith("Deleted Images:\nuntagged: a:1\ndeleted: sha256:1\n\n"
                        "Total reclaimed space: 1.982MB\n")
    assert json.loads(daemon.api_requests()[-1].query["filters"][0]) == {
        "dangling": {"false": True}, "until": {"24h": True}}
