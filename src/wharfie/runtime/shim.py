"""The per-container supervisor: `python -I -S -m wharfie.runtime.shim STATE_DIR`.

Spawned (never forked) by the daemon in its own session, so it outlives daemon restarts. It
creates the container's PID namespace and forks the container init (held at a gate until the
daemon says `start`), owns the container's stdio or pty, writes the json-file log, reaps, and
records the exit status in STATE_DIR/exit.json. The daemon talks to it over STATE_DIR/shim.sock:
one JSON request line per connection, one JSON reply line, after which `attach` and `exec`
connections carry raw stream bytes (docker's 8-byte frames without a TTY, raw with one):

    {"op":"state"}                          → {"pid":N,"status":"created|running|exited",…}
    {"op":"start"}                          → {"pid":N} or {"error":M,"exit_code":126|127}
    {"op":"attach","stdin":b,"stdout":b,"stderr":b[,"tty":b]}   → {"ok":true} then the stream
    {"op":"wait"}                           → (at exit) {"exit_code":N,"oom_killed":b,…}
    {"op":"kill","signal":N}                → {"ok":true}
    {"op":"resize","height":H,"width":W[,"exec":ID]} → {"ok":true}
    {"op":"exec","id":ID,"process":{…},"attach":{…}|null} → {"pid":N} then the stream
      (an attach's "tty" overrides the framing: raw when true, 8-byte frames when false)
    {"op":"exec-state","id":ID}             → {"running":b,"exit_code":N|null,"pid":N}

STATE_DIR holds `config.json` (the OCI spec), `shim.json` (log path and options) and what the
shim writes: `shim.pid`, `exit.json`, `exec-<id>.json`. Only the standard library and our own
small modules are imported, so an idle shim stays a few MB.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import socket
import struct
import sys
import time
from typing import Any

from wharfie.runtime.logfile import (
    DEFAULT_MAX_FILE,
    DEFAULT_MAX_SIZE,
    LogWriter,
    NoLog,
    rfc3339nano,
)

READ = 64 * 1024
STDIN_HIGH_WATER = 1 << 20
CLIENT_MAX_BUFFER = 8 << 20
STREAM_IDS = {"stdout": 1, "stderr": 2}


def write_json_atomic(path: str, obj: Any) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w") as fh:
        json.dump(obj, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


class Client:
    """One connection from the daemon."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = b""
        self.mode = "request"          # request → attach | wait | exec | done
        self.want: set[str] = set()    # streams an attached client receives
        self.stdin_target: Process | None = None
        self.process: Process | None = None  # for exec streams
        self.tty = False
        self.out = bytearray()   # output the client has not taken yet
        self.reading = True      # polled for input
        self.closing = False     # close once `out` is flushed
        self.sync: Any = None    # the shim's selector update for this client

    def send(self, data: bytes) -> bool:
        """Never blocks: what the socket won't take now waits in `out`. A client that falls
        more than CLIENT_MAX_BUFFER behind is given up on (False), so one stuck reader can't
        stall the container's supervisor."""
        if self.mode == "done":
            return False
        if not self.out:
            try:
                data = data[self.sock.send(data):]
            except BlockingIOError:
                pass
            except OSError:
                return False
        if data:
            self.out += data
            if len(self.out) > CLIENT_MAX_BUFFER:
                return False
            self.sync(self)
        return True

    def flush(self) -> bool:
        try:
            del self.out[: self.sock.send(self.out)]
        except BlockingIOError:
            pass
        except OSError:
            return False
        return True

    def reply(self, obj: dict[str, Any]) -> bool:
        return self.send(json.dumps(obj).encode() + b"\n")


class Process:
    """The container init or one exec: its pid, stdio fds and attached clients."""

    def __init__(self, pid: int, tty: bool, out_fds: dict[int, str], stdin_fd: int | None,
                 master: int | None, exec_id: str | None = None) -> None:
        self.pid, self.tty, self.out_fds, self.stdin_fd = pid, tty, out_fds, stdin_fd
        if stdin_fd is not None:
            os.set_blocking(stdin_fd, False)
        self.master, self.exec_id = master, exec_id
        self.clients: list[Client] = []
        self.stdin_buf = bytearray()
        self.stdin_eof = False
        self.stdin_watched = False
        self.paused: list[Client] = []  # clients whose input waits for stdin to drain
        self.exit_status: int | None = None
        self.open_outputs = len(out_fds)

    def frame(self, stream: str, data: bytes) -> bytes:
        return data if self.tty else _mux(stream, data)


