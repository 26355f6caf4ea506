"""Helpers for real-kernel tests: run a function in a forked child (so namespace, mount,
capability and seccomp changes never touch the test process) and read errnos."""

from __future__ import annotations

import os
import pickle
import signal
import traceback
from collections.abc import Callable
from typing import Any

import pytest


def in_child(fn: Callable[..., Any], *args: Any) -> Any:
    """Run fn in a forked child and return its (picklable) result; child errors fail the test."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        signal.alarm(30)
        try:
            payload = pickle.dumps(("ok", fn(*args)))
        except BaseException as exc:
            payload = pickle.dumps(("err", "".join(traceback.format_exception(exc))))
        try:
            os.write(w, payload)
        finally:
            os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as fh:
        data = fh.read()
    os.waitpid(pid, 0)
    kind, value = pickle.loads(data)
    if kind == "err":
        pytest.fail(f"child failed:\n{value}")
    return value


def errno_of(fn: Callable[[], Any]) -> int:
    try:
        fn()
    except OSError as exc:
        return exc.errno or 0
    return 0
