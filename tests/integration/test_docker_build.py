"""`docker build` (the real CLI, legacy builder) and the SDK's images.build against wharfied."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import docker as docker_sdk
import pytest
from support.daemon import WharfieDaemon
from support.registry import registry_server  # noqa: F401 (fixture)


@pytest.fixture(scope="module", autouse=True)
def busybox(daemon: WharfieDaemon, busybox_archive: Path) -> None:
    daemon.docker.ok("load", "-i", str(busybox_archive))


def write(ctx: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        p = ctx / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return ctx


EVERY_INSTRUCTION = """\
# syntax=docker/dockerfile:1
ARG BASE=busybox
FROM ${BASE} AS base
ARG GREETING=hello
ENV NAME=world \\
    OTHER="two words"
LABEL org.example.team=red version="1.0"
MAINTAINER someone@example.com
WORKDIR /app
COPY --chown=nobody:nogroup a.txt sub/ ./
ADD archive.tar /unpacked/
RUN echo "$GREETING $NAME" > greeting.txt && echo to-stderr >&2
USER nobody
EXPOSE 8080/tcp 53/udp
VOLUME ["/data"]
STOPSIGNAL SIGINT
HEALTHCHECK --interval=5s CMD true
ONBUILD RUN echo triggered
SHELL ["/bin/sh", "-c"]
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["cat /app/greeting.txt"]
"""


def test_every_instruction(docker, tmp_path: Path) -> None:
    ctx = write(tmp_path, {"Dockerfile": EVERY_INSTRUCTION, "a.txt": "A\n", "sub/b.txt": "B\n"})
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        data = b"from the archive\n"
        ti = tarfile.TarInfo("inside/file.txt")
        ti.size = len(data)
        tf.addfile(ti, io.BytesIO(data))
    (ctx / "archive.tar").write_bytes(buf.getvalue())
    r = docker("build", "-t", "every:1", "--build-arg", "GREETING=hi", str(ctx))
    assert r.rc == 0, r.err
    assert "Step 1/19 : ARG BASE=busybox" in r.out
    assert "Successfully tagged every:1" in r.out
    assert docker.ok("run", "--rm", "every:1") == "hi world\n"
    doc = json.loads(docker.ok("image", "inspect", "every:1"))[0]["Config"]
    assert doc["Labels"] == {"org.example.team": "red", "version": "1.0"}
    assert doc["User"] == "nobody" and doc["WorkingDir"] == "/app" and doc["StopSignal"] == "SIGINT"
    assert set(doc["ExposedPorts"]) == {"8080/tcp", "53/udp"} and "/data" in doc["Volumes"]
    assert "NAME=world" in doc["Env"] and "OTHER=two words" in doc["Env"]
    assert doc["OnBuild"] == ["RUN echo triggered"] and doc["Healthcheck"]["Test"] == ["CMD-SHELL", "true"]
    listing = docker.ok("run", "--rm", "--entrypoint", "sh", "every:1", "-c",
                        "stat -c '%u %n' /app/a.txt /app/b.txt; cat /unpacked/inside/file.txt")
    assert listing.splitlines() == ["65534 /app/a.txt", "65534 /app/b.txt", "from the archive"]


def test_cache_and_partial_rebuild(docker, tmp_path: Path) -> None:
    ctx = write(tmp_path, {"Dockerfile": "FROM busybox\nCOPY req.txt /req.txt\nRUN cat /req.txt > /installed\n"
                                         "COPY . /src\nCMD [\"cat\", \"/src/app.txt\"]\n",
                           "req.txt": "v1\n", "app.txt": "first\n"})
    docker.ok("build", "-t", "cached:1", str(ctx))
    second = docker.ok("build", "-t", "cached:1", str(ctx))
    assert second.count("Using cache") == 4  # every step after FROM
    (ctx / "app.txt").write_text("second\n")
    third = docker.ok("build", "-t", "cached:1", str(ctx))
    assert third.count("Using cache") == 2  # COPY req + RUN; only `COPY . /src` and after re-run
    assert "Running in" not in third
    assert " ---> Cache miss: app.txt changed\n" in third  # says which input made it miss
    assert docker.ok("run", "--rm", "cached:1") == "second\n"
    (ctx / "req.txt").write_text("v2\n")
    fourth = docker.ok("build", "-t", "cached:1", str(ctx))
    assert "Running in" in fourth  # the RUN re-ran
    assert fourth.count("Cache miss:") == 1 and "Cache miss: req.txt changed" in fourth
    assert docker.ok("run", "--rm", "cached:1", "cat", "/installed") == "v2\n"
    nocache = docker.ok("build", "--no-cache", "-t", "cached:1", str(ctx))
    assert "Using cache" not in nocache


def test_multistage_target_and_copy_from(docker, tmp_path: Path) -> None:
    ctx = write(tmp_path, {"Dockerfile": "FROM busybox AS builder\nRUN echo built > /artifact\n"
                                         "FROM busybox AS tester\nRUN echo test > /t\n"
                                         "FROM busybox\nCOPY --from=builder /artifact /final\n"
                                         "CMD [\"cat\", \"/final\"]\n"})
    docker.ok("build", "-t", "multi:1", str(ctx))
    assert docker.ok("run", "--rm", "multi:1") == "built\n"
    docker.ok("build", "--target", "tester", "-t", "multi:tester", str(ctx))
    assert docker.ok("run", "--rm", "multi:tester", "cat", "/t") == "test\n"
    assert docker("run", "--rm", "multi:tester", "cat", "/final").rc != 0


def test_dockerignore_and_file_outside_context(docker, tmp_path: Path) -> None:
    inside = write(tmp_path / "inside", {"Dockerfile": "FROM busybox\nCOPY . /ctx\n", "kept.txt": "k",
                                         ".dockerignore": "Dockerfile\n.dockerignore\n"})
    docker.ok("build", "-t", "ignored:0", str(inside))
    assert docker.ok("run", "--rm", "ignored:0", "ls", "-A", "/ctx").split() == ["kept.txt"]
    ctx = write(tmp_path / "ctx", {".dockerignore": "secret.txt\nlogs/**\n!logs/keep.log\n",
                                   "secret.txt": "no", "ok.txt": "yes", "logs/a.log": "x", "logs/keep.log": "k"})
    (tmp_path / "Outside.Dockerfile").write_text("FROM busybox\nCOPY . /ctx\n")
    docker.ok("build", "-f", str(tmp_path / "Outside.Dockerfile"), "-t", "ignored:1", str(ctx))
    files = docker.ok("run", "--rm", "ignored:1", "find", "/ctx", "-type", "f").split()
    assert "/ctx/ok.txt" in files and "/ctx/logs/keep.log" in files
    assert "/ctx/secret.txt" not in files and "/ctx/logs/a.log" not in files


def test_failing_run_and_syntax_error(docker, tmp_path: Path) -> None:
    write(tmp_path, {"Dockerfile": "FROM busybox\nRUN echo before\nRUN exit 7\n"})
    r = docker("build", str(tmp_path))
    assert r.rc == 7
    assert "The command '/bin/sh -c exit 7' returned a non-zero code: 7" in r.err
    write(tmp_path, {"Dockerfile": "FROM busybox\nRNU echo typo\n"})
    r = docker("build", str(tmp_path))
    assert r.rc != 0 and "line 2" in r.err and "unknown instruction: RNU" in r.err


def test_sdk_images_build(sdk, tmp_path: Path) -> None:
    write(tmp_path, {"Dockerfile": "FROM busybox\nARG X=default\nRUN echo $X > /x\nLABEL from=sdk\n"})
    image, logs = sdk.images.build(path=str(tmp_path), tag="sdkbuilt:1", buildargs={"X": "given"})
    assert "sdkbuilt:1" in image.tags and image.labels == {"from": "sdk"}
    assert any("Successfully built" in (chunk.get("stream") or "") for chunk in logs)
    assert sdk.containers.run("sdkbuilt:1", ["cat", "/x"], remove=True) == b"given\n"
    with pytest.raises(docker_sdk.errors.BuildError) as e:
        sdk.images.build(fileobj=io.BytesIO(b"FROM busybox\nRUN exit 3\n"))
    assert "returned a non-zero code: 3" in str(e.value)


def test_run_mount_cache_and_bind(docker, tmp_path: Path) -> None:
    """Beyond the legacy builder: a cache mount persists across builds; a bind mount reads the
    context without copying it into the image."""
    write(tmp_path, {"Dockerfile": "FROM busybox\nARG N=1\n"
                                   "RUN --mount=type=cache,target=/cache echo run-$N >> /cache/log && cat /cache/log\n"
                                   "RUN --mount=type=bind,source=data,target=/in cat /in/x > /copied\n",
                     "data/x": "bound\n"})
    first = docker.ok("build", "-t", "mounts:1", str(tmp_path))
    assert "run-1" in first
    second = docker.ok("build", "--build-arg", "N=2", "-t", "mounts:1", str(tmp_path))
    assert "run-1\nrun-2" in second  # the cache directory survived the first build
    assert "Cache miss: build arg N changed" in second
    assert docker.ok("run", "--rm", "mounts:1", "cat", "/copied") == "bound\n"
    assert docker("run", "--rm", "mounts:1", "ls", "/cache/log").rc != 0  # not in the image


def test_onbuild_triggers_run_in_the_child(docker, tmp_path: Path) -> None:
    write(tmp_path / "parent", {"Dockerfile": "FROM busybox\nONBUILD RUN echo triggered > /trig\n"})
    docker.ok("build", "-t", "parent:1", str(tmp_path / "parent"))
    write(tmp_path / "child", {"Dockerfile": "FROM parent:1\nRUN cat /trig\n"})
    out = docker.ok("build", "-t", "child:1", str(tmp_path / "child"))
    assert "# Executing 1 build trigger" in out and "triggered" in out
    cfg = json.loads(docker.ok("image", "inspect", "child:1"))[0]["Config"]
    assert not cfg["OnBuild"]  # not inherited by grandchildren


HEREDOCS = """\
# syntax=docker/dockerfile:1
FROM busybox
ARG WHO=world
ENV GREETING=hello
COPY <<EOF /etc/greeting
$GREETING $WHO $UNSET "quoted"
EOF
COPY <<'EOF' /raw.txt
$GREETING raw
EOF
COPY <<A <<B /multi/
a-file
A
b-file
B
RUN <<EOF
echo one > /lines.txt
echo two >> /lines.txt
EOF
RUN <<EOF
#!/bin/sh
echo "script $0" > /script.txt
EOF
RUN cat > /cat.txt <<EOT
via cat $GREETING
EOT
"""


def test_heredocs(docker, tmp_path: Path) -> None:
    """BuildKit's heredocs: COPY bodies become files (expanded unless the word is quoted),
    `RUN <<EOF` runs the body, a `#!` body runs as a script, `cmd <<EOF` feeds the shell."""
    write(tmp_path, {"Dockerfile": HEREDOCS})
    docker.ok("build", "-t", "heredocs:1", str(tmp_path))
    out = docker.ok("run", "--rm", "heredocs:1", "cat", "/etc/greeting", "/raw.txt", "/multi/A", "/multi/B",
                    "/lines.txt", "/script.txt", "/cat.txt")
    assert out.splitlines() == ['hello world $UNSET "quoted"', "$GREETING raw", "a-file", "b-file",
                                "one", "two", "script /dev/pipes/EOF", "via cat hello"]
    again = docker.ok("build", "-t", "heredocs:1", str(tmp_path))
    assert again.count("Using cache") == 8
    (tmp_path / "Dockerfile").write_text(HEREDOCS.replace("a-file", "changed"))
    changed = docker.ok("build", "-t", "heredocs:1", str(tmp_path))
    assert "Cache miss: A changed" in changed
    assert docker.ok("run", "--rm", "heredocs:1", "cat", "/multi/A") == "changed\n"


@pytest.fixture
def web(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A file server on 127.0.0.1 (the daemon downloads ADD URLs from the host's network)."""
    import functools
    import http.server
    import threading

    root = tmp_path / "www"
    root.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield root, f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def test_add_url(docker, tmp_path: Path, web) -> None:  # type: ignore[no-untyped-def]
    import hashlib

    root, url = web
    (root / "data.txt").write_text("remote data\n")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        tf.addfile(tarfile.TarInfo("inside"), io.BytesIO(b""))
    (root / "pack.tar").write_bytes(buf.getvalue())
    ctx = write(tmp_path / "ctx", {"Dockerfile": f"FROM busybox\nADD {url}/data.txt /downloads/\n"
                                                 f"ADD {url}/data.txt /renamed.txt\n"
                                                 f"ADD {url}/pack.tar /pack/\n"})
    docker.ok("build", "-t", "addurl:1", str(ctx))
    out = docker.ok("run", "--rm", "addurl:1", "sh", "-c",
                    "cat /downloads/data.txt /renamed.txt; stat -c %a /renamed.txt; ls /pack")
    assert out.splitlines() == ["remote data", "remote data", "600", "pack.tar"]  # never unpacked
    assert docker.ok("build", "-t", "addurl:1", str(ctx)).count("Using cache") == 3
    (root / "data.txt").write_text("new remote data\n")
    rebuilt = docker.ok("build", "-t", "addurl:1", str(ctx))
    assert "Cache miss: data.txt changed" in rebuilt
    good = "sha256:" + hashlib.sha256(b"new remote data\n").hexdigest()
    write(ctx, {"Dockerfile": f"FROM busybox\nADD --checksum={good} {url}/data.txt /d.txt\n"})
    docker.ok("build", "-t", "addurl:2", str(ctx))
    write(ctx, {"Dockerfile": f"FROM busybox\nADD --checksum=sha256:{'0' * 64} {url}/data.txt /d.txt\n"})
    bad = docker("build", str(ctx))
    assert bad.rc != 0 and "digest mismatch" in bad.err
    write(ctx, {"Dockerfile": f"FROM busybox\nADD {url}/missing.txt /m.txt\n"})
    missing = docker("build", str(ctx))
    assert missing.rc != 0 and "with status 404 Not Found" in missing.err


