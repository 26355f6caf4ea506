"""A BuildKit-style progress view of the legacy builder's stream (``POST /build``).

The legacy builder reports ``Step N/M : INSTR``, `` ---> Using cache``, the RUN output
(stderr wrapped in ``ESC[91m … ESC[0m``), `` ---> <id>`` and ``Successfully built/tagged``
as ``stream`` messages. :class:`BuildProgress` turns them into vertices, the way
BuildKit shows a build:

    #0 [internal] load build context            the context upload
    #0 transferring context: 7.17kB done
    #0 DONE 0.0s

    #2 [2/3] RUN echo hi                        Step 2/3
    #2 0.105 hi                                 output, seconds since the step started
    #2 DONE 0.3s                                or "#2 CACHED" / "#2 ERROR: …"

    #4 exporting to image                       Successfully built / tagged
    #4 writing image sha256:… done
    #4 naming to docker.io/library/x:latest done
    #4 DONE 0.0s

:class:`PlainView` prints exactly that (``--progress=plain``, or when stderr is not a
terminal); :class:`TtyView` keeps finished vertices as one line each and redraws the
running one with its timer and its last output lines. A failed step is followed by
BuildKit's box with its last output lines; :class:`~wharfie.client.errors.StreamError`
(``errorDetail``) ends the build.
"""

from __future__ import annotations

import re
import time
from typing import IO, Any

from wharfie.client.errors import StreamError

_STEP = re.compile(r"Step (\d+)/(\d+) : (.*?)\n?", re.S)
_IMAGE = re.compile(r" ---> ([0-9a-f]{12})\n")
_RUNNING = re.compile(r" ---> Running in [0-9a-f]{12}\n")
_REMOVED = re.compile(r"(?: ---> Removed|Removing) intermediate container [0-9a-f]{12}\n")
_BUILT = re.compile(r"Successfully built ([0-9a-f]{12,64})\n")
_TAGGED = re.compile(r"Successfully tagged (\S+)\n")
_QUIET_ID = re.compile(r"(sha256:[0-9a-f]{64})\n")
_USING_CACHE = " ---> Using cache\n"
_CACHE_MISS = " ---> Cache miss: "
_RED, _RESET = "\x1b[91m", "\x1b[0m"
_CONTROL = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|[\x00-\x08\x0b-\x1f\x7f]")
#: output lines kept per vertex for the live view and the error box
KEEP_LINES = 10
LIVE_LINES = 6


def transfer_size(n: int) -> str:
    """BuildKit's byte counts: ``%.2f`` in decimal units, whole bytes below 1 kB."""
    if n < 1000:
        return f"{n}B"
    value = float(n)
    for unit in ("kB", "MB", "GB", "TB", "PB"):
        value /= 1000.0
        if value < 1000 or unit == "PB":
            return f"{value:.2f}{unit}"
    return f"{n}B"  # pragma: no cover


def _full_name(familiar: str) -> str:
    """``x:tag`` → ``docker.io/library/x:tag`` (``latest`` when untagged)."""
    from wharfie.cli.reference import parse_normalized_named
    from wharfie.errors import WharfieError

    try:
        ref = parse_normalized_named(familiar)
    except WharfieError:
        return familiar
    if not ref.tag and not ref.digest:
        ref.tag = "latest"
    return str(ref)


class Vertex:
    """One line of the build: the context upload, a Dockerfile step, or the export."""

    def __init__(self, index: int, name: str, started: float) -> None:
        self.index = index
        self.name = name
        self.started = started
        self.completed: float | None = None
        self.cached = False
        self.error = ""
        self.statuses: list[str] = []
        self.logs: list[str] = []  # the last KEEP_LINES, "0.123 text"
        self.partial = {"out": "", "err": ""}

    @property
    def duration(self) -> float:
        end = self.completed if self.completed is not None else time.monotonic()
        return max(end - self.started, 0.0)


# --- views -----------------------------------------------------------------------------

class View:
    """What a progress display is told; the default is to show nothing."""

    def started(self, v: Vertex) -> None:
        pass

    def log(self, v: Vertex, line: str, elapsed: float) -> None:
        pass

    def status(self, v: Vertex, text: str) -> None:
        pass

    def done(self, v: Vertex) -> None:
        pass

    def tick(self) -> None:
        pass

    def upload(self, v: Vertex, sent: int) -> None:
        pass

    def message(self, text: str) -> None:
        pass

    def error_box(self, v: Vertex) -> None:
        pass

    def finish(self, ok: bool) -> None:
        pass


