"""The container commands' pure logic: flags → create body, formatting, stats maths,
docker's stream framing, cp's path rules and hostile archives, and the run flow's
request order against a fake daemon that hijacks."""

from __future__ import annotations

import io
import json
import os
import socket
import struct
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from wharfie.cli import containeropts
from wharfie.cli.command import CLIError, parse_flags
from wharfie.cli.main import main

#: the body docker 28.2.2 sent for ARGS (recorded on the wire; ours is byte-identical)
ARGS = ["-e", "A=1", "-l", "x=y", "--stop-signal", "SIGUSR1", "--stop-timeout", "5",
        "--restart", "on-failure:3", "-v", "/tmp:/h:ro", "-v", "/data",
        "--mount", "type=tmpfs,target=/t,tmpfs-size=1m", "--tmpfs", "/run:size=1m",
        "--read-only", "--cap-add", "net_admin", "--cap-drop", "chown",
        "--security-opt", "no-new-privileges", "--network", "none", "-m", "64m",
        "--memory-swap", "128m", "--cpus", "0.5", "-c", "512", "--cpuset-cpus", "0",
        "--pids-limit", "50", "--log-opt", "max-size=1m", "-p", "127.0.0.1:8080:80/udp",
        "--expose", "90-91", "-w", "/tmp", "-u", "0:0", "-h", "myhost", "--init",
        "--entrypoint", "/bin/sh", "--name", "golden", "busybox", "-c", "true"]
GOLDEN_CREATE = (
    '{"Hostname":"myhost","Domainname":"","User":"0:0","AttachStdin":false,"AttachStdout":tru'
    'e,"AttachStderr":true,"ExposedPorts":{"80/udp":{},"90/tcp":{},"91/tcp":{}},"Tty":false,"'
    'OpenStdin":false,"StdinOnce":false,"Env":["A=1"],"Cmd":["-c","true"],"Image":"busybox","'
    'Volumes":{"/data":{}},"WorkingDir":"/tmp","Entrypoint":["/bin/sh"],"OnBuild":null,"Label'
    's":{"x":"y"},"StopSignal":"SIGUSR1","StopTimeout":5,"HostConfig":{"Binds":["/tmp:/h:ro"]'
    ',"ContainerIDFile":"","LogConfig":{"Type":"","Config":{"max-size":"1m"}},"NetworkMode":"'
    'none","PortBindings":{"80/udp":[{"HostIp":"127.0.0.1","HostPort":"8080"}]},"RestartPolic'
    'y":{"Name":"on-failure","MaximumRetryCount":3},"AutoRemove":false,"VolumeDriver":"","Vol'
    'umesFrom":null,"ConsoleSize":[0,0],"CapAdd":["CAP_NET_ADMIN"],"CapDrop":["CAP_CHOWN"],"C'
    'groupnsMode":"","Dns":[],"DnsOptions":[],"DnsSearch":[],"ExtraHosts":null,"GroupAdd":nul'
    'l,"IpcMode":"","Cgroup":"","Links":null,"OomScoreAdj":0,"PidMode":"","Privileged":false,'
    '"PublishAllPorts":false,"ReadonlyRootfs":true,"SecurityOpt":["no-new-privileges"],"Tmpfs'
    '":{"/run":"size=1m"},"UTSMode":"","UsernsMode":"","ShmSize":0,"Isolation":"","CpuShares"'
    ':512,"Memory":67108864,"NanoCpus":500000000,"CgroupParent":"","BlkioWeight":0,"BlkioWeig'
    'htDevice":[],"BlkioDeviceReadBps":[],"BlkioDeviceWriteBps":[],"BlkioDeviceReadIOps":[],"'
    'BlkioDeviceWriteIOps":[],"CpuPeriod":0,"CpuQuota":0,"CpuRealtimePeriod":0,"CpuRealtimeRu'
    'ntime":0,"CpusetCpus":"0","CpusetMems":"","Devices":[],"DeviceCgroupRules":null,"DeviceR'
    'equests":null,"MemoryReservation":0,"MemorySwap":134217728,"MemorySwappiness":-1,"OomKil'
    'lDisable":false,"PidsLimit":50,"Ulimits":[],"CpuCount":0,"CpuPercent":0,"IOMaximumIOps":'
    '0,"IOMaximumBandwidth":0,"Mounts":[{"Type":"tmpfs","Target":"/t","TmpfsOptions":{"SizeBy'
    'tes":1048576}}],"MaskedPaths":null,"ReadonlyPaths":null,"Init":true},"NetworkingConfig":'
    '{"EndpointsConfig":{}}}'
)


