"""``wharfie save`` / ``wharfie image save``: stream an image archive to a file or stdout."""

from __future__ import annotations

import os
from typing import Any

from wharfie.cli.command import Cli, CLIError, Command, Flag, Options


def _check_output_path(path: str) -> None:
    """moby/sys/atomicwriter's validateDestination, with its messages."""
    import stat

    directory = os.path.dirname(path)
    if directory not in ("", ".", ".."):
        try:
            st = os.stat(directory)
        except OSError as e:
            raise CLIError(
                f"failed to save image: invalid output path: stat {directory}: "
                f"{_go_errno(e)}"
            ) from None
        if not stat.S_ISDIR(st.st_mode):
            raise CLIError(
                f"failed to save image: invalid output path: stat {directory}: not a directory"
            )
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    except OSError as e:
        raise CLIError(f"failed to save image: failed to stat output path: {_go_errno(e)}") from None
    problem = ""
    if stat.S_ISREG(mode):
        return
    if stat.S_ISDIR(mode):
        problem = "cannot write to a directory"
    elif stat.S_ISLNK(mode):
        problem = "cannot write to a symbolic link directly"
    elif stat.S_ISFIFO(mode):
        problem = "cannot write to a named pipe (FIFO)"
    elif stat.S_ISSOCK(mode):
        problem = "cannot write to a socket"
    elif stat.S_ISCHR(mode):
        problem = "cannot write to a character device file"
    elif stat.S_ISBLK(mode):
        problem = "cannot write to a block device file"
    else:
        problem = f"unknown file mode: {oct(mode)}"
    raise CLIError(f"failed to save image: {problem}")


def _encode_platform(spec: str) -> str:
    from wharfie.cli.reference import encode_platform
    from wharfie.errors import InvalidArgument

    try:
        return encode_platform(spec)
    except InvalidArgument as e:
        raise CLIError(f"invalid platform: {e}") from None


def _go_errno(e: OSError) -> str:
    reason = (e.strerror or str(e)).strip()
    return reason[:1].lower() + reason[1:]


def run_save(cli: Cli, opts: Options, args: list[str]) -> int:
    output = opts.output
    if not output:
        if cli.out_is_terminal():
            raise CLIError("cowardly refusing to save to a terminal. Use the -o flag or redirect")
    else:
        _check_output_path(output)
    platforms = [_encode_platform(opts.platform)] if opts.platform else []
    write_stream(cli, cli.client.image_save(args, platforms), output)
    return 0


def write_stream(cli: Cli, resp: Any, output: str) -> None:
    """A streamed archive to stdout, or atomically to `output` (temp file, fsync, rename)."""
    with resp:
        if not output:
            sink = cli.out_binary
            for chunk in resp.iter_chunks():
                sink.write(chunk)
            sink.flush()
            return
        directory = os.path.dirname(os.path.abspath(output))
        import tempfile

        fd, tmp = tempfile.mkstemp(prefix=".tmp-" + os.path.basename(output), dir=directory)
        try:
            with os.fdopen(fd, "wb") as f:
                for chunk in resp.iter_chunks():
                    f.write(chunk)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, output)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise


def save_command() -> Command:
    return Command(
        use="save [OPTIONS] IMAGE [IMAGE...]",
        short="Save one or more images to a tar archive (streamed to STDOUT by default)",
        aliases="wharfie image save, wharfie save",
        flags=[
            Flag("output", "o", "string", "Write to a file, instead of STDOUT"),
            Flag("platform", "", "string",
                 'Save only the given platform variant. Formatted as "os[/arch[/variant]]" '
                 '(e.g., "linux/amd64")'),
        ],
        args=("min", 1),
        run=run_save,
    )


def image_save_command() -> Command:
    return save_command()
