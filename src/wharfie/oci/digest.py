"""Content digests (`sha256:<64 hex>`)."""

import hashlib
import re

from wharfie.errors import InvalidArgument

_DIGEST_RE = re.compile(r"^(?P<alg>[a-z0-9]+(?:[.+_-][a-z0-9]+)*):(?P<hex>[a-zA-Z0-9=_-]+)\Z")
_SHA256_HEX = re.compile(r"^[a-f0-9]{64}\Z")


def parse(digest: str) -> tuple[str, str]:
    """Split and validate a digest; only sha256 is accepted for storage."""
    m = _DIGEST_RE.match(digest)
    if not m:
        raise InvalidArgument(f"invalid digest format: {digest!r}")
    alg, hexpart = m.group("alg"), m.group("hex")
    if alg != "sha256":
        raise InvalidArgument(f"unsupported digest algorithm: {alg}")
    if not _SHA256_HEX.match(hexpart):
        raise InvalidArgument(f"invalid checksum digest format: {digest!r}")
    return alg, hexpart


def validate(digest: str) -> str:
    parse(digest)
    return digest


def hex_of(digest: str) -> str:
    return parse(digest)[1]


def of_bytes(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def is_full_hex_id(s: str) -> bool:
    return bool(_SHA256_HEX.match(s))


def short_id(digest: str) -> str:
    """The 12-hex form Docker prints (`docker images` IMAGE ID column)."""
    return digest.split(":", 1)[-1][:12]


def chain_ids(diff_ids: list[str]) -> list[str]:
    """OCI ChainID for each layer prefix: chain[0] = diff[0], chain[n] = sha256(chain[n-1] + " " + diff[n])."""
    out: list[str] = []
    for d in diff_ids:
        out.append(d if not out else of_bytes(f"{out[-1]} {d}".encode()))
    return out
