"""``wharfie stats``: live resource usage, computed from ``GET /containers/{id}/stats``
exactly like docker (``calculateCPUPercentUnix``, memory usage minus inactive file
cache, block I/O from ``io_service_bytes_recursive``), redrawn every 500 ms.

Without container arguments every running container (``-a``: every container) is
shown, following ``start``/``die`` (``create``) events as they come.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from wharfie.cli import formatter
from wharfie.cli.command import FORMAT_HELP, PROG, Cli, CLIError, Command, Flag, Options
from wharfie.cli.gotemplate import GoStruct

DEFAULT_TABLE = ("table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t"
                 "{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}")
WINDOWS_TABLE = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.NetIO}}\t{{.BlockIO}}"
HEADER = {
    "Container": "CONTAINER",
    "Name": "NAME",
    "ID": "CONTAINER ID",
    "CPUPerc": "CPU %",
    "MemUsage": "MEM USAGE / LIMIT",
    "MemPerc": "MEM %",
    "NetIO": "NET I/O",
    "BlockIO": "BLOCK I/O",
    "PIDs": "PIDS",
}
NO_VALUE = "--"


def _u(value: Any) -> int:
    """A uint64 field as Go decodes it (missing/null → 0)."""
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def cpu_percent_unix(v: dict[str, Any]) -> float:
    """``calculateCPUPercentUnix`` (the previous sample is the response's precpu_stats)."""
    cpu = v.get("cpu_stats") or {}
    pre = v.get("precpu_stats") or {}
    cpu_delta = float(_u((cpu.get("cpu_usage") or {}).get("total_usage"))) - float(
        _u((pre.get("cpu_usage") or {}).get("total_usage")))
    system_delta = float(_u(cpu.get("system_cpu_usage"))) - float(_u(pre.get("system_cpu_usage")))
    online = float(_u(cpu.get("online_cpus")))
    if online == 0.0:
        online = float(len((cpu.get("cpu_usage") or {}).get("percpu_usage") or []))
    if system_delta > 0.0 and cpu_delta > 0.0:
        return (cpu_delta / system_delta) * online * 100.0
    return 0.0


def mem_usage_no_cache(mem: dict[str, Any]) -> float:
    """``calculateMemUsageUnixNoCache``: usage minus (total_)inactive_file."""
    usage = _u(mem.get("usage"))
    stats = mem.get("stats") or {}
    if "total_inactive_file" in stats:
        v = _u(stats["total_inactive_file"])
        if v < usage:
            return float(usage - v)
    v = _u(stats.get("inactive_file"))
    if v < usage:
        return float(usage - v)
    return float(usage)


def block_io(blkio: dict[str, Any]) -> tuple[int, int]:
    read = write = 0
    for entry in blkio.get("io_service_bytes_recursive") or []:
        op = str(entry.get("op") or "")
        if not op:
            continue
        if op[0] in "rR":
            read += _u(entry.get("value"))
        elif op[0] in "wW":
            write += _u(entry.get("value"))
    return read, write


def network_io(networks: dict[str, Any]) -> tuple[float, float]:
    rx = tx = 0.0
    for n in (networks or {}).values():
        rx += float(_u(n.get("rx_bytes")))
        tx += float(_u(n.get("tx_bytes")))
    return rx, tx


class Stats:
    """One container's latest numbers (docker's ``Stats``/``StatsEntry``)."""

    def __init__(self, container: str) -> None:
        self.container = container
        self.lock = threading.Lock()
        self.entry: dict[str, Any] = self._empty()
        self.error: BaseException | None = None
        self.first = threading.Event()

    @staticmethod
    def _empty() -> dict[str, Any]:
        return {"Name": "", "ID": "", "CPUPercentage": 0.0, "Memory": 0.0, "MemoryLimit": 0.0,
                "MemoryPercentage": 0.0, "NetworkRx": 0.0, "NetworkTx": 0.0,
                "BlockRead": 0.0, "BlockWrite": 0.0, "PidsCurrent": 0, "IsInvalid": False}

    def set(self, v: dict[str, Any], os_type: str) -> None:
        entry = self._empty()
        entry["Name"] = str(v.get("name") or "")
        entry["ID"] = str(v.get("id") or "")
        mem = v.get("memory_stats") or {}
        if os_type != "windows":
            entry["CPUPercentage"] = cpu_percent_unix(v)
            entry["BlockRead"], entry["BlockWrite"] = (
                float(x) for x in block_io(v.get("blkio_stats") or {}))
            entry["Memory"] = mem_usage_no_cache(mem)
            entry["MemoryLimit"] = float(_u(mem.get("limit")))
            limit = entry["MemoryLimit"]
            entry["MemoryPercentage"] = entry["Memory"] / limit * 100.0 if limit else 0.0
            entry["PidsCurrent"] = _u((v.get("pids_stats") or {}).get("current"))
        else:
            entry["Memory"] = float(_u(mem.get("privateworkingset")))
        entry["NetworkRx"], entry["NetworkTx"] = network_io(v.get("networks") or {})
        with self.lock:
            self.entry = entry
            self.error = None

    def fail(self, err: BaseException, reset: bool = False) -> None:
        with self.lock:
            if reset:
                self.entry = self._empty()
            self.entry["IsInvalid"] = True
            self.error = err

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return dict(self.entry, Container=self.container)


def collect(cli: Cli, s: Stats, stream: bool, os_type: list[str]) -> None:
    """Read the stats stream for one container until it ends (or one sample)."""
    from wharfie.errors import WharfieError

    got = threading.Event()

    def watchdog() -> None:
        while True:
            if got.wait(2.0):
                got.clear()
                if not stream:
                    return
                continue
            s.fail(CLIError("timeout waiting for stats"), reset=True)
            s.first.set()
            if not stream:
                return

    threading.Thread(target=watchdog, daemon=True).start()
    try:
        resp = cli.client.container_stats(s.container, stream)
    except WharfieError as e:
        s.fail(e)
        s.first.set()
        got.set()
        return
    server = resp.headers.get("Server") or ""
    if "(windows)" in server.lower():
        os_type[0] = "windows"
    try:
        with resp:
            for v in resp.iter_json():
                if not isinstance(v, dict):
                    continue
                s.set(v, os_type[0])
                got.set()
                s.first.set()
                if not stream:
                    return
        s.fail(EOFError("EOF"))  # the stream ended: the container stopped
    except (OSError, ValueError, WharfieError) as e:
        s.fail(e)
    s.first.set()
    got.set()


def stats_row(e: dict[str, Any], os_type: str, trunc: bool) -> GoStruct:
    """The ``*statsContext`` a template sees for one container."""
    invalid = e["IsInvalid"]

    def pct(v: float) -> str:
        return f"{v:.2f}%"

    fields: dict[str, Any] = {
        "Container": e["Container"],
        "Name": e["Name"][1:] if len(e["Name"]) > 1 else NO_VALUE,
        "ID": formatter.truncate_id(e["ID"]) if trunc else e["ID"],
        "CPUPerc": NO_VALUE if invalid else pct(e["CPUPercentage"]),
        "MemUsage": "-- / --" if invalid else (
            formatter.bytes_size(e["Memory"]) if os_type == "windows" else
            f"{formatter.bytes_size(e['Memory'])} / {formatter.bytes_size(e['MemoryLimit'])}"),
        "MemPerc": NO_VALUE if invalid or os_type == "windows" else pct(e["MemoryPercentage"]),
        "NetIO": NO_VALUE if invalid else (
            f"{formatter.human_size_with_precision(e['NetworkRx'], 3)} / "
            f"{formatter.human_size_with_precision(e['NetworkTx'], 3)}"),
        "BlockIO": NO_VALUE if invalid else (
            f"{formatter.human_size_with_precision(e['BlockRead'], 3)} / "
            f"{formatter.human_size_with_precision(e['BlockWrite'], 3)}"),
        "PIDs": NO_VALUE if invalid or os_type == "windows" else str(e["PidsCurrent"]),
    }
    row: GoStruct

    def marshal() -> str:
        from wharfie.cli.gotemplate import go_json

        return go_json({k: row.get_field(k) for k in sorted(fields)}, escape_html=True)

    row = GoStruct("*container.statsContext", fields, marshal=marshal)
    return row


class _Set:
    """The containers being shown, in the order they were added."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.items: list[Stats] = []

    def add(self, s: Stats) -> bool:
        with self.lock:
            if any(x.container == s.container for x in self.items):
                return False
            self.items.append(s)
            return True

    def remove(self, container: str) -> None:
        with self.lock:
            self.items = [x for x in self.items if x.container != container]

    def snapshot(self) -> list[Stats]:
        with self.lock:
            return list(self.items)


def run_stats(cli: Cli, opts: Options, args: list[str]) -> int:
    from wharfie.cli.command import StatusError

    stream = not opts.no_stream
    os_type = [""]
    shown = _Set()
    closed: list[BaseException] = []

    def start_collect(container: str) -> Stats | None:
        s = Stats(container)
        if not shown.add(s):
            return None
        threading.Thread(target=collect, args=(cli, s, stream, os_type), daemon=True).start()
        return s

    show_all = not args
    if show_all:
        _follow_events(cli, opts, start_collect, shown, closed)
        containers = cli.client.containers(all=opts.all) or []
        started = [start_collect(str(c.get("Id") or "")[:12]) for c in containers]
        for s in started:
            if s is not None:
                s.first.wait()
    else:
        started = [start_collect(name) for name in args]
        for s in started:
            if s is not None:
                s.first.wait()
        errors = [str(s.error) for s in shown.snapshot() if s.error is not None]
        if errors:
            raise StatusError(1, "\n".join(errors))

    fmt = opts.format
    if not fmt:
        from wharfie.cli.configfile import load_config

        fmt = str(load_config().get("statsFormat") or "") or formatter.TABLE
    if not os_type[0]:
        os_type[0] = "linux"
    if fmt == formatter.TABLE:
        fmt = WINDOWS_TABLE if os_type[0] == "windows" else DEFAULT_TABLE
    header = dict(HEADER)
    if os_type[0] == "windows":
        header["MemUsage"] = "PRIV WORKING SET"
    out = cli.out
    while True:
        time.sleep(0.5)
        rows = [stats_row(s.snapshot(), os_type[0], not opts.no_trunc)
                for s in shown.snapshot()]
        text = "\x1b[H" if stream else ""
        text += formatter.render(fmt, rows, header)
        if stream:
            text += "".join(f"{line} \x1b[K\n" for line in text.split("\n"))
            text += "\x1b[J"
        out.write(text)
        out.flush()
        if not shown.snapshot() and not show_all:
            break
        if not stream:
            break
        if closed:
            raise CLIError(str(closed[0]))
    return 0


def _follow_events(cli: Cli, opts: Options, start_collect: Any, shown: _Set,
                   closed: list[BaseException]) -> None:
    """Subscribe to container events before listing, like docker (no start is missed)."""
    from wharfie.errors import WharfieError

    resp = cli.client.events(filters={"type": ["container"]})

    def watch() -> None:
        try:
            with resp:
                for msg in resp.iter_json():
                    if not isinstance(msg, dict):
                        continue
                    action = msg.get("Action") or msg.get("status")
                    cid = str((msg.get("Actor") or {}).get("ID") or msg.get("id") or "")[:12]
                    if action == "start" or (action == "create" and opts.all):
                        start_collect(cid)
                    elif action == "die" and not opts.all:
                        shown.remove(cid)
        except (OSError, ValueError, WharfieError) as e:
            closed.append(e)

    threading.Thread(target=watch, name="events", daemon=True).start()


def stats_command() -> Command:
    return Command(
        use="stats [OPTIONS] [CONTAINER...]",
        short="Display a live stream of container(s) resource usage statistics",
        aliases=f"{PROG} container stats, {PROG} stats",
        flags=[
            Flag("all", "a", "bool", "Show all containers (default shows just running)"),
            Flag("no-stream", "", "bool",
                 "Disable streaming stats and only pull the first result"),
            Flag("no-trunc", "", "bool", "Do not truncate output"),
            Flag("format", "", "string", FORMAT_HELP),
        ],
        args=("any", 0),
        run=run_stats,
    )
