"""Per-interface counters of a container's network namespace (`docker stats` NET I/O)."""

from __future__ import annotations

FIELDS = ("rx_bytes", "rx_packets", "rx_errors", "rx_dropped", None, None, None, None,
          "tx_bytes", "tx_packets", "tx_errors", "tx_dropped")


def parse(text: str) -> dict[str, dict[str, int]]:
    """`/proc/<pid>/net/dev` → Docker's `networks` map (loopback left out, like Docker)."""
    out: dict[str, dict[str, int]] = {}
    for line in text.splitlines()[2:]:
        name, sep, rest = line.partition(":")
        name = name.strip()
        if not sep or name == "lo":
            continue
        values = rest.split()
        out[name] = {k: int(v) for k, v in zip(FIELDS, values, strict=False) if k}
    return out


def of_pid(pid: int) -> dict[str, dict[str, int]]:
    try:
        with open(f"/proc/{pid}/net/dev") as fh:
            return parse(fh.read())
    except OSError:
        return {}
