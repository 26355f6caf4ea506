"""Hostile images through the real daemon: refused or contained, nothing outside changes,
the daemon keeps answering, and a failed load leaves no image and no leftovers."""

from __future__ import annotations

import io
import json
import os
import tarfile
from pathlib import Path

import imagegen
import pytest
from support.daemon import WharfieDaemon


def _layer(build) -> imagegen.Layer:  # type: ignore[no-untyped-def]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        build(tf)
    return imagegen.Layer(buf.getvalue())


def _add(tf: tarfile.TarFile, name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"", link: str = "") -> None:
    ti = tarfile.TarInfo(name)
    ti.type, ti.linkname, ti.size = kind, link, len(data) if kind == tarfile.REGTYPE else 0
    ti.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
    tf.addfile(ti, io.BytesIO(data) if kind == tarfile.REGTYPE else None)


@pytest.fixture
def outside(daemon: WharfieDaemon) -> Path:
    """A sentinel directory next to the data root that no layer may touch."""
    d = daemon.base / "outside"
    d.mkdir(exist_ok=True)
    (d / "sentinel").write_text("untouched")
    return d


def _snapshot(d: Path) -> dict[str, tuple[int, float, bytes]]:
    out = {}
    for root, dirs, files in os.walk(d):
        for name in dirs + files:
            p = os.path.join(root, name)
            st = os.lstat(p)
            data = open(p, "rb").read() if os.path.isfile(p) and not os.path.islink(p) else b""
            out[p] = (st.st_mode, st.st_mtime, data)
    return out


def _load(daemon: WharfieDaemon, tmp_path: Path, layer: imagegen.Layer, tag: str):  # type: ignore[no-untyped-def]
    image = imagegen.Image([layer], {"Cmd": ["sh"]})
    path = tmp_path / f"{tag.replace(':', '_')}.tar"
    imagegen.docker_archive([(image, [tag])], str(path))
    return image, daemon.docker("load", "-i", str(path))


def escape_cases(outside: Path) -> dict[str, imagegen.Layer]:
    rel = os.path.relpath(outside, "/")
    return {
        "dotdot": _layer(lambda tf: _add(tf, f"../../../../../../../../{rel}/pwned", data=b"x")),
        "dotdot-inner": _layer(lambda tf: _add(tf, f"a/../../../../../../../{rel}/pwned", data=b"x")),
        "hardlink-out": _layer(lambda tf: _add(tf, "h", tarfile.LNKTYPE, link=f"../../../../../../{rel}/sentinel")),
        "whiteout-out": _layer(lambda tf: _add(tf, f"../../../../../../{rel}/.wh.sentinel", data=b"")),
    }


def contained_cases(outside: Path) -> dict[str, imagegen.Layer]:
    target = str(outside)
    return {
        "absolute": _layer(lambda tf: _add(tf, f"{target}/pwned", data=b"x")),
        "symlink-abs": _layer(lambda tf: (_add(tf, "evil", tarfile.SYMTYPE, link=target),
                                          _add(tf, "evil/pwned", data=b"x"))),
        "symlink-rel": _layer(lambda tf: (_add(tf, "evil", tarfile.SYMTYPE, link="../../../../../../../../" + target),
                                          _add(tf, "evil/pwned", data=b"x"))),
        "symlink-chain": _layer(lambda tf: (_add(tf, "a", tarfile.SYMTYPE, link="b"),
                                            _add(tf, "b", tarfile.SYMTYPE, link=target),
                                            _add(tf, "a/pwned", data=b"x"))),
        "hardlink-abs": _layer(lambda tf: _add(tf, "h", tarfile.LNKTYPE, link=f"{target}/sentinel")),
        "proc-root": _layer(lambda tf: (_add(tf, "p", tarfile.SYMTYPE, link="/proc/self/root" + target),
                                        _add(tf, "p/pwned", data=b"x"))),
        "symlink-sentinel-write": _layer(lambda tf: (_add(tf, "s", tarfile.SYMTYPE, link=f"{target}/sentinel"),
                                                     _add(tf, "s", data=b"overwritten"))),
    }


