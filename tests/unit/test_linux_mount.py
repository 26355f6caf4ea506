"""wharfie.linux.mount: option parsing (pure) and real mounts, each made in a forked child
inside its own private mount namespace so nothing leaks to the host."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support.kernel import errno_of, in_child

from wharfie.linux import mount as m
from wharfie.linux import ns

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")



def in_private_mount_ns(fn: Callable[..., Any], *args: Any) -> Any:
    def run() -> Any:
        ns.unshare(ns.CLONE_NEWNS)
        m.make_rprivate("/")
        return fn(*args)

    return in_child(run)



# -- pure -------------------------------------------------------------------------------------
def test_parse_mount_options_splits_flags_from_data() -> None:
    flags, data = m.parse_mount_options("ro,nosuid,size=65536k,mode=755")
    assert flags == m.MS_RDONLY | m.MS_NOSUID
    assert data == "size=65536k,mode=755"


@pytest.mark.parametrize(
    ("options", "flags", "data"),
    [
        (["rbind", "ro"], m.MS_BIND | m.MS_REC | m.MS_RDONLY, ""),
        (["bind", "rprivate"], m.MS_BIND | m.MS_PRIVATE | m.MS_REC, ""),
        (["ro", "rw"], 0, ""),  # later options win
        (["nosuid", "suid", "nodev", "noexec"], m.MS_NODEV | m.MS_NOEXEC, ""),
        (["rslave"], m.MS_SLAVE | m.MS_REC, ""),
        (["shared"], m.MS_SHARED, ""),
        (["strictatime", "noatime", "atime"], m.MS_STRICTATIME, ""),
        (["defaults", "newinstance", "ptmxmode=0666"], 0, "newinstance,ptmxmode=0666"),
        ([], 0, ""),
    ],
)
def test_parse_mount_options_table(options: list[str], flags: int, data: str) -> None:
    assert m.parse_mount_options(options) == (flags, data)


def test_split_propagation_keeps_rec_with_the_propagation_call() -> None:
    flags, _ = m.parse_mount_options(["rbind", "ro", "rslave"])
    mount_flags, prop = m.split_propagation(flags)
    assert mount_flags == m.MS_BIND | m.MS_REC | m.MS_RDONLY
    assert prop == m.MS_SLAVE | m.MS_REC
    assert m.split_propagation(m.MS_BIND) == (m.MS_BIND, 0)


def test_mountinfo_line_decodes_octal_escapes() -> None:
    line = (rb"36 35 98:0 /mnt\134x /tmp/a\040b\011c rw,noatime master:1 shared:2 - ext3 "
            rb"/dev/root rw,errors=continue")
    info = m.parse_mountinfo_line(line)
    assert info.root == "/mnt\\x"
    assert info.mount_point == "/tmp/a b\tc"
    assert info.optional == ("master:1", "shared:2")
    assert (info.fstype, info.source, info.super_options) == ("ext3", "/dev/root",
                                                             "rw,errors=continue")


def test_overlay_options_escape_separators() -> None:
    assert m.overlay_options(["/a:b", "/c,d"], "/u", "/w") == (
        r"lowerdir=/a\:b:/c\,d,upperdir=/u,workdir=/w")


# -- real mounts ------------------------------------------------------------------------------
@root_only
def test_make_rprivate_leaves_no_shared_mounts() -> None:
    def run() -> list[str]:
        return [i.mount_point for i in m.mountinfo()
                if any(o.startswith(("shared:", "master:")) for o in i.optional)]

    assert in_private_mount_ns(run) == []


def no_new_mount_api() -> bool:
    return False  # pretend this is Linux < 5.12


@root_only
@pytest.mark.parametrize("api", ["new", "legacy"])
def test_tmpfs_mount_and_readonly_bind_keep_locked_flags(tmp_path: Path, api: str) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()

    def run() -> dict[str, Any]:
        if api == "legacy":
            m.has_mount_setattr = no_new_mount_api
        flags, data = m.parse_mount_options("nosuid,nodev,size=1m,mode=755")
        m.mount("tmpfs", str(a), "tmpfs", flags, data)
        (a / "f").write_text("hello")
        m.bind(str(a), str(b), readonly=True)
        st = os.statvfs(b).f_flag
        return {
            "read": (b / "f").read_text(),
            "write_b": errno_of(lambda: (b / "g").write_text("x")),
            "write_a": errno_of(lambda: (a / "g").write_text("x")),
            "ro": bool(st & os.ST_RDONLY),
            "nosuid": bool(st & os.ST_NOSUID),
            "nodev": bool(st & os.ST_NODEV),
            "is_mp": (m.is_mountpoint(str(a)), m.is_mountpoint(str(b)),
                      m.is_mountpoint(str(tmp_path))),
        }

    got = in_private_mount_ns(run)
    assert got["read"] == "hello"
    assert got["write_b"] == errno.EROFS
    assert got["write_a"] == 0
    assert got["ro"] and got["nosuid"] and got["nodev"]
    assert got["is_mp"] == (True, True, False)  # a bind of the same fs still counts


@root_only
def test_readonly_bind_in_user_namespace_preserves_locked_flags(tmp_path: Path) -> None:
    """The case the statvfs dance exists for: a plain MS_REMOUNT|MS_BIND|MS_RDONLY of a
    nosuid/nodev/noexec mount is EPERM inside a user namespace; bind() works."""
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for d in (a, b, c):
        d.mkdir()

    def run() -> tuple[int, int, int, bool, bool]:
        m.mount("tmpfs", str(a), "tmpfs", m.MS_NOSUID | m.MS_NODEV | m.MS_NOEXEC, "size=1m")
        ns.unshare(ns.CLONE_NEWUSER | ns.CLONE_NEWNS)  # a's flags are now locked
        m.mount(str(a), str(b), None, m.MS_BIND)
        naive = errno_of(lambda: m.mount(None, str(b), None,
                                         m.MS_REMOUNT | m.MS_BIND | m.MS_RDONLY))
        remount = errno_of(lambda: m.remount(str(b), m.MS_RDONLY))
        ours = errno_of(lambda: m.bind(str(a), str(c), readonly=True))
        return (naive, remount, ours, bool(os.statvfs(b).f_flag & os.ST_RDONLY),
                bool(os.statvfs(c).f_flag & os.ST_RDONLY))

    assert in_private_mount_ns(run) == (errno.EPERM, 0, 0, True, True)


@root_only
@pytest.mark.parametrize(("propagation", "tag"), [(None, "shared:"), (m.MS_SLAVE, "master:"),
                                                  (m.MS_PRIVATE, "")])
def test_bind_onto_a_proc_fd_path_sets_flags_and_propagation(
        tmp_path: Path, propagation: int | None, tag: str) -> None:
    """The runtime mounts onto /proc/self/fd/N of a target opened beforehand (symlink-safe);
    that path keeps naming the covered directory, so flags must be set before attaching."""
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    dst.mkdir()

    def run() -> tuple[int, list[str]]:
        m.mount("tmpfs", str(src), "tmpfs", 0, "size=1m")
        m.mount(None, str(src), None, m.MS_SHARED)
        fd = os.open(dst, os.O_PATH | os.O_CLOEXEC)
        m.bind(str(src), f"/proc/self/fd/{fd}", readonly=True, propagation=propagation,
               extra_flags=m.MS_NOEXEC)
        os.close(fd)
        info = [i for i in m.mountinfo() if i.mount_point == str(dst)]
        assert len(info) == 1 and "noexec" in info[0].options.split(",")
        return errno_of(lambda: (dst / "x").write_text("")), list(info[0].optional)

    err, optional = in_private_mount_ns(run)
    assert err == errno.EROFS
    if tag:
        assert [o for o in optional if o.startswith(tag)], optional
    else:
        assert optional == []


@root_only
@pytest.mark.parametrize("api", ["new", "legacy"])
def test_recursive_readonly_bind_covers_submounts(tmp_path: Path, api: str) -> None:
    a, dst = tmp_path / "a", tmp_path / "dst"
    a.mkdir()
    dst.mkdir()

    def run() -> tuple[int, int, int]:
        if api == "legacy":
            m.has_mount_setattr = no_new_mount_api
        m.mount("tmpfs", str(a), "tmpfs", 0, "size=1m")
        (a / "sub").mkdir()
        m.mount("tmpfs", str(a / "sub"), "tmpfs", 0, "size=1m")
        m.bind(str(a), str(dst), readonly=True, recursive=True)
        return (errno_of(lambda: (dst / "x").write_text("x")),
                errno_of(lambda: (dst / "sub" / "x").write_text("x")),
                errno_of(lambda: (a / "sub" / "x").write_text("x")))

    assert in_private_mount_ns(run) == (errno.EROFS, errno.EROFS, 0)


@root_only
def test_bind_applies_extra_flags(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()

    def run() -> tuple[bool, bool]:
        flags, _ = m.parse_mount_options(["rbind", "noexec", "nosuid"])
        m.bind(str(a), str(b), readonly=False, recursive=True, extra_flags=flags)
        st = os.statvfs(b).f_flag
        return bool(st & os.ST_NOEXEC), bool(st & os.ST_RDONLY)

    assert in_private_mount_ns(run) == (True, False)


def _make_layers(base: Path, count: int, name_len: int) -> list[str]:
    """`count` lower dirs, topmost first; each holds its own file plus a shared one."""
    lowers = []
    for i in range(count):
        d = base / f"{i:04d}".ljust(name_len, "x")
        d.mkdir(parents=True)
        (d / f"only{i}").write_text(str(i))
        (d / "shared").write_text(str(i))
        lowers.append(str(d))
    return lowers


@root_only
@pytest.mark.parametrize(
    ("count", "name_len", "how"),
    [
        (2, 8, "mount"),  # short options: plain mount(2)
        (100, 20, "relative"),  # absolute paths exceed a page, relative ones fit
        (300, 20, "new_api"),  # even relative paths exceed a page: lowerdir+ one by one
    ],
)
def test_overlay_mount(tmp_path: Path, count: int, name_len: int, how: str) -> None:
    parent = tmp_path / ("p" * 120)
    lowers = _make_layers(parent, count, name_len)
    upper, work, merged = tmp_path / "upper", tmp_path / "work", tmp_path / "merged"
    for d in (upper, work, merged):
        d.mkdir()
    assert (len(m.overlay_options(lowers, str(upper), str(work))) >= m.PAGE_SIZE) == (count > 2)

    def run() -> tuple[str, str, str, bool, bool, str]:
        used = ["mount"]  # record which strategy mount_overlay picked (we are a forked child)

        def spy(orig: Callable[..., None], tag: str) -> Callable[..., None]:
            def wrapper(*a: Any) -> None:
                used.append(tag)
                orig(*a)
            return wrapper

        m.in_private_cwd = spy(m.in_private_cwd, "relative")
        m._overlay_new_api = spy(m._overlay_new_api, "new_api")
        cwd = os.getcwd()
        m.mount_overlay(lowers, str(upper), str(work), str(merged))
        (merged / "new").write_text("up")
        return ((merged / "shared").read_text(), (merged / f"only{count - 1}").read_text(),
                (upper / "new").read_text(), m.is_mountpoint(str(merged)), os.getcwd() == cwd,
                used[-1])

    shared, bottom, written, mounted, cwd_kept, used = in_private_mount_ns(run)
    assert used == how
    assert shared == "0"  # the topmost lower wins
    assert bottom == str(count - 1)  # the bottom-most lower is still part of the stack
    assert written == "up" and mounted and cwd_kept


@root_only
def test_readonly_overlay_without_upper(tmp_path: Path) -> None:
    lowers = _make_layers(tmp_path / "l", 2, 6)
    merged = tmp_path / "merged"
    merged.mkdir()

    def run() -> tuple[str, int]:
        m.mount_overlay(lowers, None, None, str(merged))
        return (merged / "shared").read_text(), errno_of(lambda: (merged / "x").write_text(""))

    assert in_private_mount_ns(run) == ("0", errno.EROFS)


@root_only
def test_mounts_under_and_unmount_all_under(tmp_path: Path) -> None:
    top = tmp_path / "top"
    spaced = top / "with space"

    def run() -> tuple[list[str], list[str], bool]:
        top.mkdir()
        m.mount("tmpfs", str(top), "tmpfs", 0, "size=1m")
        (top / "x" / "y").mkdir(parents=True)
        spaced.mkdir()
        m.mount("tmpfs", str(top / "x"), "tmpfs", 0, "size=1m")
        (top / "x" / "y").mkdir()
        m.mount("tmpfs", str(top / "x" / "y"), "tmpfs", 0, "size=1m")
        m.mount("tmpfs", str(top / "x" / "y"), "tmpfs", 0, "size=1m")  # stacked
        m.mount("tmpfs", str(spaced), "tmpfs", 0, "size=1m")
        before = m.mounts_under(str(top))
        m.unmount_all_under(str(top))
        return before, m.mounts_under(str(top)), m.is_mountpoint(str(top))

    before, after, still = in_private_mount_ns(run)
    assert before == [str(top), str(top / "x"), str(top / "x" / "y"), str(top / "x" / "y"),
                      str(spaced)]
    assert after == [] and not still


@root_only
def test_pivot_root_into_a_tmpfs(tmp_path: Path) -> None:
    new_root = tmp_path / "root"
    new_root.mkdir()

    def run() -> tuple[list[str], list[str]]:
        m.mount("tmpfs", str(new_root), "tmpfs", 0, "size=1m")
        (new_root / "marker").write_text("")
        os.chdir(new_root)
        m.pivot_root(".", ".")
        m.umount(".", m.MNT_DETACH)
        os.chdir("/")
        listing = sorted(os.listdir("/"))
        os.mkdir("/proc")
        m.mount("proc", "/proc", "proc")
        return listing, [i.mount_point for i in m.mountinfo()]

    listing, mounts = in_private_mount_ns(run)
    assert listing == ["marker"]
    assert mounts == ["/", "/proc"]  # the old root is gone entirely


@root_only
def test_umount_of_a_non_mountpoint_raises_einval(tmp_path: Path) -> None:
    with pytest.raises(OSError) as exc:
        m.umount(str(tmp_path))
    assert exc.value.errno == errno.EINVAL
    assert exc.value.filename == str(tmp_path)
