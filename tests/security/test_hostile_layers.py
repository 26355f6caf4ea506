"""Hostile layer tars against `wharfie.archive.apply`.

Every test extracts into `<tmp>/data/root` with sentinels around it: files and dirs next to
the root, in its parent, a directory symlinks aim at, plus host files (/etc/passwd) and
canary names in host directories. The `sandbox` fixture snapshots all of them before the
test and fails the test if anything outside the root changed (content, mode, owner, mtime,
link count, xattrs, listing).

Runs as root on a real filesystem (mknod, chown, trusted.* xattrs, overlay mounts).
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
import stat
import subprocess
import tarfile
import time
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from wharfie.archive.apply import ApplyLimits, ApplyStats, apply_layer
from wharfie.archive.compression import open_decompressed
from wharfie.errors import InvalidArgument, UnsafeLayer

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (mknod, chown, xattrs)")

CANARY = f"wharfie-canary-{uuid.uuid4().hex[:12]}"
HOST_FILES = ["/etc/passwd", "/etc/shadow", "/etc/hostname"]
HOST_CANARY_DIRS = ["/", "/etc", "/tmp", "/root"]
MTIME = 1_600_000_000


# --- building tars -------------------------------------------------------------------------


class Tar:
    """An in-memory layer tar, member by member (PAX format, like Docker's)."""

    def __init__(self) -> None:
        self.buf = io.BytesIO()
        self.tf = tarfile.open(fileobj=self.buf, mode="w", format=tarfile.PAX_FORMAT)

    def add(self, name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"", **attrs) -> Tar:  # type: ignore[no-untyped-def]
        ti = tarfile.TarInfo(name)
        ti.type = kind
        ti.mtime = MTIME
        ti.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
        ti.size = len(data) if kind == tarfile.REGTYPE else 0
        for key, value in attrs.items():
            setattr(ti, key, value)
        self.tf.addfile(ti, io.BytesIO(data) if data else None)
        return self

    def file(self, name: str, data: bytes = b"", **attrs) -> Tar:  # type: ignore[no-untyped-def]
        return self.add(name, tarfile.REGTYPE, data, **attrs)

    def dir(self, name: str, **attrs) -> Tar:  # type: ignore[no-untyped-def]
        return self.add(name, tarfile.DIRTYPE, **attrs)

    def symlink(self, name: str, target: str) -> Tar:
        return self.add(name, tarfile.SYMTYPE, linkname=target)

    def hardlink(self, name: str, target: str) -> Tar:
        return self.add(name, tarfile.LNKTYPE, linkname=target)

    def device(self, name: str, kind: bytes = tarfile.CHRTYPE, major: int = 1, minor: int = 3) -> Tar:
        return self.add(name, kind, devmajor=major, devminor=minor, mode=0o666)

    def raw(self, data: bytes) -> Tar:
        """Append bytes tarfile's writer would never produce."""
        self.buf.write(data)
        self.tf.offset += len(data)
        return self

    def bytes(self, *, end: bool = True) -> bytes:
        if end:
            self.tf.close()
        return self.buf.getvalue()


def header(name: str, kind: bytes = tarfile.REGTYPE, size: int = 0, **attrs) -> bytes:  # type: ignore[no-untyped-def]
    ti = tarfile.TarInfo(name)
    ti.type, ti.size, ti.mtime = kind, size, MTIME
    for key, value in attrs.items():
        setattr(ti, key, value)
    return ti.tobuf(format=tarfile.GNU_FORMAT)


def pad(data: bytes) -> bytes:
    return data + bytes(-len(data) % 512)


# --- sandbox with sentinels ----------------------------------------------------------------


def _describe(path: str) -> tuple[object, ...]:
    st = os.lstat(path)
    extra: object = None
    if stat.S_ISREG(st.st_mode):
        extra = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    elif stat.S_ISLNK(st.st_mode):
        extra = os.readlink(path)
    elif stat.S_ISDIR(st.st_mode):
        extra = sorted(os.listdir(path))
    try:
        xattrs = sorted(os.listxattr(path, follow_symlinks=False))
    except OSError:
        xattrs = []
    return (st.st_mode, st.st_uid, st.st_gid, st.st_size, st.st_mtime_ns, st.st_nlink,
            st.st_ino, extra, xattrs)


def _snapshot(top: Path, skip: Path) -> dict[str, tuple[object, ...]]:
    out = {}
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames[:] = [d for d in dirnames if Path(dirpath, d) != skip]
        for name in [".", *dirnames, *filenames]:
            path = os.path.join(dirpath, name)
            out[os.path.relpath(path, top)] = _describe(path)
    for path in HOST_FILES:
        if os.path.lexists(path):
            out[path] = _describe(path)
    return out


@dataclass
class Sandbox:
    top: Path  # everything here but `root` is a sentinel
    root: Path
    outside_file: Path  # <top>/outside.txt
    sibling_file: Path  # <top>/data/sibling.txt
    sibling_dir: Path  # <top>/data/sibling_dir (holds keep.txt)
    before: dict[str, tuple[object, ...]] = field(default_factory=dict)

    def apply(self, tar: bytes | Tar, **kw) -> ApplyStats:  # type: ignore[no-untyped-def]
        data = tar.bytes() if isinstance(tar, Tar) else tar
        return apply_layer(io.BytesIO(data), str(self.root), **kw)

    def apply_contained(self, tar: bytes | Tar, **kw) -> ApplyStats | None:  # type: ignore[no-untyped-def]
        """Apply; refusing is fine too. Either way nothing outside may change."""
        try:
            return self.apply(tar, **kw)
        except InvalidArgument:
            return None
        finally:
            self.assert_untouched()

    def assert_untouched(self) -> None:
        after = _snapshot(self.top, self.root)
        changed = {k for k in self.before.keys() | after.keys() if self.before.get(k) != after.get(k)}
        assert not changed, f"changed outside the root: {sorted(changed)}"
        for d in HOST_CANARY_DIRS + [str(self.top.parent)]:
            assert not os.path.lexists(os.path.join(d, CANARY)), f"canary written to {d}"


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    data = tmp_path / "data"
    root = data / "root"
    root.mkdir(parents=True)
    box = Sandbox(
        top=tmp_path,
        root=root,
        outside_file=tmp_path / "outside.txt",
        sibling_file=data / "sibling.txt",
        sibling_dir=data / "sibling_dir",
    )
    box.outside_file.write_text("outside\n")
    box.sibling_file.write_text("sibling\n")
    box.sibling_dir.mkdir()
    (box.sibling_dir / "keep.txt").write_text("keep\n")
    (tmp_path / "victim_dir").mkdir()
    (tmp_path / "victim_dir" / "keep.txt").write_text("keep\n")
    os.utime(box.sibling_dir, ns=(MTIME * 10**9, MTIME * 10**9))
    box.before = _snapshot(tmp_path, root)
    yield box
    box.assert_untouched()


def read(path: Path) -> bytes:
    return path.read_bytes()


# --- traversal -----------------------------------------------------------------------------

CLIMBING = ["../x", "a/../../x", "./../x", "a/b/../../../x", "..", "../", f"../data/{CANARY}"]


@pytest.mark.parametrize("name", CLIMBING)
@pytest.mark.parametrize("kind", [tarfile.REGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.CHRTYPE])
def test_parent_traversal_is_refused(sandbox: Sandbox, name: str, kind: bytes) -> None:
    tar = Tar().file("ok", b"fine").add(name, kind, b"pwned" if kind == tarfile.REGTYPE else b"",
                                        linkname="ok", devmajor=1, devminor=3)
    with pytest.raises(UnsafeLayer, match="climbs out") as err:
        sandbox.apply(tar)
    assert repr(name.rstrip("/") or name)[1:-1] in str(err.value)


def test_traversal_refused_even_after_symlink_to_root(sandbox: Sandbox) -> None:
    tar = Tar().symlink("up", "/").file("up/../../" + CANARY, b"pwned")
    with pytest.raises(UnsafeLayer):
        sandbox.apply(tar)


@pytest.mark.parametrize(
    ("name", "lands"),
    [("/abs.txt", "abs.txt"), ("/../../abs2.txt", "abs2.txt"), ("//x/y", "x/y"),
     ("/etc/" + CANARY, "etc/" + CANARY), ("./a/./b//c", "a/b/c")],
)
def test_absolute_and_unclean_names_are_contained(sandbox: Sandbox, name: str, lands: str) -> None:
    sandbox.apply(Tar().file(name, b"inside"))
    assert read(sandbox.root / lands) == b"inside"


# --- symlinks, then writes through them --------------------------------------------------------


def test_absolute_symlink_then_write_through_lands_inside(sandbox: Sandbox) -> None:
    host_dir = str(sandbox.top)  # a real host directory holding sentinels
    tar = (Tar().dir(host_dir.lstrip("/"))  # so the target exists inside the root too
           .symlink("evil", host_dir)
           .file("evil/outside.txt", b"pwned"))
    sandbox.apply(tar)
    assert read(sandbox.root / host_dir.lstrip("/") / "outside.txt") == b"pwned"
    assert os.readlink(sandbox.root / "evil") == host_dir  # the link itself is kept as is


def test_symlink_to_etc_then_write_through(sandbox: Sandbox) -> None:
    tar = Tar().dir("etc").symlink("evil", "/etc").file(f"evil/{CANARY}", b"pwned")
    sandbox.apply(tar)
    assert read(sandbox.root / "etc" / CANARY) == b"pwned"


def test_symlink_to_missing_host_dir_then_write_through(sandbox: Sandbox) -> None:
    # /tmp/<...> exists on the host but not in the root: refuse or contain, never follow out.
    tar = Tar().symlink("evil", str(sandbox.sibling_dir)).file("evil/keep.txt", b"pwned")
    sandbox.apply_contained(tar)
    assert not (sandbox.root / "keep.txt").exists()


@pytest.mark.parametrize("target", ["../../..", "../" * 40, "..", "./../../.", "/.."])
def test_relative_climbing_symlink_then_write_through(sandbox: Sandbox, target: str) -> None:
    tar = Tar().symlink("evil", target).file("evil/sibling.txt", b"pwned").file(
        f"evil/{CANARY}", b"pwned")
    sandbox.apply(tar)
    # Resolved as if the root were "/": ".." of the root is the root.
    assert read(sandbox.root / "sibling.txt") == b"pwned"


def test_nested_symlink_chain_is_contained(sandbox: Sandbox) -> None:
    tar = (Tar().symlink("l1", "l2").symlink("l2", "sub/l3").dir("sub")
           .symlink("sub/l3", "../../../l4").symlink("l4", "/../..//")
           .file("l1/outside.txt", b"pwned").file("l1/data/sibling.txt", b"pwned"))
    sandbox.apply_contained(tar)
    assert read(sandbox.root / "outside.txt") == b"pwned"


def test_symlink_loop_is_refused_without_escape(sandbox: Sandbox) -> None:
    tar = Tar().symlink("a", "b").symlink("b", "a").file("a/x", b"pwned")
    with pytest.raises(InvalidArgument):
        sandbox.apply(tar)


@pytest.mark.parametrize("target", ["/proc/self/root", "/proc/self/cwd", "/proc/1/root", "/proc/self/fd/3"])
def test_symlink_to_proc_magic_links_is_contained(sandbox: Sandbox, target: str) -> None:
    sandbox.apply_contained(Tar().symlink("p", target).file(f"p/etc/{CANARY}", b"pwned"))
    # Even when the layer builds the path, it is a plain path inside the root.
    tar = Tar().dir(target.lstrip("/") + "/etc").symlink("p", target).file(f"p/etc/{CANARY}", b"x")
    sandbox.apply(tar)
    assert read(sandbox.root / target.lstrip("/") / "etc" / CANARY) == b"x"


def test_resolver_refuses_magic_links() -> None:
    # With a real procfs inside a root (e.g. a mounted container rootfs), /proc/self/root
    # must not be a way out: RESOLVE_NO_MAGICLINKS makes the kernel refuse it.
    from wharfie.archive.scoped import ScopedRoot

    host = ScopedRoot("/")
    try:
        with pytest.raises(OSError) as err:
            host.open("proc/self/root/etc", os.O_PATH)
        assert err.value.errno == errno.ELOOP
    finally:
        host.close()


def test_symlink_replacing_a_directory_mid_archive(sandbox: Sandbox) -> None:
    tar = (Tar().dir("d").file("d/f", b"one").dir("elsewhere")
           .symlink("d", "/elsewhere")  # replaces the directory (and the cached parent fd)
           .file("d/g", b"two")
           .symlink("d", str(sandbox.top))  # now at a host path
           .file("d/outside.txt", b"pwned"))
    sandbox.apply_contained(tar)
    assert read(sandbox.root / "elsewhere" / "g") == b"two"  # went through the NEW link
    assert not (sandbox.root / "d").is_dir() or (sandbox.root / "d").is_symlink()


def test_symlink_replacing_directory_relative_target(sandbox: Sandbox) -> None:
    tar = (Tar().dir("a/b").file("a/b/f", b"one").symlink("a/b", "../../../../")
           .file("a/b/sibling.txt", b"pwned").file("a/b/outside.txt", b"pwned"))
    sandbox.apply(tar)
    assert read(sandbox.root / "sibling.txt") == b"pwned"
    assert read(sandbox.root / "outside.txt") == b"pwned"


def test_directory_entry_over_symlink_replaces_the_link(sandbox: Sandbox) -> None:
    tar = Tar().symlink("d", str(sandbox.sibling_dir)).dir("d", mode=0o700, uid=123).file("d/x", b"in")
    sandbox.apply(tar)
    assert (sandbox.root / "d").is_dir() and not (sandbox.root / "d").is_symlink()
    assert read(sandbox.root / "d" / "x") == b"in"


def test_file_entry_over_symlink_replaces_the_link(sandbox: Sandbox) -> None:
    tar = Tar().symlink("f", str(sandbox.outside_file)).file("f", b"pwned", mode=0o777)
    sandbox.apply(tar)
    assert not (sandbox.root / "f").is_symlink() and read(sandbox.root / "f") == b"pwned"


def test_symlink_target_text_is_kept_verbatim(sandbox: Sandbox) -> None:
    targets = {"abs": "/etc/passwd", "rel": "../../../../etc/shadow", "dot": ".", "weird": "a//b/../c"}
    tar = Tar()
    for name, target in targets.items():
        tar.symlink(name, target)
    sandbox.apply(tar)
    assert {n: os.readlink(sandbox.root / n) for n in targets} == targets


# --- hardlinks -----------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["../outside.txt", "../../outside.txt", "a/../../data/sibling.txt",
                                    "../../../../../../etc/shadow"])
