"""The wharfie CLI's container and volume commands against wharfied, side by side with
the real docker CLI: same output, same exit codes."""

from __future__ import annotations

import json
import os
import re
import tarfile
import time
from pathlib import Path

import pytest
from support.daemon import CLI, WharfieDaemon

HEX64 = re.compile(r"[0-9a-f]{64}")


@pytest.fixture(scope="module", autouse=True)
def busybox(daemon: WharfieDaemon, busybox_archive: Path) -> None:
    daemon.docker.ok("load", "-i", str(busybox_archive))


@pytest.fixture
def wharfie(daemon: WharfieDaemon) -> CLI:
    return daemon.wharfie


def same_text(docker_text: str, wharfie_text: str) -> bool:
    """Equal once the program name and random IDs are masked."""
    def norm(s: str) -> str:
        return HEX64.sub("<id>", s.replace("docker", "wharfie"))

    return norm(docker_text) == norm(wharfie_text)


def both(docker: CLI, wharfie: CLI, *args: str, **kw):  # type: ignore[no-untyped-def]
    d = docker(*args, **kw)
    w = wharfie(*args, **kw)
    return d, w


def both_settled(docker: CLI, wharfie: CLI, *args: str):  # type: ignore[no-untyped-def]
    """Like :func:`both` for output with relative times ("Up 1 second"): retried when
    a second ticked between the two commands."""
    for _ in range(5):
        d, w = both(docker, wharfie, *args)
        if (d.rc, d.out, d.err) == (w.rc, w.out, w.err):
            break
        time.sleep(0.3)
    return d, w


def test_run_rm_output_and_exit_codes(docker: CLI, wharfie: CLI) -> None:
    cases = [
        ("busybox", "echo", "hello world"),
        ("busybox", "sh", "-c", "echo out; echo err >&2; exit 7"),
        ("busybox", "no-such-binary"),  # 127
        ("busybox", "/etc"),  # 126
        ("--pull", "never", "nosuchimage:1", "true"),  # 125
        ("--pull", "bogus", "busybox"),  # 125 before anything is created
        ("-m", "1x", "busybox"),  # flag error: 125
    ]
    for case in cases:
        d, w = both(docker, wharfie, "run", "--rm", *case)
        assert w.rc == d.rc, (case, d, w)
        assert w.out == d.out, case
        assert same_text(d.err, w.err), (case, d.err, w.err)
    assert (d.rc, w.rc) == (125, 125)
    # a missing image: docker's pull fallback, and the daemon refuses the pull
    d, w = both(docker, wharfie, "run", "--rm", "nosuchimage:1", "true")
    assert d.rc == w.rc == 125
    assert "Unable to find image 'nosuchimage:1' locally\n" in w.err
    assert same_text(d.err, w.err)
    assert docker.ok("ps", "-aq") == ""  # every --rm container is gone


def test_run_stdin_is_copied_and_half_closed(docker: CLI, wharfie: CLI) -> None:
    data = "line one\nline two\n" * 10000  # 180 KB: more than a pipe holds before start
    d, w = both(docker, wharfie, "run", "--rm", "-i", "busybox", "sh", "-c",
                "cat; echo stdin closed >&2", input=data)
    assert (w.rc, w.out, w.err) == (d.rc, d.out, d.err)
    assert (w.rc, w.out) == (0, data) and w.err.endswith("stdin closed\n")
    d, w = both(docker, wharfie, "run", "--rm", "-t", "-i", "busybox", "true", input="")
    assert (w.rc, w.err) == (d.rc, d.err.replace("docker", "wharfie")) == (1, w.err)
    assert w.err == "the input device is not a TTY\n"