def test_escapes_are_refused(daemon: WharfieDaemon, outside: Path, tmp_path: Path) -> None:
    before = _snapshot(outside)
    for name, layer in escape_cases(outside).items():
        image, r = _load(daemon, tmp_path, layer, f"evil-{name}:1")
        assert r.rc != 0, f"{name}: the load should have been refused"
        assert daemon.docker("image", "inspect", f"evil-{name}:1").rc == 1, name
        assert _snapshot(outside) == before, f"{name} changed something outside the root"
    assert daemon.ping()
    # No leftovers from the refused loads.
    image_dir = daemon.data_root / "image"
    assert list((image_dir / "snapshots" / ".tmp").iterdir()) == []
    assert list((image_dir / "content" / "ingest").iterdir()) == []


def test_tricks_are_contained(daemon: WharfieDaemon, outside: Path, tmp_path: Path) -> None:
    before = _snapshot(outside)
    for name, layer in contained_cases(outside).items():
        image, r = _load(daemon, tmp_path, layer, f"odd-{name}:1")
        assert _snapshot(outside) == before, f"{name} changed something outside the root: {r}"
        if r.rc == 0:  # accepted: whatever it wrote is inside the image's own snapshot
            daemon.docker.ok("rmi", f"odd-{name}:1")
    assert daemon.ping()


def test_digest_mismatch_is_refused(daemon: WharfieDaemon, tmp_path: Path) -> None:
    good = imagegen.busybox_layer()
    image = imagegen.Image([good], {"Cmd": ["sh"]})
    path = tmp_path / "tampered.tar"
    imagegen.docker_archive([(image, ["tampered:1"])], str(path))
    # Flip one byte of the layer inside the archive: config still names the original diff ID.
    with tarfile.open(path) as tf:
        members = [(m, tf.extractfile(m).read() if m.isfile() else None) for m in tf.getmembers()]  # type: ignore[union-attr]
    out = tmp_path / "tampered2.tar"
    with tarfile.open(out, "w") as tf:
        for m, data in members:
            if data is not None and m.name.endswith(good.diff_id[7:]):
                mid = len(data) // 2  # inside the busybox binary, not a tar header
                data = data[:mid] + bytes([data[mid] ^ 1]) + data[mid + 1:]
            tf.addfile(m, io.BytesIO(data) if data is not None else None)
    r = daemon.docker("load", "-i", str(out))
    assert r.rc != 0 and "digest" in r.err.lower()
    assert daemon.docker("image", "inspect", "tampered:1").rc == 1
    assert list((daemon.data_root / "image" / "content" / "ingest").iterdir()) == []


def test_malformed_archives(daemon: WharfieDaemon, tmp_path: Path) -> None:
    cases = {
        "not-a-tar": b"hello world" * 100,
        "empty-tar": _tar({}),
        "bad-manifest-json": _tar({"manifest.json": b"{nope"}),
        "manifest-not-list": _tar({"manifest.json": b'{"a":1}'}),
        "missing-config": _tar({"manifest.json": json.dumps([{"Config": "x.json", "Layers": []}]).encode()}),
        "bad-tag": _tar({"manifest.json": json.dumps([{"Config": "c", "RepoTags": ["UPPER:1"], "Layers": []}]).encode(),
                         "c": b"{}"}),
        "layers-mismatch": _tar({"manifest.json": json.dumps([{"Config": "c", "Layers": ["l"]}]).encode(),
                                 "c": json.dumps({"rootfs": {"type": "layers", "diff_ids": []}}).encode(), "l": b""}),
    }
    for name, data in cases.items():
        p = tmp_path / f"{name}.tar"
        p.write_bytes(data)
        r = daemon.docker("load", "-i", str(p))
        assert r.rc != 0, name
        assert r.err.strip(), name
    assert daemon.ping()
    assert list((daemon.data_root / "image" / "tmp").iterdir()) == []


def test_gzip_bomb_archive_is_bounded(tmp_path: Path) -> None:
    """A layer that expands past the configured bound is refused (small bound so the test is quick)."""
    from wharfie.archive.apply import ApplyLimits, apply_layer
    from wharfie.errors import InvalidArgument

    layer = imagegen.filler_layer(8 << 20, "bomb")
    root = tmp_path / "root"
    root.mkdir()
    with pytest.raises(InvalidArgument):
        apply_layer(io.BytesIO(layer.data), str(root), limits=ApplyLimits(max_bytes=1 << 20))


def _tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in files.items():
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
    return buf.getvalue()