def test_hardlink_target_climbing_out_is_refused(sandbox: Sandbox, target: str) -> None:
    with pytest.raises(UnsafeLayer, match="climbs out"):
        sandbox.apply(Tar().hardlink("h", target))


@pytest.mark.parametrize("target", ["/etc/passwd", "ABS_OUTSIDE", "etc/shadow"])
def test_absolute_hardlink_target_resolves_inside_root(sandbox: Sandbox, target: str) -> None:
    target = str(sandbox.outside_file) if target == "ABS_OUTSIDE" else target
    with pytest.raises(InvalidArgument, match="not found"):
        sandbox.apply(Tar().hardlink("h", target))  # nothing by that name inside the root
    sandbox.apply(Tar().file(target, b"inner").hardlink("h", target))
    assert os.path.samefile(sandbox.root / "h", sandbox.root / target.lstrip("/"))


def test_hardlink_through_symlinked_dir_stays_inside(sandbox: Sandbox) -> None:
    tar = Tar().symlink("lnk", str(sandbox.top)).hardlink("h", "lnk/outside.txt")
    with pytest.raises(InvalidArgument, match="not found"):
        sandbox.apply(tar)
    assert os.stat(sandbox.outside_file).st_nlink == 1


def test_hardlink_to_symlink_pointing_outside_gives_no_write_access(sandbox: Sandbox) -> None:
    tar = (Tar().symlink("s", str(sandbox.outside_file)).symlink("sd", str(sandbox.top))
           .hardlink("h", "s").hardlink("hd", "sd")
           .file("h", b"pwned")  # replaces the link, never writes through it
           .file("hd/outside.txt", b"pwned"))
    sandbox.apply_contained(tar)
    assert read(sandbox.root / "h") == b"pwned"
    assert os.readlink(sandbox.root / "s") == str(sandbox.outside_file)


