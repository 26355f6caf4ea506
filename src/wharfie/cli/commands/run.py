"""``wharfie run`` / ``wharfie create`` (and ``container run``/``container create``).

The run flow is docker's: create (on a 404, "Unable to find image", pull, create
again) → attach (hijack) → ``wait?condition=next-exit`` (``removed`` with
``--rm``), whose response headers must arrive before → start → resize when on a
TTY. The CLI exits once the output stream has ended and the wait result arrived,
with the container's exit status; daemon refusals exit 125, and start errors that
mean "not executable"/"not found" exit 126/127.
"""

from __future__ import annotations

import threading
from typing import Any

from wharfie.cli.command import PROG, Cli, CLIError, Command, Flag, Options, StatusError
from wharfie.client.errors import APIError, StreamError
from wharfie.errors import WharfieError

PULL_ALWAYS, PULL_MISSING, PULL_NEVER = "always", "missing", "never"


def with_help(message: str, command: str) -> str:
    return f"{PROG}: {message}\n\nRun '{PROG} {command} --help' for more information"


def to_status_error(err: BaseException, command: str = "run") -> StatusError:
    """``toStatusError``: 127 not found, 126 not executable, else 125."""
    msg = str(err)
    code = 125
    if ("executable file not found" in msg or "no such file or directory" in msg
            or "system cannot find the file specified" in msg):
        code = 127
    elif "permission denied" in msg or "is a directory" in msg:
        code = 126
    return StatusError(code, with_help(msg, command))


def validate_pull(value: str) -> None:
    if value not in (PULL_ALWAYS, PULL_MISSING, PULL_NEVER, ""):
        raise CLIError(f"invalid pull option: '{value}': must be one of "
                       f'"{PULL_ALWAYS}", "{PULL_MISSING}" or "{PULL_NEVER}"')


def build_create_body(cli: Cli, opts: Options, args: list[str], command: str) -> dict[str, Any]:
    """Flags and arguments → the create body; usage errors exit 125 with help."""
    from wharfie.cli.containeropts import parse, proxy_env

    try:
        validate_pull(opts.pull)
        return parse(opts, args[0], args[1:], proxy_env(list(opts.env)))
    except CLIError as e:
        raise StatusError(125, with_help(str(e), command)) from None


def _pull(cli: Cli, image: str, opts: Options) -> None:
    """``pullImage``: ``POST /images/create`` with progress on stderr."""
    from wharfie.cli.progress import display_stream
    from wharfie.cli.reference import parse_normalized_named

    ref = parse_normalized_named(image)
    tag = ref.digest or ref.tag or "latest"
    from wharfie.cli import credentials

    resp = cli.client.image_create(ref.name, tag, platform=opts.platform,
                                   registry_auth=credentials.header_for(ref.domain))
    with resp:
        if opts.quiet:
            import io

            display_stream(resp.iter_json(), io.StringIO())
        else:
            err = cli.err
            display_stream(resp.iter_json(), err, _is_terminal(err))


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def create_container(cli: Cli, body: dict[str, Any], opts: Options) -> str:
    """``createContainer``: returns the new ID; errors are raised unchanged."""
    from wharfie.client.api import version_less
    from wharfie.errors import InvalidArgument

    client = cli.client
    host = body["HostConfig"]
    cid_path = host.get("ContainerIDFile") or ""
    cid_file = None
    if cid_path:
        import os

        if os.path.exists(cid_path):
            raise CLIError("container ID file found, make sure the other container isn't "
                           f"running or delete {cid_path}")
        try:
            cid_file = open(cid_path, "w")  # noqa: SIM115 - closed below
        except OSError as e:
            raise CLIError(f"failed to create the container ID file: {e}") from None
    written = False
    try:
        image = body["Image"]
        named = _named_reference(image)
        familiar = ""
        if named is not None:
            familiar = named.familiar_name
            if named.digest:
                familiar += "@" + named.digest
            else:
                familiar += ":" + (named.tag or "latest")

        platform = ""
        if opts.platform:
            from wharfie.cli.reference import parse_platform

            try:
                p = parse_platform(opts.platform)
            except InvalidArgument as e:
                raise CLIError(f"error parsing specified platform: {e}") from None
            if not version_less(client.version, "1.41"):
                platform = "/".join(x for x in (p["os"], p["architecture"],
                                                 p.get("variant", "")) if x)

        if opts.pull == PULL_ALWAYS:
            _pull(cli, image, opts)
        if cli.out_is_terminal():
            from wharfie.cli.hijackio import terminal_size

            host["ConsoleSize"] = list(terminal_size(cli.out.fileno()))
        if not version_less(client.version, "1.42") and "KernelMemory" in host:
            del host["KernelMemory"]
        try:
            response = client.container_create(body, opts.name, platform)
        except APIError as e:
            if not (e.is_not_found and named is not None and opts.pull == PULL_MISSING):
                raise
            if not opts.quiet:
                cli.err.write(f"Unable to find image '{familiar}' locally\n")
                cli.err.flush()
            _pull(cli, image, opts)
            response = client.container_create(body, opts.name, platform)
        response = response or {}
        for warning in response.get("Warnings") or []:
            cli.err.write(f"WARNING: {warning}\n")
        cli.err.flush()
        container_id = str(response.get("Id") or "")
        if cid_file is not None:
            cid_file.write(container_id)
            written = True
        return container_id
    finally:
        if cid_file is not None:
            cid_file.close()
            if not written:
                import os

                try:
                    os.unlink(cid_path)
                except OSError:
                    pass


