"""The two kinds of build step that touch files, on top of the container runtime.

- `run_step`: a RUN instruction is a short-lived container of the current image; its output
  streams to the build, and on success its writable layer becomes the next image.
- `copy_step`: COPY/ADD write into the current image's overlay (so existing parent dirs keep
  their modes through copy-up) and the upper dir becomes the next image, with normalised
  timestamps so the same inputs give the same layer digest.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import Any

from wharfie.containers.service import ContainerService
from wharfie.errors import WharfieError
from wharfie.runtime.shimclient import frames

Output = Callable[[str, bytes], None]


class StepFailed(WharfieError):
    """A RUN step exited non-zero (Docker's message and the exit code for the CLI)."""

    def __init__(self, command: str, code: int) -> None:
        super().__init__(f"The command '{command}' returned a non-zero code: {code}")
        self.exit_code = code


async def _pump_frames(reader: asyncio.StreamReader, on_output: Output) -> None:
    async for stream, data in frames(reader):
        on_output(stream, data)


async def run_step(svc: ContainerService, image_id: str, argv: list[str], config: dict[str, Any],
                   network: str, on_output: Output, shown_command: str,
                   on_created: Callable[[str], None] | None = None,
                   mounts: list[dict[str, Any]] | None = None,
                   extra_hosts: list[str] | None = None) -> tuple[str, str]:
    """Run `argv` in a container of `image_id`; returns (container id, its upper dir).

    The caller commits the upper dir and removes the container (`finish_step`).
    """
    body = {
        "Image": image_id, "Cmd": argv, "Entrypoint": [],
        "Env": list(config.get("Env") or []), "WorkingDir": config.get("WorkingDir") or "",
        "User": config.get("User") or "", "AttachStdout": True, "AttachStderr": True,
        "HostConfig": {"NetworkMode": network or "host", "Mounts": mounts or None,
                       "ExtraHosts": extra_hosts or None},
    }
    cid, _ = await svc.create(body, "")
    if on_created is not None:
        on_created(cid)
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def connect() -> None:
        reply, reader, writer = await svc.shim(cid).stream({"op": "attach", "stdout": True, "stderr": True})

        async def pump() -> None:
            try:
                await _pump_frames(reader, on_output)
            finally:
                writer.close()
                if not done.done():
                    done.set_result(None)

        asyncio.ensure_future(pump())

    svc.pending_attach.setdefault(cid, []).append(connect)
    exited = svc.wait_future(cid, "next-exit")
    try:
        await svc.start(cid)
    except WharfieError:
        await svc.remove(cid, force=True)
        raise
    result = await exited
    await done
    code = int(result.get("StatusCode", 1))
    if code != 0:
        await svc.remove(cid, force=True)
        raise StepFailed(shown_command, code)
    return cid, str(svc.rootfs.dir(cid) / "diff")


def _is_dir_in(root: int, path: str) -> bool:
    from wharfie.linux.openat2 import RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS, openat2

    try:
        os.close(openat2(root, path.strip("/") or ".", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC, 0,
                         RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS))
        return True
    except OSError:
        return False


def copy_into(rootfs: str, dest: str, sources: list[tuple[str, str]], chown: tuple[int, int] | None,
              chmod: int | None = None) -> None:
    """Copy (host path, path inside dest) pairs under `dest` in `rootfs`, contained in it;
    `chmod` (COPY --chmod) sets the mode of every copied file and directory, not of links."""
    import shutil

    from wharfie.runtime.init import mkdir_p

    root = os.open(rootfs, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for src, rel in sources:
            if rel == "" and _is_dir_in(root, dest):
                rel = os.path.basename(src)  # COPY file /existing/dir → /existing/dir/file
            target_rel = os.path.normpath(os.path.join(dest, rel)).lstrip("/")
            parent_rel, name = os.path.split(target_rel)
            pfd = mkdir_p(root, parent_rel)
            try:
                parent = f"/proc/self/fd/{pfd}"
                target = os.path.join(parent, name) if name else parent
                if name and os.path.islink(target):
                    os.unlink(target)  # never write through a symlink the image planted
                if os.path.isdir(src) and not os.path.islink(src):
                    os.makedirs(target, exist_ok=True)
                    shutil.copystat(src, target)
                elif os.path.islink(src):
                    os.symlink(os.readlink(src), target)
                else:
                    if os.path.isdir(target) and not os.path.islink(target):
                        raise WharfieError(f"cannot copy {rel}: a directory exists at {target_rel}")
                    shutil.copy2(src, target, follow_symlinks=False)
                if chown is not None:
                    os.chown(target, chown[0], chown[1], follow_symlinks=False)
                if chmod is not None and not os.path.islink(target):
                    os.chmod(target, chmod)
            finally:
                os.close(pfd)
    finally:
        os.close(root)


def is_archive(path: str) -> bool:
    """ADD unpacks local tar archives (plain or compressed), recognised by content."""
    import tarfile

    from wharfie.archive.compression import open_decompressed

    if not os.path.isfile(path) or os.path.islink(path):
        return False
    try:
        with open(path, "rb") as fh, open_decompressed(fh) as dec:
            head = b""
            while len(head) < 512 and (chunk := dec.read(512 - len(head))):
                head += chunk  # a stream may return short reads
    except (OSError, WharfieError, EOFError):
        return False
    if len(head) < 512:
        return False
    try:
        tarfile.TarInfo.frombuf(head, "utf-8", "surrogateescape")
        return True
    except tarfile.HeaderError:
        return False


def extract_into(rootfs: str, dest: str, archive: str) -> None:
    """Unpack `archive` under `dest` in `rootfs`, contained like a layer."""
    from wharfie.archive.apply import apply_layer
    from wharfie.archive.compression import open_decompressed
    from wharfie.runtime.init import mkdir_p

    root = os.open(rootfs, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fd = mkdir_p(root, dest.strip("/"))
        try:
            with open(archive, "rb") as fh:
                apply_layer(open_decompressed(fh), f"/proc/self/fd/{fd}", overlay=False)
        finally:
            os.close(fd)
    finally:
        os.close(root)