def test_hardlink_keeps_symlink_unfollowed(sandbox: Sandbox) -> None:
    sandbox.apply(Tar().symlink("s", str(sandbox.outside_file)).hardlink("h", "s"))
    h = os.lstat(sandbox.root / "h")
    assert stat.S_ISLNK(h.st_mode) and h.st_ino == os.lstat(sandbox.root / "s").st_ino


def test_hardlink_to_directory_is_refused(sandbox: Sandbox) -> None:
    with pytest.raises(InvalidArgument, match="directory"):
        sandbox.apply(Tar().dir("d").hardlink("h", "d"))
    with pytest.raises(UnsafeLayer, match="root"):
        sandbox.apply(Tar().hardlink("h2", "/"))


# --- whiteouts -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", [".wh...", "a/.wh...", ".wh..", ".wh.", "a/.wh."])
@pytest.mark.parametrize("overlay", [True, False])
def test_whiteout_of_dot_names_is_refused(sandbox: Sandbox, name: str, overlay: bool) -> None:
    (sandbox.root / "a").mkdir()
    with pytest.raises(UnsafeLayer, match="whiteout"):
        sandbox.apply(Tar().file(name), overlay=overlay)


@pytest.mark.parametrize("name", ["../.wh.outside.txt", "../.wh.sibling.txt", "a/../../.wh.data",
                                  "../.wh..wh..opq", "../../.wh..wh..opq"])
