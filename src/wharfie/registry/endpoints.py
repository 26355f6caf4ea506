"""Where a registry lives: scheme, host, mirrors, insecure registries (Docker's rules).

- `docker.io` is served by `registry-1.docker.io`; `registry-mirrors` (daemon.json) are tried
  first for it, in order.
- Registries are HTTPS. Loopback registries (`localhost`, `127.0.0.0/8`, `::1`) and those listed
  in `insecure-registries` (host[:port] or CIDR) may also use plain HTTP and unverified TLS: HTTPS is
  tried first and HTTP is the fallback, as in Docker.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass, field

from wharfie.errors import InvalidArgument
from wharfie.oci.reference import DEFAULT_DOMAIN

HUB_ENDPOINT = "registry-1.docker.io"


@dataclass(frozen=True)
class Endpoint:
    host: str                 # host[:port] as it appears in the URL
    schemes: tuple[str, ...]  # tried in order
    verify_tls: bool
    mirror: bool = False
    path: str = ""            # mirrors may live under a path prefix


@dataclass
class RegistryConfig:
    insecure: list[str] = field(default_factory=list)
    mirrors: list[str] = field(default_factory=list)

    def is_insecure(self, host: str) -> bool:
        if host in self.insecure:
            return True
        name = _hostname(host)
        if name == "localhost":
            return True
        for ip in _addresses(name):
            if ip.is_loopback:
                return True
            for cidr in self.insecure:
                if "/" in cidr and _in_cidr(ip, cidr):
                    return True
        return False

    def endpoints(self, domain: str) -> list[Endpoint]:
        out: list[Endpoint] = []
        if domain == DEFAULT_DOMAIN:
            for m in self.mirrors:
                out.append(self._mirror(m))
            domain = HUB_ENDPOINT
        insecure = self.is_insecure(domain)
        schemes = ("https", "http") if insecure else ("https",)
        out.append(Endpoint(domain, schemes, verify_tls=not insecure))
        return out

    def _mirror(self, url: str) -> Endpoint:
        scheme, _, rest = url.rstrip("/").partition("://")
        host, _, path = rest.partition("/")
        insecure = self.is_insecure(host)
        return Endpoint(host, (scheme,), verify_tls=not insecure, mirror=True, path="/" + path if path else "")


def _hostname(host: str) -> str:
    if host.startswith("["):
        return host[1:host.find("]")]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _addresses(name: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        return [ipaddress.ip_address(name)]
    except ValueError:
        pass
    try:  # callers run in worker threads: resolving may block
        infos = socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)
    except OSError:
        return []
    out = []
    for info in infos:
        try:
            out.append(ipaddress.ip_address(str(info[4][0]).split("%")[0]))
        except ValueError:
            continue
    return out


def _in_cidr(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, cidr: str) -> bool:
    try:
        return ip in ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return False


def validate_mirror(url: str) -> str:
    if not url.startswith(("http://", "https://")):
        raise InvalidArgument(f"invalid mirror: unsupported scheme in {url!r} (use http:// or https://)")
    return url.rstrip("/")
