"""Media types, annotations and platform matching (OCI image spec + Docker schema 2)."""

from __future__ import annotations

import platform as _platform
from typing import Any

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"

INDEX_TYPES = {OCI_INDEX, DOCKER_LIST}
MANIFEST_TYPES = {OCI_MANIFEST, DOCKER_MANIFEST}

ANNOTATION_REF_NAME = "org.opencontainers.image.ref.name"
ANNOTATION_CONTAINERD_NAME = "io.containerd.image.name"

_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64",
         "armv7l": "arm", "ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64"}


def host_arch() -> str:
    m = _platform.machine()
    return _ARCH.get(m, m)


def host_platform() -> str:
    return f"linux/{host_arch()}"


def parse_platform(spec: str) -> tuple[str, str, str]:
    """`os/arch[/variant]` → parts; an empty spec means the host."""
    if not spec:
        return "linux", host_arch(), ""
    parts = spec.lower().split("/")
    if len(parts) == 1:
        return parts[0], host_arch(), ""
    return parts[0], _ARCH.get(parts[1], parts[1]), parts[2] if len(parts) > 2 else ""


def select_platform(manifests: list[dict[str, Any]], spec: str) -> dict[str, Any] | None:
    """Pick the index entry for a platform; attestation manifests never match."""
    want_os, want_arch, want_variant = parse_platform(spec)
    best = None
    for m in manifests:
        p = m.get("platform") or {}
        if (m.get("annotations") or {}).get("vnd.docker.reference.type") == "attestation-manifest":
            continue
        if p.get("os", want_os) != want_os or p.get("architecture", want_arch) != want_arch:
            continue
        if want_variant and p.get("variant") and p["variant"] != want_variant:
            continue
        if best is None or (want_variant and p.get("variant") == want_variant):
            best = m
    return best
