"""``wharfie build`` / ``wharfie image build`` / ``wharfie builder build``.

Flags, context and request are the docker CLI's legacy ``docker build`` (no BuildKit):
the context tar (``cli.buildcontext``) goes chunked to ``POST /build`` with the query
``imageBuildOptionsToQuery`` builds. The output is not the legacy one: the daemon's
``Step N/M`` stream is shown as BuildKit's progress (``cli.buildprogress``) on stderr,
live on a terminal, plain otherwise; ``-q`` prints only the image ID on stdout.

Exit status: an in-band ``errorDetail`` exits with its ``code`` (a failed RUN's exit
status) and prints its message; an HTTP error from the daemon prints ``ERROR: …`` and
exits 1.
"""

from __future__ import annotations

import os
from typing import IO, Any

from wharfie.cli.command import Cli, CLIError, Command, Flag, Options, StatusError

PROGRESS_MODES = ("auto", "plain", "tty", "quiet")


def _validate_tag(value: str) -> str:
    from wharfie.cli.reference import parse_normalized_named
    from wharfie.errors import InvalidArgument

    try:
        parse_normalized_named(value)
    except InvalidArgument as e:
        raise ValueError(str(e)) from None
    return value


def _validate_progress(value: str) -> str:
    if value not in PROGRESS_MODES:
        raise ValueError(f"invalid progress mode: expected one of {', '.join(PROGRESS_MODES)}")
    return value


def _kv_with_nil(values: list[str]) -> dict[str, str | None]:
    """``opts.ConvertKVStringsToMapWithNil``: ``KEY`` alone maps to null."""
    out: dict[str, str | None] = {}
    for item in values:
        key, eq, value = item.partition("=")
        out[key] = value if eq else None
    return out