def create_body(argv: list[str]) -> dict[str, Any]:
    opts, args = parse_flags(containeropts.create_flags("creating"), argv, interspersed=False)
    return containeropts.parse(opts, args[0], args[1:], containeropts.proxy_env(opts.env))


def test_create_body_is_dockers() -> None:
    from wharfie.client.jsonutil import go_json_compact

    body = create_body(ARGS)
    assert go_json_compact(body) == "".join(GOLDEN_CREATE)


def test_create_body_defaults() -> None:
    body = create_body(["-it", "busybox"])
    assert (body["AttachStdin"], body["OpenStdin"], body["StdinOnce"], body["Tty"]) == (
        True, True, True, True)
    assert body["Cmd"] is None and body["Entrypoint"] is None and body["Env"] is None
    host = body["HostConfig"]
    assert host["NetworkMode"] == "default" and host["RestartPolicy"]["Name"] == "no"
    assert "Init" not in host and "StopTimeout" not in body
    assert list(body["NetworkingConfig"]["EndpointsConfig"]) == ["default"]
    body = create_body(["-a", "STDERR", "--entrypoint=", "busybox"])
    assert (body["AttachStdout"], body["AttachStderr"], body["Entrypoint"]) == (False, True, [""])


@pytest.mark.parametrize("argv, message", [
    (["--rm", "--restart", "always", "x"], "conflicting options: cannot specify both --restart and --rm"),
    (["--restart", ":1", "x"], "invalid restart policy format: no policy provided before colon"),
    (["--memory-swappiness", "101", "x"], "invalid value: 101. Valid memory swappiness range is 0-100"),
    (["-p", "1:2:3:4/foo", "x"], "invalid IP address: 1:2"),
    (["-p", "abc", "x"], "invalid containerPort: abc"),
    (["--expose", "1:2", "x"], "invalid port format for --expose: 1:2"),
    (["--security-opt", "label", "x"], 'Invalid --security-opt: "label"'),
    (["--no-healthcheck", "--health-cmd", "true", "x"],
     "--no-healthcheck conflicts with --health-* options"),
    (["--pid", "nope", "x"], "--pid: invalid PID mode"),
])
def test_create_usage_errors(argv: list[str], message: str) -> None:
    with pytest.raises(CLIError) as exc:
        create_body(argv)
    assert str(exc.value) == message


def test_value_parsers() -> None:
    assert containeropts.ram_in_bytes("64m") == 64 << 20
    assert containeropts.ram_in_bytes("1.5GiB") == 3 << 29
    assert containeropts.ram_in_bytes("512") == 512
    assert containeropts.ram_in_bytes("10 kb") == 10240
    for bad, reason in (("1x", "invalid suffix: 'x'"), ("m", "invalid size: 'm'"),
                        ("1kx", "invalid suffix: 'kx'")):
        with pytest.raises(ValueError) as exc:
            containeropts.ram_in_bytes(bad)
        assert str(exc.value) == reason
    assert containeropts.parse_cpus("0.5") == 500_000_000
    assert containeropts.parse_cpus("3/2") == 1_500_000_000
    with pytest.raises(ValueError, match="value is too precise"):
        containeropts.parse_cpus("0.0000000001")
    with pytest.raises(ValueError, match="failed to parse x as a rational number"):
        containeropts.parse_cpus("x")
    os.environ["WHARFIE_TEST_ENV"] = "v"
    assert containeropts.validate_env("WHARFIE_TEST_ENV") == "WHARFIE_TEST_ENV=v"
    assert containeropts.validate_env("NOT_SET_ANYWHERE_X") == "NOT_SET_ANYWHERE_X"
    assert containeropts.proxy_env(["A=1", "B", "A=2"]) == ["A=2", "B"]
    assert containeropts.parse_mount("type=bind,src=/a,dst=/b,ro,bind-propagation=rslave") == {
        "Type": "bind", "Source": "/a", "Target": "/b", "ReadOnly": True,
        "BindOptions": {"Propagation": "rslave"}}
    with pytest.raises(ValueError, match="cannot mix 'tmpfs-\\*' options with mount type 'bind'"):
        containeropts.parse_mount("type=bind,target=/b,tmpfs-size=1m")
    assert containeropts.parse_ulimit("nofile=1024:2048") == {
        "Name": "nofile", "Hard": 2048, "Soft": 1024}