def test_copy_chmod_and_link(docker, tmp_path: Path) -> None:
    """Beyond the legacy builder, like BuildKit: --chmod sets the copied files' mode (octal),
    --link is accepted; a bad mode names the problem."""
    write(tmp_path, {"Dockerfile": "FROM busybox\nCOPY --chmod=750 run.sh /bin/\nCOPY --link --chmod=0600 d/ /d/\n",
                     "run.sh": "#!/bin/sh\n", "d/x": "x\n"})
    docker.ok("build", "-t", "chmod:1", str(tmp_path))
    out = docker.ok("run", "--rm", "chmod:1", "stat", "-c", "%a %n", "/bin/run.sh", "/d/x")
    assert out.splitlines() == ["750 /bin/run.sh", "600 /d/x"]
    (tmp_path / "Dockerfile").write_text("FROM busybox\nCOPY --chmod=u+x run.sh /bin/\n")
    bad = docker("build", str(tmp_path))
    assert bad.rc != 0 and "invalid chmod parameter" in bad.err


def test_from_pulls_a_missing_image_and_pull_refreshes(docker, tmp_path: Path, registry_server) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    """FROM of an image that is not present pulls it (progress in the build output); --pull
    fetches the registry's current image even when a local one has the same name."""
    base = f"{registry_server.host}/base/busybox:1"
    docker.ok("tag", "busybox", base)
    docker.ok("push", base)
    docker.ok("rmi", base)
    write(tmp_path, {"Dockerfile": f"FROM {base}\nRUN cat /marker 2>/dev/null || echo no-marker\n"})
    first = docker.ok("build", "-t", "pulled:1", str(tmp_path))
    assert "Pulling from base/busybox" in first and "no-marker" in first
    assert docker.ok("images", "-q", base).strip()
    # a newer base in the registry, an older one here: only --pull sees the newer
    newer = write(tmp_path / "newer", {"Dockerfile": "FROM busybox\nRUN echo v2 > /marker\n"})
    docker.ok("build", "-t", base, str(newer))
    docker.ok("push", base)
    docker.ok("tag", "busybox", base)  # the local tag points at the old image again
    cached = docker.ok("build", "-t", "pulled:1", str(tmp_path))
    assert "Pulling from" not in cached and "Using cache" in cached
    refreshed = docker.ok("build", "--pull", "-t", "pulled:1", str(tmp_path))
    assert "Pulling from base/busybox" in refreshed
    assert docker.ok("run", "--rm", "pulled:1", "cat", "/marker") == "v2\n"
    missing = docker("build", "-t", "x", str(write(tmp_path / "m", {"Dockerfile": f"FROM {registry_server.host}/no/such:1\n"})))
    assert missing.rc != 0 and "no/such" in missing.err