def _mux(stream: str, data: bytes) -> bytes:
    """docker's 8-byte stream header, then the bytes."""
    return struct.pack(">BxxxI", STREAM_IDS[stream], len(data)) + data


class Shim:
    def __init__(self, state_dir: str) -> None:
        self.dir = state_dir
        with open(os.path.join(state_dir, "config.json")) as fh:
            self.spec: dict[str, Any] = json.load(fh)
        with open(os.path.join(state_dir, "shim.json")) as fh:
            self.opts: dict[str, Any] = json.load(fh)
        self.sel = selectors.DefaultSelector()
        self.init: Process | None = None
        self.execs: dict[str, Process] = {}
        self.by_pid: dict[int, Process] = {}
        self.waiters: list[Client] = []
        self.pending_start: list[Client] = []
        self.status = "created"
        self.log: LogWriter | NoLog = LogWriter(
            self.opts["log_path"], int(self.opts.get("max_size", DEFAULT_MAX_SIZE)),
            int(self.opts.get("max_file", DEFAULT_MAX_FILE))) if self.opts.get("log_path") else NoLog()
        self.cgroup: Any = None
        self.exit_info: dict[str, Any] | None = None
        self.go_w = self.err_r = -1
        self.start_error = ""
        self.exit_deadline: float | None = None
        self.runc_root: str = self.opts.get("runc_root", "") if self.opts.get("runtime") == "runc" else ""
        self.runc_execs: dict[str, Any] = {}  # exec id → its `runc exec` Popen

    # -- setup ---------------------------------------------------------------------------
    def prepare(self) -> int:
        """Fork the container init, parked at the start gate; returns its (host) pid.

        With a TTY the pty is made *inside* the container (its own devpts instance, so `tty`
        and `ttyname` work there) and the master comes back to us over a console socket.
        """
        from wharfie.linux import ns

        if self.runc_root:
            return self._prepare_runc()
        process = self.spec["process"]
        tty = bool(process.get("terminal"))
        ns.unshare(ns.CLONE_NEWPID)  # our next child is PID 1 of a new namespace
        go_r, self.go_w = os.pipe()
        self.err_r, err_w = os.pipe2(os.O_CLOEXEC)
        self.console: socket.socket | None = None
        console_child: socket.socket | None = None
        child_stdio: tuple[int, int, int] = (0, 1, 2)
        mine: dict[str, int] = {}
        if tty:
            self.console, console_child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        else:
            child_stdio, mine = self._pipes()
        pid = os.fork()
        if pid == 0:  # the container
            from wharfie.runtime import init

            os.close(self.go_w)
            os.close(self.err_r)
            init.run(self.spec, child_stdio, console_child.fileno() if console_child else None, go_r, err_w)
        os.close(go_r)
        os.close(err_w)
        if console_child is not None:
            console_child.close()
        else:
            for fd in set(child_stdio) - set(mine.values()):
                os.close(fd)
        out_fds = {}
        if not tty:
            out_fds = {mine["stdout"]: "stdout", mine["stderr"]: "stderr"}
        self.init = Process(pid, tty, out_fds, mine.get("stdin"), None)
        self.by_pid[pid] = self.init
        self._join_cgroup(pid)
        return pid

    def _prepare_runc(self) -> int:
        """The same bundle under runc: `runc create` now, `runc start` at the gate."""
        from wharfie.linux import prctl
        from wharfie.runtime import runc

        prctl.set_child_subreaper(True)  # the container reparents to us when runc exits
        tty = bool(self.spec["process"].get("terminal"))
        mine: dict[str, int] = {}
        if tty:
            null = os.open(os.devnull, os.O_RDWR)
            child_stdio = (null, null, null)
        else:
            child_stdio, mine = self._pipes()
        pid, master, err = runc.create(self.runc_root, self.dir, self.opts["id"], child_stdio, tty)
        for fd in set(child_stdio) - set(mine.values()):
            os.close(fd)
        if err:
            raise RuntimeError(err)
        if master is not None:
            _set_winsize(master, self.opts.get("console_size"))
            mine = {"stdout": master, **({"stdin": os.dup(master)} if self.opts.get("open_stdin") else {})}
        out_fds = {mine["stdout"]: "stdout", **({mine["stderr"]: "stderr"} if "stderr" in mine else {})}
        self.init = Process(pid, tty, out_fds, mine.get("stdin"), master)
        self.by_pid[pid] = self.init
        self.status = "created"
        return pid

    def _pipes(self) -> tuple[tuple[int, int, int], dict[str, int]]:
        """(child's stdin/out/err, our ends) without a TTY."""
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        mine = {"stdout": out_r, "stderr": err_r}
        if self.opts.get("open_stdin"):
            in_r, in_w = os.pipe()
            mine["stdin"] = in_w
        else:
            in_r = os.open(os.devnull, os.O_RDONLY)
        return (in_r, out_w, err_w), mine

    def _join_cgroup(self, pid: int) -> None:
        path = self.spec["linux"].get("cgroupsPath")
        if not path:
            return
        from wharfie.linux import cgroups

        self.cgroup = cgroups.Cgroup.create(path.strip("/"))
        self.cgroup.apply(self.spec["linux"].get("resources") or {})
        self.cgroup.add(pid)

    # -- main loop -----------------------------------------------------------------------
    def serve(self, listener: socket.socket) -> None:
        rfd, wfd = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.set_wakeup_fd(wfd)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        self.sel.register(rfd, selectors.EVENT_READ, ("signal", rfd))
        self.sel.register(listener, selectors.EVENT_READ, ("accept", listener))
        assert self.init is not None
        while True:
            timeout = None if self.exit_deadline is None else max(0.0, self.exit_deadline - time.monotonic())
            for key, mask in self.sel.select(timeout):
                kind, obj = key.data
                if kind == "client":
                    self._on_client(obj, mask)
                else:
                    getattr(self, f"_on_{kind}")(obj)
            self._reap()
            if self.exit_info is not None and self._finished():
                return

    def _finished(self) -> bool:
        """Exit once the init is gone and nobody still needs us (or after a grace period)."""
        busy = any(c.mode in ("attach", "exec") for p in self.by_pid.values() for c in p.clients) or any(
            key.data[0] == "client" and key.data[1].closing for key in self.sel.get_map().values())
        return not busy or (self.exit_deadline is not None and time.monotonic() >= self.exit_deadline)

    def _on_signal(self, fd: int) -> None:
        try:
            os.read(fd, 512)
        except BlockingIOError:
            pass

    def _on_accept(self, listener: socket.socket) -> None:
        try:
            sock, _ = listener.accept()
        except OSError:
            return  # EMFILE, ECONNABORTED…: the client retries; the supervisor must live on
        sock.setblocking(False)
        client = Client(sock)
        client.sync = self._sync
        self.sel.register(sock, selectors.EVENT_READ, ("client", client))

    def _sync(self, c: Client) -> None:
        """(Re)register a client for what it needs: input while reading, output while behind."""
        if c.mode == "done":
            return
        events = (selectors.EVENT_READ if c.reading else 0) | (selectors.EVENT_WRITE if c.out else 0)
        try:
            registered = self.sel.get_key(c.sock)
        except (KeyError, ValueError):
            registered = None
        if not events:
            if registered is not None:
                self.sel.unregister(c.sock)
        elif registered is None:
            self.sel.register(c.sock, events, ("client", c))
        elif registered.events != events:
            self.sel.modify(c.sock, events, ("client", c))

    def _finish(self, c: Client) -> None:
        """End a stream: half-close once everything queued has gone out."""
        if c.out:
            c.closing, c.reading = True, False
            self._sync(c)
            return
        try:
            c.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        self._drop(c)

    def _on_client(self, client: Client, mask: int = selectors.EVENT_READ) -> None:
        if mask & selectors.EVENT_WRITE:
            if not client.flush():
                return self._drop(client)
            if not client.out:
                if client.closing:
                    return self._finish(client)
                self._sync(client)
        if not mask & selectors.EVENT_READ or client.mode == "done":
            return
        try:
            data = client.sock.recv(READ)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if client.mode == "request":
            if not data:
                return self._drop(client)
            client.buf += data
            if b"\n" not in client.buf:
                if len(client.buf) > 1 << 20:
                    self._drop(client)
                return
            line, _, rest = client.buf.partition(b"\n")
            client.buf = b""
            try:
                req = json.loads(line)
                self._dispatch(client, req)
            except Exception as e:  # a bad request must not kill the container's supervisor
                client.reply({"error": f"{type(e).__name__}: {e}"})
                self._drop(client)
                return
            if rest and client.stdin_target is not None:
                self._stdin(client, rest)
            return
        if client.stdin_target is not None:
            self._stdin(client, data)
        elif not data:
            if client.mode == "attach":
                # A half-close: the client still reads output, so keep it but stop polling.
                self._unwatch(client)
            else:
                self._drop(client)

    def _stdin(self, client: Client, data: bytes) -> None:
        """Queue client bytes for the process's stdin; written as the process reads them.

        Never a blocking write: a process that writes output while we push input would
        otherwise deadlock against us (we'd stop reading its stdout). A client that gets far
        ahead of the process is paused until the queue drains.
        """
        target = client.stdin_target
        assert target is not None
        if not data:  # the client half-closed: its stdin ended
            client.stdin_target = None
            self._unwatch(client)  # EOF stays readable: stop polling it
            if client.mode == "request":
                self._drop(client)
            # A pty has no EOF to pass (the shell exits on its own on ctrl-d). The init's stdin
            # closes only with StdinOnce (`run -i` attached); otherwise it stays open for the
            # next `attach`, like Docker. An exec's stdin belongs to its one client.
            once = target.exec_id is not None or bool(self.opts.get("stdin_once"))
            if not target.tty and once:
                target.stdin_eof = True
                self._flush_stdin(target)
            return
        if target.stdin_fd is None:
            return
        target.stdin_buf += data
        self._flush_stdin(target)
        if len(target.stdin_buf) > STDIN_HIGH_WATER:
            self._unwatch(client)
            target.paused.append(client)

    def _flush_stdin(self, proc: Process) -> None:
        fd = proc.stdin_fd
        if fd is None:
            return
        while proc.stdin_buf:
            try:
                n = os.write(fd, proc.stdin_buf)
            except BlockingIOError:
                break
            except OSError:
                proc.stdin_buf.clear()  # the process closed its stdin: drop the rest
                break
            del proc.stdin_buf[:n]
        want_write = bool(proc.stdin_buf)
        if want_write != proc.stdin_watched:
            if want_write:
                self.sel.register(fd, selectors.EVENT_WRITE, ("stdin_ready", proc))
            else:
                self.sel.unregister(fd)
            proc.stdin_watched = want_write
        if not proc.stdin_buf:
            for c in proc.paused:
                c.reading = True
                self._sync(c)
            proc.paused.clear()
            if proc.stdin_eof:
                os.close(fd)
                proc.stdin_fd = None

    def _on_stdin_ready(self, proc: Process) -> None:
        self._flush_stdin(proc)

    def _unwatch(self, client: Client) -> None:
        client.reading = False
        self._sync(client)

    def _drop(self, client: Client) -> None:
        try:
            self.sel.unregister(client.sock)
        except (KeyError, ValueError):
            pass
        client.sock.close()
        client.mode = "done"
        for p in self.by_pid.values():
            if client in p.clients:
                p.clients.remove(client)
        if client in self.waiters:
            self.waiters.remove(client)

    # -- requests ------------------------------------------------------------------------
    def _dispatch(self, client: Client, req: dict[str, Any]) -> None:
        op = req.get("op")
        assert self.init is not None
        if op == "state":
            client.reply(self._state())
        elif op == "start":
            self._start(client)
        elif op == "attach":
            self._attach(client, self.init, req)
        elif op == "wait":
            if self.exit_info is not None:
                client.reply(self.exit_info)
                self._drop(client)
            else:
                client.mode = "wait"
                self.waiters.append(client)
        elif op == "kill":
            self._kill(int(req.get("signal", signal.SIGKILL)), bool(req.get("all")))
            client.reply({"ok": True})
        elif op == "resize":
            proc = self.execs.get(req["exec"]) if req.get("exec") else self.init
            if proc is not None and proc.master is not None:
                _set_winsize(proc.master, [req.get("height", 0), req.get("width", 0)])
            client.reply({"ok": True})
        elif op == "exec":
            self._exec(client, req)
        elif op == "exec-state":
            proc = self.execs.get(req.get("id", ""))
            if proc is None:
                client.reply({"error": "no such exec"})
            else:
                client.reply({"running": proc.exit_status is None, "pid": proc.pid,
                              "exit_code": proc.exit_status})
        else:
            client.reply({"error": f"unknown op {op!r}"})
        if client.mode == "request" and client.stdin_target is None:
            self._drop(client)

    def _state(self) -> dict[str, Any]:
        assert self.init is not None
        return {"pid": self.init.pid, "status": self.status, "exit": self.exit_info,
                "start_error": self.start_error}

    def _start(self, client: Client) -> None:
        assert self.init is not None
        if self.status != "created":
            client.reply({"pid": self.init.pid} if not self.start_error else
                         {"error": self.start_error, "exit_code": 127})
            return
        if self.runc_root:
            self._start_runc(client)
            return
        os.write(self.go_w, b"G")
        os.close(self.go_w)
        if self.console is not None:
            master = receive_console(self.console)
            self.console = None
            if master is not None:
                _set_winsize(master, self.opts.get("console_size"))
                self.init.master = master
                self.init.out_fds = {master: "stdout"}
                self.init.open_outputs = 1
                if self.opts.get("open_stdin"):
                    self.init.stdin_fd = os.dup(master)  # its own registration for writes
                    os.set_blocking(self.init.stdin_fd, False)
        for fd in self.init.out_fds:
            os.set_blocking(fd, False)
            self.sel.register(fd, selectors.EVENT_READ, ("output", (self.init, fd)))
        err = b""
        while chunk := os.read(self.err_r, 4096):  # closes empty on a successful exec
            err += chunk
        os.close(self.err_r)
        if err:
            self.start_error = err.decode(errors="replace")
            self.status = "exited"
            code = _code_for(self.start_error)
            client.reply({"error": self.start_error, "exit_code": code})
            for fd in list(self.init.out_fds):  # nothing will ever be written: end the streams
                self.sel.unregister(fd)
                os.close(fd)
            self.init.open_outputs = 0
            self.init.exit_status = code
            self._close_streams(self.init)
            return
        self.status = "running"
        write_json_atomic(os.path.join(self.dir, "state.json"),
                          {"pid": self.init.pid, "started_at": rfc3339nano(time.time_ns())})
        client.reply({"pid": self.init.pid})

    def _start_runc(self, client: Client) -> None:
        from wharfie.runtime import runc

        assert self.init is not None
        for fd in self.init.out_fds:
            os.set_blocking(fd, False)
            self.sel.register(fd, selectors.EVENT_READ, ("output", (self.init, fd)))
        err = runc.start(self.runc_root, self.opts["id"])
        if err:
            self.start_error = err
            client.reply({"error": err, "exit_code": _code_for(err)})
            return
        self.status = "running"
        write_json_atomic(os.path.join(self.dir, "state.json"),
                          {"pid": self.init.pid, "started_at": rfc3339nano(time.time_ns())})
        client.reply({"pid": self.init.pid})

    def _attach(self, client: Client, proc: Process, req: dict[str, Any], reply: bool = True) -> None:
        client.want = {s for s in ("stdout", "stderr") if req.get(s)}
        # framing: the process's own unless the client asked (an exec *start*'s Tty)
        client.tty = proc.tty if req.get("tty") is None else bool(req["tty"])
        if proc.tty and "stdout" in client.want:
            client.want.add("stderr")
        if req.get("stdin"):  # (a TTY's master, our stdin end, only exists once started)
            client.stdin_target = proc
        if reply:
            client.reply({"ok": True})
        if proc.exit_status is not None and proc.open_outputs == 0:
            self._drop(client)  # nothing more will ever come
            return
        client.mode = "attach"
        proc.clients.append(client)

    def _kill(self, sig: int, all_procs: bool) -> None:
        assert self.init is not None
        if self.exit_info is not None:
            return
        try:
            os.kill(self.init.pid, sig)
        except ProcessLookupError:
            pass
        if all_procs and self.cgroup is not None:
            self.cgroup.kill_all(sig)

    def _exec(self, client: Client, req: dict[str, Any]) -> None:
        from wharfie.runtime import execproc

        assert self.init is not None
        if self.status != "running":
            client.reply({"error": f"container is not running ({self.status})"})
            return
        attach = req.get("attach")
        if self.runc_root:
            self._exec_runc(client, req)
            return
        proc = execproc.spawn(self.init.pid, req["process"], self.spec, attach is not None, self.cgroup,
                              with_stdin=bool(attach and attach.get("stdin")))
        if proc.error:
            client.reply({"error": proc.error, "exit_code": _code_for(proc.error)})
            write_json_atomic(os.path.join(self.dir, f"exec-{req['id']}.json"),
                              {"exit_code": _code_for(proc.error), "error": proc.error})
            return
        proc_obj = Process(proc.pid, proc.tty, proc.out_fds, proc.stdin_fd, proc.master, req["id"])
        self.execs[req["id"]] = proc_obj
        self.by_pid[proc.pid] = proc_obj
        for fd in proc.out_fds:
            os.set_blocking(fd, False)
            self.sel.register(fd, selectors.EVENT_READ, ("output", (proc_obj, fd)))
        client.reply({"pid": proc.pid})
        if attach is not None:
            self._attach(client, proc_obj, attach, reply=False)

    def _exec_runc(self, client: Client, req: dict[str, Any]) -> None:
        from wharfie.runtime import runc

        popen, master = runc.exec_process(self.runc_root, self.dir, self.opts["id"], req["id"], req["process"])
        self.runc_execs[req["id"]] = popen
        if master is not None:
            out_fds, stdin_fd = {master: "stdout"}, os.dup(master)
        else:
            assert popen.stdout is not None and popen.stderr is not None and popen.stdin is not None
            out_fds = {popen.stdout.fileno(): "stdout", popen.stderr.fileno(): "stderr"}
            stdin_fd = popen.stdin.fileno()
        proc = Process(popen.pid, master is not None, out_fds, stdin_fd, master, req["id"])
        self.execs[req["id"]] = proc
        self.by_pid[popen.pid] = proc
        for fd in out_fds:
            os.set_blocking(fd, False)
            self.sel.register(fd, selectors.EVENT_READ, ("output", (proc, fd)))
        client.reply({"pid": popen.pid})
        if req.get("attach") is not None:
            self._attach(client, proc, req["attach"], reply=False)

    # -- output and exits ----------------------------------------------------------------
    def _on_output(self, item: tuple[Process, int]) -> None:
        proc, fd = item
        try:
            data = os.read(fd, READ)
        except BlockingIOError:
            return
        except OSError:
            data = b""  # EIO: the pty's other side is gone
        stream = proc.out_fds[fd]
        if not data:
            self.sel.unregister(fd)
            os.close(fd)
            proc.open_outputs -= 1
            if proc.open_outputs == 0:
                self._outputs_done(proc)
            return
        if proc is self.init:
            self.log.write(stream, data)
        framed = proc.frame(stream, data)
        for c in list(proc.clients):
            out = framed if c.tty == proc.tty else data if c.tty else _mux(stream, data)
            if stream in c.want and not c.send(out):
                self._drop(c)

    def _outputs_done(self, proc: Process) -> None:
        if proc is self.init:
            self.log.flush_partial()
        if proc.exit_status is not None:
            self._close_streams(proc)

    def _close_streams(self, proc: Process) -> None:
        for c in list(proc.clients):
            if c in proc.clients:
                proc.clients.remove(c)
            self._finish(c)
        if proc is self.init:
            self._finish_init()

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            proc = self.by_pid.get(pid)
            if proc is None:
                continue
            proc.exit_status = os.waitstatus_to_exitcode(status)
            if proc.exit_status < 0:
                proc.exit_status = 128 - proc.exit_status  # killed by signal N → 128+N
            if proc.exec_id is not None:
                try:
                    write_json_atomic(os.path.join(self.dir, f"exec-{proc.exec_id}.json"),
                                      {"exit_code": proc.exit_status})
                except FileNotFoundError:
                    pass  # the container is gone and the daemon cleaned our state dir
                if proc.master is not None:  # an exec's pty: nothing more to resize
                    proc.master = None
            if proc.open_outputs == 0:
                self._close_streams(proc)
            elif proc is self.init and proc.master is not None:
                pass  # the pty drains to EIO next
            if proc is self.init:
                self.status = "exited"

    def _finish_init(self) -> None:
        assert self.init is not None and self.init.exit_status is not None
        if self.exit_info is not None:
            return
        oom = False
        if self.cgroup is not None:
            try:
                oom = self.cgroup.oom_killed()
            except OSError:
                pass
        self.exit_info = {"exit_code": self.init.exit_status, "oom_killed": oom,
                          "finished_at": rfc3339nano(time.time_ns())}
        if self.runc_root:
            from wharfie.runtime import runc

            runc.delete(self.runc_root, self.opts["id"])
        self.log.close()
        try:
            write_json_atomic(os.path.join(self.dir, "exit.json"), self.exit_info)
        except FileNotFoundError:
            pass  # the daemon already cleaned up (it learned the exit from us)
        for w in list(self.waiters):
            w.reply(self.exit_info)
            self._drop(w)
        self.exit_deadline = time.monotonic() + 2.0  # let exec/attach readers finish