def _named_reference(image: str) -> Any:
    """``reference.ParseAnyReference``: None for an image ID or a bare digest."""
    import re

    from wharfie.cli.reference import parse_normalized_named
    from wharfie.errors import InvalidArgument

    if re.fullmatch(r"[a-f0-9]{64}|sha256:[a-f0-9]{64}|sha384:[a-f0-9]{96}|sha512:[a-f0-9]{128}",
                    image):
        return None
    try:
        return parse_normalized_named(image)
    except InvalidArgument as e:
        raise CLIError(str(e)) from None


def run_create(cli: Cli, opts: Options, args: list[str]) -> int:
    body = build_create_body(cli, opts, args, "create")
    container_id = create_container(cli, body, opts)
    cli.out.write(container_id + "\n")
    return 0


class WaitResult:
    """``waitExitOrRemoved``: the wait request is sent now; the result arrives later."""

    def __init__(self, cli: Cli, container_id: str, condition: str) -> None:
        self.event = threading.Event()
        self.status = 125
        self._cli = cli
        resp = None
        try:
            resp = cli.client.container_wait(container_id, condition)
        except WharfieError as e:
            self._fail(f"error waiting for container: {e}")
            return
        threading.Thread(target=self._read, args=(resp,), name="wait", daemon=True).start()

    def _fail(self, message: str) -> None:
        self._cli.err.write(f"ERRO[0000] {message}\n")
        self._cli.err.flush()
        self.status = 125
        self.event.set()

    def _read(self, resp: Any) -> None:
        import json

        try:
            raw = resp.read()
        except (OSError, WharfieError) as e:
            self._fail(f"error waiting for container: {e}")
            return
        try:
            result = json.loads(raw)
        except ValueError:
            self._fail(f"error waiting for container: {raw.decode(errors='replace')}")
            return
        if isinstance(result, dict) and isinstance(result.get("Error"), dict) and \
                result["Error"].get("Message"):
            self._fail(f"Error waiting for container: {result['Error']['Message']}")
            return
        self.status = int(result.get("StatusCode", 0)) if isinstance(result, dict) else 0
        self.event.set()

    def wait(self) -> int:
        while not self.event.wait(0.2):
            pass
        return self.status


def detach_keys_option(opts: Options) -> str:
    """``--detach-keys``, else the config file's ``detachKeys``."""
    if opts.detach_keys:
        return str(opts.detach_keys)
    from wharfie.cli.configfile import load_config

    return str(load_config().get("detachKeys") or "")