def test_flag_errors_exit_125(capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["run", "-m", "1x", "busybox"])
    _out, err = capsys.readouterr()
    assert rc == 125
    assert err.startswith('invalid argument "1x" for "-m, --memory" flag: invalid suffix: \'x\'\n')
    rc = main(["run", "-a", "bogus", "busybox"])
    _out, err = capsys.readouterr()
    assert rc == 125 and "valid streams are STDIN, STDOUT and STDERR" in err


def test_env_file(tmp_path: Path) -> None:
    f = tmp_path / "env"
    f.write_text("\ufeffA=1\n  # comment\n\nB\nWHARFIE_TEST_ENV\n")
    os.environ["WHARFIE_TEST_ENV"] = "v"
    assert containeropts.read_kv_file(str(f), lookup_env=True) == ["A=1", "WHARFIE_TEST_ENV=v"]
    f.write_text("BAD KEY=1\n")
    with pytest.raises(CLIError, match="variable 'BAD KEY' contains whitespaces"):
        containeropts.read_kv_file(str(f), lookup_env=True)


# --- formatting ---------------------------------------------------------------------


def test_displayable_ports() -> None:
    from wharfie.cli.commands.ps import displayable_ports

    ports = [{"PrivatePort": p, "Type": "tcp"} for p in (9988, 9989, 9990, 9992)]
    assert displayable_ports(ports) == "9988-9990/tcp, 9992/tcp"
    assert displayable_ports([
        {"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"},
        {"IP": "::", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"},
        {"IP": "1.2.3.4", "PrivatePort": 53, "PublicPort": 53, "Type": "udp"},
    ]) == "1.2.3.4:53->53/udp, 0.0.0.0:8080->80/tcp, [::]:8080->80/tcp"


def test_container_row_fields() -> None:
    from wharfie.cli import formatter
    from wharfie.cli.commands.ps import HEADER, container_row

    summary = {"Id": "a" * 64, "Names": ["/web", "/other/link"], "Image": "busybox:latest",
               "ImageID": "sha256:" + "b" * 64, "Command": "sh -c 'sleep 1000000000'",
               "Created": 0, "State": "running", "Status": "Up 2 seconds",
               "Labels": {"b": "2", "a": "1"}, "SizeRw": 12, "SizeRootFs": 1982297,
               "Mounts": [{"Name": "v" * 20, "Driver": "local"}, {"Source": "/h"}]}
    row = container_row(summary, True)
    out = formatter.render(
        "{{.ID}}|{{.Names}}|{{.Image}}|{{.Command}}|{{.Labels}}|{{.Label \"a\"}}|{{.Size}}|"
        "{{.Mounts}}|{{.LocalVolumes}}|{{.Networks}}", [row], HEADER)
    assert out == ('aaaaaaaaaaaa|web|busybox:latest|"sh -c \'sleep 100000…"|a=1,b=2|1|'
                   "12B (virtual 1.98MB)|vvvvvvvvvvvvvv…,/h|1|\n")
    data = json.loads(formatter.render("{{json .}}", [container_row(summary, False)], HEADER))
    assert sorted(data) == ["Command", "CreatedAt", "ID", "Image", "Labels", "LocalVolumes",
                            "Mounts", "Names", "Networks", "Platform", "Ports", "RunningFor",
                            "Size", "State", "Status"]
    assert data["Platform"] is None and data["Names"] == "web,other/link"
    table = formatter.render("table {{.ID}}\t{{.Label \"com.example.my-label\"}}", [row], HEADER)
    assert table.splitlines()[0] == "CONTAINER ID   my label"


def test_ps_size_detection() -> None:
    from wharfie.cli.commands.ps import _uses_size

    assert _uses_size("{{.Size}}") and _uses_size("{{json .}}")
    assert not _uses_size("json") and not _uses_size("{{.Names}}")


def test_stats_maths() -> None:
    from wharfie.cli.commands.stats import (
        Stats,
        block_io,
        cpu_percent_unix,
        mem_usage_no_cache,
        stats_row,
    )

    v = {"name": "/web", "id": "c" * 64,
         "cpu_stats": {"cpu_usage": {"total_usage": 3_000_000_000, "percpu_usage": [1, 1]},
                       "system_cpu_usage": 20_000_000_000},
         "precpu_stats": {"cpu_usage": {"total_usage": 2_000_000_000},
                          "system_cpu_usage": 18_000_000_000},
         "memory_stats": {"usage": 10 << 20, "limit": 100 << 20,
                          "stats": {"total_inactive_file": 2 << 20, "inactive_file": 1}},
         "blkio_stats": {"io_service_bytes_recursive": [
             {"op": "Read", "value": 1000}, {"op": "write", "value": 2000},
             {"op": "Total", "value": 3000}]},
         "pids_stats": {"current": 3},
         "networks": {"eth0": {"rx_bytes": 1500, "tx_bytes": 500}}}
    assert cpu_percent_unix(v) == 100.0  # 1s of 2s system time, 2 CPUs
    assert mem_usage_no_cache(v["memory_stats"]) == float(8 << 20)
    assert mem_usage_no_cache({"usage": 5, "stats": {"inactive_file": 9}}) == 5.0
    assert block_io(v["blkio_stats"]) == (1000, 2000)
    s = Stats("web")
    s.set(v, "linux")
    row = stats_row(s.snapshot(), "linux", True)
    fields = [row.get_field(k) for k in ("ID", "Name", "CPUPerc", "MemUsage", "MemPerc",
                                         "NetIO", "BlockIO", "PIDs")]
    assert fields == ["cccccccccccc", "web", "100.00%", "8MiB / 100MiB", "8.00%",
                      "1.5kB / 500B", "1kB / 2kB", "3"]
    s.fail(CLIError("timeout waiting for stats"), reset=True)
    row = stats_row(s.snapshot(), "linux", True)
    assert (row.get_field("CPUPerc"), row.get_field("MemUsage")) == ("--", "-- / --")


# --- streams ----------------------------------------------------------------------------


def frame(stream: int, payload: bytes) -> bytes:
    return struct.pack(">BxxxI", stream, len(payload)) + payload


def test_frame_demuxer_handles_split_frames() -> None:
    from wharfie.client.hijack import FrameDemuxer

    data = frame(1, b"out") + frame(2, b"err") + frame(0, b"in") + frame(1, b"x" * 70000)
    demux = FrameDemuxer()
    got: list[tuple[int, bytes]] = []
    for i in range(0, len(data), 7):
        got += demux.feed(data[i:i + 7])
    assert got == [(1, b"out"), (2, b"err"), (1, b"in"), (1, b"x" * 70000)]
    with pytest.raises(Exception, match="Unrecognized input header: 9"):
        list(FrameDemuxer().feed(frame(9, b"")))


def test_escape_proxy_and_detach_keys() -> None:
    from wharfie.cli.hijackio import EscapeProxy, detach_keys_to_bytes

    assert detach_keys_to_bytes("ctrl-p,ctrl-q") == b"\x10\x11"
    assert detach_keys_to_bytes("a,ctrl-@,ctrl-[") == b"a\x00\x1b"
    with pytest.raises(ValueError):
        detach_keys_to_bytes("ctrl-ab")
    p = EscapeProxy(b"\x10\x11")
    assert p.feed(b"ab\x10") == (b"ab", False)
    assert p.feed(b"c") == (b"\x10c", False)  # a false start is passed through
    assert p.feed(b"x\x10") == (b"x", False)
    assert p.feed(b"\x11rest") == (b"", True)


def test_signal_names() -> None:
    import signal

    from wharfie.cli.hijackio import signal_name

    assert signal_name(signal.SIGTERM) == "TERM"
    assert signal_name(signal.SIGWINCH) == "WINCH"
    assert signal_name(signal.SIGRTMIN + 3) == "RTMIN+3"
    assert signal_name(signal.SIGRTMAX - 1) == "RTMAX-1"


# --- cp ----------------------------------------------------------------------------------


def test_cp_path_rules() -> None:
    from wharfie.cli import cparchive
    from wharfie.cli.commands.cp import split_cp_arg

    assert split_cp_arg("web:/etc") == ("web", "/etc")
    assert split_cp_arg("/abs:path") == ("", "/abs:path")
    assert split_cp_arg("./a:b") == ("", "./a:b")
    assert split_cp_arg("plain") == ("", "plain")
    assert cparchive.preserve_trailing_dot_or_separator("/a/b", "b/.") == "/a/b/."
    assert cparchive.preserve_trailing_dot_or_separator("/a/b", "b/") == "/a/b/"
    assert cparchive.split_path_dir_entry("/a/b/.") == ("/a/b", ".")
    assert cparchive.go_clean("//a/../b/") == "/b"
    src = cparchive.CopyInfo("/x/dir", True, True)
    assert cparchive.prepare_archive_copy(src, cparchive.CopyInfo("/y/new")) == (
        "/y", [("dir", "new")])
    assert cparchive.prepare_archive_copy(src, cparchive.CopyInfo("/y", True, True)) == ("/y", [])
    with pytest.raises(CLIError, match="cannot copy directory"):
        cparchive.prepare_archive_copy(src, cparchive.CopyInfo("/y/f", True, False))
    with pytest.raises(CLIError, match="no such directory"):
        cparchive.prepare_archive_copy(cparchive.CopyInfo("/x/f", True), cparchive.CopyInfo("/y/"))
    assert cparchive.rebase("dir/dir/f", [("dir", "new")]) == "new/dir/f"


def test_tar_stream_names_and_content(tmp_path: Path) -> None:
    from wharfie.cli import cparchive

    (tmp_path / "src" / "sub").mkdir(parents=True)
    (tmp_path / "src" / "a").write_text("A")
    (tmp_path / "src" / "sub" / "b").write_text("B")
    os.link(tmp_path / "src" / "a", tmp_path / "src" / "hard")
    os.symlink("a", tmp_path / "src" / "link")
    info = cparchive.copy_info_source_path(str(tmp_path / "src"), False)
    data = b"".join(cparchive.tar_stream(info, [("src", "dst")]))
    assert len(data) % 512 == 0 and data.endswith(b"\0" * 1024)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert sorted(members) == ["dst", "dst/a", "dst/hard", "dst/link", "dst/sub", "dst/sub/b"]
        assert members["dst/hard"].islnk() and members["dst/hard"].linkname == "dst/a"
        assert members["dst/link"].issym() and members["dst/link"].linkname == "a"
        assert members["dst/a"].uname == "" and isinstance(members["dst/a"].mtime, int)
        f = tar.extractfile("dst/sub/b")
        assert f is not None and f.read() == b"B"


def hostile_tar(*entries: tuple[str, str, bytes]) -> io.BytesIO:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, kind, payload in entries:
            info = tarfile.TarInfo(name)
            if kind == "sym":
                info.type, info.linkname = tarfile.SYMTYPE, payload.decode()
                tar.addfile(info)
            elif kind == "hard":
                info.type, info.linkname = tarfile.LNKTYPE, payload.decode()
                tar.addfile(info)
            elif kind == "dev":
                info.type, info.devmajor, info.devminor = tarfile.CHRTYPE, 1, 3
                tar.addfile(info)
            else:
                info.size = len(payload)
                tar.addfile(info, io.BytesIO(payload))
    buf.seek(0)
    return buf


def test_extract_refuses_escapes(tmp_path: Path) -> None:
    from wharfie.cli import cparchive

    dest = tmp_path / "dest"
    dest.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    with pytest.raises(CLIError, match="is outside of"):
        cparchive.extract(hostile_tar(("../evil", "file", b"x")), str(dest), [])
    with pytest.raises(CLIError, match="is outside of"):
        cparchive.extract(hostile_tar(("ln", "sym", str(outside).encode()),
                                      ("ln/evil", "file", b"x")), str(dest), [])
    assert not (outside / "evil").exists()
    with pytest.raises(CLIError, match="invalid symlink"):
        cparchive.extract(hostile_tar(("rel", "sym", b"../../outside")), str(dest), [])
    with pytest.raises(CLIError, match="invalid hardlink"):
        cparchive.extract(hostile_tar(("h", "hard", b"../outside/x")), str(dest), [])
    (dest / "sub").mkdir()
    with pytest.raises(CLIError, match="cannot overwrite directory"):
        cparchive.extract(hostile_tar(("sub", "file", b"x")), str(dest), [])
    cparchive.extract(hostile_tar(("null", "dev", b""), ("ok", "file", b"fine")), str(dest), [])
    assert not (dest / "null").exists() and (dest / "ok").read_text() == "fine"


# --- the run flow against a fake hijacking daemon --------------------------------------


class HijackDaemon:
    """A raw HTTP/1.1 server: JSON answers, and a ``101`` for attach with framed output."""

    def __init__(self, path: Path, status: int = 3) -> None:
        self.path = str(path)
        self.status = status
        self.log: list[str] = []
        self.stdin = b""
        self.started = threading.Event()
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.bind(self.path)
        self.sock.listen(16)
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _read_request(self, f: Any) -> tuple[str, str, dict[str, str], bytes] | None:
        line = f.readline().decode()
        if not line:
            return None
        method, target, _ = line.split(" ", 2)
        headers = {}
        while True:
            h = f.readline().decode().strip()
            if not h:
                break
            k, _, v = h.partition(":")
            headers[k.strip().lower()] = v.strip()
        body = f.read(int(headers.get("content-length") or 0))
        return method, target, headers, body

    def _handle(self, conn: socket.socket) -> None:
        f = conn.makefile("rb")
        while True:
            req = self._read_request(f)
            if req is None:
                conn.close()
                return
            method, target, headers, body = req
            path = target.split("?")[0]
            if not path.startswith("/_ping"):
                self.log.append(f"{method} {target.replace('/v1.50', '')}")
            if path == "/_ping":
                self._send(conn, 200, b"OK")
            elif path.endswith("/containers/create"):
                self._send(conn, 201, json.dumps({"Id": "c" * 64, "Warnings": ["careful"]}))
            elif path.endswith("/attach"):
                assert headers["upgrade"] == "tcp" and headers["connection"] == "Upgrade"
                conn.sendall(b"HTTP/1.1 101 UPGRADED\r\nContent-Type: "
                             b"application/vnd.docker.multiplexed-stream\r\n"
                             b"Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n")
                self.started.wait(10)
                conn.sendall(frame(1, b"to stdout\n") + frame(2, b"to stderr\n"))
                while True:  # stdin until the client half-closes
                    chunk = f.read1(65536)
                    if not chunk:
                        break
                    self.stdin += chunk
                conn.sendall(frame(1, b"stdin: " + self.stdin))
                conn.close()
                return
            elif path.endswith("/wait"):
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             b"Transfer-Encoding: chunked\r\n\r\n")
                self.started.wait(10)
                time_body = json.dumps({"StatusCode": self.status, "Error": None}).encode()
                conn.sendall(b"%x\r\n%s\r\n0\r\n\r\n" % (len(time_body), time_body))
            elif path.endswith("/start"):
                self.started.set()
                self._send(conn, 204, b"")
            else:
                self._send(conn, 404, json.dumps({"message": f"no route {path}"}))

    @staticmethod
    def _send(conn: socket.socket, status: int, body: bytes | str) -> None:
        data = body.encode() if isinstance(body, str) else body
        ctype = b"application/json" if data.startswith(b"{") else b"text/plain"
        conn.sendall(b"HTTP/1.1 %d X\r\nApi-Version: 1.50\r\nContent-Type: %s\r\n"
                     b"Content-Length: %d\r\n\r\n%s" % (status, ctype, len(data), data))


@pytest.fixture
def hijack_daemon(tmp_path: Path) -> Iterator[HijackDaemon]:
    d = HijackDaemon(tmp_path / "h.sock")
    yield d
    d.sock.close()


def test_run_flow_order_streams_and_exit_code(
        hijack_daemon: HijackDaemon, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "wharfie.cli.main", "-H", f"unix://{hijack_daemon.path}",
         "run", "-i", "--rm", "--name", "x", "busybox", "cat"],
        input=b"piped input", capture_output=True, timeout=30)
    assert proc.returncode == 3
    assert proc.stdout == b"to stdout\nstdin: piped input"
    assert proc.stderr == b"WARNING: careful\nto stderr\n"
    cid = "c" * 64
    assert hijack_daemon.log == [
        "POST /containers/create?name=x",
        f"POST /containers/{cid}/attach?stderr=1&stdin=1&stdout=1&stream=1",
        f"POST /containers/{cid}/wait?condition=removed",
        f"POST /containers/{cid}/start",
    ]
