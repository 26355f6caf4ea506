"""One API call over many containers, like docker's ``parallelOperation``.

The calls run concurrently (at most 50 at a time); results are reported in the
order of the arguments: each success prints the argument, and the failures are
joined into one error (``errors.Join``: one message per line, exit status 1).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from wharfie.cli.command import Cli, CLIError, StatusError
from wharfie.errors import WharfieError

MAX_PARALLEL = 50


def run_parallel(names: Sequence[str], op: Callable[[str], None]) -> list[BaseException | None]:
    """Run ``op`` for every name; returns each call's exception (or None), in order."""
    import threading

    results: list[BaseException | None] = [None] * len(names)
    sem = threading.Semaphore(MAX_PARALLEL)

    def call(i: int, name: str) -> None:
        try:
            op(name)
        except (WharfieError, CLIError, OSError) as e:
            results[i] = e
        finally:
            sem.release()

    threads = []
    for i, name in enumerate(names):
        sem.acquire()
        t = threading.Thread(target=call, args=(i, name), daemon=True)
        t.start()
        threads.append(t)
    for t in threads:
        while t.is_alive():
            t.join(0.2)
    return results


def report(cli: Cli, names: Sequence[str], results: Sequence[BaseException | None]) -> int:
    """Print each name that succeeded; raise the joined errors (exit 1)."""
    errors = []
    for name, err in zip(names, results, strict=True):
        if err is None:
            cli.out.write(name + "\n")
        else:
            errors.append(str(err))
    if errors:
        raise StatusError(1, "\n".join(errors))
    return 0


def each_container(cli: Cli, names: Sequence[str], op: Callable[[str], None],
                   parallel: bool = True) -> int:
    if parallel:
        results = run_parallel(names, op)
    else:
        results = []
        for name in names:
            try:
                op(name)
                results.append(None)
            except (WharfieError, CLIError, OSError) as e:
                results.append(e)
    return report(cli, names, results)
