"""One build stage in progress: its current image, config and environment, and the three
ways a step changes it (run a command, copy files, change config), each cached.

The dispatcher (one function per Dockerfile instruction) calls these; they report the legacy
builder's lines (` ---> Using cache`, ` ---> Running in …`, ` ---> <id>`) through `say`.
"""

from __future__ import annotations

import asyncio
import copy
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from wharfie.build import steps
from wharfie.build.cache import BuildCache, combine, digest_entries, explain_miss
from wharfie.build.context import BuildContext, SourceTree
from wharfie.containers.service import ContainerService
from wharfie.images.service import ImageService
from wharfie.oci import digest as dg

Say = Callable[[str], None]


@dataclass
class BuildOptions:
    no_cache: bool = False
    network: str = "host"
    build_args: dict[str, str | None] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    source_date_epoch: int = 0
    extra_hosts: list[str] = field(default_factory=list)  # RUN containers' /etc/hosts additions
    cache_sources: set[str] | None = None  # --cache-from: only these images' ancestry may hit


@dataclass
class Stage:
    images: ImageService
    containers: ContainerService
    cache: BuildCache
    context: BuildContext
    opts: BuildOptions
    say: Say
    output: steps.Output
    image_id: str = ""                 # "" while FROM scratch has produced nothing yet
    config: dict[str, Any] = field(default_factory=dict)  # the image's container config
    shell: list[str] = field(default_factory=lambda: ["/bin/sh", "-c"])
    args: dict[str, str] = field(default_factory=dict)    # ARGs in scope with their values
    cache_hits: int = 0
    chain_cached: bool = True          # every step so far came from the cache

    def expansion_env(self) -> dict[str, str]:
        """What Dockerfile variables expand against: the ARGs in scope, then ENV (ENV wins)."""
        return {**self.args, **dict(e.split("=", 1) for e in self.config.get("Env") or [] if "=" in e)}

    def env_for_run(self) -> list[str]:
        """RUN sees the image's ENV plus the ARGs in scope (ENV wins)."""
        env = list(self.config.get("Env") or [])
        names = {e.split("=", 1)[0] for e in env}
        return env + [f"{k}={v}" for k, v in self.args.items() if k not in names]

    def _cached(self, key: str) -> str | None:
        if self.opts.no_cache:
            return None
        hit = self.cache.get(key)
        if not hit or self.images.db.image(hit) is None:
            return None
        if self.opts.cache_sources is not None and hit not in self.opts.cache_sources:
            return None
        return hit

    def _explain_miss(self, step: str, detail: dict[str, Any]) -> None:
        """After a run of cache hits, say what made this step miss (a changed file, a build
        arg): the steps after it miss because it did, which needs no saying."""
        if self.opts.no_cache or not self.chain_cached:
            return
        old = self.cache.recall(self.image_id, step)
        reason = explain_miss(old, detail) if old is not None else ""
        if reason:
            self.say(f" ---> Cache miss: {reason}\n")

    def _advance(self, image_id: str, cached: bool) -> None:
        self.chain_cached = cached
        if cached:
            self.say(" ---> Using cache\n")
            self.cache_hits += 1
        self.image_id = image_id
        self.config = copy.deepcopy(self.images.image(image_id).config.get("config") or {})
        self.say(f" ---> {dg.short_id(image_id)}\n")

    # -- the three kinds of step ---------------------------------------------------------
    async def change_config(self, created_by: str, mutate: Callable[[dict[str, Any]], None]) -> None:
        """A metadata-only step (ENV, CMD, LABEL, …): a new image with an empty layer."""
        new = copy.deepcopy(self.config)
        mutate(new)
        key = self.cache.key(self.image_id, created_by, extra={"config": repr(sorted(new.items()))})
        hit = self._cached(key)
        if hit:
            return self._advance(hit, True)
        image_id = await asyncio.to_thread(
            self.images.commit, self.image_id or None, "", new, {"created_by": created_by}, [], empty_layer=True)
        self.cache.put(key, image_id)
        self._advance(image_id, False)

    async def run(self, argv: list[str], shown: str, network: str = "", mounts: list[dict[str, Any]] | None = None,
                  key_extra: str = "") -> None:
        created_by = shown
        env = self.env_for_run()
        key = self.cache.key(self.image_id, created_by,
                             extra={"args": repr(sorted(self.args.items())), "mounts": key_extra})
        hit = self._cached(key)
        if hit:
            return self._advance(hit, True)
        detail = {"args": dict(self.args), "mounts": key_extra}
        self._explain_miss(created_by, detail)
        self.cache.remember(self.image_id, created_by, detail)
        run_config = dict(self.config, Env=env)
        cid, upper = await steps.run_step(self.containers, self.image_id, argv, run_config,
                                          network or self.opts.network, self.output, shown,
                                          on_created=lambda c: self.say(f" ---> Running in {c[:12]}\n"),
                                          mounts=mounts or [], extra_hosts=self.opts.extra_hosts)
        try:
            image_id = await asyncio.to_thread(self.images.commit, self.image_id, upper, self.config,
                                               {"created_by": created_by}, [])
        finally:
            await self.containers.remove(cid, force=True)
        self.say(f" ---> Removed intermediate container {cid[:12]}\n")
        self.cache.put(key, image_id)
        self._advance(image_id, False)

    async def workdir(self, path: str, created_by: str) -> None:
        """WORKDIR: the legacy builder creates the directory in the image (a layer of its own)."""
        def mutate(c: dict[str, Any]) -> None:
            c["WorkingDir"] = path
        key = self.cache.key(self.image_id, created_by)
        hit = self._cached(key)
        if hit:
            return self._advance(hit, True)
        new_config = dict(self.config, WorkingDir=path)
        image_id = await asyncio.to_thread(self._commit_mkdir, path, new_config, created_by)
        self.cache.put(key, image_id)
        self._advance(image_id, False)

    def _commit_mkdir(self, path: str, config: dict[str, Any], created_by: str) -> str:
        from wharfie.containers.rootfs import overlay_for_image
        from wharfie.runtime.init import mkdir_p

        with overlay_for_image(self.images, self.image_id, self.images.tmp) as (merged, upper):
            root = os.open(merged, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                os.close(mkdir_p(root, path.strip("/")))
            finally:
                os.close(root)
            return self.images.commit(self.image_id or None, upper, config, {"created_by": created_by}, [],
                                      mtime=self.opts.source_date_epoch or None)

    async def copy_from_image(self, image_id: str, sources: list[str], dest: str,
                              chown: str | None, chmod: int | None = None) -> None:
        """COPY --from: the sources come from another stage's (or image's) root filesystem."""
        from pathlib import Path

        from wharfie.build.context import SourceTree
        from wharfie.containers.rootfs import overlay_for_image

        with overlay_for_image(self.images, image_id, self.images.tmp) as (merged, _):
            await self.copy(f"COPY --from={dg.short_id(image_id)}", sources, dest, chown, SourceTree(Path(merged)),
                            chmod=chmod)

    async def copy(self, created_by: str, sources: list[str], dest: str, chown: str | None,
                   source_ctx: SourceTree | None = None, extract_archives: bool = False,
                   files: list[tuple[str, str]] | None = None, chmod: int | None = None) -> None:
        """COPY/ADD from the context: cached by the sources' content, never their mtimes.
        ADD (`extract_archives`) unpacks local tar archives into the destination; `files` are
        (host path, name) pairs made by the builder (heredocs, downloads), copied like sources."""
        ctx = source_ctx or self.context
        fds: list[int] = []
        files = files or []
        try:
            matches = [rel for pattern in sources for rel in ctx.expand(pattern)]
            into_dir = len(matches) + len(files) > 1 or dest.endswith(("/", "/.")) or dest == "."
            entries = [(path, name if into_dir else "") for path, name in files]
            names = [name for _, name in files]  # how the output names each source
            for rel in matches:
                fd, walked, is_dir = ctx.walk(rel)
                fds.append(fd)
                if is_dir:
                    entries += walked  # a directory's *contents* go to dest
                    names += [os.path.normpath(os.path.join(rel, w)) for _, w in walked]
                else:  # "" = dest itself, unless dest is (or turns out to be) a directory
                    entries += [(walked[0][0], walked[0][1] if into_dir else "")]
                    names.append(rel)
            digests = await asyncio.to_thread(digest_entries, entries)
            inputs = combine(entries, digests)
            step = f"{created_by} {dest}"
            key = self.cache.key(self.image_id, step, inputs,
                                 {"chown": repr(chown), "extract": str(extract_archives),
                                  **({"chmod": oct(chmod)} if chmod is not None else {})})
            hit = self._cached(key)
            if hit:
                return self._advance(hit, True)
            detail = {"files": dict(zip(names, digests, strict=True)), "chown": chown}
            self._explain_miss(step, detail)
            self.cache.remember(self.image_id, step, detail)
            image_id = await asyncio.to_thread(self._commit_copy, entries, dest, chown, created_by, inputs,
                                               extract_archives, {path for path, _ in files}, chmod)
        finally:
            for fd in fds:
                os.close(fd)
        self.cache.put(key, image_id)
        self._advance(image_id, False)

    def _commit_copy(self, entries: list[tuple[str, str]], dest: str, chown: str | None,
                     created_by: str, inputs: str, extract_archives: bool = False,
                     never_extract: set[str] | None = None, chmod: int | None = None) -> str:
        """Copy into a scratch overlay of the current image; its upper dir is the new layer."""
        from wharfie.containers.rootfs import overlay_for_image

        workdir = self.config.get("WorkingDir") or "/"
        target = dest if dest.startswith("/") else os.path.join(workdir, dest)
        with overlay_for_image(self.images, self.image_id, self.images.tmp) as (merged, upper):
            owner = _owner(merged, chown) if chown else None
            if extract_archives:
                archives = [e for e in entries if e[0] not in (never_extract or set()) and steps.is_archive(e[0])]
                entries = [e for e in entries if e not in archives]
                for src, _ in archives:
                    steps.extract_into(merged, target, src)
            steps.copy_into(merged, target, entries, owner, chmod)
            history = {"created_by": f"/bin/sh -c #(nop) {created_by} {inputs[7:19]} in {target} "}
            return self.images.commit(self.image_id or None, upper, self.config, history, [],
                                      mtime=self.opts.source_date_epoch)


def _owner(rootfs: str, spec: str) -> tuple[int, int]:
    """Docker's --chown: names from the image's files; a uid alone means gid = uid."""
    from wharfie.containers.specbuilder import resolve_user

    user, _, group = spec.partition(":")
    if user.isdigit() and not group:
        return int(user), int(user)
    u = resolve_user(rootfs, spec)
    return u.uid, u.gid
