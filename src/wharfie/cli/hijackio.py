"""An attached session: copying stdio over a hijacked connection, like docker's
``hijackedIOStreamer``, plus the raw terminal, TTY resizing and signal proxying
that ``run``/``start -a``/``attach``/``exec`` wrap around it.

Threads, not asyncio: one thread copies the daemon's output to our stdout/stderr
(demultiplexing docker's 8-byte frames unless the container has a TTY), one copies
our stdin to the connection and half-closes it at EOF, and signal handlers only
enqueue work for a dispatcher thread (an HTTP request must never run inside a
signal handler).
"""

from __future__ import annotations

import os
import queue
import signal
import threading
import time
from collections.abc import Callable
from typing import IO, Any

from wharfie.client.hijack import STDERR, FrameDemuxer, HijackedConnection

#: docker's default detach sequence: ctrl-p, ctrl-q
DEFAULT_ESCAPE_KEYS = b"\x10\x11"


class Detached(Exception):
    """The user typed the detach sequence (``term.EscapeError``)."""

    def __init__(self) -> None:
        super().__init__("read escape sequence")


def detach_keys_to_bytes(keys: str) -> bytes:
    """``term.ToBytes``: ``ctrl-p,ctrl-q`` / ``a,b`` → the key bytes."""
    out = bytearray()
    for key in keys.split(","):
        key = key.strip()
        if len(key) > 1 and not key.startswith("ctrl-"):
            raise ValueError(f"Unknown character: '{key}'")
        if len(key) == 1:
            out.append(ord(key))
            continue
        ch = key[5:].lower() if key.startswith("ctrl-") else ""
        if len(ch) != 1:
            raise ValueError(f"Unknown character: '{key}'")
        if "a" <= ch <= "z":
            out.append(ord(ch) - ord("a") + 1)
        elif ch == "@":
            out.append(0)
        elif ch in "[\\]^_":
            out.append(27 + "[\\]^_".index(ch))
        else:
            raise ValueError(f"Unknown character: '{key}'")
    return bytes(out)


class EscapeProxy:
    """``term.NewEscapeProxy``: pass input through until the escape sequence."""

    def __init__(self, keys: bytes) -> None:
        self.keys = keys
        self.pos = 0

    def feed(self, data: bytes) -> tuple[bytes, bool]:
        """Returns (bytes to forward, escaped?)."""
        out = bytearray()
        for b in data:
            if b == self.keys[self.pos]:
                self.pos += 1
                if self.pos == len(self.keys):
                    return bytes(out), True
                continue
            if self.pos:
                out += self.keys[: self.pos]
                self.pos = 0
                if b == self.keys[0]:
                    self.pos = 1
                    continue
            out.append(b)
        return bytes(out), False


# ----------------------------------------------------------------------------
# terminal


def terminal_size(fd: int) -> tuple[int, int]:
    """(height, width) of the terminal on ``fd``, (0, 0) if it is none."""
    try:
        if not os.isatty(fd):
            return 0, 0
        size = os.get_terminal_size(fd)
    except OSError:
        return 0, 0
    return size.lines, size.columns


class RawTerminal:
    """``term.MakeRaw`` on our stdin; :meth:`restore` puts the saved modes back."""

    def __init__(self, fd: int) -> None:
        import termios

        self.fd = fd
        self.saved = termios.tcgetattr(fd)
        self._restored = False
        attrs = termios.tcgetattr(fd)
        iflag, oflag, cflag, lflag = attrs[0], attrs[1], attrs[2], attrs[3]
        iflag &= ~(termios.IGNBRK | termios.BRKINT | termios.PARMRK | termios.ISTRIP
                   | termios.INLCR | termios.IGNCR | termios.ICRNL | termios.IXON)
        oflag &= ~termios.OPOST
        lflag &= ~(termios.ECHO | termios.ECHONL | termios.ICANON | termios.ISIG
                   | termios.IEXTEN)
        cflag &= ~(termios.CSIZE | termios.PARENB)
        cflag |= termios.CS8
        attrs[0], attrs[1], attrs[2], attrs[3] = iflag, oflag, cflag, lflag
        cc = list(attrs[6])
        cc[termios.VMIN] = 1
        cc[termios.VTIME] = 0
        attrs[6] = cc
        termios.tcsetattr(fd, termios.TCSADRAIN, attrs)

    def restore(self) -> None:
        if self._restored:
            return
        self._restored = True
        import termios

        try:
            termios.tcsetattr(self.fd, termios.TCSADRAIN, self.saved)
        except (OSError, termios.error):
            pass


# ----------------------------------------------------------------------------
# signals


def _catchable_signals() -> list[int]:
    skip = {signal.SIGKILL, signal.SIGSTOP, signal.SIGCHLD, signal.SIGPIPE, signal.SIGURG,
            signal.SIGSEGV, signal.SIGBUS, signal.SIGFPE, signal.SIGILL}
    return sorted(int(s) for s in signal.valid_signals() if s not in skip)