@pytest.mark.parametrize("cli", ["docker", "wharfie"])
def test_from_a_private_registry_uses_login_credentials(daemon: WharfieDaemon, tmp_path: Path, cli: str) -> None:
    """The build client sends every stored login (X-Registry-Config); the daemon pulls the FROM
    image from an htpasswd-protected registry with them."""
    from support.registry import RegistryServer, make_htpasswd

    client = daemon.docker if cli == "docker" else daemon.wharfie
    with RegistryServer(tmp_path / "reg", htpasswd=make_htpasswd(tmp_path / "htpasswd", "ann", "s3cret")) as reg:
        image = f"{reg.host}/private/base-{cli}:1"
        client.ok("login", "-u", "ann", "--password-stdin", reg.host, input="s3cret\n")
        daemon.docker.ok("tag", "busybox", image)
        client.ok("push", image)
        daemon.docker.ok("rmi", image)
        write(tmp_path / "ctx", {"Dockerfile": f"FROM {image}\nRUN true\n"})
        out = client("build", "-t", f"private-{cli}:1", str(tmp_path / "ctx"))
        assert out.rc == 0, out.err
        client.ok("logout", reg.host)
        daemon.docker.ok("rmi", image)
        denied = client("build", "--no-cache", str(tmp_path / "ctx"))
        assert denied.rc != 0 and ("unauthorized" in denied.err.lower() or "authentication" in denied.err.lower())


