"""`--change` instructions for `import` (and later `commit`): Dockerfile lines applied to a config.

Only the instructions Docker accepts there: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, USER,
VOLUME, WORKDIR, STOPSIGNAL.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from typing import Any

from wharfie.errors import InvalidArgument

ALLOWED = ("CMD", "ENTRYPOINT", "ENV", "EXPOSE", "LABEL", "ONBUILD", "USER", "VOLUME", "WORKDIR", "STOPSIGNAL")


def apply_changes(config: dict[str, Any], changes: list[str]) -> dict[str, Any]:
    """Apply each change line to a container config (the image config's `config` object)."""
    for line in changes:
        line = line.strip()
        if not line:
            continue
        word, _, rest = line.partition(" ")
        instr = word.upper()
        rest = rest.strip()
        if instr not in ALLOWED:
            raise InvalidArgument(f"{word} is not a valid change command")
        _APPLY[instr](config, rest)
    return config


def _json_or_shell(rest: str) -> list[str]:
    if rest.startswith("["):
        try:
            value = json.loads(rest)
            if isinstance(value, list) and all(isinstance(v, str) for v in value):
                return value
        except ValueError:
            pass
    return ["/bin/sh", "-c", rest]


def _pairs(rest: str, instr: str) -> list[tuple[str, str]]:
    """`k=v k2="v 2"` pairs, or the legacy `key value with spaces` single pair."""
    try:
        words = shlex.split(rest, posix=True)
    except ValueError as e:
        raise InvalidArgument(f"{instr}: {e}") from e
    if not words:
        raise InvalidArgument(f"{instr} requires at least one argument")
    if "=" not in words[0]:
        key, _, value = rest.partition(" ")
        return [(key, value.strip())]
    out = []
    for w in words:
        key, sep, value = w.partition("=")
        if not sep or not key:
            raise InvalidArgument(f"{instr} names can not be blank: {w!r}")
        out.append((key, value))
    return out


def _cmd(c: dict[str, Any], rest: str) -> None:
    c["Cmd"] = _json_or_shell(rest)


def _entrypoint(c: dict[str, Any], rest: str) -> None:
    c["Entrypoint"] = _json_or_shell(rest)


def _env(c: dict[str, Any], rest: str) -> None:
    env = list(c.get("Env") or [])
    for key, value in _pairs(rest, "ENV"):
        env = [e for e in env if e.split("=", 1)[0] != key] + [f"{key}={value}"]
    c["Env"] = env


def _label(c: dict[str, Any], rest: str) -> None:
    labels = dict(c.get("Labels") or {})
    labels.update(_pairs(rest, "LABEL"))
    c["Labels"] = labels


def _expose(c: dict[str, Any], rest: str) -> None:
    ports = dict(c.get("ExposedPorts") or {})
    for spec in rest.split():
        port, _, proto = spec.partition("/")
        proto = (proto or "tcp").lower()
        lo, _, hi = port.partition("-")
        if not lo.isdigit() or (hi and not hi.isdigit()):
            raise InvalidArgument(f"invalid containerPort: {port}")
        for p in range(int(lo), int(hi or lo) + 1):
            ports[f"{p}/{proto}"] = {}
    c["ExposedPorts"] = ports


def _volume(c: dict[str, Any], rest: str) -> None:
    vols = dict(c.get("Volumes") or {})
    paths = _json_or_shell(rest) if rest.startswith("[") else rest.split()
    if paths[:2] == ["/bin/sh", "-c"]:
        paths = rest.split()
    for p in paths:
        vols[p] = {}
    c["Volumes"] = vols


def _onbuild(c: dict[str, Any], rest: str) -> None:
    c["OnBuild"] = list(c.get("OnBuild") or []) + [rest]


def _setter(key: str) -> Callable[[dict[str, Any], str], None]:
    def apply(c: dict[str, Any], rest: str) -> None:
        c[key] = rest
    return apply


_APPLY = {
    "CMD": _cmd, "ENTRYPOINT": _entrypoint, "ENV": _env, "LABEL": _label, "EXPOSE": _expose,
    "VOLUME": _volume, "ONBUILD": _onbuild, "USER": _setter("User"),
    "WORKDIR": _setter("WorkingDir"), "STOPSIGNAL": _setter("StopSignal"),
}