def signal_name(signum: int) -> str:
    """moby ``signal.SignalMap`` key for a number: ``TERM``, ``RTMIN+3``…"""
    rtmin, rtmax = signal.SIGRTMIN, signal.SIGRTMAX
    if rtmin <= signum <= rtmax:
        if signum == rtmin:
            return "RTMIN"
        if signum == rtmax:
            return "RTMAX"
        if signum - rtmin <= 15:
            return f"RTMIN+{signum - rtmin}"
        return f"RTMAX-{rtmax - signum}"
    try:
        return signal.Signals(signum).name[3:]
    except ValueError:
        return ""


class SignalDispatcher:
    """Signal handlers that hand the signal to callbacks on a worker thread."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[int | None] = queue.SimpleQueue()
        self._callbacks: dict[int, list[Callable[[int], None]]] = {}
        self._previous: dict[int, Any] = {}
        self._thread: threading.Thread | None = None

    def add(self, signums: list[int], callback: Callable[[int], None]) -> None:
        for signum in signums:
            if signum not in self._previous:
                try:
                    self._previous[signum] = signal.signal(signum, self._handler)
                except (OSError, ValueError):
                    continue
            self._callbacks.setdefault(signum, []).append(callback)
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="signals", daemon=True)
            self._thread.start()

    def _handler(self, signum: int, frame: Any) -> None:
        self._queue.put(signum)

    def _run(self) -> None:
        while True:
            signum = self._queue.get()
            if signum is None:
                return
            for callback in self._callbacks.get(signum, []):
                try:
                    callback(signum)
                except Exception:  # noqa: BLE001 - like docker: logged at debug, ignored
                    pass

    def close(self) -> None:
        for signum, previous in self._previous.items():
            try:
                signal.signal(signum, previous if previous is not None else signal.SIG_DFL)
            except (OSError, ValueError):
                pass
        self._previous.clear()
        if self._thread is not None:
            self._queue.put(None)


def proxy_signals(dispatcher: SignalDispatcher, kill: Callable[[str], None]) -> None:
    """``ForwardAllSignals``: every catchable signal becomes ``kill?signal=NAME``."""

    def forward(signum: int) -> None:
        name = signal_name(signum)
        if name:
            kill(name)

    dispatcher.add(_catchable_signals(), forward)


def force_exit_after_3(dispatcher: SignalDispatcher, err: IO[str],
                       restore: Callable[[], None], on_first: Callable[[], None] | None = None,
                       ) -> None:
    """docker's termination handling for commands that outlive a ^C: the first
    SIGINT/SIGTERM only cancels (``on_first``), the third forces exit status 1."""
    count = [0]

    def handle(_signum: int) -> None:
        count[0] += 1
        if count[0] == 1:
            if on_first is not None:
                on_first()
            return
        if count[0] >= 3:
            err.write("\ngot 3 SIGTERM/SIGINTs, forcefully exiting\n")
            err.flush()
            restore()
            os._exit(1)

    dispatcher.add([signal.SIGINT, signal.SIGTERM], handle)


def monitor_tty_size(dispatcher: SignalDispatcher, resize: Callable[[int, int], None],
                     out_fd: int, err: IO[str], initial: tuple[int, int] | None = None) -> None:
    """``MonitorTtySize``: resize now (retrying like docker), then on SIGWINCH."""

    def resize_now() -> bool:
        h, w = terminal_size(out_fd)
        if h == 0 and w == 0:
            return True
        try:
            resize(h, w)
        except Exception:  # noqa: BLE001
            return False
        return True

    if initial is not None:
        try:
            resize(*initial)
        except Exception:  # noqa: BLE001
            pass
    if not resize_now():
        def retry() -> None:
            for attempt in range(10):
                time.sleep((attempt + 1) * 0.01)
                if resize_now():
                    return
            err.write("failed to resize tty, using default size\n")
            err.flush()

        threading.Thread(target=retry, daemon=True).start()
    def on_winch(_signum: int) -> None:
        resize_now()

    dispatcher.add([signal.SIGWINCH], on_winch)


# ----------------------------------------------------------------------------
# the streamer


class Streamer:
    """``hijackedIOStreamer``: copy stdin to the connection and its output back.

    ``stdin`` is a file descriptor or a binary stream (or None: nothing attached,
    the write side is closed at once); ``stdout``/``stderr`` are binary streams (None when not
    attached). With ``tty`` the output is raw and stdin goes into raw mode.
    """

    def __init__(
        self,
        conn: HijackedConnection,
        *,
        tty: bool,
        stdin: int | IO[bytes] | None,
        stdout: IO[bytes] | None,
        stderr: IO[bytes] | None,
        detach_keys: str = "",
        raw_terminal: bool = True,
    ) -> None:
        self.conn = conn
        self.tty = tty
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr
        self.escape_keys = DEFAULT_ESCAPE_KEYS
        if detach_keys:
            try:
                self.escape_keys = detach_keys_to_bytes(detach_keys) or DEFAULT_ESCAPE_KEYS
            except ValueError:
                self.escape_keys = DEFAULT_ESCAPE_KEYS
        self.raw_terminal = raw_terminal
        self._terminal: RawTerminal | None = None
        self._cond = threading.Condition()
        self._out_done = False
        self._out_error: BaseException | None = None
        self._in_done = False
        self._detached = False

    # lifecycle ----------------------------------------------------------------
    def start(self) -> None:
        if (isinstance(self.stdin, int) and self.tty and self.raw_terminal
                and os.isatty(self.stdin)):
            try:
                self._terminal = RawTerminal(self.stdin)
            except Exception as e:  # noqa: BLE001
                raise RuntimeError(
                    f"unable to setup input stream: unable to set IO streams as raw terminal: {e}"
                ) from None
        if self.stdout is not None or self.stderr is not None:
            threading.Thread(target=self._copy_output, name="output", daemon=True).start()
        threading.Thread(target=self._copy_input, name="input", daemon=True).start()

    def restore(self) -> None:
        if self._terminal is not None:
            self._terminal.restore()

    def close(self) -> None:
        self.restore()
        self.conn.close()

    def wait(self, cancelled: threading.Event | None = None) -> BaseException | None:
        """Block like ``stream()``: returns None, the output error, or :class:`Detached`."""
        attached_output = self.stdout is not None or self.stderr is not None
        with self._cond:
            while True:
                if self._out_done:
                    return self._out_error
                if self._detached:
                    return Detached()
                if self._in_done and not attached_output:
                    return None
                if cancelled is not None and cancelled.is_set():
                    return None
                self._cond.wait(0.1)

    def _notify(self, **flags: Any) -> None:
        with self._cond:
            for key, value in flags.items():
                setattr(self, key, value)
            self._cond.notify_all()

    # copying ------------------------------------------------------------------
    def _copy_output(self) -> None:
        error: BaseException | None = None
        try:
            if self.tty and self.stdout is not None:
                for chunk in self.conn.iter_chunks():
                    self.stdout.write(chunk)
                    self.stdout.flush()
                self.restore()
            else:
                demux = FrameDemuxer()
                for chunk in self.conn.iter_chunks():
                    for stream, payload in demux.feed(chunk):
                        if stream == 3:
                            raise RuntimeError(
                                "error from daemon in stream: "
                                + payload.decode(errors="replace"))
                        sink = self.stderr if stream == STDERR else self.stdout
                        if sink is not None:
                            sink.write(payload)
                            sink.flush()
        except (OSError, ValueError, RuntimeError) as e:
            error = e
        self._notify(_out_done=True, _out_error=error)

    def _read_stdin(self) -> bytes:
        src = self.stdin
        if isinstance(src, int):
            return os.read(src, 32 * 1024)
        assert src is not None
        read1 = getattr(src, "read1", None)
        return bytes(read1(32 * 1024) if read1 is not None else src.read(32 * 1024))

    def _copy_input(self) -> None:
        if self.stdin is not None:
            proxy = EscapeProxy(self.escape_keys) if self._terminal is not None else None
            try:
                while True:
                    data = self._read_stdin()
                    if not data:
                        break
                    if proxy is not None:
                        data, escaped = proxy.feed(data)
                        if data:
                            self.conn.sendall(data)
                        if escaped:
                            self.restore()
                            self._notify(_detached=True)
                            return
                        continue
                    self.conn.sendall(data)
            except OSError:
                pass
            self.restore()
        self.conn.close_write()
        self._notify(_in_done=True)


def stream_output(chunks: Any, tty: bool, stdout: IO[bytes], stderr: IO[bytes]) -> None:
    """Copy a (non-hijacked) output stream: raw with a TTY, else ``StdCopy``."""
    if tty:
        for chunk in chunks:
            stdout.write(chunk)
            stdout.flush()
        return
    demux = FrameDemuxer()
    for chunk in chunks:
        for stream, payload in demux.feed(chunk):
            if stream == 3:
                from wharfie.errors import WharfieError

                raise WharfieError(
                    "error from daemon in stream: " + payload.decode(errors="replace"))
            sink = stderr if stream == STDERR else stdout
            sink.write(payload)
            sink.flush()


def stdin_fd(stream: Any) -> int | None:
    """The file descriptor of a binary or text input stream, if it has one."""
    try:
        return int(stream.fileno())
    except (AttributeError, ValueError, OSError):
        return None
