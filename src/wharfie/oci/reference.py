"""Docker image references: parse, normalise and print them the way Docker does.

The grammar and the normalisation rules follow distribution/reference (the library the
docker CLI and dockerd use), so every string Docker accepts is accepted here with the same
meaning, and every string it refuses is refused with the same message::

    reference  := name [ ":" tag ] [ "@" digest ]
    name       := [ domain "/" ] path
    domain     := host [ ":" port ]          host: DNS name, IPv4, or "[" IPv6 "]"
    path       := component ( "/" component )*
    component  := [a-z0-9]+ ( separator [a-z0-9]+ )*     separator: "." "_" "__" "-"+
    tag        := [A-Za-z0-9_] [A-Za-z0-9_.-]{0,127}
    digest     := algorithm ":" hex

Normalisation (`parse`): a name whose first component has no ".", no ":", is not
"localhost" and is lowercase lives on Docker Hub ("docker.io"); "index.docker.io" is an
alias of "docker.io"; single-component names on Docker Hub get the "library/" prefix.
The familiar form (`Reference.familiar`) strips both again: "docker.io/library/busybox"
prints as "busybox". Pure data, no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from wharfie.errors import InvalidArgument

DEFAULT_DOMAIN = "docker.io"
LEGACY_DEFAULT_DOMAIN = "index.docker.io"
OFFICIAL_REPO_PREFIX = "library/"
DEFAULT_TAG = "latest"
NAME_TOTAL_LENGTH_MAX = 255

# The grammar above as regular expressions. RE2's \w is ASCII-only, so spell it out, and
# always use fullmatch (Python's "$" would accept a trailing newline).
_W = "[0-9A-Za-z_]"
_ALNUM = "[a-z0-9]+"
_SEPARATOR = "(?:[._]|__|[-]+)"
_PATH_COMPONENT = f"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_REMOTE_NAME = f"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
_DOMAIN_COMPONENT = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN_NAME = f"{_DOMAIN_COMPONENT}(?:\\.{_DOMAIN_COMPONENT})*"
_IPV6 = r"\[(?:[a-fA-F0-9:]+)\]"
_DOMAIN_AND_PORT = f"(?:{_DOMAIN_NAME}|{_IPV6})(?::[0-9]+)?"
_TAG = f"{_W}[0-9A-Za-z_.-]{{0,127}}"
_DIGEST = "[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9A-Fa-f]{32,}"

_REFERENCE_RE = re.compile(
    f"((?:{_DOMAIN_AND_PORT}/)?{_REMOTE_NAME})(?::({_TAG}))?(?:@({_DIGEST}))?"
)
_NAME_RE = re.compile(f"(?:({_DOMAIN_AND_PORT})/)?({_REMOTE_NAME})")
_TAG_RE = re.compile(_TAG)
_DIGEST_RE = re.compile(_DIGEST)
_IDENTIFIER_RE = re.compile("[a-f0-9]{64}")
_ID_LIKE_RE = re.compile("(?:sha256:)?[a-f0-9]{64}")

# Digest algorithms dockerd accepts in references, with their hex lengths (go-digest).
_DIGEST_HEX_LEN = {"sha256": 64, "sha384": 96, "sha512": 128}
_HEX_RE = re.compile("[a-f0-9]+")


@dataclass(frozen=True)
class Reference:
    """A named image reference, normalised: `domain` is "" only for names the grammar
    cannot split (as upstream). Build one with `parse`/`parse_docker_ref`, not by hand."""

    domain: str
    path: str
    tag: str | None = None
    digest: str | None = None

    @property
    def name(self) -> str:
        """Full repository name: "docker.io/library/busybox"."""
        return f"{self.domain}/{self.path}" if self.domain else self.path

    @property
    def familiar_name(self) -> str:
        """The name as Docker prints it: "busybox", "user/app", "localhost:5000/x"."""
        if self.domain != DEFAULT_DOMAIN:
            return self.name
        rest = self.path.removeprefix(OFFICIAL_REPO_PREFIX)
        if rest != self.path and "/" not in rest:
            return rest
        return self.path

    def _suffix(self) -> str:
        return (f":{self.tag}" if self.tag else "") + (f"@{self.digest}" if self.digest else "")

    def __str__(self) -> str:
        return self.name + self._suffix()

    def familiar(self) -> str:
        """FamiliarString: "busybox:latest", "localhost:5000/x:1", "busybox@sha256:…"."""
        return self.familiar_name + self._suffix()

    def with_tag(self, tag: str) -> Reference:
        """This reference with `tag` (a digest, if any, is kept, as in WithTag)."""
        if not _TAG_RE.fullmatch(tag):
            raise InvalidArgument("invalid tag format")
        return replace(self, tag=tag)

    def with_digest(self, digest: str) -> Reference:
        """This reference pinned to `digest` (a tag, if any, is kept, as in WithDigest)."""
        if not _DIGEST_RE.fullmatch(digest):
            raise InvalidArgument("invalid digest format")
        _validate_digest(digest)
        return replace(self, digest=digest)

    def with_default_tag(self) -> Reference:
        """Add "latest" when the reference has neither tag nor digest (TagNameOnly)."""
        if self.tag is None and self.digest is None:
            return replace(self, tag=DEFAULT_TAG)
        return self

    def name_only(self) -> Reference:
        """The bare repository, without tag and digest (TrimNamed)."""
        return Reference(self.domain, self.path)


def is_id_like(s: str) -> bool:
    """True for "<64 hex>" and "sha256:<64 hex>": image IDs, never repository names."""
    return _ID_LIKE_RE.fullmatch(s) is not None


def parse(s: str) -> Reference:
    """Parse and normalise a reference like ParseNormalizedNamed; no default tag is added."""
    if _IDENTIFIER_RE.fullmatch(s):
        raise InvalidArgument(
            f"invalid repository name ({s}), cannot specify 64-byte hexadecimal strings"
        )
    domain, remainder = _split_docker_domain(s)
    remote = remainder.split(":", 1)[0]
    if remote.lower() != remote:
        raise InvalidArgument(
            f"invalid reference format: repository name ({remote}) must be lowercase"
        )
    return _parse_canonical(f"{domain}/{remainder}")


def parse_docker_ref(s: str) -> Reference:
    """Like ParseDockerRef: "latest" is added when there is neither tag nor digest, and
    when both are given the tag is dropped (the digest wins)."""
    ref = parse(s)
    if ref.tag is not None and ref.digest is not None:
        return replace(ref, tag=None)
    return ref.with_default_tag()


def _split_docker_domain(name: str) -> tuple[str, str]:
    first, sep, rest = name.partition("/")
    if not sep:
        return DEFAULT_DOMAIN, OFFICIAL_REPO_PREFIX + name
    if first == LEGACY_DEFAULT_DOMAIN:
        domain, remote = DEFAULT_DOMAIN, rest
    elif first == "localhost" or any(c in first for c in ".:") or first.lower() != first:
        # A host name, an IP address, host:port, or (being uppercase, which a path
        # component cannot be) a domain.
        domain, remote = first, rest
    else:
        domain, remote = DEFAULT_DOMAIN, name
    if domain == DEFAULT_DOMAIN and "/" not in remote:
        remote = OFFICIAL_REPO_PREFIX + remote
    return domain, remote


def _parse_canonical(s: str) -> Reference:
    """Parse a full reference without normalising it (distribution's Parse)."""
    m = _REFERENCE_RE.fullmatch(s)
    if m is None:
        low = s.lower()
        if low != s and _REFERENCE_RE.fullmatch(low):
            raise InvalidArgument("repository name must be lowercase")
        raise InvalidArgument("invalid reference format")
    name, tag, digest = m.group(1), m.group(2), m.group(3)
    nm = _NAME_RE.fullmatch(name)
    domain, path = (nm.group(1) or "", nm.group(2)) if nm else ("", name)
    if len(path) > NAME_TOTAL_LENGTH_MAX:
        raise InvalidArgument(
            f"repository name must not be more than {NAME_TOTAL_LENGTH_MAX} characters"
        )
    if digest is not None:
        _validate_digest(digest)
    return Reference(domain, path, tag, digest)


def _validate_digest(digest: str) -> None:
    """go-digest's Digest.Validate for the algorithms dockerd registers."""
    alg, _, hexpart = digest.partition(":")
    want = _DIGEST_HEX_LEN.get(alg)
    if want is None:
        if not _DIGEST_RE.fullmatch(digest):
            raise InvalidArgument("invalid checksum digest format")
        raise InvalidArgument("unsupported digest algorithm")
    if len(hexpart) != want:
        raise InvalidArgument("invalid checksum digest length")
    if not _HEX_RE.fullmatch(hexpart):
        raise InvalidArgument("invalid checksum digest format")