def test_detached_ps_logs_exec_stop(docker: CLI, wharfie: CLI) -> None:
    cid = wharfie.ok("run", "-d", "--name", "ticker", "-l", "app=tick", "busybox", "sh", "-c",
                     "trap 'echo bye; exit 0' TERM; echo started; echo oops >&2; "
                     "while true; do sleep 0.1; done").strip()
    assert HEX64.fullmatch(cid)
    try:
        for _ in range(50):
            if "started" in wharfie.ok("logs", "ticker"):
                break
            time.sleep(0.1)
        for args in (("ps",), ("ps", "-a", "--no-trunc"), ("ps", "-q"), ("ps", "-l"),
                     ("ps", "--filter", "label=app=tick", "--format", "{{.Names}} {{.Labels}}"),
                     ("ps", "--format", "json"), ("ps", "-s"),
                     ("ps", "--format", "table {{.ID}}\t{{.Label \"app\"}}\t{{.State}}")):
            d, w = both_settled(docker, wharfie, *args)
            assert (w.rc, w.out, w.err) == (d.rc, d.out, d.err), args
        d, w = both(docker, wharfie, "logs", "ticker")
        assert (w.out, w.err) == (d.out, d.err) == ("started\n", "oops\n")
        d, w = both(docker, wharfie, "logs", "-t", "--tail", "1", "ticker")
        assert (w.out, w.err) == (d.out, d.err)
        d, w = both(docker, wharfie, "exec", "-e", "A=1", "-w", "/tmp", "ticker", "sh", "-c",
                    "echo $A $(pwd)")
        assert (w.rc, w.out) == (d.rc, d.out) == (0, "1 /tmp\n")
        d, w = both(docker, wharfie, "top", "ticker")
        assert w.out.splitlines()[0] == d.out.splitlines()[0]
        d, w = both(docker, wharfie, "stats", "--no-stream", "--format",
                    "{{.Name}} {{.PIDs}}", "ticker")
        assert w.out == d.out and w.rc == 0
        table = wharfie.ok("stats", "--no-stream", "ticker").splitlines()
        assert table[0].split() == docker.ok("stats", "--no-stream", "ticker").splitlines()[0].split()
        assert table[1].startswith(cid[:12])
        assert wharfie.ok("stop", "-t", "5", "ticker") == "ticker\n"
        assert wharfie.ok("logs", "--tail", "1", "ticker") == "bye\n"
        assert wharfie.ok("wait", "ticker") == "0\n"
        d, w = both_settled(docker, wharfie, "ps", "-a", "--filter", "name=ticker",
                            "--format", "{{.Status}}")
        assert w.out == d.out and w.out.startswith("Exited (0)")
    finally:
        wharfie("rm", "-f", "ticker")


def test_exec_exit_codes(docker: CLI, wharfie: CLI) -> None:
    wharfie.ok("run", "-d", "--name", "execbox", "busybox", "sleep", "300")
    docker.ok("create", "--name", "stopped", "busybox")
    try:
        cases = [
            ("execbox", "sh", "-c", "exit 4"),
            ("execbox", "sh", "-c", "echo out; echo err >&2"),
            ("execbox", "no-such-command"),
            ("-u", "1:1", "execbox", "id", "-u"),
            ("-d", "execbox", "sleep", "1"),
            ("stopped", "true"),
            ("nosuch", "true"),
            ("-i", "execbox", "cat"),
        ]
        for case in cases:
            d, w = both(docker, wharfie, "exec", *case, input="piped stdin\n")
            assert (w.rc, w.out, w.err) == (d.rc, d.out, d.err), case
        d, w = both(docker, wharfie, "exec", "execbox", "sh", "-c", "exit 4")
        assert w.rc == 4
    finally:
        wharfie("rm", "-f", "execbox", "stopped")