def attach_streams(cli: Cli, container_id: str, *, stdin: bool, stdout: bool, stderr: bool,
                   tty: bool, detach_keys: str) -> Any:
    """``attachContainer``: hijack and start copying; returns the streamer."""
    from wharfie.cli.hijackio import Streamer, stdin_fd

    conn = cli.client.container_attach(container_id, stdin, stdout, stderr, detach_keys)
    out = cli.out_binary if stdout else None
    err: Any = None
    if stderr:
        err = cli.out_binary if tty else cli.err_binary
    in_src: Any = None
    if stdin:
        fd = stdin_fd(cli.stdin)
        in_src = fd if fd is not None else cli.in_binary
    streamer = Streamer(conn, tty=tty, stdin=in_src, stdout=out, stderr=err,
                        detach_keys=detach_keys)
    streamer.start()
    return streamer



def run_run(cli: Cli, opts: Options, args: list[str]) -> int:
    from wharfie.cli.hijackio import (
        Detached,
        SignalDispatcher,
        force_exit_after_3,
        monitor_tty_size,
        proxy_signals,
    )

    body = build_create_body(cli, opts, args, "run")
    tty = bool(body["Tty"])
    if not opts.detach:
        if tty and body["AttachStdin"] and not cli.in_is_terminal():
            raise CLIError("the input device is not a TTY")
    else:
        if opts.attach:
            raise CLIError("conflicting options: cannot specify both --attach and --detach")
        body["AttachStdin"] = body["AttachStdout"] = body["AttachStderr"] = False
        body["StdinOnce"] = False
    try:
        container_id = create_container(cli, body, opts)
    except (WharfieError, CLIError) as e:
        raise to_status_error(e) from None

    client = cli.client
    dispatcher = SignalDispatcher()
    streamer = None
    try:
        if opts.sig_proxy:
            proxy_signals(dispatcher, lambda sig: client.container_kill(container_id, sig))
        force_exit_after_3(dispatcher, cli.err,
                           lambda: streamer.restore() if streamer is not None else None)
        attach = body["AttachStdin"] or body["AttachStdout"] or body["AttachStderr"]
        if not attach:
            cli.out.write(container_id + "\n")
            cli.out.flush()
        else:
            streamer = attach_streams(
                cli, container_id, stdin=body["AttachStdin"], stdout=body["AttachStdout"],
                stderr=body["AttachStderr"], tty=tty, detach_keys=detach_keys_option(opts))
        waiter = WaitResult(cli, container_id, "removed" if opts.rm else "next-exit")
        try:
            client.container_start(container_id)
        except WharfieError as e:
            if streamer is not None:
                streamer.close()
            if opts.rm:
                waiter.wait()
            raise to_status_error(e) from None
        if not attach:
            return 0
        assert streamer is not None
        if tty and cli.out_is_terminal():
            monitor_tty_size(
                dispatcher, lambda h, w: client.container_resize(container_id, h, w),
                cli.out.fileno(), cli.err)
        error = streamer.wait(waiter.event if not (body["AttachStdout"] or
                                                   body["AttachStderr"]) else None)
        if isinstance(error, Detached):
            return 0
        if error is not None:
            raise CLIError(str(error))
        status = waiter.wait()
        if status != 0:
            raise StatusError(status)
        return 0
    finally:
        if streamer is not None:
            streamer.close()
        dispatcher.close()


def _create_flags(verb: str) -> list[Flag]:
    from wharfie.cli.containeropts import create_flags

    return create_flags(verb)


def create_command() -> Command:
    return Command(
        use="create [OPTIONS] IMAGE [COMMAND] [ARG...]",
        short="Create a new container",
        aliases=f"{PROG} container create, {PROG} create",
        flags=_create_flags("creating"),
        args=("min", 1),
        interspersed=False,
        run=run_create,
    )


def run_command() -> Command:
    flags = _create_flags("running")
    flags += [
        Flag("detach", "d", "bool", "Run container in background and print container ID"),
        Flag("sig-proxy", "", "bool", "Proxy received signals to the process", default=True),
        Flag("detach-keys", "", "string", "Override the key sequence for detaching a container"),
    ]
    return Command(
        use="run [OPTIONS] IMAGE [COMMAND] [ARG...]",
        short="Create and run a new container from an image",
        aliases=f"{PROG} container run, {PROG} run",
        flags=flags,
        args=("min", 1),
        interspersed=False,
        run=run_run,
    )


__all__ = ["run_command", "create_command", "create_container", "to_status_error",
           "StreamError"]
