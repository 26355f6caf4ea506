"""Image references as the docker CLI reads them (distribution/reference).

``parse_normalized_named("busybox")`` → ``docker.io/library/busybox``;
``familiar_name`` turns it back into ``busybox``. Errors carry docker's wording.
"""

from __future__ import annotations

import re

from wharfie.errors import InvalidArgument

DEFAULT_DOMAIN = "docker.io"
LEGACY_DOMAIN = "index.docker.io"
OFFICIAL_PREFIX = "library/"

_ALNUM = r"[a-z0-9]+"
_SEP = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = f"{_ALNUM}(?:{_SEP}{_ALNUM})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_IPV6 = r"\[(?:[a-fA-F0-9:]+)\]"
_DOMAIN_NAME = f"{_DOMAIN_COMPONENT}(?:\\.{_DOMAIN_COMPONENT})*"
_HOST = f"(?:{_DOMAIN_NAME}|{_IPV6})"
_DOMAIN = f"{_HOST}(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9a-fA-F]{32,}"
_NAME = f"(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
_REFERENCE_RE = re.compile(f"^({_NAME})(?::({_TAG}))?(?:@({_DIGEST}))?$")
_ANCHORED_ID_RE = re.compile(r"^[a-f0-9]{64}$")
_DIGEST_RE = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$")


class Reference:
    """A parsed reference: ``domain/path[:tag][@digest]``."""

    __slots__ = ("domain", "path", "tag", "digest")

    def __init__(self, domain: str, path: str, tag: str = "", digest: str = "") -> None:
        self.domain = domain
        self.path = path
        self.tag = tag
        self.digest = digest

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Reference) and str(self) == str(other)

    def __hash__(self) -> int:
        return hash(str(self))

    def __repr__(self) -> str:
        return f"Reference({str(self)!r})"

    @property
    def name(self) -> str:
        return f"{self.domain}/{self.path}" if self.domain else self.path

    @property
    def familiar_name(self) -> str:
        if self.domain != DEFAULT_DOMAIN:
            return self.name
        path = self.path
        if path.startswith(OFFICIAL_PREFIX) and "/" not in path[len(OFFICIAL_PREFIX):]:
            return path[len(OFFICIAL_PREFIX):]
        return path

    def __str__(self) -> str:
        s = self.name
        if self.tag:
            s += ":" + self.tag
        if self.digest:
            s += "@" + self.digest
        return s


def split_docker_domain(name: str) -> tuple[str, str]:
    i = name.find("/")
    if i == -1 or (
        not any(c in name[:i] for c in ".:") and name[:i] != "localhost"
        and name[:i].lower() == name[:i]
    ):
        domain, remainder = DEFAULT_DOMAIN, name
    else:
        domain, remainder = name[:i], name[i + 1:]
    if domain == LEGACY_DOMAIN:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in remainder:
        remainder = OFFICIAL_PREFIX + remainder
    return domain, remainder


def _parse(s: str) -> Reference:
    m = _REFERENCE_RE.match(s)
    if m is None:
        if s == "":
            raise InvalidArgument("invalid reference format: repository name must have at least one component")
        if _REFERENCE_RE.match(s.lower()):
            raise InvalidArgument("invalid reference format: repository name must be lowercase")
        raise InvalidArgument("invalid reference format")
    name, tag, digest = m.group(1), m.group(2) or "", m.group(3) or ""
    if len(name) > 255:
        raise InvalidArgument("invalid reference format: repository name must not be more than 255 characters")
    domain, _, path = name.partition("/")
    return Reference(domain, path, tag, digest)


def parse_normalized_named(s: str) -> Reference:
    """``reference.ParseNormalizedNamed``."""
    if _ANCHORED_ID_RE.match(s):
        raise InvalidArgument(
            f"invalid repository name ({s}), cannot specify 64-byte hexadecimal strings"
        )
    domain, remainder = split_docker_domain(s)
    name_part = remainder.split("@", 1)[0]
    tag_sep = name_part.find(":")
    if tag_sep > -1:
        name_part = name_part[:tag_sep]
    if name_part.lower() != name_part:
        raise InvalidArgument(
            f"invalid reference format: repository name ({name_part}) must be lowercase"
        )
    return _parse(domain + "/" + remainder)


def parse_any_reference(s: str) -> str:
    """``reference.ParseAnyReference``: a 64-hex ID, a digest or a named reference."""
    if _ANCHORED_ID_RE.match(s) or _DIGEST_RE.match(s):
        return s
    return str(parse_normalized_named(s))


def split_repo_tag(target: str) -> tuple[str, str]:
    """Split ``name[:tag]`` at the last ``:`` after the last ``/`` (``latest`` if none)."""
    ref = parse_normalized_named(target)
    return ref.name, ref.tag or ("" if ref.digest else "latest")


_ARCH_ALIASES = {"x86_64": "amd64", "x86-64": "amd64", "aarch64": "arm64", "armhf": "arm",
                 "armel": "arm", "i386": "386", "i686": "386"}


def parse_platform(spec: str) -> dict[str, str]:
    """containerd's ``platforms.Parse`` (normalized) as the OCI JSON object the docker
    client sends: ``{"architecture":"amd64","os":"linux"[,"variant":"v7"]}``."""
    parts = spec.lower().split("/")
    if len(parts) > 3:
        raise InvalidArgument(f'"{spec}": cannot parse platform specifier: invalid argument')
    if not spec or any(not p for p in parts):
        raise InvalidArgument(f'"{spec}": unknown operating system or architecture: invalid argument')
    os_name = parts[0]
    if len(parts) == 1:
        from wharfie.cli.commands.version import go_arch

        arch, variant = go_arch(), ""
    else:
        arch = _ARCH_ALIASES.get(parts[1], parts[1])
        variant = parts[2] if len(parts) == 3 else ""
    out = {"architecture": arch, "os": os_name}
    if variant:
        out["variant"] = variant
    return out


def encode_platform(spec: str) -> str:
    import json

    return json.dumps(parse_platform(spec), separators=(",", ":"))
