"""The build context: the tar the client sent, unpacked where COPY/ADD can read it safely.

The tar is hostile input: it is unpacked with the same contained extraction as image layers,
and every COPY source is resolved inside the context (a symlink pointing out of it resolves
inside, like a chroot), so a build never reads the daemon's files.
"""

from __future__ import annotations

import fnmatch
import os
import stat
import uuid
from pathlib import Path

from wharfie.archive.apply import apply_layer
from wharfie.archive.compression import open_decompressed
from wharfie.errors import InvalidArgument, NotFound
from wharfie.linux.openat2 import RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS, openat2
from wharfie.snapshots.store import remove_tree

MAX_DOCKERFILE = 16 << 20


class SourceTree:
    """A directory COPY reads from (the context, or another image's rootfs for --from):
    every lookup is resolved inside it."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def open_fd(self, rel: str, flags: int = os.O_RDONLY) -> int:
        """Open a path of the context, resolved inside it whatever symlinks say."""
        root = os.open(self.root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            return openat2(root, os.path.normpath("/" + rel).lstrip("/") or ".", flags | os.O_CLOEXEC, 0,
                           RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)
        finally:
            os.close(root)

    def expand(self, pattern: str) -> list[str]:
        """Context paths matching a COPY source (Go filepath.Match globs), sorted."""
        clean = os.path.normpath("/" + pattern).lstrip("/") or "."
        if not any(c in clean for c in "*?["):
            try:
                os.close(self.open_fd(clean, os.O_PATH))
            except FileNotFoundError:
                raise NotFound(f"COPY failed: file not found in build context or excluded by "
                               f".dockerignore: stat {clean}: file does not exist") from None
            return [clean]
        matches = []
        for dirpath, dirs, files in os.walk(self.root):
            rel_dir = os.path.relpath(dirpath, self.root)
            for name in dirs + files:
                rel = name if rel_dir == "." else f"{rel_dir}/{name}"
                if rel.count("/") == clean.count("/") and fnmatch.fnmatchcase(rel, clean):
                    matches.append(rel)
        if not matches:
            raise NotFound(f"COPY failed: no source files were specified (pattern {pattern!r} matched nothing)")
        return sorted(matches)

    def walk(self, rel: str) -> tuple[int, list[tuple[str, str]], bool]:
        """(fd to close, [(host path, path relative to `rel`)], is a dir) for `rel` and below.

        The parent is resolved inside the context and pinned by the fd; the entry itself is
        taken with lstat (a symlink is copied as a link, never followed out of the context).
        """
        parent, name = os.path.split(os.path.normpath("/" + rel))
        fd = self.open_fd(parent, os.O_PATH | os.O_DIRECTORY)
        # "/." for the context root itself: the bare fd path is a (magic) symlink to lstat
        base = f"/proc/self/fd/{fd}/{name}" if name else f"/proc/self/fd/{fd}/."
        st = os.lstat(base)
        if not stat.S_ISDIR(st.st_mode):
            return fd, [(base, name)], False
        out = []
        for dirpath, dirs, files in os.walk(base):
            dirs.sort()
            for entry in sorted(dirs + files):
                full = os.path.join(dirpath, entry)
                out.append((full, os.path.relpath(full, base)))
            dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(dirpath, d))]
        return fd, out, True


class BuildContext(SourceTree):
    def __init__(self, tmp_root: Path) -> None:
        self.dir = tmp_root / f"context-{uuid.uuid4().hex}"
        self.dir.mkdir(mode=0o700)
        super().__init__(self.dir / "ctx")
        self.root.mkdir()

    def unpack(self, tar_path: str) -> None:
        _complete_tar(tar_path)
        with open(tar_path, "rb") as fh:
            if os.fstat(fh.fileno()).st_size == 0:
                return
            apply_layer(open_decompressed(fh), str(self.root), overlay=False)

    def read_dockerfile(self, name: str) -> str:
        name = name or "Dockerfile"
        try:
            fd = self.open_fd(name)
        except FileNotFoundError:
            # Docker also accepts a lowercase `dockerfile` when the default name is missing.
            if name == "Dockerfile":
                try:
                    fd = self.open_fd("dockerfile")
                except FileNotFoundError:
                    raise NotFound("Cannot locate specified Dockerfile: Dockerfile") from None
            else:
                raise NotFound(f"Cannot locate specified Dockerfile: {name}") from None
        with os.fdopen(fd, "rb") as fh:
            data = fh.read(MAX_DOCKERFILE + 1)
        if len(data) > MAX_DOCKERFILE:
            raise InvalidArgument(f"the Dockerfile ({name}) is too large")
        if not data.strip():
            raise InvalidArgument(f"the Dockerfile ({name}) cannot be empty")
        return data.decode("utf-8", "replace")

    def drop_build_files(self, dockerfile: str) -> None:
        """Like dockerd: the CLI always sends the Dockerfile and .dockerignore, and the daemon
        removes them from the context when .dockerignore excludes them (so `COPY . .` doesn't
        carry them)."""
        from wharfie.build.ignore import PatternMatcher, read_ignore

        try:
            fd = self.open_fd(".dockerignore")
        except (FileNotFoundError, NotADirectoryError):
            return
        with os.fdopen(fd, "rb") as fh:
            matcher = PatternMatcher(read_ignore(fh.read(1 << 20)))
        for name in (dockerfile, ".dockerignore"):
            rel = os.path.normpath("/" + name).lstrip("/")
            if matcher.matches(rel):
                parent, base = os.path.split(rel)
                try:
                    pfd = self.open_fd(parent or ".", os.O_PATH | os.O_DIRECTORY)
                    try:
                        os.unlink(base, dir_fd=pfd)
                    finally:
                        os.close(pfd)
                except FileNotFoundError:
                    pass

    def cleanup(self) -> None:
        remove_tree(self.dir)


def _complete_tar(path: str) -> None:
    """The docker CLI sends `-f <outside>` contexts without the last entry's padding or the
    end-of-archive blocks (Go's reader tolerates that); restore them for our strict reader."""
    from wharfie.archive.compression import detect

    size = os.path.getsize(path)
    with open(path, "rb+") as fh:
        if size == 0 or detect(fh.read(16)) != "none":
            return
        pad = (-size) % 512
        fh.seek(0, os.SEEK_END)
        if pad:
            fh.write(b"\0" * (pad + 1024))