@pytest.mark.parametrize("overlay", [True, False])
def test_whiteout_with_traversal_is_refused(sandbox: Sandbox, name: str, overlay: bool) -> None:
    with pytest.raises(UnsafeLayer, match="climbs out"):
        sandbox.apply(Tar().file(name), overlay=overlay)


@pytest.mark.parametrize("name", [".wh.../outside.txt", "a/.wh.b/c", ".wh.x/.wh.y"])
def test_whiteout_used_as_directory_is_refused(sandbox: Sandbox, name: str) -> None:
    with pytest.raises(UnsafeLayer, match="whiteout as a directory"):
        sandbox.apply(Tar().file(name, b"x"))


@pytest.mark.parametrize("overlay", [True, False])
def test_whiteout_through_symlink_never_deletes_outside(sandbox: Sandbox, overlay: bool) -> None:
    tar = (Tar().symlink("abs", str(sandbox.top)).symlink("rel", "../../..")
           .symlink("dat", str(sandbox.top / "data"))
           .file("abs/.wh.outside.txt").file("rel/.wh.outside.txt").file("dat/.wh.sibling.txt")
           .file("dat/.wh.sibling_dir").file(f"{sandbox.top}/.wh.victim_dir".lstrip("/")))
    sandbox.apply_contained(tar, overlay=overlay)


def test_merge_whiteout_removes_link_not_target(sandbox: Sandbox) -> None:
    os.symlink(sandbox.sibling_dir, sandbox.root / "s")
    (sandbox.root / "d").mkdir()
    os.symlink(sandbox.sibling_dir, sandbox.root / "d" / "inner")
    os.symlink(sandbox.outside_file, sandbox.root / "d" / "f")
    sandbox.apply(Tar().file(".wh.s").file(".wh.d"), overlay=False)
    assert os.listdir(sandbox.root) == []


@pytest.mark.parametrize("overlay", [True, False])
def test_opaque_marker_through_symlinks_stays_inside(sandbox: Sandbox, overlay: bool) -> None:
    tar = (Tar().symlink("abs", str(sandbox.top / "data")).symlink("rel", "../..")
           .file("abs/.wh..wh..opq").file("rel/.wh..wh..opq"))
    sandbox.apply_contained(tar, overlay=overlay)


def test_merge_opaque_purges_only_inside(sandbox: Sandbox) -> None:
    d = sandbox.root / "d"
    (d / "sub").mkdir(parents=True)
    (d / "old.txt").write_text("old")
    (d / "sub" / "old.txt").write_text("old")
    os.symlink(sandbox.sibling_dir, d / "to_sibling")
    os.symlink(sandbox.top, d / "to_top")
    tar = Tar().file("d/new.txt", b"new").file("d/.wh..wh..opq").file("d/later.txt", b"later")
    sandbox.apply(tar, overlay=False)
    assert sorted(os.listdir(d)) == ["later.txt", "new.txt"]


# --- device nodes --------------------------------------------------------------------------


def test_device_nodes_only_inside_root(sandbox: Sandbox) -> None:
    tar = (Tar().device("/dev/evil", tarfile.BLKTYPE, 8, 0).device("dev/null")
           .add("fifo", tarfile.FIFOTYPE)
           .symlink("lnk", str(sandbox.top)).symlink("rel", "../../..")
           .device(f"rel/{CANARY}", tarfile.BLKTYPE, 8, 0))
    sandbox.apply(tar)
    assert stat.S_ISBLK(os.lstat(sandbox.root / "dev" / "evil").st_mode)
    assert os.lstat(sandbox.root / "dev" / "evil").st_rdev == os.makedev(8, 0)
    assert stat.S_ISCHR(os.lstat(sandbox.root / "dev" / "null").st_mode)
    assert stat.S_ISFIFO(os.lstat(sandbox.root / "fifo").st_mode)
    assert stat.S_ISBLK(os.lstat(sandbox.root / CANARY).st_mode)
    sandbox.apply_contained(Tar().device("lnk/evil", tarfile.BLKTYPE, 8, 0))


def test_device_traversal_refused(sandbox: Sandbox) -> None:
    with pytest.raises(UnsafeLayer):
        sandbox.apply(Tar().device("../evil", tarfile.BLKTYPE, 8, 0))


# --- bombs and limits ----------------------------------------------------------------------


