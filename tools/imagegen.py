#!/usr/bin/env python3
"""Make small real images offline (no registry here): busybox from Debian's busybox-static.

Writes docker-save archives (manifest.json) or OCI image-layout archives (index.json) with real
layer tars and real digests. Used by the README's main command, the tests and the benchmarks.

    python3 tools/imagegen.py busybox OUT.tar [--tag busybox:latest] [--oci] [--gzip]
    python3 tools/imagegen.py filler OUT.tar --size-mb 150 [--tag big:latest]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
from dataclasses import dataclass, field

BUSYBOX = "/bin/busybox"
EPOCH = 1700000000  # fixed mtime: the same inputs give the same digests


@dataclass
class Layer:
    data: bytes  # uncompressed tar
    created_by: str = ""

    @property
    def diff_id(self) -> str:
        return "sha256:" + hashlib.sha256(self.data).hexdigest()


@dataclass
class Image:
    layers: list[Layer]
    config: dict = field(default_factory=dict)  # the container config (Cmd, Env, …)
    created: str = "2023-11-14T22:13:20Z"
    labels: dict[str, str] = field(default_factory=dict)

    def config_bytes(self) -> bytes:
        cfg = dict(self.config)
        if self.labels:
            cfg["Labels"] = self.labels
        doc = {
            "architecture": "amd64",
            "os": "linux",
            "created": self.created,
            "config": cfg,
            "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in self.layers]},
            "history": [{"created": self.created, "created_by": layer.created_by} for layer in self.layers],
        }
        return json.dumps(doc, sort_keys=True).encode()

    @property
    def id(self) -> str:
        return "sha256:" + hashlib.sha256(self.config_bytes()).hexdigest()


class TarBuilder:
    """Deterministic tar building (fixed mtimes, root ownership)."""

    def __init__(self) -> None:
        self.buf = io.BytesIO()
        self.tf = tarfile.open(fileobj=self.buf, mode="w", format=tarfile.PAX_FORMAT)

    def _info(self, name: str, kind: bytes, mode: int) -> tarfile.TarInfo:
        ti = tarfile.TarInfo(name)
        ti.type, ti.mode, ti.mtime, ti.uid, ti.gid = kind, mode, EPOCH, 0, 0
        return ti

    def dir(self, name: str, mode: int = 0o755) -> TarBuilder:
        self.tf.addfile(self._info(name, tarfile.DIRTYPE, mode))
        return self

    def file(self, name: str, data: bytes, mode: int = 0o644) -> TarBuilder:
        ti = self._info(name, tarfile.REGTYPE, mode)
        ti.size = len(data)
        self.tf.addfile(ti, io.BytesIO(data))
        return self

    def symlink(self, name: str, target: str) -> TarBuilder:
        ti = self._info(name, tarfile.SYMTYPE, 0o777)
        ti.linkname = target
        self.tf.addfile(ti)
        return self

    def bytes(self) -> bytes:
        self.tf.close()
        return self.buf.getvalue()


def busybox_layer() -> Layer:
    """A busybox root filesystem: the static binary, applet symlinks, /etc basics."""
    if not os.path.exists(BUSYBOX):
        raise SystemExit(f"{BUSYBOX} is missing: apt-get install busybox-static")
    applets = subprocess.run([BUSYBOX, "--list-full"], capture_output=True, text=True, check=True).stdout.split()
    t = TarBuilder()
    for d in ("bin", "sbin", "usr", "usr/bin", "usr/sbin", "etc", "root", "tmp", "var", "home", "dev", "proc", "sys"):
        t.dir(d, 0o1777 if d == "tmp" else 0o755)
    with open(BUSYBOX, "rb") as fh:
        t.file("bin/busybox", fh.read(), 0o755)
    for path in sorted(set(applets)):
        if path != "bin/busybox" and "/" in path:
            t.symlink(path, "busybox" if path.startswith("bin/") else "../" * path.count("/") + "bin/busybox")
    t.file("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n")
    t.file("etc/group", b"root:x:0:\nnogroup:x:65534:\n")
    return Layer(t.bytes(), "ADD busybox-static /")


def busybox_image() -> Image:
    return Image([busybox_layer()], {"Cmd": ["sh"], "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]})


def filler_layer(size: int, name: str = "data", seed: int = 1) -> Layer:
    """Incompressible-ish content of `size` bytes in 1 MiB files."""
    t = TarBuilder().dir(name)
    chunk = hashlib.sha256(str(seed).encode()).digest() * (1 << 15)  # 1 MiB pattern
    i = 0
    while size > 0:
        n = min(size, len(chunk))
        block = hashlib.sha256(f"{seed}-{i}".encode()).digest() + chunk[32:n]
        t.file(f"{name}/f{i:05d}", block[:n])
        size -= n
        i += 1
    return Layer(t.bytes(), f"ADD {name}")


def _add(tf: tarfile.TarFile, name: str, data: bytes) -> None:
    ti = tarfile.TarInfo(name)
    ti.size, ti.mtime, ti.mode = len(data), EPOCH, 0o644
    tf.addfile(ti, io.BytesIO(data))


def docker_archive(images: list[tuple[Image, list[str]]], out: str | io.BufferedIOBase, legacy_paths: bool = False) -> None:
    """A docker-save archive. `legacy_paths` uses the pre-25 layout (<id>/layer.tar, <hex>.json)."""
    manifest, written = [], set()
    with tarfile.open(out if isinstance(out, str) else None, "w", fileobj=None if isinstance(out, str) else out) as tf:
        for image, tags in images:
            cfg = image.config_bytes()
            cfg_name = f"{image.id[7:]}.json" if legacy_paths else f"blobs/sha256/{image.id[7:]}"
            if cfg_name not in written:
                _add(tf, cfg_name, cfg)
                written.add(cfg_name)
            paths = []
            for layer in image.layers:
                name = f"{layer.diff_id[7:]}/layer.tar" if legacy_paths else f"blobs/sha256/{layer.diff_id[7:]}"
                if name not in written:
                    _add(tf, name, layer.data)
                    written.add(name)
                paths.append(name)
            manifest.append({"Config": cfg_name, "RepoTags": tags or None, "Layers": paths})
        _add(tf, "manifest.json", json.dumps(manifest).encode())


def oci_archive(image: Image, out: str, ref_name: str | None = None, compress: bool = True) -> str:
    """An OCI image-layout archive (gzip layers by default); returns the manifest digest."""
    blobs: dict[str, bytes] = {}

    def put(data: bytes) -> tuple[str, int]:
        d = "sha256:" + hashlib.sha256(data).hexdigest()
        blobs[d] = data
        return d, len(data)

    layers = []
    for layer in image.layers:
        data = gzip.compress(layer.data, mtime=0) if compress else layer.data
        d, n = put(data)
        media = "application/vnd.oci.image.layer.v1.tar" + ("+gzip" if compress else "")
        layers.append({"mediaType": media, "digest": d, "size": n})
    cd, cn = put(image.config_bytes())
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cn},
                           "layers": layers}).encode()
    md, mn = put(manifest)
    desc = {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": mn,
            "platform": {"os": "linux", "architecture": "amd64"}}
    if ref_name:
        desc["annotations"] = {"org.opencontainers.image.ref.name": ref_name}
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [desc]}
    with tarfile.open(out, "w") as tf:
        _add(tf, "oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        _add(tf, "index.json", json.dumps(index).encode())
        for d, data in blobs.items():
            _add(tf, f"blobs/sha256/{d[7:]}", data)
    return md


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("kind", choices=["busybox", "filler"])
    p.add_argument("out")
    p.add_argument("--tag", default=None)
    p.add_argument("--oci", action="store_true", help="write an OCI image layout instead of docker-save")
    p.add_argument("--gzip", action="store_true", help="gzip the whole archive")
    p.add_argument("--size-mb", type=int, default=150)
    a = p.parse_args()
    if a.kind == "busybox":
        image, tag = busybox_image(), a.tag or "busybox:latest"
    else:
        image = Image([busybox_layer(), filler_layer(a.size_mb << 20)], {"Cmd": ["sh"]})
        tag = a.tag or "filler:latest"
    target = a.out + ".tmp"
    if a.oci:
        oci_archive(image, target, tag)
    else:
        docker_archive([(image, [tag])], target)
    if a.gzip:
        with open(target, "rb") as src, gzip.open(a.out, "wb", compresslevel=1) as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        os.unlink(target)
    else:
        os.replace(target, a.out)
    print(image.id)


if __name__ == "__main__":
    main()
