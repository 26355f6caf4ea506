"""`RUN --mount=…` and `RUN --device=…` values: CSV `key=value` fields, BuildKit's rules.

A mount is read twice, like BuildKit does: at parse time without an expander (only the
syntax and the "no variables in `from`" rule are checked), and again at dispatch time with
the step's environment, which fills in every field.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from wharfie.build.dockerfile.suggest import with_hint

MOUNT_TYPES = ("bind", "cache", "tmpfs", "secret", "ssh")
SHARING_MODES = ("shared", "private", "locked")
_MOUNT_KEYS = ("type", "from", "source", "target", "readonly", "id", "sharing", "required",
               "size", "mode", "uid", "gid", "src", "dst", "destination", "ro", "rw",
               "readwrite", "env")
_BINARY = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}
_GO_FLOAT = re.compile(r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
                       r"|inf|infinity|nan)", re.IGNORECASE)


class MountError(Exception):
    """A malformed --mount/--device value; the message is BuildKit's."""


@dataclass(frozen=True)
class Mount:
    type: str = "bind"
    from_: str = ""
    source: str = ""
    target: str = ""
    readonly: bool = False
    size_limit: int = 0
    cache_id: str = ""
    cache_sharing: str = ""
    required: bool = False
    env: str | None = None
    mode: int | None = None
    uid: int | None = None
    gid: int | None = None


@dataclass(frozen=True)
class Device:
    name: str = ""
    required: bool = False


def csv_fields(value: str) -> list[str]:
    """One CSV record (tonistiigi/go-csvvalue): `"` quoting, `""` for a quote."""
    if value.endswith("\r\n"):
        value = value[:-2]
    elif value.endswith("\n"):
        value = value[:-1]
    if value == "":
        raise MountError("EOF")
    fields: list[str] = []
    pos = 0
    while True:
        if not value.startswith('"', pos):
            end = value.find(",", pos)
            text = value[pos:] if end < 0 else value[pos:end]
            if '"' in text:
                raise _csv_error(pos + text.index('"'), 'bare " in non-quoted-field')
            fields.append(text)
            if end < 0:
                return fields
            pos = end + 1
            continue
        pos = _quoted_field(value, pos + 1, fields)
        if pos < 0:
            return fields


def _quoted_field(value: str, pos: int, fields: list[str]) -> int:
    """Read a quoted field starting after its quote: where the next field starts, or -1."""
    parts: list[str] = []
    while True:
        end = value.find('"', pos)
        if end < 0:
            raise _csv_error(pos, 'extraneous or missing " in quoted-field')
        parts.append(value[pos:end])
        pos = end + 1
        if value.startswith('"', pos):
            parts.append('"')
            pos += 1
        elif value.startswith(",", pos):
            fields.append("".join(parts))
            return pos + 1
        elif pos == len(value):
            fields.append("".join(parts))
            return -1
        else:
            raise _csv_error(pos - 1, 'extraneous or missing " in quoted-field')


def _csv_error(pos: int, what: str) -> MountError:
    return MountError(f"parse error on line 1, column {pos + 1}: {what}")


def ram_in_bytes(size: str) -> int:
    """docker/go-units RAMInBytes (`64m`, `1.5GiB`); ValueError when malformed."""
    sep = max(size.rfind(c) for c in "0123456789. ")
    if sep < 0:
        raise ValueError(f"invalid size: '{size}'")
    num, sfx = (size[:sep + 1], size[sep + 1:]) if size[sep] != " " else \
        (size[:sep], size[sep + 1:])
    if not _GO_FLOAT.fullmatch(num):
        raise ValueError(f"invalid size: '{size}'")
    value = float(num)
    if value < 0:
        raise ValueError(f"invalid size: '{size}'")
    sfx = sfx.lower()
    if sfx in ("", "b"):
        return int(value)
    if len(sfx) > 3 or sfx[0] not in _BINARY:
        raise ValueError(f"invalid suffix: '{sfx}'")
    if (len(sfx) == 2 and sfx[1] != "b") or (len(sfx) == 3 and sfx[1:] != "ib"):
        raise ValueError(f"invalid suffix: '{sfx}'")
    return int(value * _BINARY[sfx[0]])


def _parse_bool(key: str, value: str) -> bool:
    # Go's strconv.ParseBool
    if value in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if value in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    raise MountError(f"invalid value for {key}: {value}")


def _parse_uint(value: str, base: int, message: str) -> int:
    if not value or not all(c in "0123456789"[:base] for c in value) \
            or int(value, base) >= 1 << 32:
        raise MountError(message)
    return int(value, base)


class _MountBuilder:
    def __init__(self) -> None:
        self.fields: dict[str, object] = {"type": "bind"}
        self.ro_auto = True

    def bare(self, key: str, field: str) -> None:
        """A field without `=`: only the boolean switches may be written that way."""
        kind = self.fields["type"]
        if key in ("readonly", "ro", "readwrite", "rw"):
            self.fields["readonly"] = key in ("readonly", "ro")
            self.ro_auto = False
        elif key == "required":
            if kind not in ("secret", "ssh"):
                raise MountError(f"unexpected key '{key}' for mount type '{kind}'")
            self.fields["required"] = True
        else:
            raise MountError(f"invalid field '{field}' must be a key=value pair")

    def keyed(self, key: str, value: str, field: str) -> None:
        handler = _MOUNT_SETTERS.get(key)
        if handler is None:
            raise MountError(with_hint(f"unexpected key '{key}' in '{field}'", key,
                                       _MOUNT_KEYS, case_sensitive=True))
        handler(self, key, value)

    def build(self) -> Mount:
        f = self.fields
        kind = f["type"]
        if kind not in ("secret", "ssh", "cache"):
            for key in ("mode", "uid", "gid"):
                if f.get(key) is not None:
                    raise MountError(f'{key} not allowed for "{kind}" type mounts')
        if self.ro_auto:
            f["readonly"] = kind not in ("cache", "tmpfs")
        mount = Mount(**f)  # type: ignore[arg-type]
        _check_mount(mount)
        return mount