class CountingReader(io.RawIOBase):
    """Counts what the consumer actually pulled from `src`."""

    def __init__(self, src: bytes | io.RawIOBase) -> None:
        self._src = io.BytesIO(src) if isinstance(src, bytes) else src
        self.consumed = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b):  # type: ignore[no-untyped-def]
        n = self._src.readinto(b)
        self.consumed += n
        return n


def gzip_tar_of_zero_files(count: int, size: int) -> bytes:
    """A gzip'd tar of `count` zero-filled files: tiny compressed, huge expanded."""
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)
    out = []
    zeros = bytes(1 << 20)
    for i in range(count):
        out.append(comp.compress(header(f"f{i}", size=size)))
        left = size + (-size % 512)
        while left:
            out.append(comp.compress(zeros[: min(left, len(zeros))]))
            left -= min(left, len(zeros))
    out.append(comp.compress(bytes(1024)))
    out.append(comp.flush())
    return b"".join(out)


def test_decompression_bomb_single_file_refused_at_header(sandbox: Sandbox) -> None:
    blob = gzip_tar_of_zero_files(1, 256 << 20)  # 256 MiB of zeros in ~250 KiB
    tar = CountingReader(open_decompressed(io.BytesIO(blob)))  # type: ignore[arg-type]
    start = time.perf_counter()
    with pytest.raises(UnsafeLayer, match="size limit"):
        apply_layer(tar, str(sandbox.root), limits=ApplyLimits(max_bytes=1 << 20))  # type: ignore[arg-type]
    assert time.perf_counter() - start < 2
    assert tar.consumed <= 1 << 20  # stopped at the header, not after inflating the data
    assert not (sandbox.root / "f0").exists()


def test_decompression_bomb_many_files_stops_at_limit(sandbox: Sandbox) -> None:
    blob = gzip_tar_of_zero_files(256, 1 << 20)  # 256 MiB total, 1 MiB each
    tar = CountingReader(open_decompressed(io.BytesIO(blob)))  # type: ignore[arg-type]
    start = time.perf_counter()
    with pytest.raises(UnsafeLayer, match="size limit"):
        apply_layer(tar, str(sandbox.root), limits=ApplyLimits(max_bytes=8 << 20))  # type: ignore[arg-type]
    assert time.perf_counter() - start < 5
    written = sum(p.stat().st_size for p in sandbox.root.iterdir())
    assert written <= 8 << 20
    assert tar.consumed <= (9 << 20) + (1 << 20)  # the limit plus headers and read-ahead


def test_huge_declared_size_refused_before_writing(sandbox: Sandbox) -> None:
    tar = Tar().file("ok", b"fine").raw(header("huge", size=1 << 40))  # no data follows
    start = time.perf_counter()
    with pytest.raises(UnsafeLayer, match="size limit"):
        sandbox.apply(tar.bytes(end=False))
    assert time.perf_counter() - start < 1
    assert not (sandbox.root / "huge").exists()


def test_huge_pax_size_field_refused(sandbox: Sandbox) -> None:
    pax = tarfile.TarInfo("x")
    pax.pax_headers = {"size": str(10**18)}
    tar = Tar().raw(pax.tobuf(format=tarfile.PAX_FORMAT))
    with pytest.raises(UnsafeLayer, match="size limit"):
        sandbox.apply(tar.bytes(end=False))


def test_whiteout_with_huge_payload_counts_against_limit(sandbox: Sandbox) -> None:
    tar = Tar().raw(header(".wh.x", size=1 << 40))
    with pytest.raises(UnsafeLayer, match="size limit"):
        sandbox.apply(tar.bytes(end=False))


def test_too_many_entries_refused(sandbox: Sandbox) -> None:
    tar = Tar()
    for i in range(300):
        tar.file(f"f{i}")
    with pytest.raises(UnsafeLayer, match="entries"):
        sandbox.apply(tar, limits=ApplyLimits(max_entries=100))
    assert len(os.listdir(sandbox.root)) <= 100


def test_oversized_extended_header_refused_without_reading_it(sandbox: Sandbox) -> None:
    tar = Tar().raw(header("././@PaxHeader", tarfile.XHDTYPE, size=512 << 20))
    src = CountingReader(tar.bytes(end=False) + bytes(4 << 20))
    with pytest.raises(UnsafeLayer, match="extended header"):
        apply_layer(src, str(sandbox.root))  # type: ignore[arg-type]
    assert src.consumed <= 1 << 20


def test_oversized_gnu_long_name_refused(sandbox: Sandbox) -> None:
    tar = Tar().raw(header("././@LongLink", tarfile.GNUTYPE_LONGNAME, size=64 << 20))
    with pytest.raises(UnsafeLayer, match="extended header"):
        sandbox.apply(tar.bytes(end=False) + bytes(1 << 20))


def test_chained_extended_headers_refused(sandbox: Sandbox) -> None:
    record = b"20 comment=abcdefgh\n"
    one = header("././@PaxHeader", tarfile.XHDTYPE, size=len(record)) + pad(record)
    tar = Tar().raw(one * 5000).raw(header("f"))
    with pytest.raises(UnsafeLayer, match="chains"):
        sandbox.apply(tar.bytes())


def test_trailing_data_after_end_counts_against_limit(sandbox: Sandbox) -> None:
    data = Tar().file("f", b"x").bytes() + bytes(4 << 20)
    with pytest.raises(UnsafeLayer, match="size limit"):
        sandbox.apply(data, limits=ApplyLimits(max_bytes=1 << 20))
    assert sandbox.apply(data).size == 1  # and is drained (read to the end) otherwise


