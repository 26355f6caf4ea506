"""``wharfie build``, ``wharfie commit`` and ``wharfie builder prune`` against wharfied,
side by side with the real docker CLI (legacy builder): the same request, the same
context tar byte for byte, the same images and exit codes; the output is BuildKit's
plain progress view."""

from __future__ import annotations

import io
import json
import os
import re
import socket
import tarfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.daemon import CLI, WharfieDaemon

ID_LINE = re.compile(r"sha256:[0-9a-f]{64}\n")


@pytest.fixture(scope="module", autouse=True)
def busybox(daemon: WharfieDaemon, busybox_archive: Path) -> None:
    daemon.docker.ok("load", "-i", str(busybox_archive))


@pytest.fixture
def wharfie(daemon: WharfieDaemon) -> CLI:
    return daemon.wharfie


@pytest.fixture
def docker(daemon: WharfieDaemon) -> CLI:
    return daemon.docker


def make_tree(root: Path, files: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def image_id(cli: CLI, ref: str) -> str:
    return cli.ok("image", "inspect", "-f", "{{.Id}}", ref).strip()


def last_line(text: str) -> str:
    return text.rstrip("\n").rsplit("\n", 1)[-1]


# --- a recording Engine API endpoint: what each CLI sends ----------------------------

class Recorder:
    """Answers ``/_ping`` and ``POST /build`` on a UNIX socket and keeps every request
    (request line, headers, de-chunked body)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(str(path))
        self.sock.listen(8)
        threading.Thread(target=self._serve, daemon=True).start()

    def close(self) -> None:
        self.sock.close()

    def builds(self) -> list[tuple[str, dict[str, str], bytes]]:
        return [r for r in self.requests if r[0].startswith("POST ") and "/build?" in r[0]]

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with conn, conn.makefile("rb") as f:
            while True:
                line = f.readline()
                if not line:
                    return
                headers: dict[str, str] = {}
                while (h := f.readline()) not in (b"\r\n", b"\n", b""):
                    k, _, v = h.decode().partition(":")
                    headers[k.strip().lower()] = v.strip()
                body = b""
                if headers.get("transfer-encoding") == "chunked":
                    while (size := int(f.readline().strip(), 16)) != 0:
                        body += f.read(size)
                        f.readline()
                    f.readline()
                elif headers.get("content-length"):
                    body = f.read(int(headers["content-length"]))
                request = line.decode().strip()
                self.requests.append((request, headers, body))
                answer = b""
                if "/build" in request:
                    answer = (b'{"stream":"Step 1/1 : FROM busybox\\n"}\r\n{"aux":{"ID":"sha256:'
                              + b"a" * 64 + b'"}}\r\n{"stream":"Successfully built aaaaaaaaaaaa\\n"}\r\n')
                conn.sendall(b"HTTP/1.1 200 OK\r\nApi-Version: 1.50\r\nOstype: linux\r\n"
                             b"Content-Type: application/json\r\n"
                             + f"Content-Length: {len(answer)}\r\n\r\n".encode() + answer)


@pytest.fixture
def recorder(tmp_path: Path) -> Iterator[Recorder]:
    rec = Recorder(tmp_path / "rec.sock")
    try:
        yield rec
    finally:
        rec.close()


def members(body: bytes) -> list[tuple[str, str, int, int, int, str, bytes]]:
    """The entries of a context tar (docker's own tar may lack its final padding)."""
    out = []
    with tarfile.open(fileobj=io.BytesIO(body + b"\0" * 2048)) as t:
        for m in t.getmembers():
            data = t.extractfile(m).read() if m.isfile() else b""  # type: ignore[union-attr]
            out.append((m.name, m.type.decode(), m.mode, m.uid, m.gid, m.linkname, data))
    return out


def test_request_and_context_tar_are_dockers(tmp_path: Path, recorder: Recorder,
                                             daemon: WharfieDaemon) -> None:
    ctx = make_tree(tmp_path / "ctx", {
        "Dockerfile": "FROM busybox\nCOPY . /ctx\n",
        "sub/Dockerfile.alt": "FROM busybox\n",
        ".dockerignore": "secret.txt\nlogs\n!logs/keep.log\n*.tmp\nsub/Dockerfile.alt\n",
        "a.txt": "a\n", "secret.txt": "s\n", "b.tmp": "t\n", "deep/c.tmp": "kept\n",
        "logs/x.log": "x\n", "logs/keep.log": "k\n",
    })
    os.symlink("a.txt", ctx / "link")
    os.symlink("/etc/passwd", ctx / "abs-link")
    os.link(ctx / "a.txt", ctx / "hard.txt")
    os.chmod(ctx / "secret.txt", 0o600)
    os.chmod(ctx / "deep/c.tmp", 0o751)
    env = {**daemon.env, "DOCKER_HOST": f"unix://{recorder.path}", "FROMENV": "from-env"}
    env.pop("WHARFIE_UNSET_ARG", None)
    args = ["build", "-t", "multi:1", "-t", "other", "--build-arg", "FOO=bar",
            "--build-arg", "FROMENV", "--build-arg", "WHARFIE_UNSET_ARG", "--label", "x=y",
            "--label", "z", "--target", "first", "--no-cache", "--pull", "--network", "host",
            "--platform", "Linux/AMD64", "-f", str(ctx / "sub/Dockerfile.alt"), str(ctx)]
    CLI(daemon.docker.argv0, env)(*args).ok()
    CLI(daemon.wharfie.argv0, env)(*args).ok()
    (d_line, d_headers, d_body), (w_line, w_headers, w_body) = recorder.builds()
    assert w_line == d_line
    assert "buildargs=%7B%22FOO%22%3A%22bar%22%2C%22FROMENV%22%3A%22from-env%22%2C" \
           "%22WHARFIE_UNSET_ARG%22%3Anull%7D" in w_line
    assert "dockerfile=sub%2FDockerfile.alt" in w_line
    for h in ("content-type", "x-registry-config", "transfer-encoding"):
        assert w_headers.get(h) == d_headers.get(h), h
    assert w_headers["content-type"] == "application/x-tar"
    assert w_headers["x-registry-config"] == "e30="
    assert w_headers["transfer-encoding"] == "chunked"
    assert w_body == d_body  # byte for byte: headers, order, owners, links, no padding
    names = [m[0] for m in members(w_body)]
    assert names == [".dockerignore", "Dockerfile", "a.txt", "abs-link", "deep", "deep/c.tmp",
                     "hard.txt", "link", "logs/keep.log", "sub", "sub/Dockerfile.alt"]
    # the Dockerfile outside the context and from stdin: added as .dockerfile.<20 hex>
    outside = tmp_path / "outside.Dockerfile"
    outside.write_text("FROM busybox\nRUN true\n")
    for cli in (daemon.docker, daemon.wharfie):
        CLI(cli.argv0, env)("build", "-f", str(outside), str(ctx)).ok()
        CLI(cli.argv0, env)("build", "-f", "-", str(ctx), input=outside.read_text()).ok()
    bodies = [body for _, _, body in recorder.builds()[2:]]
    lines = [line for line, _, _ in recorder.builds()[2:]]
    shapes = []
    for line, body in zip(lines, bodies, strict=True):
        name = re.search(r"dockerfile=(\.dockerfile\.[0-9a-f]{20})&", line).group(1)  # type: ignore[union-attr]
        entries = {m[0]: m for m in members(body)}
        assert entries[name][6] == outside.read_bytes()
        assert entries[name][2] == 0o600
        assert entries[".dockerignore"][6] == (ctx / ".dockerignore").read_bytes() + f"\n{name}\n".encode()
        shapes.append(sorted(n.replace(name, "<df>") for n in entries))
    assert shapes[0] == shapes[1] == shapes[2] == shapes[3]


def test_build_tags_build_args_labels_target(tmp_path: Path, daemon: WharfieDaemon,
                                             wharfie: CLI) -> None:
    ctx = make_tree(tmp_path / "ctx", {"Dockerfile": (
        "ARG BASE=busybox\n"
        "FROM $BASE AS first\n"
        "ARG FOO\nARG FROMENV\nARG UNSET=default\n"
        'RUN echo "foo=$FOO fromenv=$FROMENV unset=$UNSET" | tee /args\n'
        "FROM first AS second\n"
        "RUN touch /second\n")})
    env = {**daemon.env, "FROMENV": "from-env"}
    env.pop("UNSET", None)
    r = CLI(wharfie.argv0, env)(
        "build", "-t", "multi:1", "-t", "other", "--build-arg", "FOO=bar", "--build-arg",
        "FROMENV", "--build-arg", "UNSET", "--label", "x=y", "--label", "z", "--target",
        "first", "--progress=plain", str(ctx)).ok()
    assert r.out == ""
    err = r.err
    assert "#0 [internal] load build context\n#0 transferring context: " in err
    # the steps up to the target stage: global ARGs count, the later stage does not
    assert "#1 [1/6] ARG BASE=busybox\n#1 DONE " in err
    assert "#2 [2/6] FROM $BASE AS first\n#2 DONE " in err
    assert re.search(r"#6 \[6/6\] RUN echo .*\n#6 \d+\.\d{3} foo=bar fromenv=from-env "
                     r"unset=default\n#6 DONE \d+\.\ds\n", err), err
    assert "touch /second" not in err
    assert re.search(r"#7 exporting to image\n#7 writing image sha256:[0-9a-f]+ done\n"
                     r"#7 naming to docker.io/library/multi:1 done\n"
                     r"#7 naming to docker.io/library/other:latest done\n#7 DONE", err), err
    assert image_id(wharfie, "multi:1") == image_id(wharfie, "other")
    assert json.loads(wharfie.ok("image", "inspect", "-f", "{{json .Config.Labels}}",
                                 "multi:1")) == {"x": "y", "z": ""}
    run = wharfie("run", "--rm", "multi:1", "sh", "-c", "cat /args; ls /second")
    assert run.out == "foo=bar fromenv=from-env unset=default\n"
    assert run.rc == 1  # no /second: the build stopped at --target first


def test_dockerignore_is_honoured_like_docker(tmp_path: Path, docker: CLI, wharfie: CLI) -> None:
    ctx = make_tree(tmp_path / "ctx", {
        "Dockerfile": "FROM busybox\nCOPY . /ctx\n",
        ".dockerignore": "secret.txt\nlogs\n!logs/keep.log\n*.tmp\n",
        "a.txt": "a\n", "secret.txt": "s\n", "b.tmp": "t\n", "deep/c.tmp": "kept\n",
        "logs/x.log": "x\n", "logs/keep.log": "k\n",
    })
    os.symlink("/etc/passwd", ctx / "abs-link")  # archived as a link, never followed
    os.link(ctx / "a.txt", ctx / "hard.txt")
    tag = f"ignore-{uuid.uuid4().hex[:8]}"
    wharfie.ok("build", "-q", "-t", tag + ":w", str(ctx))
    docker.ok("build", "-q", "-t", tag + ":d", str(ctx))
    listing = "find /ctx | sort; readlink /ctx/abs-link; cat /ctx/hard.txt"
    ours = wharfie.ok("run", "--rm", tag + ":w", "sh", "-c", listing)
    theirs = docker.ok("run", "--rm", tag + ":d", "sh", "-c", listing)
    assert ours == theirs
    assert "/ctx/secret.txt\n" not in ours and "/ctx/b.tmp\n" not in ours
    assert "/ctx/logs/x.log\n" not in ours
    assert "/ctx/logs/keep.log\n" in ours and "/ctx/deep/c.tmp\n" in ours
    assert "/etc/passwd\n" in ours  # the link's target, not the host's file


def test_second_build_is_cached_at_every_step(tmp_path: Path, wharfie: CLI) -> None:
    token = uuid.uuid4().hex
    ctx = make_tree(tmp_path / "ctx", {
        "Dockerfile": (f"FROM busybox\nENV TOKEN={token}\nRUN echo $TOKEN > /token; echo built\n"
                       "COPY a.txt /a.txt\nWORKDIR /w\nLABEL l=1\n"),
        "a.txt": "a\n"})
    first = wharfie("build", str(ctx)).ok()
    assert "CACHED" not in first.err
    assert re.search(r"#3 \d+\.\d{3} built\n#3 DONE", first.err), first.err
    second = wharfie("build", str(ctx)).ok()
    for n, instruction in [(2, f"ENV TOKEN={token}"), (3, "RUN echo $TOKEN > /token; echo built"),
                           (4, "COPY a.txt /a.txt"), (5, "WORKDIR /w"), (6, "LABEL l=1")]:
        assert f"#{n} [{n}/6] {instruction}\n#{n} CACHED\n" in second.err, second.err
    assert not re.search(r"#3 \d+\.\d{3} built", second.err)  # the RUN did not run again
    id1 = re.search(r"writing image (sha256:[0-9a-f]{64})", first.err).group(1)  # type: ignore[union-attr]
    assert f"writing image {id1} done" in second.err


def test_failing_run_exits_with_its_code_and_dockers_message(tmp_path: Path, docker: CLI,
                                                             wharfie: CLI) -> None:
    ctx = make_tree(tmp_path / "ctx", {
        "Dockerfile": "FROM busybox\nRUN echo out; echo oops >&2; exit 7\n"})
    d = docker("build", str(ctx))
    w = wharfie("build", str(ctx))
    message = "The command '/bin/sh -c echo out; echo oops >&2; exit 7' returned a non-zero code: 7"
    assert d.rc == w.rc == 7
    assert last_line(d.err) == last_line(w.err) == message
    assert w.out == ""
    assert f"#2 ERROR: {message}\n" in w.err
    assert re.search(r"------\n > \[2/2\] RUN echo out; echo oops >&2; exit 7:\n"
                     r"\d+\.\d{3} out\n\d+\.\d{3} oops\n------\n", w.err), w.err
    q = wharfie("build", "-q", str(ctx))
    assert (q.rc, q.out, last_line(q.err)) == (7, "", message)
    # an error before the build starts is the daemon's HTTP error: "ERROR: …", exit 1
    bad = wharfie("build", "-", input=b"\x1f\x8b\x08 not really gzip")
    assert bad.rc == 1 and last_line(bad.err).startswith("ERROR: "), bad


def test_dockerfile_outside_the_context_and_from_stdin(tmp_path: Path, wharfie: CLI) -> None:
    ctx = make_tree(tmp_path / "ctx", {"Dockerfile": "FROM busybox\nRUN echo inside > /which\n",
                                       "a.txt": "a\n"})
    outside = tmp_path / "elsewhere" / "build.Dockerfile"
    make_tree(outside.parent, {outside.name: "FROM busybox\nCOPY . /ctx\nRUN echo outside > /which\n"})
    check = "cat /which /ctx/a.txt"
    wharfie.ok("build", "-q", "-t", "outside:1", "-f", str(outside), str(ctx))
    assert wharfie.ok("run", "--rm", "outside:1", "sh", "-c", check) == "outside\na\n"
    wharfie.ok("build", "-q", "-t", "stdin:1", "-f", "-", str(ctx), input=outside.read_text())
    assert wharfie.ok("run", "--rm", "stdin:1", "sh", "-c", check) == "outside\na\n"
    # PATH "-": a bare Dockerfile, or a tar context
    wharfie.ok("build", "-q", "-t", "bare:1", "-", input="FROM busybox\nRUN echo bare > /which\n")
    assert wharfie.ok("run", "--rm", "bare:1", "cat", "/which") == "bare\n"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        t.add(ctx / "Dockerfile", "Dockerfile")
    wharfie.ok("build", "-q", "-t", "tarred:1", "-", input=buf.getvalue())
    assert wharfie.ok("run", "--rm", "tarred:1", "cat", "/which") == "inside\n"
    # docker's refusals
    r = wharfie("build", "-f", "-", "-", input="FROM busybox\n")
    assert (r.rc, r.err) == (1, "invalid argument: can't use stdin for both build context and dockerfile\n")
    r = wharfie("build", "-f", str(tmp_path / "nope"), str(ctx))
    assert (r.rc, r.err) == (1, "unable to prepare context: unable to evaluate symlinks in Dockerfile "
                                f"path: lstat {tmp_path / 'nope'}: no such file or directory\n")
    r = wharfie("build", str(tmp_path / "missing"))
    assert (r.rc, r.err) == (1, f'unable to prepare context: path "{tmp_path / "missing"}" not found\n')


@pytest.mark.parametrize("client", ["docker", "wharfie"])
def test_added_dockerfile_is_not_in_the_context(tmp_path: Path, daemon: WharfieDaemon,
                                                client: str) -> None:
    """The daemon drops the .dockerfile.* and .dockerignore the client listed in
    .dockerignore (moby's removeDockerfile)."""
    cli = getattr(daemon, client)
    ctx = make_tree(tmp_path / "ctx", {"Dockerfile": "FROM busybox\n", "a.txt": "a\n"})
    outside = tmp_path / "outside.Dockerfile"
    outside.write_text("FROM busybox\nCOPY . /ctx\n")
    tag = f"added-{client}:1"
    cli.ok("build", "-q", "-t", tag, "-f", str(outside), str(ctx))
    assert cli.ok("run", "--rm", tag, "ls", "-A", "/ctx") == "Dockerfile\na.txt\n"


def test_quiet_prints_only_the_image_id(tmp_path: Path, docker: CLI, wharfie: CLI) -> None:
    ctx = make_tree(tmp_path / "ctx", {"Dockerfile": "FROM busybox\nRUN echo quiet > /q\n"})
    w = wharfie("build", "-q", "-t", "quiet:1", str(ctx)).ok()
    assert ID_LINE.fullmatch(w.out) and w.err == ""
    assert w.out.strip() == image_id(wharfie, "quiet:1")
    d = docker("build", "-q", str(ctx)).ok()
    assert d.out == w.out  # same daemon, same (cached) image, same output
    p = wharfie("build", "--progress=quiet", str(ctx)).ok()
    assert p.out == w.out and p.err == ""


def test_iidfile(tmp_path: Path, wharfie: CLI) -> None:
    ctx = make_tree(tmp_path / "ctx", {"Dockerfile": "FROM busybox\nRUN echo iid > /iid\n"})
    iidfile = tmp_path / "iid"
    iidfile.write_text("stale")
    wharfie("build", "--iidfile", str(iidfile), "-t", "iid:1", str(ctx)).ok()
    assert iidfile.read_text() == image_id(wharfie, "iid:1")
    iidfile.write_text("stale")
    wharfie("build", "-q", "--iidfile", str(iidfile), str(ctx)).ok()
    assert iidfile.read_text() == image_id(wharfie, "iid:1")
    failing = make_tree(tmp_path / "failing", {"Dockerfile": "FROM busybox\nRUN exit 3\n"})
    assert wharfie("build", "--iidfile", str(iidfile), str(failing)).rc == 3
    assert not iidfile.exists()  # removed first, never written


def test_commit(docker: CLI, wharfie: CLI) -> None:
    name = f"commit-{uuid.uuid4().hex[:8]}"
    wharfie.ok("run", "-d", "--name", name, "busybox", "sh", "-c", "echo hi > /f; sleep 60")
    try:
        for _ in range(50):
            if wharfie("exec", name, "cat", "/f").out == "hi\n":
                break
            time.sleep(0.1)
        out = wharfie.ok("commit", "-a", "me <me@example.com>", "-m", "a message", "-c", "ENV A=1",
                         "-c", 'CMD ["cat", "/f"]', name, "committed:1")
        assert ID_LINE.fullmatch(out)
        assert out.strip() == image_id(wharfie, "committed:1")
        info = json.loads(wharfie.ok("image", "inspect", "committed:1"))[0]
        assert (info["Author"], info["Comment"]) == ("me <me@example.com>", "a message")
        assert "A=1" in info["Config"]["Env"] and info["Config"]["Cmd"] == ["cat", "/f"]
        assert wharfie.ok("run", "--rm", "committed:1") == "hi\n"
        out = wharfie.ok("commit", "-p=false", name)
        assert ID_LINE.fullmatch(out)
        assert wharfie.ok("image", "inspect", "-f", "{{len .RepoTags}}", out.strip()) == "0\n"
        d = docker("commit", name, "x@sha256:" + "a" * 64)
        w = wharfie("commit", name, "x@sha256:" + "a" * 64)
        assert d.rc == w.rc == 1
        assert last_line(w.err) == last_line(d.err) == "refusing to create a tag with a digest reference"
        d, w = docker("commit", "no-such-container"), wharfie("commit", "no-such-container")
        assert d.rc == w.rc == 1 and last_line(w.err) == last_line(d.err)
        w = wharfie("commit")
        assert w.rc == 1 and "requires at least 1 and at most 2 arguments" in w.err
    finally:
        wharfie("rm", "-f", name)


def test_builder_prune(tmp_path: Path, wharfie: CLI) -> None:
    ctx = make_tree(tmp_path / "ctx", {
        "Dockerfile": f"FROM busybox\nRUN echo {uuid.uuid4().hex} > /p\n"})
    wharfie.ok("build", str(ctx))
    r = wharfie("builder", "prune", input="n\n")
    assert r.rc == 0
    assert r.out == ("WARNING! This will remove all dangling build cache. Are you sure you want "
                     "to continue? [y/N] ")
    assert "#2 CACHED" in wharfie("build", str(ctx)).ok().err  # nothing was pruned
    out = wharfie.ok("builder", "prune", "-af")
    assert re.fullmatch(r"(Deleted build cache objects:\n(\S+\n)+\n)?Total reclaimed space: "
                        r"\d+(\.\d+)?[kMGT]?B\n", out), out
    assert "CACHED" not in wharfie("build", str(ctx)).ok().err
    assert wharfie.ok("image", "build", "-q", str(ctx)) == wharfie.ok("builder", "build", "-q", str(ctx))


def test_progress_view_reads_a_moby_stream() -> None:
    """dockerd's own stream shapes: the step line and its newline written apart, a pull
    during FROM, output split mid-line, stderr in red, an unused build-arg warning."""
    from wharfie.cli.buildprogress import BuildProgress, PlainView
    from wharfie.client.errors import StreamError

    out = io.StringIO()
    progress = BuildProgress(PlainView(out))
    messages = [
        {"stream": "Step 1/3 : FROM busybox"}, {"stream": "\n"},
        {"status": "Pulling from library/busybox", "id": "latest"},
        {"status": "Downloading", "progressDetail": {"current": 1, "total": 9}, "id": "abc"},
        {"status": "Pull complete", "progressDetail": {}, "id": "abc"},
        {"stream": " ---> 6fd955f66c23\n"},
        {"stream": "Step 2/3 : RUN echo one; echo two >&2"}, {"stream": "\n"},
        {"stream": " ---> Running in 0123456789ab\n"},
        {"stream": "o"}, {"stream": "ne\n"}, {"stream": "\x1b[91mtwo\n\x1b[0m"},
        {"stream": " ---> Removed intermediate container 0123456789ab\n"},
        {"stream": " ---> 1234567890ab\n"},
        {"stream": "Step 3/3 : LABEL a=b"}, {"stream": "\n"},
        {"stream": " ---> Using cache\n"}, {"stream": " ---> 234567890abc\n"},
        {"aux": {"ID": "sha256:234567890abc" + "0" * 52}},
        {"stream": "[Warning] One or more build-args [X] were not consumed\n"},
        {"stream": "Successfully built 234567890abc\n"},
        {"stream": "Successfully tagged x:1\n"},
    ]
    for msg in messages:
        progress.feed(msg)
    progress.close()
    text = re.sub(r"\b\d+\.\d{3} ", "T ", re.sub(r"DONE \d+\.\ds", "DONE Ts", out.getvalue()))
    assert text == (
        "#1 [1/3] FROM busybox\n#1 T latest: Pulling from library/busybox\n"
        "#1 T abc: Pull complete\n#1 DONE Ts\n\n"
        "#2 [2/3] RUN echo one; echo two >&2\n#2 T one\n#2 T two\n#2 DONE Ts\n\n"
        "#3 [3/3] LABEL a=b\n#3 CACHED\n\n"
        "[Warning] One or more build-args [X] were not consumed\n\n"
        "#4 exporting to image\n#4 writing image sha256:234567890abc" + "0" * 52 + " done\n"
        "#4 naming to docker.io/library/x:1 done\n#4 DONE Ts\n")
    assert progress.image_id == "sha256:234567890abc" + "0" * 52
    failing = BuildProgress(PlainView(io.StringIO()))
    failing.feed({"stream": "Step 1/1 : RUN exit 3\n"})
    with pytest.raises(StreamError) as e:
        failing.feed({"errorDetail": {"code": 3, "message": "boom"}, "error": "boom"})
    assert (e.value.code, e.value.message) == (3, "boom")


def test_live_view(tmp_path: Path, wharfie: CLI) -> None:
    """--progress=tty: finished steps stay one line each, then the summary line."""
    ctx = make_tree(tmp_path / "ctx", {
        "Dockerfile": f"FROM busybox\nRUN echo {uuid.uuid4().hex}; sleep 0.3\n"})
    r = wharfie("build", "--progress=tty", "-t", "live:1", str(ctx)).ok()
    assert r.out == ""
    assert r.err.startswith("\x1b[?25l") and r.err.endswith("\x1b[?25h")
    final = re.sub(r"\r\x1b\[\d+A\x1b\[J", "\x00", r.err).rsplit("\x00", 1)
    assert re.search(r" => \[2/2\] RUN echo [0-9a-f]+; sleep 0\.3 +\d+\.\ds\n", r.err)
    assert re.search(r"\[\+\] Building \d+\.\ds \(4/4\) FINISHED\n", final[-1])
