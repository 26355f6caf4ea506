"""``wharfie cp``: copy between a container and the local filesystem.

Out: ``GET /containers/{id}/archive?path=…`` (the ``X-Docker-Container-Path-Stat``
header says what the source is) extracted locally, or written raw to stdout for
``-``. In: ``HEAD …/archive`` stats the destination, then the local source is
tarred and streamed (chunked) with ``PUT …/archive?noOverwriteDirNonDir=true``.
"""

from __future__ import annotations

import os
from typing import Any

from wharfie.cli.command import PROG, Cli, CLIError, Command, Flag, Options

LONG = (
    "Copy files/folders between a container and the local filesystem\n\n"
    "Use '-' as the source to read a tar archive from stdin\n"
    "and extract it to a directory destination in a container.\n"
    "Use '-' as the destination to stream a tar archive of a\n"
    "container source to stdout."
)


def split_cp_arg(arg: str) -> tuple[str, str]:
    """``splitCpArg``: ``container:path`` unless the argument is a local path."""
    if arg.startswith("/"):
        return "", arg
    container, sep, path = arg.partition(":")
    if not sep or container.startswith("."):
        return "", arg
    return container, path


def _progress_size(n: int) -> str:
    from wharfie.cli.formatter import human_size_with_precision

    return human_size_with_precision(n, 3)


def _validate_output_path(path: str) -> None:
    """``command.ValidateOutputPath``."""
    import stat as stat_mod

    from wharfie.cli.cparchive import go_clean, go_dir

    directory = go_dir(go_clean(path))
    if directory not in ("", ".") and not os.path.exists(directory):
        raise CLIError(f'invalid output path: directory "{directory}" does not exist')
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return
    except OSError as e:
        raise CLIError(f"stat {path}: {e.strerror}") from None
    mode = st.st_mode
    if stat_mod.S_ISDIR(mode) or stat_mod.S_ISREG(mode):
        return
    if stat_mod.S_ISBLK(mode) or stat_mod.S_ISCHR(mode):
        raise CLIError(f'invalid output path: "{path}" must be a directory or a regular file: '
                       "got a device")
    if stat_mod.S_ISSOCK(mode):
        raise CLIError(f'invalid output path: "{path}" must be a directory or a regular file: '
                       "got an irregular file")


def _stat_file_mode_error(mode: int) -> str:
    from wharfie.cli.cparchive import MODE_DEVICE, MODE_IRREGULAR

    if mode & MODE_DEVICE:
        return "got a device"
    if mode & MODE_IRREGULAR:
        return "got an irregular file"
    return ""


def copy_from_container(cli: Cli, container: str, src: str, dst: str, opts: Options,
                        quiet: bool) -> int:
    from wharfie.cli import cparchive
    from wharfie.errors import WharfieError

    if dst != "-":
        dst = cparchive.resolve_local_path(dst)
    _validate_output_path(dst)
    client = cli.client
    rebase_name = ""
    if opts.follow_link:
        try:
            st = client.container_stat_path(container, src)
        except WharfieError:
            st = None
        if isinstance(st, dict) and int(st.get("mode") or 0) & cparchive.MODE_SYMLINK:
            target = str(st.get("linkTarget") or "")
            if not target.startswith("/"):
                target = cparchive.go_join(cparchive.split_path_dir_entry(src)[0], target)
            target, rebase_name = cparchive.get_rebase_name(src, target)
            src = target
    resp, path_stat = client.container_get_archive(container, src)
    with resp:
        if dst == "-":
            sink = cli.out_binary
            for chunk in resp.iter_chunks():
                sink.write(chunk)
            sink.flush()
            return 0
        src_info = cparchive.CopyInfo(src, True, cparchive.stat_mode_is_dir(path_stat),
                                      rebase_name)
        counter = _CountingReader(resp.raw)
        rules: cparchive.Rules = []
        if src_info.rebase_name:
            _, src_base = cparchive.split_path_dir_entry(src_info.path)
            rules.append((src_base, src_info.rebase_name))
        dst_info = cparchive.copy_info_destination_path(dst)
        dst_dir, more = cparchive.prepare_archive_copy(src_info, dst_info)
        cparchive.extract(counter, dst_dir, rules + more)  # type: ignore[arg-type]
    if not quiet:
        cli.err.write(f"Successfully copied {_progress_size(counter.count)} to {dst}\n")
    return 0


