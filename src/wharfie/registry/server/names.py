"""What a repository name, a tag and a digest may look like on the wire (distribution spec)."""

from __future__ import annotations

import re

from wharfie.registry.server.errors import RegistryError

_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
NAME_RE = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*\Z")
TAG_RE = re.compile(r"^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}\Z")
# Only sha256 is stored; other algorithms are refused as unsupported rather than malformed.
DIGEST_RE = re.compile(r"^sha256:[a-f0-9]{64}\Z")
ANY_DIGEST_RE = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+\Z")
# Clients cap "host:port/name" at 255 characters; leave room for a host.
MAX_NAME = 229


def check_name(name: str) -> str:
    if len(name) > MAX_NAME or not NAME_RE.match(name):
        raise RegistryError("NAME_INVALID", f"invalid repository name: {name!r}")
    return name


def is_digest(reference: str) -> bool:
    return ":" in reference


def is_tag(reference: str) -> bool:
    return bool(TAG_RE.match(reference))


def check_digest(digest: str) -> str:
    if DIGEST_RE.match(digest):
        return digest
    if ANY_DIGEST_RE.match(digest) and not digest.startswith("sha256:"):
        raise RegistryError("UNSUPPORTED", f"unsupported digest algorithm: {digest!r}", status=400)
    raise RegistryError("DIGEST_INVALID", f"invalid digest: {digest!r}")
