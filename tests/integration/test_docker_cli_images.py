"""The real docker CLI 28 against wharfied: system and image commands."""

from __future__ import annotations

import gzip
import json
import shutil
import tarfile
from pathlib import Path

import imagegen
import pytest
from support.daemon import WharfieDaemon


@pytest.fixture(scope="module")
def loaded(daemon: WharfieDaemon, busybox_archive: Path) -> str:
    out = daemon.docker.ok("load", "-i", str(busybox_archive))
    assert "Loaded image: busybox:latest" in out
    return imagegen.busybox_image().id


def test_version_shows_server_section(docker) -> None:
    out = docker.ok("version")
    assert "Server:" in out
    assert "Engine:" in out
    assert "API version:      1.50" in out
    fmt = docker.ok("version", "--format", "{{.Server.APIVersion}} {{.Server.Os}}")
    assert fmt.strip() == "1.50 linux"


def test_info(docker, daemon: WharfieDaemon) -> None:
    info = json.loads(docker.ok("info", "--format", "{{json .}}"))
    assert info["OSType"] == "linux"
    assert info["DockerRootDir"] == str(daemon.data_root)
    assert info["Driver"] == "overlay2"
    text = docker.ok("info")
    assert "Server Version:" in text and "Storage Driver: overlay2" in text


def test_load_docker_archive_and_list(docker, loaded: str) -> None:
    rows = docker.ok("images", "--format", "{{.Repository}}|{{.Tag}}|{{.ID}}").split()
    assert f"busybox|latest|{loaded[7:19]}" in rows
    table = docker.ok("images").splitlines()
    assert table[0].split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    assert docker.ok("images", "-q", "--no-trunc").split() == [loaded]


def test_load_is_idempotent_and_gzip(docker, loaded: str, busybox_archive: Path, tmp_path: Path) -> None:
    gz = tmp_path / "bb.tar.gz"
    with open(busybox_archive, "rb") as src, gzip.open(gz, "wb") as dst:
        shutil.copyfileobj(src, dst)
    out = docker.ok("load", "-i", str(gz))
    assert "Loaded image: busybox:latest" in out
    assert docker.ok("images", "-q").split() == [loaded[7:19]]


def test_load_oci_archive(docker, tmp_path: Path) -> None:
    image = imagegen.Image([imagegen.busybox_layer(), imagegen.filler_layer(4096, "oci")],
                           {"Cmd": ["sh"]}, labels={"kind": "oci"})
    path = tmp_path / "oci.tar"
    imagegen.oci_archive(image, str(path), "ocitest:v1")
    out = docker.ok("load", "-i", str(path))
    assert "Loaded image: ocitest:v1" in out
    inspect = json.loads(docker.ok("image", "inspect", "ocitest:v1"))[0]
    assert inspect["Id"] == image.id
    assert inspect["RootFS"]["Layers"] == [layer.diff_id for layer in image.layers]
    # Without a name, docker prints the ID.
    unnamed = tmp_path / "unnamed.tar"
    other = imagegen.Image([imagegen.filler_layer(100, "x", seed=7)], {"Cmd": ["sh"]})
    imagegen.oci_archive(other, str(unnamed), None)
    assert f"Loaded image ID: {other.id}" in docker.ok("load", "-i", str(unnamed))
    docker.ok("rmi", other.id, "ocitest:v1")


def test_tag_filters_and_format(docker, loaded: str) -> None:
    docker.ok("tag", "busybox", "localhost:5000/bb:1")
    docker.ok("tag", loaded[7:19], "mybox")
    tags = docker.ok("images", "--format", "{{.Repository}}:{{.Tag}}").split()
    assert {"busybox:latest", "localhost:5000/bb:1", "mybox:latest"} <= set(tags)
    only = docker.ok("images", "--filter", "reference=localhost:5000/*", "--format", "{{.Repository}}:{{.Tag}}")
    assert only.split() == ["localhost:5000/bb:1"]
    by_arg = docker.ok("images", "mybox", "--format", "{{.Repository}}")
    assert by_arg.split() == ["mybox"]
    assert docker.ok("images", "--filter", "dangling=true", "-q") == ""
    bad = docker("images", "--filter", "colour=blue")
    assert bad.rc != 0 and "invalid filter 'colour'" in bad.err
    docker.ok("rmi", "localhost:5000/bb:1", "mybox")


def test_label_before_since_filters(docker, tmp_path: Path, loaded: str) -> None:
    older = imagegen.Image([imagegen.filler_layer(10, "a", seed=1)], {"Cmd": ["sh"]},
                          created="2020-01-01T00:00:00Z", labels={"team": "red"})
    newer = imagegen.Image([imagegen.filler_layer(10, "b", seed=2)], {"Cmd": ["sh"]},
                          created="2021-01-01T00:00:00Z", labels={"team": "blue"})
    path = tmp_path / "two.tar"
    imagegen.docker_archive([(older, ["old:1"]), (newer, ["new:1"])], str(path))
    docker.ok("load", "-i", str(path))
    fmt = ["--format", "{{.Repository}}"]
    assert docker.ok("images", "--filter", "label=team=red", *fmt).split() == ["old"]
    assert docker.ok("images", "--filter", "label=team", *fmt).split() == ["new", "old"]
    assert docker.ok("images", "--filter", "before=new:1", *fmt).split() == ["old"]
    since = docker.ok("images", "--filter", "since=old:1", *fmt).split()
    assert "new" in since and "old" not in since
    docker.ok("rmi", "old:1", "new:1")