class _CountingReader:
    def __init__(self, raw: Any) -> None:
        self.raw = raw
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.count += len(data)
        return bytes(data)


def copy_to_container(cli: Cli, src: str, container: str, dst: str, opts: Options,
                      quiet: bool) -> int:
    from wharfie.cli import cparchive
    from wharfie.errors import WharfieError

    if src != "-":
        src = cparchive.resolve_local_path(src)
    client = cli.client
    dst_info = cparchive.CopyInfo(dst)
    st: Any = None
    err: BaseException | None = None
    try:
        st = client.container_stat_path(container, dst)
    except WharfieError as e:
        err = e
    if err is None and isinstance(st, dict) and int(st.get("mode") or 0) & cparchive.MODE_SYMLINK:
        target = str(st.get("linkTarget") or "")
        if not target.startswith("/"):
            target = cparchive.go_join(cparchive.split_path_dir_entry(dst)[0], target)
        dst_info.path = target
        try:
            st = client.container_stat_path(container, target)
            err = None
        except WharfieError as e:
            st, err = None, e
    mode = int(st.get("mode") or 0) if isinstance(st, dict) else 0
    problem = _stat_file_mode_error(mode)
    if problem:
        raise CLIError(f'destination "{container}:{dst}" must be a directory or a regular '
                       f"file: {problem}")
    if err is None:
        dst_info.exists = True
        dst_info.is_dir = bool(mode & cparchive.MODE_DIR)
    counter = [0]
    if src == "-":
        if not dst_info.is_dir:
            raise CLIError(f'destination "{container}:{dst}" must be a directory')
        content: Any = cli.in_binary
        resolved = dst_info.path
    else:
        src_info = cparchive.copy_info_source_path(src, opts.follow_link)
        resolved, rules = cparchive.prepare_archive_copy(src_info, dst_info)
        content = cparchive.tar_stream(src_info, rules, counter)
    client.container_put_archive(container, resolved, content, copy_uid_gid=opts.archive)
    if not quiet:
        cli.err.write(f"Successfully copied {_progress_size(counter[0])} to "
                      f"{container}:{dst_info.path}\n")
    return 0


def run_cp(cli: Cli, opts: Options, args: list[str]) -> int:
    source, destination = args
    if not source:
        raise CLIError("source can not be empty")
    if not destination:
        raise CLIError("destination can not be empty")
    quiet = opts.quiet if "quiet" in opts.changed else not cli.out_is_terminal()
    src_container, src_path = split_cp_arg(source)
    dst_container, dst_path = split_cp_arg(destination)
    if src_container and dst_container:
        raise CLIError("copying between containers is not supported")
    if src_container:
        return copy_from_container(cli, src_container, src_path, dst_path, opts, quiet)
    if dst_container:
        return copy_to_container(cli, src_path, dst_container, dst_path, opts, quiet)
    raise CLIError("must specify at least one container source")


def cp_command() -> Command:
    return Command(
        use=f"cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\t{PROG} cp [OPTIONS] "
            "SRC_PATH|- CONTAINER:DEST_PATH",
        short="Copy files/folders between a container and the local filesystem",
        long=LONG,
        aliases=f"{PROG} container cp, {PROG} cp",
        flags=[
            Flag("follow-link", "L", "bool", "Always follow symbol link in SRC_PATH"),
            Flag("archive", "a", "bool", "Archive mode (copy all uid/gid information)"),
            Flag("quiet", "q", "bool",
                 "Suppress progress output during copy. Progress output is automatically "
                 "suppressed if no terminal is attached"),
        ],
        args=("exact", 2),
        run=run_cp,
    )
