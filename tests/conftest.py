"""Shared fixtures: a real wharfied on a temp socket and data root, real clients against it."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / "tests"))

from support.daemon import WharfieDaemon  # noqa: E402


@pytest.fixture(scope="session")
def image_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("images")


@pytest.fixture(scope="session")
def busybox_archive(image_cache: Path) -> Path:
    import imagegen

    path = image_cache / "busybox.tar"
    imagegen.docker_archive([(imagegen.busybox_image(), ["busybox:latest"])], str(path))
    return path


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WharfieDaemon]:
    """One daemon per test module (start-up is cheap; modules stay independent)."""
    if os.geteuid() != 0:
        pytest.fail("the integration tests need root (namespaces, overlay, chown)")
    d = WharfieDaemon(tmp_path_factory.mktemp("wharfied"))
    d.start()
    try:
        yield d
    finally:
        d.cleanup()


@pytest.fixture
def docker(daemon: WharfieDaemon):  # type: ignore[no-untyped-def]
    return daemon.docker


@pytest.fixture
def sdk(daemon: WharfieDaemon):  # type: ignore[no-untyped-def]
    import docker as docker_sdk

    client = docker_sdk.DockerClient(base_url=daemon.url, timeout=120)
    yield client
    client.close()
