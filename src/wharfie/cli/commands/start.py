"""``wharfie start``: start containers; with ``-a``/``-i`` attach to one first.

The attached form follows docker: inspect → signal proxy (no TTY) → attach →
``wait`` → start → resize on a TTY; it exits with the container's status.
"""

from __future__ import annotations

import threading

from wharfie.cli.command import PROG, Cli, CLIError, Command, Flag, Options, StatusError


def run_start(cli: Cli, opts: Options, args: list[str]) -> int:
    if opts.attach or opts.interactive:
        return _start_attached(cli, opts, args)
    if opts.checkpoint:
        if len(args) > 1:
            raise CLIError("you cannot restore multiple containers at once")
        cli.client.container_start(args[0], opts.checkpoint, opts.checkpoint_dir)
        return 0
    from wharfie.errors import WharfieError

    failed = []
    for name in args:
        try:
            cli.client.container_start(name)
        except WharfieError as e:
            cli.err.write(f"{e}\n")
            cli.err.flush()
            failed.append(name)
            continue
        cli.out.write(name + "\n")
        cli.out.flush()
    if failed:
        raise StatusError(1, "Error: failed to start containers: " + ", ".join(failed))
    return 0


def _start_attached(cli: Cli, opts: Options, args: list[str]) -> int:
    from wharfie.cli.commands.run import WaitResult, attach_streams, detach_keys_option
    from wharfie.cli.hijackio import (
        Detached,
        SignalDispatcher,
        force_exit_after_3,
        monitor_tty_size,
        proxy_signals,
    )

    if len(args) > 1:
        raise CLIError("you cannot start and attach multiple containers at once")
    client = cli.client
    info = client.container_inspect(args[0])
    cid = info["Id"]
    config = info.get("Config") or {}
    host = info.get("HostConfig") or {}
    tty = bool(config.get("Tty"))
    dispatcher = SignalDispatcher()
    streamer = None
    try:
        if not tty:
            proxy_signals(dispatcher, lambda sig: client.container_kill(cid, sig))
        cancelled = threading.Event()
        force_exit_after_3(dispatcher, cli.err,
                           lambda: streamer.restore() if streamer is not None else None,
                           cancelled.set)
        stdin = bool(opts.interactive and config.get("OpenStdin"))
        streamer = attach_streams(cli, cid, stdin=stdin, stdout=True, stderr=True, tty=tty,
                                  detach_keys=detach_keys_option(opts))
        waiter = WaitResult(cli, cid, "removed" if host.get("AutoRemove") else "next-exit")
        try:
            client.container_start(cid)
        except Exception:
            streamer.close()
            if host.get("AutoRemove"):
                waiter.wait()
            raise
        if tty and cli.out_is_terminal():
            monitor_tty_size(dispatcher, lambda h, w: client.container_resize(cid, h, w),
                             cli.out.fileno(), cli.err)
        error = streamer.wait(cancelled)
        if isinstance(error, Detached):
            return 0
        if cancelled.is_set():
            raise StatusError(130)
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


def start_command() -> Command:
    return Command(
        use="start [OPTIONS] CONTAINER [CONTAINER...]",
        short="Start one or more stopped containers",
        aliases=f"{PROG} container start, {PROG} start",
        flags=[
            Flag("attach", "a", "bool", "Attach STDOUT/STDERR and forward signals"),
            Flag("interactive", "i", "bool", "Attach container's STDIN"),
            Flag("detach-keys", "", "string",
                 "Override the key sequence for detaching a container"),
            Flag("checkpoint", "", "string", "Restore from this checkpoint"),
            Flag("checkpoint-dir", "", "string", "Use a custom checkpoint storage directory"),
        ],
        args=("min", 1),
        run=run_start,
    )
