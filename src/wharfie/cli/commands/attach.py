"""``wharfie attach``: attach our stdio to a running container's main process."""

from __future__ import annotations

import threading
from typing import Any

from wharfie.cli.command import PROG, Cli, CLIError, Command, Flag, Options, StatusError


def _check_state(info: dict[str, Any]) -> None:
    state = info.get("State") or {}
    if not state.get("Running"):
        raise CLIError("You cannot attach to a stopped container, start it first")
    if state.get("Paused"):
        raise CLIError("You cannot attach to a paused container, unpause it first")
    if state.get("Restarting"):
        raise CLIError("You cannot attach to a restarting container, wait until it is running")


def run_attach(cli: Cli, opts: Options, args: list[str]) -> int:
    import json

    from wharfie.cli.commands.run import attach_streams
    from wharfie.cli.hijackio import (
        Detached,
        SignalDispatcher,
        monitor_tty_size,
        proxy_signals,
        terminal_size,
    )
    from wharfie.errors import WharfieError

    client = cli.client
    name = args[0]
    # the wait goes out first, like docker's (it must see this exit, not a later one)
    result: dict[str, Any] = {}
    done = threading.Event()

    def wait() -> None:
        try:
            resp = client.container_wait(name)
            raw = resp.read()
            result["value"] = json.loads(raw)
        except (WharfieError, OSError, ValueError) as e:
            result["error"] = e
        done.set()

    threading.Thread(target=wait, name="wait", daemon=True).start()
    info = client.container_inspect(name)
    _check_state(info)
    config = info.get("Config") or {}
    tty = bool(config.get("Tty"))
    if tty and not opts.no_stdin and not cli.in_is_terminal():
        raise CLIError("the input device is not a TTY")
    detach_keys = opts.detach_keys
    if not detach_keys:
        from wharfie.cli.configfile import load_config

        detach_keys = str(load_config().get("detachKeys") or "")
    dispatcher = SignalDispatcher()
    streamer = None
    try:
        if opts.sig_proxy and not tty:
            proxy_signals(dispatcher, lambda sig: client.container_kill(name, sig))
        streamer = attach_streams(
            cli, name, stdin=bool(not opts.no_stdin and config.get("OpenStdin")), stdout=True,
            stderr=True, tty=tty, detach_keys=detach_keys)
        _check_state(client.container_inspect(name))
        if tty and cli.out_is_terminal():
            h, w = terminal_size(cli.out.fileno())
            monitor_tty_size(dispatcher, lambda hh, ww: client.container_resize(name, hh, ww),
                             cli.out.fileno(), cli.err, initial=(h + 1, w + 1))
        error = streamer.wait()
        if isinstance(error, Detached):
            raise CLIError("read escape sequence")
        if error is not None:
            raise CLIError(str(error))
    finally:
        if streamer is not None:
            streamer.close()
        dispatcher.close()
    while not done.wait(0.2):
        pass
    if "error" in result:
        raise CLIError(str(result["error"]))
    value = result.get("value") or {}
    err = value.get("Error") if isinstance(value, dict) else None
    if isinstance(err, dict) and err.get("Message"):
        raise CLIError(str(err["Message"]))
    status = int(value.get("StatusCode") or 0) if isinstance(value, dict) else 0
    if status != 0:
        raise StatusError(status)
    return 0


def attach_command() -> Command:
    return Command(
        use="attach [OPTIONS] CONTAINER",
        short="Attach local standard input, output, and error streams to a running container",
        aliases=f"{PROG} container attach, {PROG} attach",
        flags=[
            Flag("no-stdin", "", "bool", "Do not attach STDIN"),
            Flag("sig-proxy", "", "bool", "Proxy all received signals to the process",
                 default=True),
            Flag("detach-keys", "", "string",
                 "Override the key sequence for detaching a container"),
        ],
        args=("exact", 1),
        run=run_attach,
    )