def test_copy_layers_are_reproducible(docker, tmp_path: Path) -> None:
    """The same files give the same COPY layer digest whatever their mtimes or where the
    context lives; SOURCE_DATE_EPOCH sets the files' timestamps."""
    import os
    import shutil

    a = write(tmp_path / "a", {"Dockerfile": "FROM busybox\nCOPY . /app\n", "x.txt": "x\n", "d/y.txt": "y\n"})
    b = tmp_path / "elsewhere" / "b"
    shutil.copytree(a, b)
    for path in (b / "x.txt", b / "d" / "y.txt", b / "d"):
        os.utime(path, (1_000_000, 1_000_000))

    def copy_layer(tag: str) -> str:
        return json.loads(docker.ok("image", "inspect", tag))[0]["RootFS"]["Layers"][-1]

    docker.ok("build", "--no-cache", "-t", "repro:a", str(a))
    docker.ok("build", "--no-cache", "-t", "repro:b", str(b))
    assert copy_layer("repro:a") == copy_layer("repro:b")
    docker.ok("build", "--no-cache", "--build-arg", "SOURCE_DATE_EPOCH=1700000000", "-t", "repro:c", str(a))
    assert docker.ok("run", "--rm", "repro:c", "stat", "-c", "%Y", "/app/x.txt", "/app/d/y.txt").split() == \
        ["1700000000", "1700000000"]