def test_drains_stream_to_end(sandbox: Sandbox) -> None:
    src = CountingReader(Tar().file("f", b"x").bytes() + bytes(100_000))
    apply_layer(src, str(sandbox.root))  # type: ignore[arg-type]
    assert src.consumed == len(src._src.getvalue())


# --- names ---------------------------------------------------------------------------------


def test_nul_in_name_refused(sandbox: Sandbox) -> None:
    tar = Tar().file("placeholder", b"x", pax_headers={"path": f"a\x00/../../{CANARY}"})
    with pytest.raises(UnsafeLayer, match="NUL"):
        sandbox.apply(tar)


def test_nul_in_hardlink_target_refused(sandbox: Sandbox) -> None:
    tar = Tar().file("t").add("h", tarfile.LNKTYPE, pax_headers={"linkpath": "t\x00../../x"})
    with pytest.raises(UnsafeLayer, match="NUL"):
        sandbox.apply(tar)


def test_nul_in_symlink_target_refused(sandbox: Sandbox) -> None:
    tar = Tar().add("s", tarfile.SYMTYPE, pax_headers={"linkpath": "/etc\x00/x"})
    with pytest.raises(UnsafeLayer, match="symlink target"):
        sandbox.apply(tar)


def test_empty_name_refused(sandbox: Sandbox) -> None:
    with pytest.raises(UnsafeLayer, match="empty"):
        sandbox.apply(Tar().raw(header("", size=0)).bytes())


def test_overlong_name_refused(sandbox: Sandbox) -> None:
    with pytest.raises(UnsafeLayer, match="too long"):
        sandbox.apply(Tar().file("a/" * 100 + "x"), limits=ApplyLimits(max_name_len=100))
    with pytest.raises(InvalidArgument):
        sandbox.apply(Tar().file("n" * 300))  # one component over NAME_MAX


def test_root_cannot_be_replaced(sandbox: Sandbox) -> None:
    for tar in (Tar().symlink(".", "/etc"), Tar().file("./", b"x"), Tar().symlink("/", "/etc")):
        with pytest.raises(UnsafeLayer, match="root"):
            sandbox.apply(tar)
    assert sandbox.root.is_dir() and not sandbox.root.is_symlink()


# --- malformed tars ------------------------------------------------------------------------


def test_bad_checksum_mid_archive_is_an_error_not_an_end(sandbox: Sandbox) -> None:
    bad = bytearray(header("second", size=0))
    bad[148:156] = b"0000000\0"
    tar = Tar().file("first", b"1").raw(bytes(bad)).file("third", b"3")
    with pytest.raises(InvalidArgument, match="malformed"):
        sandbox.apply(tar)


def test_truncated_data_is_an_error(sandbox: Sandbox) -> None:
    data = Tar().file("f", b"x" * 10_000).bytes()
    with pytest.raises(InvalidArgument):
        sandbox.apply(data[: 512 + 5000])


def test_truncated_header_is_an_error(sandbox: Sandbox) -> None:
    data = Tar().file("f", b"x").bytes(end=False)
    with pytest.raises(InvalidArgument):
        sandbox.apply(data + header("g")[:300])


def test_garbage_is_an_error(sandbox: Sandbox) -> None:
    with pytest.raises(InvalidArgument):
        sandbox.apply(os.urandom(4096))


def test_empty_stream_is_an_empty_layer(sandbox: Sandbox) -> None:
    assert sandbox.apply(b"") == ApplyStats(size=0, entries=0)
    assert sandbox.apply(bytes(1024)) == ApplyStats(size=0, entries=0)


def test_sparse_files_refused(sandbox: Sandbox) -> None:
    sparse = Tar().file("s", b"data", pax_headers={"GNU.sparse.major": "1", "GNU.sparse.minor": "0",
                                                   "GNU.sparse.name": "s", "GNU.sparse.realsize": "4"})
    with pytest.raises(InvalidArgument, match="sparse"):
        sandbox.apply(sparse)
    with pytest.raises(InvalidArgument, match="sparse"):
        sandbox.apply(Tar().raw(header("s", tarfile.GNUTYPE_SPARSE, size=0)).bytes())


def test_unknown_member_type_refused(sandbox: Sandbox) -> None:
    with pytest.raises(InvalidArgument, match="unsupported"):
        sandbox.apply(Tar().raw(header("v", b"V")).bytes())


def test_global_pax_header_is_ignored(sandbox: Sandbox) -> None:
    glob = tarfile.TarInfo.create_pax_global_header({"path": "../../evil", "comment": "git"})
    sandbox.apply(Tar().raw(glob).file("a", b"1").file("b", b"2"))
    assert sorted(os.listdir(sandbox.root)) == ["a", "b"]


def test_invalid_owner_refused(sandbox: Sandbox) -> None:
    with pytest.raises(InvalidArgument, match="owner"):
        sandbox.apply(Tar().file("f", uid=-5))


def test_overlay_metadata_xattrs_from_tar_are_dropped(sandbox: Sandbox) -> None:
    px = {"SCHILY.xattr.trusted.overlay.redirect": "/etc", "SCHILY.xattr.trusted.overlay.metacopy": "",
          "SCHILY.xattr.user.overlay.origin": "x", "SCHILY.xattr.user.keep": "yes"}
    sandbox.apply(Tar().file("f", b"x", pax_headers=px).dir("d", pax_headers=px))
    for name in ("f", "d"):
        assert os.listxattr(sandbox.root / name) == ["user.keep"]


# --- what must work ------------------------------------------------------------------------