def _kv(values: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values:
        key, _, value = item.partition("=")
        out[key] = value
    return out


def _with_proxies(build_args: dict[str, str | None], host: str) -> dict[str, str | None]:
    """``configFile.ParseProxyConfig``: proxies from the config file, unless set."""
    from wharfie.cli.configfile import load_config

    proxies = load_config().get("proxies")
    if not isinstance(proxies, dict):
        return build_args
    conf = proxies.get(host) or proxies.get("default")
    if not isinstance(conf, dict):
        return build_args
    out = dict(build_args)
    for key, field in (("HTTP_PROXY", "httpProxy"), ("HTTPS_PROXY", "httpsProxy"),
                       ("NO_PROXY", "noProxy"), ("FTP_PROXY", "ftpProxy"),
                       ("ALL_PROXY", "allProxy")):
        value = conf.get(field)
        if not isinstance(value, str) or not value:
            continue
        out.setdefault(key, value)
        out.setdefault(key.lower(), value)
    return out


def _json(value: Any) -> str:
    """``json.Marshal`` of a Go map: keys sorted, HTML characters escaped."""
    from wharfie.client.jsonutil import go_json_compact

    if isinstance(value, dict):
        value = dict(sorted(value.items()))
    return go_json_compact(value)


def build_query(opts: Options, dockerfile: str, host: str, quiet: bool) -> dict[str, Any]:
    """The query of ``imageBuildOptionsToQuery`` (docker client v28)."""
    q: dict[str, Any] = {}
    if opts.tag:
        q["t"] = list(opts.tag)
    if opts.security_opt:
        q["securityopt"] = list(opts.security_opt)
    if opts.add_host:
        q["extrahosts"] = list(opts.add_host)
    if quiet:
        q["q"] = "1"
    if opts.no_cache:
        q["nocache"] = "1"
    if not opts.rm:
        q["rm"] = "0"
    if opts.force_rm:
        q["forcerm"] = "1"
    if opts.pull:
        q["pull"] = "1"
    if opts.squash:
        q["squash"] = "1"
    if opts.isolation and opts.isolation != "default":
        q["isolation"] = opts.isolation
    if opts.cpuset_cpus:
        q["cpusetcpus"] = opts.cpuset_cpus
    if opts.network and opts.network != "default":
        q["networkmode"] = opts.network
    if opts.cpuset_mems:
        q["cpusetmems"] = opts.cpuset_mems
    for name, key in (("cpu_shares", "cpushares"), ("cpu_quota", "cpuquota"),
                      ("cpu_period", "cpuperiod"), ("memory", "memory"),
                      ("memory_swap", "memswap")):
        if getattr(opts, name):
            q[key] = str(getattr(opts, name))
    if opts.cgroup_parent:
        q["cgroupparent"] = opts.cgroup_parent
    if opts.shm_size:
        q["shmsize"] = str(opts.shm_size)
    if dockerfile:
        q["dockerfile"] = dockerfile
    if opts.target:
        q["target"] = opts.target
    if opts.ulimit:
        q["ulimits"] = _json(list(opts.ulimit))
    build_args = _with_proxies(_kv_with_nil(opts.build_arg), host)
    if build_args:
        q["buildargs"] = _json(build_args)
    labels = _kv(opts.label)
    if labels:
        q["labels"] = _json(labels)
    if opts.cache_from:
        q["cachefrom"] = _json(list(opts.cache_from))
    if opts.platform:
        q["platform"] = opts.platform.lower()
    q["version"] = "1"
    return q


def _looks_remote(context: str) -> bool:
    return context.startswith(("http://", "https://", "git://", "github.com/", "git@"))


def _prepare(cli: Cli, opts: Options, context: str) -> Any:
    from wharfie.cli import buildcontext

    if context == "-":
        return buildcontext.context_from_stdin(cli.in_binary, opts.file)
    try:
        os.stat(context)
    except OSError:
        if _looks_remote(context):
            raise CLIError(f"unable to prepare context: remote build contexts are not "
                           f"supported by wharfie ({context}): clone or download it first"
                           ) from None
        raise CLIError(f"unable to prepare context: path {_quote(context)} not found") from None
    stdin = cli.in_binary if opts.file == "-" else None
    return buildcontext.context_from_directory(context, opts.file, stdin)


def _quote(s: str) -> str:
    import json

    return json.dumps(s, ensure_ascii=False)


def _terminal_width(stream: IO[str]) -> int:
    try:
        return os.get_terminal_size(stream.fileno()).columns or 80
    except (OSError, ValueError, AttributeError):
        return 80


def _is_terminal(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def run_build(cli: Cli, opts: Options, args: list[str]) -> int:
    import io

    from wharfie.cli import buildcontext, credentials
    from wharfie.cli.buildprogress import BuildProgress, PlainView, TtyView, View
    from wharfie.client.errors import APIError, StreamError

    context = args[0]
    mode = opts.progress
    quiet = opts.quiet or mode == "quiet"
    if opts.squash:
        cli.client.negotiate()
        headers = cli.client.ping_headers
        if headers is not None and headers.get("Docker-Experimental") != "true":
            raise CLIError('"--squash" is only supported on a Docker daemon with experimental '
                           "features enabled")
    if opts.file == "-" and context == "-":
        raise CLIError("invalid argument: can't use stdin for both build context and dockerfile")
    if opts.iidfile:
        try:
            os.remove(opts.iidfile)
        except FileNotFoundError:
            pass
        except OSError as e:
            raise CLIError(f"Removing image ID file: remove {opts.iidfile}: "
                           f"{(e.strerror or str(e)).lower()}") from None

    prepared = _prepare(cli, opts, context)
    chunks = prepared.chunks
    if opts.compress:
        chunks = buildcontext.gzip_chunks(chunks)

    buffer = io.StringIO()
    view: View
    if quiet:
        view = PlainView(buffer)  # shown on stderr only if the build fails
    elif mode == "tty" or (mode == "auto" and _is_terminal(cli.err)):
        view = TtyView(cli.err, _terminal_width(cli.err), lambda: 0)
    else:
        view = PlainView(cli.err)
    progress = BuildProgress(view)
    if isinstance(view, TtyView):
        view.total = progress.known_vertices
    sent = [0]

    def on_bytes(total: int) -> None:
        sent[0] = total
        progress.upload_progress(total)

    params = build_query(opts, prepared.dockerfile, cli.client.host, quiet)
    finished = False
    try:
        try:
            resp = cli.client.image_build(buildcontext.counted(chunks, on_bytes), params,
                                          credentials.config_header())
        except APIError as e:
            progress.upload_failed(e.message)
            finished = True
            raise CLIError(f"ERROR: {e.message}") from None
        progress.upload_done(sent[0])
        with resp:
            try:
                if isinstance(view, TtyView):
                    _pump_live(resp, progress, view)
                else:
                    for msg in resp.iter_json():
                        progress.feed(msg)
            except StreamError as e:
                finished = True
                if quiet:
                    cli.err.write(buffer.getvalue())
                raise StatusError(e.code or 1, e.message) from None
            except ValueError as e:
                raise CLIError(f"error reading the build output: {e}") from None
        progress.close()
        finished = True
    finally:
        if not finished:
            view.finish(False)

    image_id = progress.image_id
    if not image_id and not progress.built:
        # docker's CLI would exit 0 here; a stream that just stops is a failed build
        raise CLIError("ERROR: the daemon ended the build without reporting an image")
    if quiet:
        cli.out.write((progress.quiet_id or image_id or progress.built) + "\n")
    if opts.iidfile:
        if not image_id:
            raise CLIError(f"Server did not provide an image ID. Cannot write {opts.iidfile}")
        try:
            fd = os.open(opts.iidfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
            with os.fdopen(fd, "w") as f:
                f.write(image_id)
        except OSError as e:
            raise CLIError(f"open {opts.iidfile}: {(e.strerror or str(e)).lower()}") from None
    return 0


def _pump_live(resp: Any, progress: Any, view: Any) -> None:
    """Read the stream in a thread; redraw the live view ten times a second."""
    import queue
    import threading

    q: queue.Queue[tuple[str, Any]] = queue.Queue()

    def pump() -> None:
        try:
            for msg in resp.iter_json():
                q.put(("msg", msg))
            q.put(("end", None))
        except BaseException as e:  # handed to the main thread
            q.put(("exc", e))

    threading.Thread(target=pump, name="build-stream", daemon=True).start()
    while True:
        try:
            kind, value = q.get(timeout=0.1)
        except queue.Empty:
            view.tick()
            continue
        if kind == "msg":
            progress.feed(value)
        elif kind == "exc":
            raise value
        else:
            return


def _flags() -> list[Flag]:
    from wharfie.cli.containeropts import (
        mem_swap_bytes,
        parse_ulimit,
        ram_in_bytes,
        validate_env,
        validate_extra_host,
        validate_label,
    )

    return [
        Flag("add-host", "", "list", 'Add a custom host-to-IP mapping ("host:ip")',
             convert=validate_extra_host),
        Flag("build-arg", "", "list", "Set build-time variables", convert=validate_env),
        Flag("cache-from", "", "strings", "Images to consider as cache sources"),
        Flag("cgroup-parent", "", "string",
             'Set the parent cgroup for the "RUN" instructions during build'),
        Flag("compress", "", "bool", "Compress the build context using gzip"),
        Flag("cpu-period", "", "int", "Limit the CPU CFS (Completely Fair Scheduler) period"),
        Flag("cpu-quota", "", "int", "Limit the CPU CFS (Completely Fair Scheduler) quota"),
        Flag("cpu-shares", "c", "int", "CPU shares (relative weight)"),
        Flag("cpuset-cpus", "", "string", "CPUs in which to allow execution (0-3, 0,1)"),
        Flag("cpuset-mems", "", "string", "MEMs in which to allow execution (0-3, 0,1)"),
        Flag("disable-content-trust", "", "bool", "Skip image verification", default=True),
        Flag("file", "f", "string", 'Name of the Dockerfile (Default is "PATH/Dockerfile")'),
        Flag("force-rm", "", "bool", "Always remove intermediate containers"),
        Flag("iidfile", "", "string", "Write the image ID to the file"),
        Flag("isolation", "", "string", "Container isolation technology"),
        Flag("label", "", "list", "Set metadata for an image", convert=validate_label),
        Flag("memory", "m", "value", "Memory limit", convert=ram_in_bytes, metavar="bytes",
             default=0),
        Flag("memory-swap", "", "value",
             "Swap limit equal to memory plus swap: -1 to enable unlimited swap",
             convert=mem_swap_bytes, metavar="bytes", default=0),
        Flag("network", "", "string",
             "Set the networking mode for the RUN instructions during build",
             default="default"),
        Flag("no-cache", "", "bool", "Do not use cache when building the image"),
        Flag("platform", "", "string", "Set platform if server is multi-platform capable",
             default=os.environ.get("DOCKER_DEFAULT_PLATFORM") or None),
        Flag("progress", "", "string",
             'Set type of progress output ("auto", "plain", "tty", "quiet")',
             convert=_validate_progress,
             default=os.environ.get("BUILDKIT_PROGRESS") if os.environ.get("BUILDKIT_PROGRESS")
             in PROGRESS_MODES else "auto"),
        Flag("pull", "", "bool", "Always attempt to pull a newer version of the image"),
        Flag("quiet", "q", "bool", "Suppress the build output and print image ID on success"),
        Flag("rm", "", "bool", "Remove intermediate containers after a successful build",
             default=True),
        Flag("security-opt", "", "strings", "Security options"),
        Flag("shm-size", "", "value", 'Size of "/dev/shm"', convert=ram_in_bytes,
             metavar="bytes", default=0),
        Flag("squash", "", "bool", "Squash newly built layers into a single new layer"),
        Flag("tag", "t", "list", 'Name and optionally a tag in the "name:tag" format',
             convert=_validate_tag),
        Flag("target", "", "string", "Set the target build stage to build."),
        Flag("ulimit", "", "list", "Ulimit options", convert=parse_ulimit, metavar="ulimit",
             default_text="[]"),
    ]


def build_command() -> Command:
    return Command(
        use="build [OPTIONS] PATH | -",
        short="Build an image from a Dockerfile",
        aliases="wharfie image build, wharfie build, wharfie builder build",
        flags=_flags(),
        args=("exact", 1),
        run=run_build,
    )


def image_build_command() -> Command:
    return build_command()