def _box(v: Vertex) -> str:
    return "------\n > " + v.name + ":\n" + "".join(line + "\n" for line in v.logs) + "------\n"


class PlainView(View):
    """BuildKit's plain output: every event is one ``#N …`` line."""

    def __init__(self, out: IO[str]) -> None:
        self.out = out
        self.last: Vertex | None = None
        self.blank = False  # a blank line goes between groups

    def _line(self, v: Vertex | None, text: str) -> None:
        if self.last is not v or v is None:
            if self.blank:
                self.out.write("\n")
            self.blank = True
            self.last = v
            if v is not None:
                header = f"#{v.index} {v.name}"
                self.out.write(header + "\n")
                if text == header:
                    self.out.flush()
                    return
        self.out.write(text + "\n")
        self.out.flush()

    def started(self, v: Vertex) -> None:
        self._line(v, f"#{v.index} {v.name}")

    def log(self, v: Vertex, line: str, elapsed: float) -> None:
        self._line(v, f"#{v.index} {elapsed:.3f} {line}")

    def status(self, v: Vertex, text: str) -> None:
        self._line(v, f"#{v.index} {text} done")

    def done(self, v: Vertex) -> None:
        if v.error:
            self._line(v, f"#{v.index} ERROR: {v.error}")
        elif v.cached:
            self._line(v, f"#{v.index} CACHED")
        else:
            self._line(v, f"#{v.index} DONE {v.duration:.1f}s")

    def message(self, text: str) -> None:
        self._line(None, text)

    def error_box(self, v: Vertex) -> None:
        self.out.write(_box(v))
        self.out.flush()


class TtyView(View):
    """The live view: finished vertices stay as one line each; the running one is
    redrawn below them with its timer and its last output lines, under a
    ``[+] Building 1.2s (3/6)`` line."""

    def __init__(self, out: IO[str], width: int, total: Any) -> None:
        self.out = out
        self.width = max(width, 20)
        self.total = total  # () -> int: vertices known so far
        self.begun = time.monotonic()
        self.current: Vertex | None = None
        self.live: list[str] = []  # the current vertex's last output lines
        self.finished = 0
        self.drawn = 0
        self.last_draw = 0.0
        self.closed = False
        self.out.write("\x1b[?25l")  # hide the cursor while redrawing

    def _row(self, prefix: str, name: str, seconds: float | None) -> str:
        timer = "" if seconds is None else f"{seconds:.1f}s"
        room = self.width - 1 - len(timer) - 1
        text = prefix + name
        if len(text) > room:
            text = text[:max(room - 1, 0)] + "…" if room > 1 else ""
        return text.ljust(room) + " " + timer if timer else text[:self.width - 1]

    def _clear(self) -> None:
        if self.drawn:
            self.out.write(f"\r\x1b[{self.drawn}A\x1b[J")
            self.drawn = 0

    def _draw(self) -> None:
        lines = [self._header(running=True)]
        v = self.current
        if v is not None:
            lines.append(self._row(" => ", v.name, v.duration))
            lines += [self._row(" => => # ", text, None) for text in self.live[-LIVE_LINES:]]
        self.out.write("".join(line + "\n" for line in lines))
        self.drawn = len(lines)
        self.out.flush()
        self.last_draw = time.monotonic()

    def _header(self, running: bool) -> str:
        elapsed = time.monotonic() - self.begun
        state = "" if running else " FINISHED"
        return f"[+] Building {elapsed:.1f}s ({self.finished}/{max(self.total(), self.finished)}){state}"

    def _permanent(self, lines: list[str]) -> None:
        self._clear()
        self.out.write("".join(line + "\n" for line in lines))
        self._draw()

    def started(self, v: Vertex) -> None:
        self.current = v
        self.live = []
        self._clear()
        self._draw()

    def log(self, v: Vertex, line: str, elapsed: float) -> None:
        self.live.append(_CONTROL.sub("", line).replace("\t", "    "))  # keep the layout
        del self.live[:-LIVE_LINES]
        if time.monotonic() - self.last_draw >= 0.05:
            self._clear()
            self._draw()

    def status(self, v: Vertex, text: str) -> None:
        self.live = [text]  # shown with the vertex's line once it is done
        self.tick()

    def done(self, v: Vertex) -> None:
        self.finished += 1
        if self.current is v:
            self.current = None
        prefix = " => ERROR " if v.error else " => CACHED " if v.cached else " => "
        lines = [self._row(prefix, v.name, 0.0 if v.cached else v.duration)]
        lines += [self._row(" => => ", text, 0.0) for text in v.statuses]
        self._permanent(lines)

    def message(self, text: str) -> None:
        self._permanent([self._row("", line, None) for line in text.split("\n")])

    def upload(self, v: Vertex, sent: int) -> None:
        if time.monotonic() - self.last_draw >= 0.1:
            self.live = [f"transferring context: {transfer_size(sent)}"]
            self._clear()
            self._draw()

    def tick(self) -> None:
        self._clear()
        self._draw()

    def error_box(self, v: Vertex) -> None:
        self._permanent(_box(v).rstrip("\n").split("\n"))

    def finish(self, ok: bool) -> None:
        if self.closed:
            return
        self.closed = True
        self._clear()
        if ok:
            self.out.write(self._header(running=False) + "\n")
        self.out.write("\x1b[?25h")
        self.out.flush()