def test_whiteout_becomes_overlay_char_device(sandbox: Sandbox) -> None:
    stats = sandbox.apply(Tar().file("etc/.wh.gone", uid=10, gid=20).file(".wh.top"))
    for path in (sandbox.root / "etc" / "gone", sandbox.root / "top"):
        st = os.lstat(path)
        assert stat.S_ISCHR(st.st_mode) and st.st_rdev == 0
    assert os.lstat(sandbox.root / "etc" / "gone").st_uid == 10
    assert not (sandbox.root / "etc" / ".wh.gone").exists()
    assert stats.entries == 2 and stats.size == 0


def test_opaque_marker_becomes_xattr(sandbox: Sandbox) -> None:
    sandbox.apply(Tar().dir("d").file("d/.wh..wh..opq").file("d/new", b"n").file("e/.wh..wh..opq"))
    assert os.getxattr(sandbox.root / "d", "trusted.overlay.opaque") == b"y"
    assert os.getxattr(sandbox.root / "e", "trusted.overlay.opaque") == b"y"
    assert os.listdir(sandbox.root / "d") == ["new"]


def test_aufs_metadata_entries_skipped(sandbox: Sandbox) -> None:
    tar = (Tar().dir(".wh..wh.plnk").file(".wh..wh.plnk/123.456", b"x")
           .file(".wh..wh.aufs").file("d/.wh..wh.foo").file("f", b"1"))
    sandbox.apply(tar)
    assert os.listdir(sandbox.root) == ["f"]


def test_merge_mode_deletes_and_purges(sandbox: Sandbox) -> None:
    r = sandbox.root
    (r / "gone.txt").write_text("x")
    (r / "tree" / "deep" / "deeper").mkdir(parents=True)
    (r / "tree" / "deep" / "deeper" / "f").write_text("x")
    (r / "op" / "keepdir").mkdir(parents=True)
    (r / "op" / "old").write_text("old")
    (r / "op" / "keepdir" / "older").write_text("old")
    tar = (Tar().file(".wh.gone.txt").file(".wh.tree").file(".wh.never-existed")
           .file("op/keepdir/new", b"new").file("op/.wh..wh..opq").file("missing/.wh..wh..opq"))
    sandbox.apply(tar, overlay=False)
    assert sorted(os.listdir(r)) == ["op"]
    assert sorted(os.listdir(r / "op")) == ["keepdir"]
    assert os.listdir(r / "op" / "keepdir") == ["new"]  # same-layer entries survive


def test_metadata_is_preserved(sandbox: Sandbox) -> None:
    px = {"SCHILY.xattr.user.note": "hello", "SCHILY.xattr.trusted.t": "\udcff\x00bin",
          "mtime": "1600000000.123456789"}
    tar = (Tar().dir("d", mode=0o1777, uid=1, gid=2, mtime=1_000_000_000)
           .file("d/suid", b"s", mode=0o4755, uid=0, gid=0)
           .file("d/sgid", b"g", mode=0o2711, uid=1000, gid=1000, pax_headers=px)
           .dir("d/sub", mode=0o555, mtime=1_100_000_000).file("d/sub/x", b"x", mode=0o400)
           .symlink("d/link", "sgid"))
    stats = sandbox.apply(tar)
    d = sandbox.root / "d"
    assert stats == ApplyStats(size=3, entries=6)
    assert stat.S_IMODE(os.lstat(d).st_mode) == 0o1777
    assert (os.lstat(d).st_uid, os.lstat(d).st_gid) == (1, 2)
    assert os.lstat(d).st_mtime_ns == 1_000_000_000 * 10**9  # set after its children
    assert os.lstat(d / "sub").st_mtime_ns == 1_100_000_000 * 10**9
    assert stat.S_IMODE(os.lstat(d / "sub").st_mode) == 0o555
    assert stat.S_IMODE(os.lstat(d / "suid").st_mode) == 0o4755
    sgid = os.lstat(d / "sgid")
    assert stat.S_IMODE(sgid.st_mode) == 0o2711 and (sgid.st_uid, sgid.st_gid) == (1000, 1000)
    assert sgid.st_mtime_ns == 1_600_000_000_123_456_789
    assert os.getxattr(d / "sgid", "user.note") == b"hello"
    assert os.getxattr(d / "sgid", "trusted.t") == b"\xff\x00bin"
    assert os.lstat(d / "link").st_mtime_ns == MTIME * 10**9
    assert stat.S_IMODE(os.lstat(d / "sub" / "x").st_mode) == 0o400


def test_file_capabilities_survive_chown(sandbox: Sandbox) -> None:
    # security.capability v2: cap_net_raw+ep. chown clears it, so it must be set after.
    caps = (0x02000001).to_bytes(4, "little") + (1 << 13).to_bytes(4, "little") + bytes(12)
    px = {"SCHILY.xattr.security.capability": caps.decode("utf-8", "surrogateescape")}
    sandbox.apply(Tar().file("ping", b"\x7fELF", mode=0o755, uid=0, gid=0, pax_headers=px))
    assert os.getxattr(sandbox.root / "ping", "security.capability") == caps


def test_hardlinks_share_an_inode(sandbox: Sandbox) -> None:
    tar = Tar().file("a/f", b"data", mode=0o640).hardlink("b/g", "a/f").hardlink("h", "/a/f")
    stats = sandbox.apply(tar)
    ino = os.lstat(sandbox.root / "a" / "f").st_ino
    assert os.lstat(sandbox.root / "b" / "g").st_ino == ino == os.lstat(sandbox.root / "h").st_ino
    assert os.lstat(sandbox.root / "h").st_nlink == 3
    assert stats.size == 4