def test_cache_from_add_host_and_labels_on_scratch(docker, sdk, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """--cache-from limits the cache to those images' ancestry (an unknown name: no cache);
    --add-host reaches RUN steps' /etc/hosts; --label on a lone FROM scratch makes an image;
    a repeated query key counts once, first value first, like dockerd (docker-py relies on it)."""
    write(tmp_path, {"Dockerfile": "FROM busybox\nRUN echo one > /one\nRUN grep -q 'buildhost' /etc/hosts && echo ok\n"})
    docker.ok("build", "--add-host", "buildhost:10.1.2.3", "-t", "cf:1", str(tmp_path))
    again = docker.ok("build", "--add-host", "buildhost:10.1.2.3", "--cache-from", "cf:1", "-t", "cf:2", str(tmp_path))
    assert again.count("Using cache") == 2
    unknown = docker.ok("build", "--add-host", "buildhost:10.1.2.3", "--cache-from", "nosuchtag", str(tmp_path))
    assert "Using cache" not in unknown
    missing_host = docker("build", "--no-cache", str(tmp_path))
    assert missing_host.rc != 0  # the grep fails without --add-host
    scratch = write(tmp_path / "scratch", {"Dockerfile": "FROM scratch\n"})
    image, _ = sdk.images.build(path=str(scratch), labels={"test": "OK"})
    assert image.labels == {"test": "OK"}
    resp = sdk.api.post(sdk.api._url("/build"), params=[("dockerfile", "Other"), ("dockerfile", "Dockerfile"), ("q", "1")],
                        data=_tar({"Other": "FROM busybox\nLABEL which=other\n"}),
                        headers={"Content-Type": "application/x-tar"})
    assert resp.status_code == 200 and "errorDetail" not in resp.text


def _tar(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, text in files.items():
            data = text.encode()
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def test_intermediate_images_like_dockerd(docker, tmp_path: Path) -> None:
    """Build steps' images are the final image's parents: hidden from `images` (shown with
    -a), not dangling (a prune keeps them and the cache), and inspect names the Parent."""
    write(tmp_path, {"Dockerfile": "FROM busybox\nRUN echo a > /a\nRUN echo b > /b\nCMD [\"true\"]\n"})
    docker.ok("build", "-t", "steps:1", str(tmp_path))
    final = json.loads(docker.ok("image", "inspect", "steps:1"))[0]
    assert final["Parent"].startswith("sha256:")
    steps = []  # the build's intermediate images: the final image's parents up to busybox
    parent = final["Parent"]
    while parent and "busybox:latest" not in json.loads(docker.ok("image", "inspect", parent))[0]["RepoTags"]:
        steps.append(parent)
        parent = json.loads(docker.ok("image", "inspect", parent))[0]["Parent"]
    assert len(steps) == 2  # the two RUNs (CMD made the final image)
    listed = docker.ok("images", "-q", "--no-trunc").split()
    everything = docker.ok("images", "-a", "-q", "--no-trunc").split()
    assert not set(steps) & set(listed) and set(steps) <= set(everything)
    docker.ok("image", "prune", "-f")
    assert docker.ok("build", "-t", "steps:1", str(tmp_path)).count("Using cache") == 3