def test_cp_both_ways(docker: CLI, wharfie: CLI, tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_text("hello\n")
    (src / "sub" / "b.txt").write_text("nested\n")
    os.symlink("a.txt", src / "link")
    wharfie.ok("run", "-d", "--name", "cpbox", "busybox", "sleep", "300")
    try:
        for who, cli in (("d", docker), ("w", wharfie)):
            cli.ok("exec", "cpbox", "mkdir", f"/tmp/{who}")
            assert cli.ok("cp", str(src / "a.txt"), f"cpbox:/tmp/{who}/renamed.txt") == ""
            assert cli.ok("cp", str(src), f"cpbox:/tmp/{who}/tree") == ""
            assert cli.ok("cp", str(src) + "/.", f"cpbox:/tmp/{who}") == ""
        listing = "cd /tmp/{0} && find . | sort | xargs ls -ld --time-style=+%s | awk '{{print $1,$3,$4,$5,$6,$7,$8,$9}}'"
        assert docker.ok("exec", "cpbox", "sh", "-c", listing.format("w")) == \
            docker.ok("exec", "cpbox", "sh", "-c", listing.format("d"))
        # out of the container, into a new name and into an existing directory
        for who, cli in (("d", docker), ("w", wharfie)):
            out = tmp_path / who
            out.mkdir()
            assert cli.ok("cp", "cpbox:/tmp/w/tree", str(out / "tree")) == ""
            assert cli.ok("cp", "cpbox:/etc/hostname", str(out)) == ""
            assert cli.ok("cp", "-L", "cpbox:/tmp/w/tree/link", str(out / "followed")) == ""

        def tree(root: Path) -> list[tuple[str, str, str]]:
            out = []
            for p in sorted(root.rglob("*")):
                kind = "l" if p.is_symlink() else "d" if p.is_dir() else "f"
                body = os.readlink(p) if kind == "l" else p.read_text() if kind == "f" else ""
                out.append((str(p.relative_to(root)), kind, body))
            return out

        assert tree(tmp_path / "w") == tree(tmp_path / "d")
        assert ("tree/link", "l", "a.txt") in tree(tmp_path / "w")
        assert ("followed", "f", "hello\n") in tree(tmp_path / "w")
        # '-' streams a tar either way
        archive = wharfie("cp", "cpbox:/tmp/w/tree", "-")
        assert archive.rc == 0
        d_archive = docker("cp", "cpbox:/tmp/w/tree", "-")
        tar_path = tmp_path / "tree.tar"
        tar_path.write_bytes(archive.out.encode("latin-1", "replace"))
        names = sorted(m.name for m in tarfile.open(tar_path))
        assert names == ["tree", "tree/a.txt", "tree/link", "tree/sub", "tree/sub/b.txt"]
        assert len(archive.out) == len(d_archive.out)
        # errors
        for args in (("cpbox:/nosuch", str(tmp_path)), ("nosuch:/etc", str(tmp_path)),
                     (str(tmp_path / "nosuch"), "cpbox:/tmp"), ("a", "b"),
                     (str(src), "cpbox:/etc/hostname")):
            d, w = both(docker, wharfie, "cp", *args)
            assert w.rc == d.rc != 0, args
            # docker may also log its tar writer's broken pipe: compare the error itself
            assert same_text(d.err.splitlines()[-1], w.err.splitlines()[-1]), (args, d.err, w.err)
    finally:
        wharfie("rm", "-f", "cpbox")


def test_volume_create_ls_inspect_rm(docker: CLI, wharfie: CLI) -> None:
    assert wharfie.ok("volume", "create", "--label", "a=b", "-o", "type=tmpfs",
                      "-o", "device=tmpfs", "v1") == "v1\n"
    assert docker.ok("volume", "create", "v2") == "v2\n"
    try:
        for args in (("volume", "ls"), ("volume", "ls", "-q"), ("volume", "ls", "--format", "json"),
                     ("volume", "ls", "-f", "label=a=b"),
                     ("volume", "ls", "--format", "{{.Name}}: {{.Labels}} {{.Label \"a\"}}"),
                     ("volume", "inspect", "v1", "v2"),
                     ("volume", "inspect", "-f", "{{.Labels}} {{.Options}} {{json .}}", "v1"),
                     ("volume", "inspect", "v1", "nosuch")):
            d, w = both(docker, wharfie, *args)
            assert (w.rc, w.out, w.err) == (d.rc, d.out, d.err), args
        out = wharfie.ok("run", "--rm", "-v", "v1:/data", "busybox", "sh", "-c",
                         "echo kept > /data/f; cat /data/f")
        assert out == "kept\n"
    finally:
        d, w = docker("volume", "rm", "v2", "nosuch"), wharfie("volume", "rm", "v1", "nosuch")
    assert (d.out, w.out) == ("v2\n", "v1\n")
    assert (w.rc, w.err) == (d.rc, d.err) and w.rc == 1
    assert wharfie.ok("volume", "ls", "-q") == ""
    assert wharfie.ok("volume", "prune", "-f") == "Total reclaimed space: 0B\n"


def test_rm_force(docker: CLI, wharfie: CLI) -> None:
    wharfie.ok("run", "-d", "--name", "victim", "busybox", "sleep", "300")
    d = docker("rm", "victim")
    w = wharfie("rm", "victim")
    assert (w.rc, w.err) == (d.rc, d.err) and w.rc == 1 and "stop the container" in w.err
    w = wharfie("rm", "-f", "victim", "nosuch")
    assert (w.rc, w.out) == (0, "victim\n")
    assert w.err == "Error response from daemon: No such container: nosuch\n"
    d = docker("rm", "nosuch")
    w = wharfie("rm", "nosuch")
    assert (w.rc, w.out, w.err) == (d.rc, d.out, d.err) == (1, "", w.err)


def test_lifecycle_verbs_match_docker(docker: CLI, wharfie: CLI) -> None:
    """The same sequence of verbs on two twin containers, one driven by each CLI."""
    docker.ok("create", "--name", "lc-d", "busybox", "sleep", "300")
    wharfie.ok("create", "--name", "lc-w", "busybox", "sleep", "300")
    steps = (("start", "@", "nosuch"), ("pause", "@"), ("pause", "@"), ("unpause", "@", "nosuch"),
             ("restart", "-t", "0", "@"), ("kill", "-s", "USR1", "@", "nosuch"),
             ("stop", "-t", "1", "@"), ("stop", "--time", "1", "@"), ("start", "@"),
             ("kill", "@"), ("wait", "@"), ("rename", "nosuch", "x"), ("rename", "@", " "),
             ("update", "--cpus", "0.5", "@"), ("update", "@"), ("port", "@"),
             ("port", "@", "80"), ("port", "@", "x"), ("top", "@"), ("attach", "@"),
             ("logs", "@"), ("inspect", "-f", "{{.Config.Cmd}} {{.State.Status}}", "@"),
             ("container", "inspect", "-f", "{{.Name}}", "@"))
    try:
        for step in steps:
            d = docker(*(a.replace("@", "lc-d") for a in step))
            w = wharfie(*(a.replace("@", "lc-w") for a in step))
            assert (w.rc, w.out.replace("lc-w", "lc-d")) == (d.rc, d.out), step
            assert same_text(d.err.replace("lc-d", "lc-w"), w.err), (step, d.err, w.err)
        assert json.loads(wharfie.ok("container", "inspect", "lc-w"))[0]["Name"] == "/lc-w"
    finally:
        wharfie("rm", "-f", "lc-w", "lc-d")
    d, w = both(docker, wharfie, "container", "prune", "-f")
    assert (w.rc, w.out) == (d.rc, d.out)


def test_run_it_under_a_pty_echoes_input(daemon: WharfieDaemon) -> None:
    import pexpect

    results = {}
    for name, argv0 in (("docker", daemon.docker.argv0), ("wharfie", daemon.wharfie.argv0)):
        child = pexpect.spawn(argv0[0], ["run", "-it", "--rm", "busybox", "sh"],
                              env=daemon.env, dimensions=(40, 120), timeout=30)
        try:
            child.expect(r"[#$] ")
            child.sendline("echo S$(stty size)E; read x; echo got-$x")
            child.expect(r"S(\d+ \d+)E")
            size = child.match.group(1).decode()
            child.sendline("typed")
            child.expect(r"got-typed")
            child.setwinsize(30, 100)
            time.sleep(0.5)
            child.sendline("echo S$(stty size)E")
            child.expect(r"S(\d+ \d+)E")
            resized = child.match.group(1).decode()
            child.sendline("exit 3")
            child.expect(pexpect.EOF)
        finally:
            child.close(force=True)
        results[name] = (size, resized, child.exitstatus)
    assert results["wharfie"] == results["docker"] == ("40 120", "30 100", 3)


def test_run_it_detach_keys_leave_it_running(daemon: WharfieDaemon, docker: CLI) -> None:
    import pexpect

    child = pexpect.spawn(daemon.wharfie.argv0[0], ["run", "-it", "--name", "detachme", "busybox",
                                                    "sh"], env=daemon.env, timeout=30)
    try:
        child.expect(r"[#$] ")
        child.send("\x10\x11")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    try:
        assert child.exitstatus == 0
        assert docker.ok("inspect", "-f", "{{.State.Running}}", "detachme") == "true\n"
    finally:
        docker("rm", "-f", "detachme")
