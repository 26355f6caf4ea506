"""Container-API details docker-py's own integration suite checks, against wharfied."""

from __future__ import annotations

import socket
import struct
import time
from pathlib import Path
from typing import Any

import docker as docker_sdk
import pytest


@pytest.fixture(scope="module", autouse=True)
def busybox(daemon, busybox_archive: Path) -> None:  # type: ignore[no-untyped-def]
    daemon.docker.ok("load", "-i", str(busybox_archive))


def _raw(sock: Any) -> socket.socket:
    return sock._sock if hasattr(sock, "_sock") else sock


def _read_all(sock: socket.socket, timeout: float = 10) -> bytes:
    sock.settimeout(timeout)
    out = b""
    while chunk := sock.recv(65536):
        out += chunk
    return out


def _demux(data: bytes) -> list[tuple[int, bytes]]:
    frames = []
    while data:
        assert len(data) >= 8, data
        stream, size = struct.unpack(">BxxxI", data[:8])
        assert stream in (1, 2), data
        frames.append((stream, data[8:8 + size]))
        data = data[8 + size:]
    return frames


@pytest.fixture
def sleeper(sdk):  # type: ignore[no-untyped-def]
    c = sdk.containers.run("busybox", ["sleep", "100"], detach=True)
    yield c
    c.remove(force=True)


def test_kill_with_sigkill_returns_once_dead(sdk) -> None:
    for _ in range(3):
        c = sdk.containers.run("busybox", ["sleep", "100"], detach=True)
        try:
            c.kill()
            state = sdk.api.inspect_container(c.id)["State"]
            assert (state["Running"], state["ExitCode"]) == (False, 137)
        finally:
            c.remove(force=True)


def test_exec_start_tty_decides_framing(sdk, sleeper) -> None:
    api = sdk.api
    eid = api.exec_create(sleeper.id, ["sh", "-c", "echo out; echo err >&2"], tty=True)["Id"]
    data = _read_all(_raw(api.exec_start(eid, tty=False, socket=True)))
    frames = _demux(data)
    assert b"".join(d for _, d in frames) == b"out\r\nerr\r\n"
    eid = api.exec_create(sleeper.id, ["sh", "-c", "echo out"], tty=False)["Id"]
    assert _read_all(_raw(api.exec_start(eid, tty=True, socket=True))) == b"out\n"
    # docker-py's ExecDemuxTest: a TTY exec started without Tty demuxes into stdout
    eid = api.exec_create(sleeper.id, ["sh", "-c", "echo out; echo err >&2"], tty=True)["Id"]
    assert api.exec_start(eid, demux=True) == (b"out\r\nerr\r\n", None)


def _wait_closed(sock: socket.socket, timeout: float = 10) -> None:
    """The daemon ended the client's connection (docker-py's assert_cat_socket_detached_with_keys)."""
    sock.settimeout(timeout)
    while sock.recv(4096):
        pass


def _send_keys(sock: socket.socket, keys: list[bytes]) -> None:
    for k in keys:
        sock.sendall(k)
        time.sleep(0.2)


