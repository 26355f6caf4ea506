"""A directory tree whose every path lookup the kernel confines to its root.

Paths are resolved with openat2(RESOLVE_IN_ROOT): `..`, absolute symlinks and relative
symlinks all resolve as if the root were `/` — the same containment Docker gets by
extracting inside a chroot, without a chroot or a helper process. Callers resolve only the
PARENT directory of a path this way and then act on the final name with *at() calls that
never follow it, so nothing a layer plants can redirect a write outside the root.
"""

from __future__ import annotations

import os
import stat

from wharfie.linux.openat2 import RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS, openat2

_RESOLVE = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS
_DIR_PATH = os.O_PATH | os.O_DIRECTORY
_DIR_READ = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_CACHE_SIZE = 64
IMPLICIT_DIR_MODE = 0o755  # missing parents are created like Docker does


class ScopedRoot:
    """An open root directory plus a small cache of resolved parent-directory fds.

    Lifecycle: construct on an existing directory, resolve with `dir()`/`open()`, call
    `invalidate()` whenever a directory or symlink inside the tree is removed or a symlink
    is created (any cached path may now resolve elsewhere), `release()` after each unit of
    work, and `close()` at the end. Fds handed out by `dir()` stay valid until `release()`,
    even if the cache drops them meanwhile.
    """

    def __init__(self, root: str) -> None:
        self.fd = os.open(root, _DIR_PATH | os.O_CLOEXEC)
        self._cache: dict[str, int] = {}
        self._retired: list[int] = []

    def open(self, rel: str, flags: int, mode: int = 0) -> int:
        """openat2 `rel` ("." is the root) inside the root; the caller owns the fd."""
        return openat2(self.fd, rel, flags, mode, _RESOLVE)

    def dir(self, rel: str, *, create: bool) -> int:
        """O_PATH fd of directory `rel` ("" is the root); with `create`, make missing ones."""
        if not rel:
            return self.fd
        fd = self._cache.get(rel)
        if fd is not None:
            return fd
        try:
            fd = self.open(rel, _DIR_PATH)
        except FileNotFoundError:
            if not create:
                raise
            fd = self._make_dirs(rel)
        if len(self._cache) >= _CACHE_SIZE:
            self._retired.append(self._cache.pop(next(iter(self._cache))))
        self._cache[rel] = fd
        return fd

    def _make_dirs(self, rel: str) -> int:
        parts = rel.split("/")
        fd, owned = self.fd, False
        try:
            for i, name in enumerate(parts):
                nfd = self._step(fd, name, "/".join(parts[: i + 1]))
                if owned:
                    os.close(fd)
                fd, owned = nfd, True
        except BaseException:
            if owned:
                os.close(fd)
            raise
        return fd

    def _step(self, fd: int, name: str, prefix: str) -> int:
        """Open directory `name` under `fd` (the dir `prefix` names the parent of), making it
        if missing. A plain directory is entered directly (one lookup); a symlink is resolved
        by the kernel from the root, so it is followed as if the root were `/` and a
        dangling one fails instead of being built through."""
        for _ in range(2):
            try:
                return os.open(name, _DIR_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
            except FileNotFoundError:
                make_dir(fd, name, IMPLICIT_DIR_MODE, exist_ok=True)
            except NotADirectoryError:
                break  # a symlink (O_PATH|O_NOFOLLOW opens the link itself) or a file
        return self.open(prefix, _DIR_PATH)

    def invalidate(self) -> None:
        """Forget every cached resolution (the tree's shape changed)."""
        self._retired.extend(self._cache.values())
        self._cache.clear()

    def release(self) -> None:
        """Close fds the cache dropped since the last call."""
        for fd in self._retired:
            os.close(fd)
        self._retired.clear()

    def close(self) -> None:
        self.invalidate()
        self.release()
        os.close(self.fd)


def make_dir(dir_fd: int, name: str, mode: int, *, exist_ok: bool = False) -> bool:
    """mkdirat with an exact mode (no umask); return False if `name` already existed."""
    try:
        os.mkdir(name, 0o700, dir_fd=dir_fd)
    except FileExistsError:
        if exist_ok:
            return False
        raise
    os.chmod(name, mode, dir_fd=dir_fd, follow_symlinks=False)
    return True


def open_dir(dir_fd: int, name: str) -> int:
    """Open directory `name` under `dir_fd` for reading; refuses a symlink (ELOOP)."""
    return os.open(name, _DIR_READ, dir_fd=dir_fd)


def remove(dir_fd: int, name: str) -> int | None:
    """Delete `name` (recursively if a directory) without following symlinks.

    Returns the st_mode of what was removed, or None if nothing was there.
    """
    try:
        st = os.lstat(name, dir_fd=dir_fd)
    except FileNotFoundError:
        return None
    if stat.S_ISDIR(st.st_mode):
        _remove_tree(dir_fd, name)
    else:
        os.unlink(name, dir_fd=dir_fd)
    return st.st_mode


def _remove_tree(parent_fd: int, name: str) -> None:
    # Iterative depth-first removal: one open fd per level, no recursion limit, and
    # every directory is opened O_NOFOLLOW relative to its parent, so a symlink is only
    # ever unlinked, never descended into.
    stack: list[tuple[int, str, int, list[str]]] = []

    def push(pfd: int, dname: str) -> None:
        fd = open_dir(pfd, dname)
        subdirs: list[str] = []
        with os.scandir(fd) as it:
            for entry in it:
                if entry.is_dir(follow_symlinks=False):
                    subdirs.append(entry.name)
                else:
                    os.unlink(entry.name, dir_fd=fd)
        stack.append((pfd, dname, fd, subdirs))

    push(parent_fd, name)
    try:
        while stack:
            pfd, dname, fd, subdirs = stack[-1]
            if subdirs:
                push(fd, subdirs.pop())
                continue
            stack.pop()
            os.close(fd)
            os.rmdir(dname, dir_fd=pfd)
    finally:
        for _, _, fd, _ in stack:
            os.close(fd)
