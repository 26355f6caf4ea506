"""Instruction flags (`COPY --from=x`): declared per instruction, then checked together.

Mirrors BuildKit's BFlags: an undeclared flag is `unknown flag: --x` (with a typo hint), a
repeated one is an error unless it is a list flag (`--mount`), booleans take `=true|false`
or no value, strings need `=value` (which may be empty).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from wharfie.build.dockerfile.suggest import with_hint


class FlagError(Exception):
    """A flag is unknown, repeated or badly valued; the message is BuildKit's."""


@dataclass
class Flag:
    name: str
    kind: str  # "bool" | "string" | "strings"
    value: str = ""
    values: list[str] = field(default_factory=list)

    @property
    def is_true(self) -> bool:
        return self.value == "true"


class Flags:
    """The flags one instruction accepts, and what was given."""

    def __init__(self, args: list[str]) -> None:
        self.args = args
        self.declared: dict[str, Flag] = {}
        self.used: list[str] = []

    def _add(self, name: str, kind: str, value: str = "") -> Flag:
        flag = Flag(name, kind, value)
        self.declared[name] = flag
        return flag

    def add_bool(self, name: str, default: bool = False) -> Flag:
        return self._add(name, "bool", "true" if default else "false")

    def add_string(self, name: str, default: str = "") -> Flag:
        return self._add(name, "string", default)

    def add_strings(self, name: str) -> Flag:
        return self._add(name, "strings")

    def parse(self) -> None:
        """Check and record the given flags; raises FlagError with BuildKit's message."""
        for arg in self.args:
            if arg == "--":
                return  # POSIX: everything after `--` is an operand
            if not arg.startswith("--"):
                raise FlagError(f"arg should start with -- : {arg}")
            flag_name, has_value, value = arg.partition("=")
            flag = self.declared.get(flag_name[2:])
            if flag is None:
                raise FlagError(with_hint(f"unknown flag: {flag_name}", flag_name[2:],
                                          self.declared, case_sensitive=True))
            if flag.name in self.used and flag.kind != "strings":
                raise FlagError(f"duplicate flag specified: {flag_name}")
            if flag.name not in self.used:
                self.used.append(flag.name)
            _set(flag, flag_name, bool(has_value), value)


def _set(flag: Flag, flag_name: str, has_value: bool, value: str) -> None:
    if flag.kind == "bool":
        if has_value and value == "":
            raise FlagError(f"missing a value on flag: {flag_name}")
        if value.lower() in ("true", ""):
            flag.value = "true"
        elif value.lower() == "false":
            flag.value = "false"
        else:
            raise FlagError(f"expecting boolean value for flag {flag_name}, not: {value}")
        return
    if not has_value:
        raise FlagError(f"missing a value on flag: {flag_name}")
    if flag.kind == "string":
        flag.value = value
    else:
        flag.values.append(value)