def _logs_until(c, text: bytes, timeout: float = 10) -> bytes:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while text not in (logs := c.logs()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return logs


def test_attach_detach_keys(sdk) -> None:
    api = sdk.api
    cid = api.create_container("busybox", "cat", detach=True, stdin_open=True, tty=True)["Id"]
    try:
        api.start(cid)
        sock = _raw(api.attach_socket(cid, {"stdin": 1, "stream": 1}))
        _send_keys(sock, [b"\x10", b"\x11"])  # the default: ctrl-p,ctrl-q
        _wait_closed(sock)
        assert api.inspect_container(cid)["State"]["Running"]
        # a partial match is held back, then passed through when the next byte differs
        sock = _raw(api.attach_socket(cid, {"stdin": 1, "stream": 1, "detachKeys": "a,b"}))
        _send_keys(sock, [b"a", b"c\n"])
        assert b"ac" in _logs_until(sdk.containers.get(cid), b"ac")
        _send_keys(sock, [b"a", b"b"])
        _wait_closed(sock)
        assert api.inspect_container(cid)["State"]["Running"]
        with pytest.raises(docker_sdk.errors.APIError) as e:
            api.attach_socket(cid, {"stdin": 1, "stream": 1, "detachKeys": "ctrl-1"})
        assert e.value.status_code == 400
    finally:
        api.remove_container(cid, force=True)


def test_detach_keys_only_with_a_tty(sdk) -> None:
    api = sdk.api
    cid = api.create_container("busybox", "cat", detach=True, stdin_open=True)["Id"]
    try:
        api.start(cid)
        sock = _raw(api.attach_socket(cid, {"stdin": 1, "stream": 1}))
        _send_keys(sock, [b"\x10", b"\x11", b"\n"])
        assert b"\x10\x11\n" in _logs_until(sdk.containers.get(cid), b"\x11")
        sock.close()
        assert api.inspect_container(cid)["State"]["Running"]
    finally:
        api.remove_container(cid, force=True)


def test_exec_detach_keys(sdk, sleeper) -> None:
    api = sdk.api
    eid = api.exec_create(sleeper.id, "cat", stdin=True, tty=True, detach_keys="ctrl-x")["Id"]
    sock = _raw(api.exec_start(eid, tty=True, socket=True))
    _send_keys(sock, [b"\x18"])
    _wait_closed(sock)
    assert api.exec_inspect(eid)["Running"]
    with pytest.raises(docker_sdk.errors.APIError) as e:
        api.exec_create(sleeper.id, "cat", stdin=True, tty=True, detach_keys="ctrl-x,")
    assert e.value.status_code == 400


def _untar(stream: Any) -> dict[str, bytes]:
    import io
    import tarfile

    with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tf:
        return {m.name: (tf.extractfile(m).read() if m.isfile() else b"") for m in tf}  # type: ignore[union-attr]


def test_archive_of_a_stopped_container_sees_volumes_and_binds(sdk, tmp_path: Path) -> None:
    """docker-py's ArchiveTest: cp from/to a stopped container reaches into its volumes."""
    api = sdk.api
    bind = tmp_path / "bind"
    bind.mkdir()
    (bind / "host.txt").write_text("from host\n")
    script = "echo vol-data > /vol1/data.txt; ln -s /etc /vol1/link"
    cid = api.create_container("busybox", ["sh", "-c", script], volumes=["/vol1"],
                               host_config=api.create_host_config(binds=[f"{bind}:/bnd:ro"]))["Id"]
    try:
        api.start(cid)
        assert api.wait(cid, timeout=10)["StatusCode"] == 0
        strm, st = api.get_archive(cid, "/vol1/data.txt")
        assert st["name"] == "data.txt" and st["size"] == 9
        assert _untar(strm) == {"data.txt": b"vol-data\n"}
        strm, st = api.get_archive(cid, "/vol1")
        assert st["mode"] & (1 << 31)  # a directory
        assert _untar(strm) == {"vol1": b"", "vol1/data.txt": b"vol-data\n", "vol1/link": b""}
        assert _untar(api.get_archive(cid, "/bnd/host.txt")[0]) == {"host.txt": b"from host\n"}
        # symlinks resolve inside the volume, never out of it
        with pytest.raises(docker_sdk.errors.NotFound):
            api.get_archive(cid, "/vol1/link/passwd")
        import io
        import tarfile

        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tf:
            info = tarfile.TarInfo("put.txt")
            info.size = 4
            tf.addfile(info, io.BytesIO(b"put\n"))
        assert api.put_archive(cid, "/vol1", buf.getvalue())
        assert _untar(api.get_archive(cid, "/vol1/put.txt")[0]) == {"put.txt": b"put\n"}
        with pytest.raises(docker_sdk.errors.APIError) as e:
            api.put_archive(cid, "/bnd", buf.getvalue())
        assert e.value.status_code == 403
        assert not (bind / "put.txt").exists()
    finally:
        api.remove_container(cid, force=True, v=True)


def test_attach_logs_without_stream_replays_and_ends(sdk, daemon) -> None:
    api = sdk.api
    cid = api.create_container("busybox", ["sh", "-c", "echo one; echo two >&2"])["Id"]
    try:
        api.start(cid)
        assert api.wait(cid, timeout=10)["StatusCode"] == 0
        # upgraded (docker-py's attach_socket) …
        sock = _raw(api.attach_socket(cid, {"logs": 1, "stream": 0, "stdout": 1, "stderr": 1}))
        frames = _demux(_read_all(sock))
        assert sorted(frames) == [(1, b"one\n"), (2, b"two\n")]
        # … and a plain request
        status, _, body = daemon.request("POST", f"/containers/{cid}/attach?logs=1&stream=0&stdout=1")
        assert status == 200
        assert _demux(body) == [(1, b"one\n")]
    finally:
        api.remove_container(cid, force=True)


def test_unknown_log_driver_is_refused_at_create(sdk) -> None:
    api = sdk.api
    for config, message in ((docker_sdk.types.LogConfig(type="asdf"), "logger: no log driver named 'asdf' is registered"),
                            (docker_sdk.types.LogConfig(type="json-file", config={"nope": "1"}),
                             "unknown log opt 'nope' for json-file log driver")):
        with pytest.raises(docker_sdk.errors.APIError) as e:
            api.create_container("busybox", ["true"], host_config=api.create_host_config(log_config=config))
        assert e.value.status_code == 400 and message in str(e.value.explanation)
    cid = api.create_container("busybox", ["true"], host_config=api.create_host_config(
        log_config=docker_sdk.types.LogConfig(type="json-file", config={"max-size": "1m"})))["Id"]
    api.remove_container(cid)


def test_runtime_is_echoed_as_requested(sdk) -> None:
    api = sdk.api
    cid = api.create_container("busybox", ["true"], host_config=api.create_host_config(runtime="runc"))["Id"]
    try:
        assert api.inspect_container(cid)["HostConfig"]["Runtime"] == "runc"
        assert sdk.containers.get(cid).attrs["HostConfig"]["Runtime"] == "runc"
    finally:
        api.remove_container(cid)


def test_commit_parent_is_the_containers_image(sdk) -> None:
    """docker-py's test_commit: the new image's Parent is the container's image ID."""
    api = sdk.api
    cid = api.create_container("busybox", ["touch", "/test"])["Id"]
    try:
        api.start(cid)
        api.wait(cid, timeout=10)
        image_id = api.commit(cid)["Id"]
        try:
            img = api.inspect_image(image_id)
            assert img["Parent"] == api.inspect_image("busybox")["Id"]
        finally:
            api.remove_image(image_id)
    finally:
        api.remove_container(cid)


def test_volume_subpath_mounts_only_that_directory(sdk) -> None:
    vol = sdk.volumes.create("subpath-vol")
    try:
        sdk.containers.run("busybox", ["sh", "-c", "mkdir -p /v/sub/dir && echo in > /v/sub/dir/f && "
                                      "echo top > /v/top && ln -s /etc /v/esc && ln -s / /v/up"],
                           volumes={"subpath-vol": {"bind": "/v"}}, remove=True)

        def run(subpath: str, cmd: str) -> bytes:
            mount = {"Type": "volume", "Source": "subpath-vol", "Target": "/m", "VolumeOptions": {"Subpath": subpath}}
            return sdk.containers.run("busybox", ["sh", "-c", cmd], remove=True, mounts=[mount])  # type: ignore[no-any-return]

        assert run("sub", "ls /m; cat /m/dir/f") == b"dir\nin\n"
        assert run("sub/dir", "cat /m/f") == b"in\n"
        assert run("up", "ls /m") == b"esc\nsub\ntop\nup\n"  # a symlink resolves inside the volume
        for missing in ("nope", "esc"):  # esc → the volume's /etc, which isn't there
            with pytest.raises(docker_sdk.errors.APIError) as e:
                run(missing, "true")
            assert "cannot access path" in str(e.value.explanation)
        for bad in ("/sub", "../x", "sub/../../x"):
            with pytest.raises(docker_sdk.errors.APIError) as e:
                run(bad, "true")
            assert e.value.status_code == 400 and "subpath must be a relative path" in str(e.value.explanation)
        assert run("sub", "echo w > /m/new; echo ok") == b"ok\n"
        assert run("", "cat /m/sub/new") == b"w\n"
    finally:
        for c in sdk.containers.list(all=True):
            c.remove(force=True)
        vol.remove()