# --- the stream ----------------------------------------------------------------------

class BuildProgress:
    """Reads the legacy build stream into vertices and tells a :class:`View`."""

    def __init__(self, view: View) -> None:
        self.view = view
        self.vertices: list[Vertex] = []
        self.steps: dict[int, Vertex] = {}
        self.current: Vertex | None = None
        self.context: Vertex | None = None
        self.export: Vertex | None = None
        self.running = False
        self.step_line_open = False  # moby writes "Step N/M : X" and its "\n" apart
        self.total_steps = 0
        self.aux_id = ""       # the last aux {"ID": …}: what docker writes to --iidfile
        self.built = ""        # "Successfully built <id>"
        self.quiet_id = ""     # the q=1 answer: "sha256:…\n"
        self.failed: Vertex | None = None

    def known_vertices(self) -> int:
        return len(self.vertices) if not self.total_steps else self.total_steps + 2

    @property
    def image_id(self) -> str:
        """The built image's ID as docker's CLI sees it (aux first)."""
        return self.aux_id or self.quiet_id or self.built

    # the context upload -------------------------------------------------------------
    def upload_started(self) -> None:
        v = Vertex(0, "[internal] load build context", time.monotonic())
        self.context = v
        self.vertices.append(v)
        self.view.started(v)

    def upload_progress(self, sent: int) -> None:
        if self.context is None:
            self.upload_started()
        assert self.context is not None
        self.view.upload(self.context, sent)

    def upload_failed(self, message: str) -> None:
        """The daemon refused the build (an HTTP error)."""
        v = self.context
        if v is not None and v.completed is None:
            v.error = message
            v.completed = time.monotonic()
            self.view.done(v)
        self.view.finish(False)

    def upload_done(self, sent: int) -> None:
        if self.context is None:
            self.upload_started()
        v = self.context
        assert v is not None
        v.completed = time.monotonic()
        text = f"transferring context: {transfer_size(sent)}"
        v.statuses.append(text)
        self.view.status(v, text)
        self.view.done(v)

    # messages ------------------------------------------------------------------------
    def feed(self, msg: Any) -> None:
        """One decoded JSON message; raises StreamError on ``errorDetail``."""
        if not isinstance(msg, dict):
            return
        aux = msg.get("aux")
        if isinstance(aux, dict):
            image_id = aux.get("ID")
            if isinstance(image_id, str) and image_id:
                self.aux_id = image_id
            return
        err = msg.get("errorDetail")
        if err:
            if not isinstance(err, dict):
                err = {"message": str(err)}
            self._fail(str(err.get("message", "")), err.get("code"))
        stream = msg.get("stream")
        if isinstance(stream, str) and stream:
            self._stream(stream)
            return
        status = msg.get("status")
        if isinstance(status, str) and status and not msg.get("progressDetail"):
            if msg.get("id"):  # a pull the daemon does for FROM
                status = f"{msg['id']}: {status}"
            self._log(status if status.endswith("\n") else status + "\n")

    def _stream(self, text: str) -> None:
        if self.step_line_open:
            self.step_line_open = False
            if text == "\n":
                return
        if self.running:
            if _REMOVED.fullmatch(text):
                self.running = False
                return
            m = _IMAGE.fullmatch(text)
            if m is None:
                self._log(text)
                return
            self.running = False
        m = _STEP.fullmatch(text)
        if m:
            self._step(int(m.group(1)), int(m.group(2)), m.group(3))
            self.step_line_open = not text.endswith("\n")
            return
        if text == _USING_CACHE and self.current is not None:
            self.current.cached = True
            return
        if _RUNNING.fullmatch(text):
            self.running = True
            return
        if text.startswith(_CACHE_MISS):
            self._log("cache miss: " + text[len(_CACHE_MISS):])
            return
        if _REMOVED.fullmatch(text):
            return
        if _IMAGE.fullmatch(text):
            self._complete_current()
            return
        m = _BUILT.fullmatch(text)
        if m:
            self._complete_current()
            self.built = m.group(1)
            shown = self.aux_id if self.aux_id.startswith("sha256:" + self.built) else ""
            self._export_status(f"writing image {shown or 'sha256:' + self.built}")
            return
        m = _TAGGED.fullmatch(text)
        if m:
            self._export_status(f"naming to {_full_name(m.group(1))}")
            return
        m = _QUIET_ID.fullmatch(text)
        if m and self.current is None:
            self.quiet_id = m.group(1)
            return
        self._log(text)

    def _step(self, n: int, total: int, instruction: str) -> None:
        self._complete_current()
        self.total_steps = max(self.total_steps, total)
        first, newline, _ = instruction.partition("\n")  # a heredoc: its first line
        name = f"[{n}/{total}] {first}" + (" …" if newline else "")
        v = Vertex(n, name, time.monotonic())
        self.vertices.append(v)
        self.steps[n] = v
        self.current = v
        self.running = False
        self.view.started(v)

    def _log(self, text: str) -> None:
        v = self.current
        if v is None:
            self._outside(text)
            return
        key = "out"
        if text.startswith(_RED) and text.endswith(_RESET):
            text, key = text[len(_RED):-len(_RESET)], "err"
        data = v.partial[key] + text
        *lines, v.partial[key] = data.split("\n")
        for line in lines:
            self._emit_line(v, line)

    def _emit_line(self, v: Vertex, line: str) -> None:
        line = line.rstrip("\r")
        if "\r" in line:
            line = line.rsplit("\r", 1)[1]
        elapsed = time.monotonic() - v.started
        v.logs.append(f"{elapsed:.3f} {line}")
        del v.logs[:-KEEP_LINES]
        self.view.log(v, line, elapsed)

    def _outside(self, text: str) -> None:
        """Text that belongs to no step (a daemon warning): shown as it is."""
        text = text.rstrip("\n")
        if text:
            self.view.message(text)

    def _complete_current(self) -> None:
        v = self.current
        if v is None:
            return
        for key in ("out", "err"):
            if v.partial[key]:
                rest, v.partial[key] = v.partial[key], ""
                self._emit_line(v, rest)
        v.completed = time.monotonic()
        self.current = None
        self.running = False
        self.view.done(v)

    def _export_status(self, text: str) -> None:
        if self.export is None:
            v = Vertex(self.total_steps + 1, "exporting to image", time.monotonic())
            self.vertices.append(v)
            self.export = v
            self.view.started(v)
        self.export.statuses.append(text)
        self.view.status(self.export, text)

    def _fail(self, message: str, code: Any) -> None:
        v = self.current
        if v is not None:
            for key in ("out", "err"):
                if v.partial[key]:
                    rest, v.partial[key] = v.partial[key], ""
                    self._emit_line(v, rest)
            v.error = message
            v.completed = time.monotonic()
            self.current = None
            self.failed = v
            self.view.done(v)
            self.view.error_box(v)
        self.view.finish(False)
        raise StreamError(message, code if isinstance(code, int) else 0)

    def close(self) -> None:
        """The stream ended without an error."""
        self._complete_current()
        if self.export is not None and self.export.completed is None:
            self.export.completed = time.monotonic()
            self.view.done(self.export)
        self.view.finish(True)
