"""What the client understands beyond a plain single-platform push/pull, against Debian's
docker-registry: OCI indexes with platform selection, zstd layers, chunked uploads of large
layers, `pull --all-tags`, and Docker Hub mirrors from daemon.json flags."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import zstandard
from support.daemon import WharfieDaemon
from support.distribution import DistributionRegistry

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def tar_with(name: str, data: bytes) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        ti = tarfile.TarInfo(name)
        ti.size, ti.mtime = len(data), 1700000000
        tf.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


class Uploader:
    """Raw distribution API calls (urllib), to put content no engine would push."""

    def __init__(self, host: str) -> None:
        self.base = f"http://{host}"

    def blob(self, repo: str, data: bytes) -> dict[str, Any]:
        req = urllib.request.Request(f"{self.base}/v2/{repo}/blobs/uploads/", method="POST", data=b"")
        loc = urllib.request.urlopen(req).headers["Location"]
        loc = loc if loc.startswith("http") else self.base + loc
        put = urllib.request.Request(f"{loc}&digest={sha(data)}", method="PUT", data=data,
                                     headers={"Content-Type": "application/octet-stream"})
        urllib.request.urlopen(put)
        return {"digest": sha(data), "size": len(data)}

    def manifest(self, repo: str, ref: str, doc: dict[str, Any]) -> dict[str, Any]:
        body = json.dumps(doc).encode()
        req = urllib.request.Request(f"{self.base}/v2/{repo}/manifests/{ref}", method="PUT", data=body,
                                     headers={"Content-Type": doc["mediaType"]})
        urllib.request.urlopen(req)
        return {"mediaType": doc["mediaType"], "digest": sha(body), "size": len(body)}

    def image(self, repo: str, arch: str, variant: str, zstd: bool) -> dict[str, Any]:
        tar = tar_with("arch", arch.encode())
        layer = zstandard.ZstdCompressor().compress(tar) if zstd else _gzip(tar)
        config = json.dumps({"architecture": arch, "os": "linux", **({"variant": variant} if variant else {}),
                             "config": {"Cmd": ["/arch"]}, "rootfs": {"type": "layers", "diff_ids": [sha(tar)]}}).encode()
        cfg = self.blob(repo, config)
        lay = self.blob(repo, layer)
        media = "application/vnd.oci.image.layer.v1.tar+" + ("zstd" if zstd else "gzip")
        doc = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
               "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **cfg},
               "layers": [{"mediaType": media, **lay}]}
        body = json.dumps(doc).encode()
        desc = self.manifest(repo, sha(body), doc)
        platform = {"os": "linux", "architecture": arch, **({"variant": variant} if variant else {})}
        return {**desc, "platform": platform}


def _gzip(data: bytes) -> bytes:
    import gzip

    return gzip.compress(data, mtime=0)


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DistributionRegistry]:
    if not DistributionRegistry.available():
        pytest.skip("docker-registry is not installed")
    reg = DistributionRegistry(tmp_path_factory.mktemp("distribution")).start()
    yield reg
    reg.stop()


def _file_in_image(daemon: WharfieDaemon, image: str, path: str) -> str:
    cid = daemon.docker.ok("create", image).strip()
    try:
        out = daemon.docker("cp", f"{cid}:{path}", "-")
        with tarfile.open(fileobj=io.BytesIO(out.out.encode("latin-1"))) as tf:
            member = tf.getmembers()[0]
            fh = tf.extractfile(member)
            assert fh is not None
            return fh.read().decode()
    finally:
        daemon.docker("rm", "-f", cid)


def test_index_platform_selection_and_zstd(daemon: WharfieDaemon, registry: DistributionRegistry,
                                           sdk: Any) -> None:
    up = Uploader(registry.host)
    amd = up.image("multi/x", "amd64", "", zstd=False)
    arm = up.image("multi/x", "arm64", "v8", zstd=True)
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [arm, amd]}
    top = up.manifest("multi/x", "1", index)
    name = f"{registry.host}/multi/x:1"
    docker = daemon.docker
    out = docker.ok("pull", name)
    assert f"Digest: {top['digest']}" in out  # the index digest, as Docker reports it
    assert docker.ok("image", "inspect", "-f", "{{.Architecture}}", name).strip() == "amd64"
    docker.ok("rmi", name)
    docker.ok("pull", "--platform", "linux/arm64", name)
    assert docker.ok("image", "inspect", "-f", "{{.Architecture}} {{.Variant}}", name).strip() == "arm64 v8"
    assert _file_in_image(daemon, name, "/arch") == "arm64"  # the zstd layer, unpacked
    r = docker("pull", "--platform", "linux/s390x", name)
    assert r.rc != 0 and "no matching manifest for linux/s390x in the manifest list entries" in r.err
    data = sdk.images.get_registry_data(name)
    assert data.id == top["digest"]
    assert data.has_platform("linux/arm64/v8") and data.has_platform("linux/amd64")


def test_large_layer_goes_up_in_chunks(daemon: WharfieDaemon, registry: DistributionRegistry,
                                       tmp_path: Path) -> None:
    import imagegen

    data = imagegen.TarBuilder().file("blob", os.urandom(40 << 20)).bytes()
    image = imagegen.Image([imagegen.Layer(data, "ADD blob")], {"Cmd": ["sh"]})
    archive = tmp_path / "big.tar"
    imagegen.docker_archive([(image, ["chunked:1"])], str(archive))
    docker = daemon.docker
    docker.ok("load", "-i", str(archive))
    name = f"{registry.host}/chunked/x:1"
    docker.ok("tag", "chunked:1", name)
    assert ": Pushed" in docker.ok("push", name)
    docker.ok("rmi", "-f", image.id)
    docker.ok("pull", name)
    assert docker.ok("image", "inspect", "-f", "{{.Id}}", name).strip() == image.id


def test_pull_all_tags(daemon: WharfieDaemon, registry: DistributionRegistry, busybox_archive: Path) -> None:
    docker = daemon.docker
    docker.ok("load", "-i", str(busybox_archive))
    for tag in ("a", "b"):
        docker.ok("tag", "busybox", f"{registry.host}/alltags/x:{tag}")
    out = docker.ok("push", "--all-tags", f"{registry.host}/alltags/x")
    assert "a: digest:" in out and "b: digest:" in out
    docker.ok("rmi", f"{registry.host}/alltags/x:a", f"{registry.host}/alltags/x:b")
    docker.ok("pull", "--all-tags", f"{registry.host}/alltags/x")
    for tag in ("a", "b"):
        docker.ok("image", "inspect", f"{registry.host}/alltags/x:{tag}")


def test_docker_hub_mirror(daemon: WharfieDaemon, registry: DistributionRegistry, busybox_archive: Path,
                           tmp_path: Path) -> None:
    docker = daemon.docker
    docker.ok("load", "-i", str(busybox_archive))
    docker.ok("tag", "busybox", f"{registry.host}/library/busybox:latest")
    docker.ok("push", f"{registry.host}/library/busybox:latest")
    other = WharfieDaemon(tmp_path / "mirrored")
    other.config.parent.mkdir(parents=True, exist_ok=True)
    other.config.write_text(json.dumps({"registry-mirrors": [f"http://{registry.host}"]}))
    other.start()
    try:
        out = other.docker.ok("pull", "busybox")
        assert "Status: Downloaded newer image for busybox:latest" in out
        assert other.docker.ok("run", "--rm", "busybox", "echo", "from-the-mirror").strip() == "from-the-mirror"
    finally:
        other.cleanup()


def test_concurrent_pulls_of_one_image(daemon: WharfieDaemon, registry: DistributionRegistry,
                                       tmp_path: Path) -> None:
    import threading

    import imagegen

    layers = [imagegen.Layer(imagegen.TarBuilder().file(f"f{i}", os.urandom(3 << 20)).bytes(), f"l{i}")
              for i in range(4)]
    image = imagegen.Image(layers, {"Cmd": ["sh"]})
    imagegen.docker_archive([(image, ["conc:1"])], str(tmp_path / "a.tar"))
    docker = daemon.docker
    docker.ok("load", "-i", str(tmp_path / "a.tar"))
    name = f"{registry.host}/conc/x:1"
    docker.ok("tag", "conc:1", name)
    docker.ok("push", name)
    docker.ok("rmi", "-f", image.id)
    results: list[Any] = []
    threads = [threading.Thread(target=lambda: results.append(docker("pull", name))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.rc for r in results] == [0, 0, 0], results
    assert docker.ok("image", "inspect", "-f", "{{.Id}}", name).strip() == image.id
    assert os.listdir(daemon.data_root / "image" / "content" / "ingest") == []
