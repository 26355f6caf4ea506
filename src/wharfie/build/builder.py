"""The legacy builder (`POST /build`): a Dockerfile's stages, one instruction at a time.

Each instruction maps to one of the three step kinds in `build.state` (config change, RUN,
COPY/ADD); the stream it reports is the classic builder's (`Step N/M : …`, ` ---> Using cache`,
` ---> <id>`, `Successfully built/tagged`) so `docker build` and the SDK read it unmodified.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from wharfie.build import heredoc
from wharfie.build.cache import BuildCache
from wharfie.build.context import BuildContext
from wharfie.build.dockerfile import instructions as ins
from wharfie.build.dockerfile.shell import Expander
from wharfie.build.state import BuildOptions, Stage
from wharfie.containers.service import ContainerService
from wharfie.errors import InvalidArgument, NotFound
from wharfie.images.service import ImageService, familiar
from wharfie.oci import digest as dg
from wharfie.oci import reference

Emit = Callable[[dict[str, Any]], None]
Puller = Callable[[str], Awaitable[str]]
PROXY_ARGS = {"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy",
              "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"}


@dataclass
class BuildRequest:
    dockerfile: str = "Dockerfile"
    tags: list[str] = field(default_factory=list)
    target: str = ""
    quiet: bool = False
    pull: bool = False  # --pull: fetch every FROM image even when present
    opts: BuildOptions = field(default_factory=BuildOptions)


class Builder:
    def __init__(self, images: ImageService, containers: ContainerService, cache: BuildCache,
                 context: BuildContext, req: BuildRequest, emit: Emit, puller: Puller | None = None) -> None:
        self.images, self.containers, self.cache = images, containers, cache
        self.context, self.req, self.emit = context, req, emit
        self.puller = puller  # fetches a missing FROM/COPY --from image; returns its ID
        self.stage_images: dict[str, str] = {}   # stage name or index → image id
        self.cache_mounts = images.root.parent / "build" / "cache-mounts"

    def say(self, text: str) -> None:
        if not self.req.quiet:
            self.emit({"stream": text})

    def output(self, stream: str, data: bytes) -> None:
        if self.req.quiet:
            return
        text = data.decode("utf-8", "replace")
        self.emit({"stream": f"\x1b[91m{text}\x1b[0m" if stream == "stderr" else text})

    def prepare(self) -> None:
        """What can fail before any output (bad tags, a missing or malformed Dockerfile): the
        route runs this first so such errors are plain HTTP errors, like dockerd's."""
        for tag in self.req.tags:
            ref = reference.parse(tag)
            if ref.digest:
                raise InvalidArgument(f"invalid reference format: {tag} (build tags cannot have digests)")
        self.dockerfile = ins.parse_dockerfile(self.context.read_dockerfile(self.req.dockerfile),
                                               file=self.req.dockerfile)
        self.context.drop_build_files(self.req.dockerfile)

    async def build(self) -> str:
        df = self.dockerfile
        stages = list(df.stages)
        if not stages:
            raise InvalidArgument("No image was generated. Is your Dockerfile empty?")
        if self.req.target:
            found = df.find_stage(self.req.target)
            if found is None:
                raise InvalidArgument(f"failed to reach build target {self.req.target} in Dockerfile")
            stages = stages[: found.index + 1]
        meta = self._meta_args(df.meta_args)
        total = len(df.meta_args) + sum(1 + len(s.commands) for s in stages)
        step = 0
        for arg in df.meta_args:
            step += 1
            self.say(f"Step {step}/{total} : {arg.code}\n")
        image_id = ""
        for i, stage in enumerate(stages):
            image_id, step = await self._run_stage(stage, meta, step, total)
            if self.req.opts.labels and i == len(stages) - 1:  # (FROM scratch alone too)
                image_id = await self._label_final(image_id)  # before the last aux: --iidfile
            if not self.req.quiet:
                self.emit({"aux": {"ID": image_id}})
        if not image_id:
            raise InvalidArgument("No image was generated. Is your Dockerfile empty?")
        for tag in self.req.tags:
            ref = reference.parse_docker_ref(tag)
            self.images.tag(image_id, ref.name, ref.tag or "latest")
        if self.req.quiet:
            self.emit({"stream": image_id + "\n"})
        else:
            self.say(f"Successfully built {dg.short_id(image_id)}\n")
            for tag in self.req.tags:
                self.say(f"Successfully tagged {familiar(str(reference.parse_docker_ref(tag)))}\n")
        return image_id

    def _meta_args(self, args: tuple[ins.Arg, ...]) -> dict[str, str]:
        out: dict[str, str] = {}
        for a in args:
            for d in a.args:
                value = self.req.opts.build_args.get(d.key, d.value) if d.key in self.req.opts.build_args else d.value
                if value is not None:
                    out[d.key] = Expander(out).word(value) if d.value is not None and value == d.value else value
        return out

    async def _label_final(self, image_id: str) -> str:
        stage = self._new_stage()
        await self._from_image(stage, image_id)
        await stage.change_config("/bin/sh -c #(nop)  LABEL " + " ".join(f"{k}={v}" for k, v in self.req.opts.labels.items()),
                                  lambda c: c.__setitem__("Labels", {**(c.get("Labels") or {}), **self.req.opts.labels}))
        return stage.image_id

    def _new_stage(self) -> Stage:
        return Stage(self.images, self.containers, self.cache, self.context, self.req.opts, self.say, self.output)

    async def _from_image(self, stage: Stage, image_id: str) -> None:
        stage.image_id = image_id
        stage.config = dict(self.images.image(image_id).config.get("config") or {}) if image_id else {}

    async def _run_stage(self, st: ins.Stage, meta: dict[str, str], step: int, total: int) -> tuple[str, int]:
        stage = self._new_stage()
        step += 1
        self.say(f"Step {step}/{total} : {st.from_.code}\n")
        base = Expander(meta).word(st.from_.base)
        await self._from_image(stage, await self._resolve_base(base, self.req.pull))
        self.say(f" ---> {dg.short_id(stage.image_id)}\n" if stage.image_id else "")
        await self._run_triggers(stage)
        for cmd in st.commands:
            step += 1
            self.say(f"Step {step}/{total} : {cmd.code}\n")
            await self._dispatch(stage, cmd)
        self.stage_images[str(st.index)] = stage.image_id
        if st.name:
            self.stage_images[st.name.lower()] = stage.image_id
        return stage.image_id, step

    async def _run_triggers(self, stage: Stage) -> None:
        """ONBUILD: the base image's triggers run right after FROM, in order, and are not
        passed on to this image's own children."""
        from wharfie.build.dockerfile import parse, parse_instruction

        triggers = list(stage.config.get("OnBuild") or [])
        if not triggers:
            return
        self.say(f"# Executing {len(triggers)} build trigger{'s' if len(triggers) > 1 else ''}\n")
        for text in triggers:
            for node in parse(text + "\n", file="ONBUILD").nodes:
                await self._dispatch(stage, parse_instruction(node, file="ONBUILD"))
        await stage.change_config(self._nop("ONBUILD (triggers consumed)"), lambda c: c.__setitem__("OnBuild", None))

    async def _resolve_base(self, base: str, pull: bool = False) -> str:
        """A stage, or an image: pulled when missing (or always with `--pull`), like dockerd."""
        if base == "scratch":
            return ""
        if base.lower() in self.stage_images:
            return self.stage_images[base.lower()]
        if not pull:
            try:
                return self.images.resolve(base)
            except NotFound:
                if self.puller is None:
                    raise
        if self.puller is None:
            raise InvalidArgument("--pull needs a registry client, and this daemon has none")
        return await self.puller(base)

    # -- instructions ------------------------------------------------------------------------
    async def _dispatch(self, stage: Stage, cmd: ins.Instruction) -> None:
        env = stage.expansion_env()
        expanded = cmd.expand(Expander(env)) if hasattr(cmd, "expand") else cmd
        if isinstance(expanded, ins.Run) and not set(expanded.flags_used) <= {"mount", "network"}:
            ins.check_legacy(expanded)  # beyond the legacy builder: RUN --mount/--network, --chmod
        handler = getattr(self, f"_do_{type(cmd).__name__.lower()}", None)
        if handler is None:
            raise InvalidArgument(f"{cmd.keyword.upper()} is not supported by this builder yet")
        await handler(stage, expanded)

    @staticmethod
    def _nop(text: str) -> str:
        return f"/bin/sh -c #(nop)  {text}"

    async def _do_env(self, stage: Stage, cmd: ins.Env) -> None:
        def mutate(c: dict[str, Any]) -> None:
            env = list(c.get("Env") or [])
            for kv in cmd.pairs:
                env = [e for e in env if e.split("=", 1)[0] != kv.key] + [f"{kv.key}={kv.value}"]
            c["Env"] = env
        await stage.change_config(self._nop("ENV " + " ".join(f"{kv.key}={kv.value}" for kv in cmd.pairs)), mutate)

    async def _do_arg(self, stage: Stage, cmd: ins.Arg) -> None:
        for d in cmd.args:
            if d.key in self.req.opts.build_args and self.req.opts.build_args[d.key] is not None:
                stage.args[d.key] = str(self.req.opts.build_args[d.key])
            elif d.value is not None:
                stage.args[d.key] = d.value
        text = " ".join(f"{d.key}={d.value}" if d.value is not None else d.key for d in cmd.args)
        await stage.change_config(self._nop(f"ARG {text}"), lambda c: None)

    async def _do_label(self, stage: Stage, cmd: ins.Label) -> None:
        await stage.change_config(self._nop("LABEL " + " ".join(f"{kv.key}={kv.value}" for kv in cmd.pairs)),
                                  lambda c: c.__setitem__("Labels", {**(c.get("Labels") or {}),
                                                                     **{kv.key: kv.value for kv in cmd.pairs}}))

    async def _do_maintainer(self, stage: Stage, cmd: ins.Maintainer) -> None:
        await stage.change_config(self._nop(f"MAINTAINER {cmd.maintainer}"), lambda c: None)

    async def _do_workdir(self, stage: Stage, cmd: ins.Workdir) -> None:
        import posixpath

        path = posixpath.normpath(posixpath.join(stage.config.get("WorkingDir") or "/", cmd.path))
        await stage.workdir(path, self._nop(f"WORKDIR {path}"))

    async def _do_user(self, stage: Stage, cmd: ins.User) -> None:
        await stage.change_config(self._nop(f"USER {cmd.user}"), lambda c: c.__setitem__("User", cmd.user))

    async def _do_stopsignal(self, stage: Stage, cmd: ins.StopSignal) -> None:
        await stage.change_config(self._nop(f"STOPSIGNAL {cmd.signal}"), lambda c: c.__setitem__("StopSignal", cmd.signal))

    async def _do_expose(self, stage: Stage, cmd: ins.Expose) -> None:
        def mutate(c: dict[str, Any]) -> None:
            ports = dict(c.get("ExposedPorts") or {})
            for p in cmd.ports:
                ports[p if "/" in p else f"{p}/tcp"] = {}
            c["ExposedPorts"] = ports
        await stage.change_config(self._nop("EXPOSE " + " ".join(cmd.ports)), mutate)

    async def _do_volume(self, stage: Stage, cmd: ins.Volume) -> None:
        await stage.change_config(self._nop(f"VOLUME {json.dumps(list(cmd.volumes))}"),
                                  lambda c: c.__setitem__("Volumes", {**(c.get("Volumes") or {}),
                                                                      **{v: {} for v in cmd.volumes}}))

    async def _do_shell(self, stage: Stage, cmd: ins.Shell) -> None:
        stage.shell = list(cmd.shell)
        await stage.change_config(self._nop(f"SHELL {json.dumps(list(cmd.shell))}"),
                                  lambda c: c.__setitem__("Shell", list(cmd.shell)))

    def _argv(self, stage: Stage, cmd: tuple[str, ...], prepend_shell: bool) -> list[str]:
        return [*stage.shell, cmd[0]] if prepend_shell else list(cmd)

    async def _do_cmd(self, stage: Stage, cmd: ins.Cmd) -> None:
        argv = self._argv(stage, cmd.cmd, cmd.prepend_shell)
        await stage.change_config(self._nop(f"CMD {json.dumps(argv)}"), lambda c: c.__setitem__("Cmd", argv))

    async def _do_entrypoint(self, stage: Stage, cmd: ins.Entrypoint) -> None:
        argv = self._argv(stage, cmd.cmd, cmd.prepend_shell) if cmd.cmd else None

        def mutate(c: dict[str, Any]) -> None:
            c["Entrypoint"] = argv
            if not argv:
                c["Cmd"] = None
        await stage.change_config(self._nop(f"ENTRYPOINT {json.dumps(argv)}"), mutate)

    async def _do_healthcheck(self, stage: Stage, cmd: ins.Healthcheck) -> None:
        hc: dict[str, Any] = {"Test": list(cmd.test)}
        for key, value in (("Interval", cmd.interval), ("Timeout", cmd.timeout),
                           ("StartPeriod", cmd.start_period), ("StartInterval", cmd.start_interval),
                           ("Retries", cmd.retries)):
            if value:
                hc[key] = value
        await stage.change_config(self._nop(f"HEALTHCHECK {' '.join(cmd.test)}"), lambda c: c.__setitem__("Healthcheck", hc))

    async def _do_onbuild(self, stage: Stage, cmd: ins.Onbuild) -> None:
        await stage.change_config(self._nop(f"ONBUILD {cmd.expression}"),
                                  lambda c: c.__setitem__("OnBuild", [*(c.get("OnBuild") or []), cmd.expression]))

    async def _do_run(self, stage: Stage, cmd: ins.Run) -> None:
        if not stage.image_id:
            raise InvalidArgument("RUN needs a base image: FROM scratch has no shell")
        argv = self._argv(stage, cmd.cmd, cmd.prepend_shell)
        shown = " ".join(argv) if cmd.prepend_shell else " ".join(shlex.quote(a) for a in argv)
        net = stage.opts.network if cmd.network in ("", "default") else cmd.network
        mounts, mount_key = self._run_mounts(cmd)
        with heredoc.run_script(stage, cmd, self.images.tmp) as (script_argv, script_mounts, script_key):
            if script_argv:
                argv, shown = script_argv, " ".join(script_argv)
            await stage.run(argv, shown, network=net, mounts=mounts + script_mounts,
                            key_extra=mount_key + script_key)

    def _run_mounts(self, cmd: ins.Run) -> tuple[list[dict[str, Any]], str]:
        """RUN --mount: cache dirs that persist across builds, binds of the context, tmpfs.
        Returns HostConfig.Mounts entries and what the step's cache key must include."""
        import hashlib
        import os

        from wharfie.build.cache import digest_inputs

        out: list[dict[str, Any]] = []
        key_parts: list[str] = []
        for m in cmd.mounts:
            if m.type == "cache":
                ident = m.cache_id or m.target
                src = self.cache_mounts / hashlib.sha256(ident.encode()).hexdigest()[:32]
                src.mkdir(parents=True, exist_ok=True)
                if m.uid is not None or m.gid is not None:
                    os.chown(src, m.uid or 0, m.gid or 0)
                if m.mode is not None:
                    os.chmod(src, m.mode)
                out.append({"Type": "bind", "Source": str(src), "Target": m.target})
                key_parts.append(f"cache:{ident}:{m.target}")
            elif m.type == "bind":
                if m.from_:
                    raise InvalidArgument("RUN --mount=type=bind,from=… is not supported yet")
                fd, entries, _ = self.context.walk(m.source or ".")
                try:
                    real = os.readlink(f"/proc/self/fd/{fd}")  # resolved inside the context
                    name = os.path.normpath("/" + (m.source or ".")).rsplit("/", 1)[-1]
                    source = os.path.join(real, name) if name else real
                    key_parts.append(f"bind:{m.source}:{m.target}:{digest_inputs(entries)}")
                finally:
                    os.close(fd)
                out.append({"Type": "bind", "Source": source, "Target": m.target, "ReadOnly": m.readonly})
            elif m.type == "tmpfs":
                out.append({"Type": "tmpfs", "Target": m.target})
                key_parts.append(f"tmpfs:{m.target}")
            else:
                raise InvalidArgument(f"RUN --mount=type={m.type} is not supported by this builder yet")
        return out, "\n".join(key_parts)

    async def _do_copy(self, stage: Stage, cmd: ins.Copy) -> None:
        if cmd.from_:
            await self._copy_from_image(stage, cmd)
            return
        with heredoc.source_files(cmd.contents, self._heredoc_expander(stage), self.images.tmp) as files:
            await stage.copy("COPY", list(cmd.sources), cmd.dest, _chown(cmd.chown), files=files,
                             chmod=_chmod(cmd.chmod))

    async def _do_add(self, stage: Stage, cmd: ins.Add) -> None:
        from wharfie.build import remote

        urls = [s for s in cmd.sources if remote.is_url(s)]
        local = [s for s in cmd.sources if s not in urls]
        with heredoc.source_files(cmd.contents, self._heredoc_expander(stage), self.images.tmp) as files, \
                remote.downloads(urls, cmd.checksum, self.images.tmp, self.say) as fetched:
            await stage.copy("ADD", local, cmd.dest, _chown(cmd.chown), extract_archives=True,
                             files=files + fetched, chmod=_chmod(cmd.chmod))

    @staticmethod
    def _heredoc_expander(stage: Stage) -> Callable[[str], str]:
        """BuildKit expands unquoted COPY heredocs without quote processing and leaves unset
        variables as written (so a shell script's own `$x` survives)."""
        from wharfie.build.dockerfile.shell import Lexer

        env = stage.expansion_env()
        lexer = Lexer("\\", skip_process_quotes=True, skip_unset_env=True)
        return lambda data: lexer.process_word(data, env)

    async def _copy_from_image(self, stage: Stage, cmd: ins.Copy) -> None:
        source = cmd.from_.lower()
        image_id = self.stage_images.get(source) or await self._resolve_base(cmd.from_)
        await stage.copy_from_image(image_id, list(cmd.sources), cmd.dest, _chown(cmd.chown), _chmod(cmd.chmod))


def _chown(spec: str) -> str | None:
    """`--chown` is resolved against the image's own /etc/passwd and /etc/group at copy time."""
    return spec or None


def _chmod(spec: str) -> int | None:
    """`--chmod` in octal (BuildKit's form); the mode applies to what the step copies."""
    if not spec:
        return None
    if not spec.isdigit() or any(c in "89" for c in spec) or len(spec) > 4:
        raise InvalidArgument(f"invalid chmod parameter: {spec!r}: want an octal mode such as 755")
    return int(spec, 8)