def test_image_inspect_fields(docker, loaded: str) -> None:
    doc = json.loads(docker.ok("image", "inspect", "busybox"))[0]
    assert doc["Id"] == loaded
    assert doc["RepoTags"] == ["busybox:latest"]
    assert doc["Os"] == "linux" and doc["Architecture"] == "amd64"
    assert doc["Config"]["Cmd"] == ["sh"]
    assert doc["RootFS"]["Type"] == "layers"
    assert doc["GraphDriver"]["Name"] == "overlay2"
    assert doc["Size"] > 1_000_000
    assert docker.ok("inspect", "--format", "{{.Id}}", "busybox").strip() == loaded
    missing = docker("image", "inspect", "nope")
    assert missing.rc == 1 and "No such image: nope" in missing.err


def test_history(docker, loaded: str) -> None:
    lines = docker.ok("history", "busybox").splitlines()
    assert lines[0].split()[:2] == ["IMAGE", "CREATED"]
    assert loaded[7:19] in lines[1]
    assert "ADD busybox-static /" in docker.ok("history", "--no-trunc", "busybox")


def test_save_load_round_trip_keeps_id(docker, loaded: str, tmp_path: Path) -> None:
    out = tmp_path / "saved.tar"
    docker.ok("save", "-o", str(out), "busybox:latest")
    with tarfile.open(out) as tf:
        names = set(tf.getnames())
        manifest = json.load(tf.extractfile("manifest.json"))  # type: ignore[arg-type]
    assert {"manifest.json", "index.json", "oci-layout"} <= names
    assert manifest[0]["RepoTags"] == ["busybox:latest"]
    docker.ok("rmi", "busybox")
    assert docker.ok("images", "-q") == "" or loaded[7:19] not in docker.ok("images", "-q")
    assert "Loaded image: busybox:latest" in docker.ok("load", "-i", str(out))
    assert json.loads(docker.ok("image", "inspect", "busybox"))[0]["Id"] == loaded


def test_save_to_stdout_and_multiple(daemon: WharfieDaemon, loaded: str) -> None:
    import io
    import subprocess

    daemon.docker.ok("tag", "busybox", "copy:1")
    p = subprocess.run(["docker", "save", "busybox", "copy:1"], capture_output=True, env=daemon.env, check=True)
    with tarfile.open(fileobj=io.BytesIO(p.stdout)) as tf:
        manifest = json.load(tf.extractfile("manifest.json"))  # type: ignore[arg-type]
    assert len(manifest) == 1
    assert sorted(manifest[0]["RepoTags"]) == ["busybox:latest", "copy:1"]
    refused = subprocess.run(["docker", "save", "nope:1"], capture_output=True, env=daemon.env)
    assert refused.returncode == 1 and b"No such image: nope:1" in refused.stderr
    daemon.docker.ok("rmi", "copy:1")


def test_import_with_changes(docker, tmp_path: Path) -> None:
    rootfs = tmp_path / "rootfs.tar"
    with open(rootfs, "wb") as fh:
        fh.write(imagegen.busybox_layer().data)
    out = docker.ok("import", "-c", "CMD [\"/bin/echo\", \"hi\"]", "-c", "ENV FOO=bar", "-c", "EXPOSE 8080",
                    "-c", "WORKDIR /srv", "-m", "from busybox", str(rootfs), "imported:1")
    image_id = out.strip()
    assert image_id.startswith("sha256:")
    cfg = json.loads(docker.ok("image", "inspect", "imported:1"))[0]
    assert cfg["Id"] == image_id
    assert cfg["Config"]["Cmd"] == ["/bin/echo", "hi"]
    assert "FOO=bar" in cfg["Config"]["Env"]
    assert "8080/tcp" in cfg["Config"]["ExposedPorts"]
    assert cfg["Config"]["WorkingDir"] == "/srv"
    assert cfg["Comment"] == "from busybox"
    # Stdin import, gzip-compressed.
    gz = gzip.compress(rootfs.read_bytes())
    out2 = docker.ok("import", "-", "imported:gz", input=gz)
    assert out2.strip().startswith("sha256:")
    bad = docker("import", "-c", "RUN echo", str(rootfs))
    assert bad.rc != 0 and "RUN is not a valid change command" in bad.err
    docker.ok("rmi", "imported:1", "imported:gz")


def test_rmi_untag_then_delete(docker, loaded: str) -> None:
    docker.ok("tag", "busybox", "second:tag")
    out = docker.ok("rmi", "second:tag")
    assert out.strip() == "Untagged: second:tag"
    assert loaded[7:19] in docker.ok("images", "-q")
    docker.ok("tag", "busybox", "other:x")
    conflict = docker("rmi", loaded[7:19])
    assert conflict.rc == 1 and "referenced in multiple repositories" in conflict.err
    forced = docker.ok("rmi", "-f", loaded[7:19])
    assert "Untagged: busybox:latest" in forced and "Untagged: other:x" in forced
    assert f"Deleted: {loaded}" in forced
    assert loaded[7:19] not in docker.ok("images", "-q")
    missing = docker("rmi", "busybox")
    assert missing.rc == 1 and "No such image: busybox" in missing.err


def test_image_prune(docker, busybox_archive: Path, tmp_path: Path) -> None:
    docker.ok("load", "-i", str(busybox_archive))
    dangling = imagegen.Image([imagegen.filler_layer(1 << 16, "d", seed=3)], {"Cmd": ["sh"]})
    path = tmp_path / "dangling.tar"
    imagegen.docker_archive([(dangling, [])], str(path))
    docker.ok("load", "-i", str(path))
    assert docker.ok("images", "--filter", "dangling=true", "-q").split() == [dangling.id[7:19]]
    out = docker.ok("image", "prune", "-f")
    assert dangling.id in out and "Total reclaimed space:" in out
    assert docker.ok("images", "--filter", "dangling=true", "-q") == ""
    assert "busybox" in docker.ok("images")
