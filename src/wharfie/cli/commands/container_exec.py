"""``wharfie exec``: create an exec instance, start it over a hijacked connection,
then exit with its ``ExitCode`` (``GET /exec/{id}/json``)."""

from __future__ import annotations

from typing import Any

from wharfie.cli.command import PROG, Cli, CLIError, Command, Flag, Options, StatusError


def exec_body(cli: Cli, opts: Options, command: list[str]) -> dict[str, Any]:
    """``parseExec``: the ``POST /containers/{id}/exec`` body, in Go field order."""
    from wharfie.cli.containeropts import read_kv_file

    env: list[str] = []
    for path in opts.env_file:
        env += read_kv_file(path, lookup_env=True)
    env += list(opts.env)
    detach_keys = opts.detach_keys
    if not detach_keys:
        from wharfie.cli.configfile import load_config

        detach_keys = str(load_config().get("detachKeys") or "")
    body: dict[str, Any] = {
        "User": opts.user, "Privileged": opts.privileged, "Tty": opts.tty,
    }
    if opts.tty:
        from wharfie.cli.hijackio import terminal_size

        body["ConsoleSize"] = list(_out_size(cli, terminal_size))
    body.update({
        "AttachStdin": bool(opts.interactive and not opts.detach),
        "AttachStderr": not opts.detach,
        "AttachStdout": not opts.detach,
        "Detach": opts.detach,
        "DetachKeys": detach_keys,
        "Env": env or None,
        "WorkingDir": opts.workdir,
        "Cmd": command,
    })
    return body


def _out_size(cli: Cli, terminal_size: Any) -> tuple[int, int]:
    try:
        return terminal_size(cli.out.fileno())
    except (AttributeError, ValueError, OSError):
        return 0, 0


def run_exec(cli: Cli, opts: Options, args: list[str]) -> int:
    from wharfie.client.api import version_less

    container, command = args[0], args[1:]
    body = exec_body(cli, opts, command)
    client = cli.client
    client.container_inspect_raw(container)
    if not opts.detach and body["Tty"] and body["AttachStdin"] and not cli.in_is_terminal():
        raise CLIError("the input device is not a TTY")
    if version_less(client.version, "1.42"):
        body.pop("ConsoleSize", None)
    response = client.exec_create(container, body) or {}
    exec_id = str(response.get("Id") or "")
    if not exec_id:
        raise CLIError("exec ID empty")
    start: dict[str, Any] = {"Detach": opts.detach, "Tty": body["Tty"]}
    if "ConsoleSize" in body:
        start["ConsoleSize"] = body["ConsoleSize"]
    if opts.detach:
        client.exec_start_detached(exec_id, start)
        return 0
    return _interactive(cli, body, exec_id, start)


def _interactive(cli: Cli, body: dict[str, Any], exec_id: str, start: dict[str, Any]) -> int:
    import threading

    from wharfie.cli.hijackio import (
        Detached,
        SignalDispatcher,
        Streamer,
        force_exit_after_3,
        monitor_tty_size,
        stdin_fd,
    )
    from wharfie.client.errors import ConnectionFailed

    client = cli.client
    tty = bool(body["Tty"])
    conn = client.exec_attach(exec_id, start)
    in_src: Any = None
    if body["AttachStdin"]:
        fd = stdin_fd(cli.stdin)
        in_src = fd if fd is not None else cli.in_binary
    streamer = Streamer(
        conn, tty=tty, stdin=in_src, stdout=cli.out_binary,
        stderr=cli.out_binary if tty else cli.err_binary, detach_keys=body["DetachKeys"])
    dispatcher = SignalDispatcher()
    cancelled = threading.Event()
    force_exit_after_3(dispatcher, cli.err, streamer.restore, cancelled.set)
    try:
        streamer.start()
        if tty and cli.in_is_terminal():
            monitor_tty_size(dispatcher, lambda h, w: client.container_resize(exec_id, h, w, True),
                             cli.out.fileno(), cli.err)
        error = streamer.wait(cancelled)
        if isinstance(error, Detached) or cancelled.is_set():
            return 0  # docker: a cancelled context is not an error
        if error is not None:
            raise CLIError(str(error))
    finally:
        streamer.close()
        dispatcher.close()
    try:
        info = client.exec_inspect(exec_id) or {}
    except ConnectionFailed:
        raise StatusError(-1) from None
    status = int(info.get("ExitCode") or 0)
    if status != 0:
        raise StatusError(status)
    return 0


def exec_command() -> Command:
    from wharfie.cli.containeropts import validate_env

    return Command(
        use="exec [OPTIONS] CONTAINER COMMAND [ARG...]",
        short="Execute a command in a running container",
        aliases=f"{PROG} container exec, {PROG} exec",
        flags=[
            Flag("detach-keys", "", "string",
                 "Override the key sequence for detaching a container"),
            Flag("interactive", "i", "bool", "Keep STDIN open even if not attached"),
            Flag("tty", "t", "bool", "Allocate a pseudo-TTY"),
            Flag("detach", "d", "bool", "Detached mode: run command in the background"),
            Flag("user", "u", "string", 'Username or UID (format: "<name|uid>[:<group|gid>]")'),
            Flag("privileged", "", "bool", "Give extended privileges to the command"),
            Flag("env", "e", "list", "Set environment variables", convert=validate_env),
            Flag("env-file", "", "list", "Read in a file of environment variables",
                 convert=str),
            Flag("workdir", "w", "string", "Working directory inside the container"),
        ],
        args=("min", 2),
        interspersed=False,
        run=run_exec,
    )