def receive_console(sock: socket.socket) -> int | None:
    """The pty master a container (or exec) process sends before it execs; None if it died."""
    try:
        _, fds, _, _ = socket.recv_fds(sock, 16, 1)
    except OSError:
        fds = []
    finally:
        sock.close()
    return fds[0] if fds else None


def _code_for(message: str) -> int:
    return 127 if ("not found" in message or "no such file" in message) else 126


def _set_winsize(fd: int, size: Any) -> None:
    if not size or not size[0] or not size[1]:
        return
    import fcntl
    import termios

    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", int(size[0]), int(size[1]), 0, 0))


def main(argv: list[str]) -> int:
    state_dir = argv[0]
    shim = Shim(state_dir)
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_IGN)
    sock_path = os.path.join(state_dir, "shim.sock")
    if os.path.exists(sock_path):
        os.unlink(sock_path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    dir_fd = os.open(state_dir, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:  # through the dir fd: the full path may exceed AF_UNIX's 108 bytes
        listener.bind(f"/proc/self/fd/{dir_fd}/shim.sock")
    finally:
        os.close(dir_fd)
        os.umask(old)
    listener.listen(64)
    listener.setblocking(False)
    # The daemon reads our first line on the pipe whose fd number it passed us.
    report = os.fdopen(int(argv[1]), "w") if len(argv) > 1 else None
    try:
        pid = shim.prepare()
    except Exception as e:
        if report:
            text = str(e) if isinstance(e, RuntimeError) else f"{type(e).__name__}: {e}"
            report.write(json.dumps({"error": text}) + "\n")
            report.close()
        return 1
    with open(os.path.join(state_dir, "shim.pid"), "w") as fh:
        fh.write(str(os.getpid()))
    if report:
        report.write(json.dumps({"pid": pid, "shim_pid": os.getpid()}) + "\n")
        report.close()
    bound = os.stat(sock_path).st_ino
    shim.serve(listener)
    listener.close()
    try:  # only our own socket: a restarted container's new shim may already own the path
        if os.stat(sock_path).st_ino == bound:
            os.unlink(sock_path)
    except FileNotFoundError:
        pass  # the daemon already cleaned up our state dir
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
