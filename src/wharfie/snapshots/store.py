"""Snapshot directories: one per layer chain ID, each an overlayfs lower dir.

`snapshots/<chain hex>/fs` holds exactly one layer's diff in overlay form (whiteouts as 0:0
char devices, opaque dirs as xattrs), so an image's rootfs is the stack of its chain's dirs.
New snapshots are extracted under `.tmp/` and renamed into place only when complete.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

from wharfie.oci import digest as dg


class SnapshotStore:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.tmp_dir = self.root / ".tmp"
        self.tmp_dir.mkdir(parents=True, exist_ok=True)

    def dir(self, chain_id: str) -> Path:
        return self.root / dg.hex_of(chain_id)

    def fs(self, chain_id: str) -> Path:
        """The directory to use as an overlay lower dir."""
        return self.dir(chain_id) / "fs"

    def exists(self, chain_id: str) -> bool:
        return self.fs(chain_id).is_dir()

    def new_tmp(self) -> Path:
        """An empty staging snapshot; its `fs/` is where a layer gets extracted."""
        d = self.tmp_dir / uuid.uuid4().hex
        (d / "fs").mkdir(parents=True, mode=0o755)
        return d

    def commit(self, tmp: Path, chain_id: str) -> None:
        target = self.dir(chain_id)
        if target.exists():
            remove_tree(tmp)
            return
        os.rename(tmp, target)

    def remove(self, chain_id: str) -> None:
        remove_tree(self.dir(chain_id))

    def chain_ids(self) -> list[str]:
        return ["sha256:" + p.name for p in self.root.iterdir() if dg.is_full_hex_id(p.name)]

    def clean_tmp(self) -> int:
        n = 0
        for p in self.tmp_dir.iterdir():
            remove_tree(p)
            n += 1
        return n


def remove_tree(path: Path) -> None:
    """rmtree that copes with read-only dirs a layer may contain (mode 0555 and the like)."""

    def onerror(func: object, p: str, exc: object) -> None:
        parent = os.path.dirname(p)
        try:
            os.chmod(parent, 0o700)
            if os.path.isdir(p) and not os.path.islink(p):
                os.chmod(p, 0o700)
                shutil.rmtree(p)
            else:
                os.unlink(p)
        except FileNotFoundError:
            pass

    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path, onerror=onerror)


def tree_size(path: str | Path) -> int:
    """Bytes of regular-file content below `path` (links not followed): Docker's sizes."""
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(root, f)).st_size
            except OSError:
                pass  # removed while we walk
    return total