def _set_type(b: _MountBuilder, key: str, value: str) -> None:
    kind = value.lower()
    if kind not in MOUNT_TYPES:
        raise MountError(with_hint(f'unsupported mount type "{value}"', value, MOUNT_TYPES,
                                   case_sensitive=True))
    b.fields["type"] = kind


def _set_field(name: str) -> Callable[[_MountBuilder, str, str], None]:
    def setter(b: _MountBuilder, key: str, value: str) -> None:
        b.fields[name] = value
    return setter


def _set_readonly(b: _MountBuilder, key: str, value: str) -> None:
    flag = _parse_bool(key, value)
    b.fields["readonly"] = flag if key in ("readonly", "ro") else not flag
    b.ro_auto = False


def _set_required(b: _MountBuilder, key: str, value: str) -> None:
    if b.fields["type"] not in ("secret", "ssh"):
        raise MountError(f"unexpected key '{key}' for mount type '{b.fields['type']}'")
    b.fields["required"] = _parse_bool(key, value)


def _set_size(b: _MountBuilder, key: str, value: str) -> None:
    if b.fields["type"] != "tmpfs":
        raise MountError(f"unexpected key '{key}' for mount type '{b.fields['type']}'")
    try:
        b.fields["size_limit"] = ram_in_bytes(value)
    except ValueError:
        raise MountError(f"invalid value for {key}: {value}") from None


def _set_sharing(b: _MountBuilder, key: str, value: str) -> None:
    mode = value.lower()
    if mode not in SHARING_MODES:
        raise MountError(with_hint(f'unsupported sharing value "{value}"', value,
                                   SHARING_MODES, case_sensitive=True))
    b.fields["cache_sharing"] = mode


def _set_number(name: str, base: int) -> Callable[[_MountBuilder, str, str], None]:
    def setter(b: _MountBuilder, key: str, value: str) -> None:
        b.fields[name] = _parse_uint(value, base, f"invalid value {value} for {name}")
    return setter


_MOUNT_SETTERS: dict[str, Callable[[_MountBuilder, str, str], None]] = {
    "type": _set_type, "from": _set_field("from_"),
    "source": _set_field("source"), "src": _set_field("source"),
    "target": _set_field("target"), "dst": _set_field("target"),
    "destination": _set_field("target"),
    "readonly": _set_readonly, "ro": _set_readonly, "readwrite": _set_readonly,
    "rw": _set_readonly, "required": _set_required, "size": _set_size,
    "id": _set_field("cache_id"), "sharing": _set_sharing,
    "mode": _set_number("mode", 8), "uid": _set_number("uid", 10),
    "gid": _set_number("gid", 10), "env": _set_field("env"),
}


def _check_mount(m: Mount) -> None:
    if m.type == "secret":
        if m.from_:
            raise MountError("secret mount should not have a from")
        if m.cache_sharing:
            raise MountError("secret mount should not define sharing")
        if not (m.source or m.target or m.cache_id):
            raise MountError("invalid secret mount. one of source, target required")
        if m.source and m.cache_id:
            raise MountError("both source and id can't be set")
    if m.cache_sharing and m.type != "cache":
        raise MountError(f"invalid cache sharing set for {m.type} mount")


def parse_mount(value: str, expander: Callable[[str], str] | None) -> Mount:
    """Parse one --mount value; without an expander only the syntax is checked."""
    try:
        fields = csv_fields(value)
    except MountError as exc:
        raise MountError(f"failed to parse csv mounts: {exc}") from None
    builder = _MountBuilder()
    for field in fields:
        key, has_value, val = field.partition("=")
        key = key.lower()
        if not has_value:
            if expander is not None:
                builder.bare(key, field)
            continue  # evaluated later, with the environment
        if expander is not None:
            val = expander(val)
        elif key == "from":
            idx = val.find("$")
            if idx != -1 and idx != len(val) - 1:
                raise MountError(f"'{key}' doesn't support variable expansion, "
                                 "define alias stage instead")
        else:
            continue
        builder.keyed(key, val, field)
    return builder.build()


def parse_device(value: str) -> Device:
    """Parse one --device value (`name[,required[=bool]]`)."""
    try:
        fields = csv_fields(value)
    except MountError as exc:
        raise MountError(f"failed to parse csv devices: {exc}") from None
    name, required = "", False
    for field in fields:
        key, has_value, val = field.partition("=")
        key = key.lower()
        if not has_value and key == "required":
            required = True
        elif key == "required" and has_value:
            required = _parse_bool(key, val)
        elif key == "name" and has_value:
            if name:
                raise MountError(f"device name already set to {name}")
            name = val
        elif not name:
            name = field
        elif not has_value:
            raise MountError(f"invalid field '{field}' must be a key=value pair")
        else:
            raise MountError(with_hint(f"unexpected key '{key}' in '{field}'", key,
                                       ("name", "required"), case_sensitive=True))
    return Device(name, required)
