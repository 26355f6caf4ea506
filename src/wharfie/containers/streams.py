"""Byte streams of containers: attach, exec, logs.

Attach and exec splice a hijacked client connection to a shim stream: output flows
shim → client (already framed by the shim), stdin client → shim, and a client half-close
becomes a half-close towards the shim (the container's stdin ends).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import struct
from collections.abc import AsyncIterator
from typing import Any

from wharfie.containers.service import ContainerService, StartError
from wharfie.errors import Conflict, InvalidArgument, NotFound, NotImplementedByDriver, WharfieError
from wharfie.runtime import logfile

STREAM_IDS = {"stdout": 1, "stderr": 2}
DEFAULT_DETACH_KEYS = "ctrl-p,ctrl-q"
_CTRL = {f"ctrl-{c}": i for i, c in enumerate("@abcdefghijklmnopqrstuvwxyz[\\]^_")}


def parse_detach_keys(spec: str) -> bytes:
    """`ctrl-p,ctrl-q`, `a,ctrl-\\`, `DEL` → bytes (the format of moby's term.ToBytes)."""
    out = bytearray()
    for key in spec.split(","):
        if len(key) == 1:
            out += key.encode()[:1]
        elif key in _CTRL:
            out.append(_CTRL[key])
        elif key == "DEL":
            out.append(127)
        else:
            raise InvalidArgument(f"Invalid detach keys ({spec}) provided")
    return bytes(out)


class EscapeProxy:
    """Docker's detach-key proxy over a client's stdin: bytes matching the start of the
    sequence are held back; a mismatch passes them (and the byte) through; the whole
    sequence detaches the client."""

    def __init__(self, keys: bytes) -> None:
        self.keys, self.pos = keys, 0

    def feed(self, data: bytes) -> tuple[bytes, bool]:
        """(bytes to pass on, detached?)"""
        if not self.pos and self.keys[0] not in data:
            return data, False
        out = bytearray()
        for b in data:
            if b == self.keys[self.pos]:
                self.pos += 1
                if self.pos == len(self.keys):
                    self.pos = 0
                    return bytes(out), True
                continue
            if self.pos:
                out += self.keys[:self.pos]
                self.pos = 0
            out.append(b)
        return bytes(out), False


async def splice(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter, early: bytes,
                 shim_r: asyncio.StreamReader, shim_w: asyncio.StreamWriter, stdin: bool,
                 detach_keys: bytes = b"") -> bool:
    """Returns True when the client detached with its detach keys (the process runs on)."""
    escape = EscapeProxy(detach_keys) if stdin and detach_keys else None
    detached = False

    async def upstream() -> None:
        nonlocal detached
        data = early
        while True:
            if data and stdin:
                if escape is not None:
                    data, detached = escape.feed(data)
                shim_w.write(data)
                await shim_w.drain()
                if detached:  # no EOF towards the container: the client just goes away
                    shim_w.close()
                    return
            data = await client_r.read(65536)
            if not data:
                break
        if stdin and shim_w.can_write_eof():
            shim_w.write_eof()

    async def downstream() -> None:
        while True:
            data = await shim_r.read(65536)
            if not data:
                break
            client_w.write(data)
            await client_w.drain()

    up = asyncio.ensure_future(upstream())
    try:
        await downstream()
    except (ConnectionError, OSError):
        pass
    finally:
        up.cancel()
        with contextlib.suppress(BaseException):
            await up
        for w in (shim_w, client_w):
            with contextlib.suppress(Exception):
                w.close()
    return detached


class AttachSlot:
    """An attach request, registered *before* the 101 goes out.

    The docker CLI sends `start` as soon as it has the 101, so the shim side must be wired
    before then: a container not yet running connects the slot to its shim right before the
    shim releases the process, and the client side joins when the hijack runs.
    """

    def __init__(self, svc: ContainerService, ref: str, stdin: bool, stdout: bool, stderr: bool,
                 detach_keys: str = "", *, logs: bool = False, stream: bool = True) -> None:
        doc = svc.get(ref)
        self.svc, self.cid, self.stdin = svc, doc["Id"], stdin
        # like dockerd: `logs` replays what the container logged first; without `stream`
        # the attach ends there (it never waits for the container)
        self.logs, self.stream, self.outputs = logs, stream, (stdout, stderr)
        # like dockerd: detach keys apply to a TTY container's stdin only
        keys = parse_detach_keys(detach_keys or DEFAULT_DETACH_KEYS)
        self.detach_keys = keys if doc["Config"].get("Tty") else b""
        self.req = {"op": "attach", "stdin": stdin, "stdout": stdout, "stderr": stderr}
        self.shim: asyncio.Future[tuple[asyncio.StreamReader, asyncio.StreamWriter] | None] = \
            asyncio.get_running_loop().create_future()
        if not doc["State"]["Running"] and stream:
            svc.pending_attach.setdefault(self.cid, []).append(self.connect)

    def abandon(self) -> None:
        """The container never started: end the client's stream."""
        if not self.shim.done():
            self.shim.set_result(None)

    async def connect(self) -> None:
        if self.shim.done():
            return
        try:
            reply, shim_r, shim_w = await self.svc.shim(self.cid).stream(self.req)
        except NotFound:
            self.shim.set_result(None)
            return
        if "error" in reply:
            shim_w.close()
            self.shim.set_result(None)
            return
        self.shim.set_result((shim_r, shim_w))

    async def run(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter, early: bytes) -> None:
        try:
            if self.logs and self.svc.get(self.cid)["LogPath"]:  # (the `none` driver has nothing)
                async for chunk in logs(self.svc, self.cid, stdout=self.outputs[0], stderr=self.outputs[1],
                                        follow=False, since_ns=0, until_ns=0, tail="all", timestamps=False):
                    client_w.write(chunk)
                    await client_w.drain()
            if not self.stream:
                return
            if not self.shim.done() and self.svc.get(self.cid)["State"]["Running"]:
                await self.connect()
            got = await self.shim
            if got is not None and await splice(client_r, client_w, early, got[0], got[1], self.stdin,
                                                self.detach_keys):
                with contextlib.suppress(NotFound):
                    self.svc.emit(self.svc.get(self.cid), "detach")
        except ConnectionError:
            pass  # the client went away
        finally:
            pending = self.svc.pending_attach.get(self.cid, [])
            if self.connect in pending:
                pending.remove(self.connect)
            client_w.close()


# -- exec ------------------------------------------------------------------------------------
def exec_create(svc: ContainerService, ref: str, body: dict[str, Any]) -> str:
    doc = svc.get(ref)
    if not doc["State"]["Running"]:
        raise Conflict(f"container {doc['Id']} is not running")
    if doc["State"]["Paused"]:
        raise Conflict(f"container {doc['Id']} is paused, unpause the container before exec")
    cmd = body.get("Cmd") or []
    if not cmd:
        raise InvalidArgument("No exec command specified")
    # docker-py sends `detachKeys`: Go decodes JSON keys case-insensitively
    detach_keys = next((v for k, v in body.items() if k.lower() == "detachkeys"), None) or ""
    if not isinstance(detach_keys, str):
        raise InvalidArgument("DetachKeys must be a string")
    parse_detach_keys(detach_keys or DEFAULT_DETACH_KEYS)  # a bad spec is the client's error, now
    eid = secrets.token_hex(32)
    svc.execs[eid] = {
        "ID": eid, "ContainerID": doc["Id"], "Running": False, "ExitCode": None, "Pid": 0,
        "OpenStdin": bool(body.get("AttachStdin")), "OpenStdout": bool(body.get("AttachStdout")),
        "OpenStderr": bool(body.get("AttachStderr")), "CanRemove": False, "DetachKeys": detach_keys,
        "ProcessConfig": {"tty": bool(body.get("Tty")), "entrypoint": cmd[0], "arguments": cmd[1:],
                          "privileged": bool(body.get("Privileged")), "user": body.get("User") or ""},
        "_body": body, "_started": False,
    }
    doc["ExecIDs"] = (doc.get("ExecIDs") or []) + [eid]
    svc.emit(doc, f"exec_create: {' '.join(cmd)}", execID=eid)
    return eid


def exec_framing_raw(rec: dict[str, Any], start_tty: bool | None) -> bool:
    """Raw output (True) or 8-byte frames: like dockerd, the start request's `Tty` decides
    when it is given; the exec's create-time `Tty` otherwise."""
    return bool(rec["ProcessConfig"]["tty"]) if start_tty is None else bool(start_tty)


def exec_record(svc: ContainerService, eid: str) -> dict[str, Any]:
    rec = svc.execs.get(eid)
    if rec is None:
        raise NotFound(f"No such exec instance: {eid}")
    return rec


def exec_process(svc: ContainerService, cid: str, body: dict[str, Any]) -> dict[str, Any]:
    """An exec's OCI process: the container's, with the exec's command, env, user, cwd
    (`body` as in `POST /containers/{id}/exec`)."""
    import json

    from wharfie.containers.specbuilder import resolve_user

    doc = svc.get(cid)
    with open(os.path.join(svc.state_dir(doc["Id"]), "config.json")) as fh:
        spec = json.load(fh)
    process = dict(spec["process"])
    env = list(process.get("env") or [])
    for e in body.get("Env") or []:
        k = e.split("=", 1)[0]
        env = [x for x in env if x.split("=", 1)[0] != k] + [e]
    process.update(args=list(body["Cmd"]), env=env, terminal=bool(body.get("Tty")),
                   cwd=body.get("WorkingDir") or process.get("cwd") or "/")
    if body.get("User"):
        u = resolve_user(spec["root"]["path"], body["User"])
        process["user"] = {"uid": u.uid, "gid": u.gid, "additionalGids": u.additional_gids}
    if body.get("Privileged"):
        from wharfie.runtime.spec import _all_caps

        allc = _all_caps()
        process["capabilities"] = {"bounding": allc, "effective": allc, "permitted": allc}
    return process


async def exec_start(svc: ContainerService, eid: str, detach: bool, tty: bool | None,
                     client: tuple[asyncio.StreamReader, asyncio.StreamWriter, bytes] | None) -> None:
    rec = exec_record(svc, eid)
    if rec["_started"]:
        raise Conflict(f"Exec command {eid} has already run")
    doc = svc.get(rec["ContainerID"])
    if not doc["State"]["Running"]:
        raise Conflict(f"container {doc['Id']} is not running")
    rec["_started"] = True
    raw = exec_framing_raw(rec, tty)
    try:
        process = await asyncio.to_thread(exec_process, svc, rec["ContainerID"], rec["_body"])
    except WharfieError as e:  # after the 101 the error can only go down the stream
        rec.update(Running=False, ExitCode=126)
        if client is None:
            raise
        client[1].write(_frame("stdout", f"{e}\r\n".encode(), raw))
        await client[1].drain()
        client[1].close()
        return
    attach = None if detach else {"stdin": rec["OpenStdin"], "stdout": rec["OpenStdout"] or True,
                                  "stderr": rec["OpenStderr"] or True, "tty": raw}
    req = {"op": "exec", "id": eid, "process": process, "attach": attach}
    reply, shim_r, shim_w = await svc.shim(doc["Id"]).stream(req)
    if "error" in reply:
        shim_w.close()
        rec.update(Running=False, ExitCode=int(reply.get("exit_code", 126)))
        msg = f"OCI runtime exec failed: exec failed: unable to start container process: {reply['error']}: unknown"
        if client is not None:  # like dockerd: the error goes down the stream, as stdout
            client[1].write(_frame("stdout", msg.encode() + b"\r\n", raw))
            await client[1].drain()
            client[1].close()
            return
        raise StartError(msg, rec["ExitCode"])
    rec.update(Running=True, Pid=int(reply["pid"]))
    svc.emit(doc, f"exec_start: {' '.join(process['args'])}", execID=eid)
    if client is None:
        shim_w.close()
        return
    keys = parse_detach_keys(rec["DetachKeys"] or DEFAULT_DETACH_KEYS) if process.get("terminal") else b""
    if await splice(client[0], client[1], client[2], shim_r, shim_w, rec["OpenStdin"], keys):
        svc.emit(doc, f"exec_detach: {' '.join(process['args'])}", execID=eid)
    await refresh_exec(svc, rec)


async def refresh_exec(svc: ContainerService, rec: dict[str, Any]) -> None:
    """Ask the shim (or its leftovers) how an exec is doing."""
    if not rec["Running"]:
        return
    cid = rec["ContainerID"]
    for _ in range(50):
        try:
            state = await svc.shim(cid).request({"op": "exec-state", "id": rec["ID"]}, timeout=5)
        except (NotFound, OSError, TimeoutError):
            state = None
        if state is None:
            import json

            path = os.path.join(svc.state_dir(cid), f"exec-{rec['ID']}.json")
            try:
                with open(path) as fh:
                    rec.update(Running=False, ExitCode=json.load(fh).get("exit_code"))
            except (OSError, ValueError):
                pass
            return
        if not state.get("running", True):
            rec.update(Running=False, ExitCode=state.get("exit_code"))
            return
        await asyncio.sleep(0.02)


def exec_inspect(rec: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in rec.items() if not k.startswith("_")}


# -- logs ------------------------------------------------------------------------------------
def _frame(stream: str, data: bytes, tty: bool) -> bytes:
    if tty:
        return data
    return struct.pack(">BxxxI", STREAM_IDS.get(stream, 1), len(data)) + data


def check_readable_logs(doc: dict[str, Any]) -> None:
    if not doc["LogPath"]:  # the `none` log driver stores nothing
        raise NotImplementedByDriver("configured logging driver does not support reading")


async def logs(svc: ContainerService, ref: str, *, stdout: bool, stderr: bool, follow: bool,
               since_ns: int, until_ns: int, tail: str, timestamps: bool) -> AsyncIterator[bytes]:
    doc = svc.get(ref)
    check_readable_logs(doc)
    tty = bool(doc["Config"].get("Tty"))
    path = doc["LogPath"]
    want = {s for s, on in (("stdout", stdout), ("stderr", stderr)) if on}

    def render(e: logfile.Entry) -> bytes | None:
        if e.stream not in want or e.time_ns < since_ns or (until_ns and e.time_ns > until_ns):
            return None
        data = (e.time.encode() + b" " + e.data) if timestamps else e.data
        return _frame(e.stream, data, tty)

    try:  # where the snapshot ends is where a follower starts: no line lost in between
        st = os.stat(path)
        start = (st.st_ino, st.st_size)
    except FileNotFoundError:
        start = (0, 0)
    entries = await asyncio.to_thread(lambda: list(logfile.read_entries(path, start[1])))
    if tail not in ("", "all"):
        try:
            n = int(tail)
        except ValueError:
            n = -1
        if n >= 0:
            entries = entries[-n:] if n else []
    for e in entries:
        out = render(e)
        if out:
            yield out
    if not follow or (until_ns and until_ns < _now_ns()):
        return
    async for e in _follow(svc, doc["Id"], path, start):
        if until_ns and e.time_ns > until_ns:
            return
        out = render(e)
        if out:
            yield out


def _now_ns() -> int:
    import time

    return time.time_ns()


FOLLOW_CHUNK = 256 << 10


async def _follow(svc: ContainerService, cid: str, path: str,
                  start: tuple[int, int]) -> AsyncIterator[logfile.Entry]:
    """New entries as the shim appends them, from `start` (inode, offset); survives
    rotation; ends when the container stops."""
    try:
        fh = open(path, "rb")
    except FileNotFoundError:
        fh = None
    if fh is not None:
        same = os.fstat(fh.fileno()).st_ino == start[0]
        fh.seek(start[1] if same else 0)
    partial = b""
    idle_after_stop = 0
    try:
        while True:
            # bounded reads off the loop: a burst of output never stalls other requests
            chunk = await asyncio.to_thread(fh.read, FOLLOW_CHUNK) if fh is not None else b""
            if chunk:
                partial += chunk
                *lines, partial = partial.split(b"\n")
                for line in lines:
                    entry = logfile.parse_line(line)
                    if entry is not None:
                        yield entry
                continue
            try:
                doc = svc.get(cid)
            except NotFound:
                return
            if not doc["State"]["Running"] and not doc["State"]["Restarting"]:
                idle_after_stop += 1
                if idle_after_stop > 2:
                    return
            if fh is None or _rotated(fh, path):
                if fh is not None:
                    fh.close()
                try:
                    fh = open(path, "rb")
                except FileNotFoundError:
                    fh = None
            await asyncio.sleep(0.05)
    finally:
        if fh is not None:
            fh.close()


def _rotated(fh: Any, path: str) -> bool:
    try:
        return os.stat(path).st_ino != os.fstat(fh.fileno()).st_ino
    except FileNotFoundError:
        return True