def test_replacements_and_duplicates_last_wins(sandbox: Sandbox) -> None:
    tar = (Tar().file("x", b"first").file("x", b"second")
           .dir("d").file("d/inner", b"i").file("d", b"file now")  # file over dir
           .file("e", b"f").dir("e", mode=0o700)  # dir over file
           .dir("k", mode=0o700).file("k/a", b"a").dir("k", mode=0o750))  # dir over dir merges
    sandbox.apply(tar)
    r = sandbox.root
    assert read(r / "x") == b"second" and read(r / "d") == b"file now"
    assert (r / "e").is_dir() and stat.S_IMODE(os.lstat(r / "e").st_mode) == 0o700
    assert read(r / "k" / "a") == b"a" and stat.S_IMODE(os.lstat(r / "k").st_mode) == 0o750


def test_merge_dir_over_existing_dir_keeps_contents(sandbox: Sandbox) -> None:
    (sandbox.root / "d").mkdir()
    (sandbox.root / "d" / "old").write_text("old")
    sandbox.apply(Tar().dir("d", mode=0o711, uid=7), overlay=False)
    assert os.listdir(sandbox.root / "d") == ["old"]
    assert os.lstat(sandbox.root / "d").st_uid == 7


def test_missing_parents_created_0755(sandbox: Sandbox) -> None:
    old = os.umask(0o077)
    try:
        sandbox.apply(Tar().file("a/b/c/f", b"x"))
    finally:
        os.umask(old)
    for p in ("a", "a/b", "a/b/c"):
        assert stat.S_IMODE(os.lstat(sandbox.root / p).st_mode) == 0o755


def test_implicit_parents_follow_symlinks_inside_root(sandbox: Sandbox) -> None:
    tar = Tar().dir("usr/lib").symlink("lib", "/usr/lib").file("lib/new/deeper/f", b"x")
    sandbox.apply(tar)
    assert read(sandbox.root / "usr" / "lib" / "new" / "deeper" / "f") == b"x"


def test_implicit_parents_never_built_through_dangling_symlink(sandbox: Sandbox) -> None:
    tar = Tar().symlink("l", f"/{CANARY}/x").file("l/y/f", b"x")
    with pytest.raises(InvalidArgument):
        sandbox.apply(tar)
    assert not (sandbox.root / CANARY).exists()


def test_deep_nesting_is_linear_and_removable(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    import wharfie.archive.scoped as scoped

    calls = []
    real = scoped.openat2
    monkeypatch.setattr(scoped, "openat2", lambda *a, **k: calls.append(a[1]) or real(*a, **k))
    depth, count = 600, 10
    tar = Tar()
    for i in range(count):
        tar.file(f"n{i}/" + "d/" * depth + "f", b"x")
    try:
        sandbox.apply(tar)
        assert read(sandbox.root / f"n{count - 1}" / ("d/" * depth) / "f") == b"x"
        # Parents are built one lookup per level, not re-resolved from the root each time.
        assert len(calls) <= 2 * count
        # A whiteout of such a tree must not hit Python's recursion limit.
        sandbox.apply(Tar().file(".wh.n0"), overlay=False)
        assert not (sandbox.root / "n0").exists()
    finally:
        # pytest's own tmp cleanup (recursive shutil.rmtree) cannot remove very deep trees.
        fd = os.open(sandbox.root, os.O_PATH | os.O_DIRECTORY)
        try:
            for name in os.listdir(sandbox.root):
                scoped.remove(fd, name)
        finally:
            os.close(fd)


def test_root_entry_sets_root_metadata(sandbox: Sandbox) -> None:
    sandbox.apply(Tar().dir("./", mode=0o750, mtime=1_234_567_890).file("f", b"x"))
    st = os.lstat(sandbox.root)
    assert stat.S_IMODE(st.st_mode) == 0o750 and st.st_mtime_ns == 1_234_567_890 * 10**9


def test_gzip_layer_end_to_end(sandbox: Sandbox) -> None:
    import gzip

    blob = gzip.compress(Tar().dir("usr/bin").file("usr/bin/tool", b"#!/bin/sh\n", mode=0o755).bytes())
    stats = apply_layer(open_decompressed(io.BytesIO(blob)), str(sandbox.root))
    assert stats.size == 10 and read(sandbox.root / "usr" / "bin" / "tool") == b"#!/bin/sh\n"


def test_overlay_mount_of_two_applied_layers(sandbox: Sandbox, tmp_path: Path) -> None:
    lower1, lower2, merged = sandbox.root / "l1", sandbox.root / "l2", sandbox.root / "merged"
    for d in (lower1, lower2, merged):
        d.mkdir()
    base = (Tar().file("keep.txt", b"keep").file("gone.txt", b"gone").dir("dir")
            .file("dir/old.txt", b"old").dir("opaque").file("opaque/old.txt", b"old"))
    apply_layer(io.BytesIO(base.bytes()), str(lower1))
    diff = (Tar().file(".wh.gone.txt").file("dir/new.txt", b"new")
            .dir("opaque").file("opaque/.wh..wh..opq").file("opaque/new.txt", b"new"))
    apply_layer(io.BytesIO(diff.bytes()), str(lower2))
    mounted = subprocess.run(
        ["mount", "-t", "overlay", "overlay", "-o", f"lowerdir={lower2}:{lower1}", str(merged)],
        capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"overlayfs unavailable: {mounted.stderr.strip()}")
    try:
        assert sorted(os.listdir(merged)) == ["dir", "keep.txt", "opaque"]
        assert sorted(os.listdir(merged / "dir")) == ["new.txt", "old.txt"]
        assert os.listdir(merged / "opaque") == ["new.txt"]
        assert read(merged / "keep.txt") == b"keep"
    finally:
        subprocess.run(["umount", str(merged)], check=True)
