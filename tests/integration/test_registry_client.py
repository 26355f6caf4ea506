"""The registry client end to end: real docker CLI / SDK / wharfie CLI → wharfied → a real
registry on 127.0.0.1 (Debian's docker-registry, and `wharfie registry serve` when present).

Plain HTTP works because loopback registries are insecure by default, as in Docker.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support.daemon import WharfieDaemon
from support.distribution import DistributionRegistry

USERS = {"alice": "s3cret"}


def _wharfie_registry(base: Path, users: dict[str, str] | None) -> Any:
    from support.registry import RegistryServer, make_htpasswd  # the registry server's fixture

    htpasswd = None
    if users:
        (user, password), = users.items()
        base.mkdir(parents=True, exist_ok=True)
        htpasswd = make_htpasswd(base / "htpasswd", user, password)
    return RegistryServer(base, htpasswd=htpasswd).start()


def _distribution(base: Path, users: dict[str, str] | None) -> Any:
    if not DistributionRegistry.available():
        pytest.skip("docker-registry is not installed (scripts/setup.sh installs it)")
    base.mkdir(parents=True, exist_ok=True)
    return DistributionRegistry(base, users).start()


def _has_wharfie_server() -> bool:
    try:
        import support.registry  # noqa: F401
    except ImportError:
        return False
    return True


SERVERS = ["docker-registry"] + (["wharfie"] if _has_wharfie_server() else [])


@pytest.fixture(scope="module", params=SERVERS)
def make_registry(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
                  ) -> Iterator[Callable[..., Any]]:
    started: list[Any] = []
    factory = _distribution if request.param == "docker-registry" else _wharfie_registry

    def make(users: dict[str, str] | None = None) -> Any:
        reg = factory(tmp_path_factory.mktemp("registry"), users)
        started.append(reg)
        return reg

    yield make
    for reg in started:
        reg.stop()


@pytest.fixture(scope="module")
def registry(make_registry: Callable[..., Any]) -> Any:
    return make_registry()


@pytest.fixture(scope="module")
def loaded(daemon: WharfieDaemon, busybox_archive: Path) -> str:
    daemon.docker.ok("load", "-i", str(busybox_archive))
    return daemon.docker.ok("image", "inspect", "-f", "{{.Id}}", "busybox").strip()


def image_id(daemon: WharfieDaemon, name: str) -> str:
    return daemon.docker.ok("image", "inspect", "-f", "{{.Id}}", name).strip()


def test_push_rmi_pull_back(daemon: WharfieDaemon, registry: Any, loaded: str) -> None:
    docker = daemon.docker
    name = f"{registry.host}/cli/bb:1"
    docker.ok("tag", "busybox", name)
    out = docker.ok("push", name)
    assert f"The push refers to repository [{registry.host}/cli/bb]" in out
    assert ": Pushed" in out
    assert "1: digest: sha256:" in out and " size: " in out
    again = docker.ok("push", name)
    assert "Layer already exists" in again
    digest = again.split("digest: ")[1].split()[0]
    assert digest in out  # same manifest both times
    docker.ok("rmi", "-f", loaded)  # the image is gone (every tag), layers and all
    pulled = docker.ok("pull", name)
    docker.ok("tag", name, "busybox")
    assert "1: Pulling from cli/bb" in pulled
    assert "Pull complete" in pulled
    assert f"Digest: {digest}" in pulled
    assert f"Status: Downloaded newer image for {name}" in pulled
    assert image_id(daemon, name) == loaded
    digests = json.loads(docker.ok("image", "inspect", "-f", "{{json .RepoDigests}}", name))
    assert f"{registry.host}/cli/bb@{digest}" in digests
    assert f"Status: Image is up to date for {name}" in docker.ok("pull", name)


def test_pull_by_digest(daemon: WharfieDaemon, registry: Any, loaded: str) -> None:
    docker = daemon.docker
    name = f"{registry.host}/cli/bydigest:1"
    docker.ok("tag", "busybox", name)
    digest = docker.ok("push", name).split("digest: ")[1].split()[0]
    docker.ok("rmi", name)
    ref = f"{registry.host}/cli/bydigest@{digest}"
    out = docker.ok("pull", ref)
    assert f"Digest: {digest}" in out
    assert image_id(daemon, ref) == loaded


def test_cross_repository_mount(daemon: WharfieDaemon, registry: Any, loaded: str) -> None:
    docker = daemon.docker
    docker.ok("tag", "busybox", f"{registry.host}/mount/src:1")
    docker.ok("push", f"{registry.host}/mount/src:1")
    docker.ok("tag", "busybox", f"{registry.host}/mount/dst:1")
    out = docker.ok("push", f"{registry.host}/mount/dst:1")
    assert "Mounted from mount/src" in out


def test_run_pulls_a_missing_image(daemon: WharfieDaemon, registry: Any, loaded: str) -> None:
    docker = daemon.docker
    name = f"{registry.host}/cli/runme:1"
    docker.ok("tag", "busybox", name)
    docker.ok("push", name)
    docker.ok("rmi", name)
    r = docker("run", "--rm", name, "echo", "pulled-and-ran").ok()
    assert f"Unable to find image '{name}' locally" in r.err
    assert "pulled-and-ran" in r.out
    docker.ok("rmi", name)
    r = daemon.wharfie("run", "--rm", name, "echo", "wharfie-ran").ok()
    assert f"Unable to find image '{name}' locally" in r.err
    assert "wharfie-ran" in r.out


def test_pull_unknown_tag_is_a_404(daemon: WharfieDaemon, registry: Any) -> None:
    r = daemon.docker("pull", f"{registry.host}/cli/nope:1")
    assert r.rc == 1
    assert "manifest unknown" in r.err or "not found" in r.err, r.err
    status, _, body = daemon.request("POST", f"/images/create?fromImage={registry.host}/cli/nope&tag=2")
    assert status == 404, body
    assert "message" in json.loads(body)


def test_wharfie_cli_push_pull(daemon: WharfieDaemon, registry: Any, loaded: str) -> None:
    w = daemon.wharfie
    name = f"{registry.host}/wcli/bb:2"
    daemon.docker.ok("tag", "busybox", name)
    out = w.ok("push", name)
    assert "2: digest: sha256:" in out
    w.ok("rmi", name)
    out = w.ok("pull", name)
    assert "Status: Downloaded newer image" in out and out.strip().endswith(name)
    assert image_id(daemon, name) == loaded
    assert "Image is up to date" in w.ok("image", "pull", name)


def test_sdk_push_pull(daemon: WharfieDaemon, registry: Any, loaded: str, sdk: Any) -> None:
    repo = f"{registry.host}/sdk/bb"
    sdk.images.get("busybox").tag(repo, "3")
    lines = list(sdk.images.push(repo, "3", stream=True, decode=True))
    aux = [m["aux"] for m in lines if "aux" in m]
    assert aux and aux[0]["Tag"] == "3" and aux[0]["Digest"].startswith("sha256:")
    sdk.images.remove(f"{repo}:3")
    image = sdk.images.pull(repo, tag="3")
    assert image.id == loaded
    data = sdk.images.get_registry_data(f"{repo}:3")
    assert data.id == aux[0]["Digest"]
    assert data.has_platform("linux/amd64") or data.has_platform("linux")


def test_search_lists_the_catalog(daemon: WharfieDaemon, registry: Any, loaded: str) -> None:
    daemon.docker.ok("tag", "busybox", f"{registry.host}/findme/x:1")
    daemon.docker.ok("push", f"{registry.host}/findme/x:1")
    out = daemon.docker.ok("search", f"{registry.host}/findme")
    assert f"{registry.host}/findme/x" in out


def test_login_with_htpasswd(daemon: WharfieDaemon, make_registry: Callable[..., Any], loaded: str,
                             sdk: Any) -> None:
    reg = make_registry(USERS)
    docker = daemon.docker
    name = f"{reg.host}/private/bb:1"
    docker.ok("tag", "busybox", name)
    denied = docker("push", name)
    assert denied.rc != 0
    assert "unauthorized" in denied.err.lower() or "no basic auth" in denied.err.lower(), denied.err
    bad = docker("login", "-u", "alice", "-p", "wrong", reg.host)
    assert bad.rc != 0
    assert "401 Unauthorized" in bad.err, bad.err
    r = docker("login", "-u", "alice", "--password-stdin", reg.host, input="s3cret\n").ok()
    assert "Login Succeeded" in r.out
    assert "Pushed" in docker.ok("push", name)
    docker.ok("rmi", name)
    assert "Status: Downloaded newer image" in docker.ok("pull", name)
    docker.ok("logout", reg.host)
    docker.ok("rmi", name)
    assert docker("pull", name).rc != 0
    # the wharfie CLI keeps credentials in the same config file
    w = daemon.wharfie
    assert "Login Succeeded" in w("login", "-u", "alice", "--password-stdin", reg.host, input="s3cret\n").ok().out
    cfg = json.loads((Path(daemon.env["DOCKER_CONFIG"]) / "config.json").read_text())
    assert reg.host in cfg["auths"]
    assert "Status: Downloaded newer image" in w.ok("pull", name)
    assert "Removing login credentials" in w.ok("logout", reg.host)
    # the SDK
    assert sdk.login("alice", "s3cret", registry=reg.host)["Status"] == "Login Succeeded"
    with pytest.raises(Exception, match="401|nauthorized"):
        sdk.login("alice", "nope", registry=reg.host, reauth=True)


def test_tls_registry_with_a_self_signed_certificate(daemon: WharfieDaemon, loaded: str,
                                                     tmp_path: Path) -> None:
    """A loopback registry is insecure by default: HTTPS without certificate checks (then HTTP)."""
    if not _has_wharfie_server():
        pytest.skip("needs `wharfie registry serve` (TLS)")
    from support.registry import RegistryServer, make_cert

    with RegistryServer(tmp_path / "tls", tls=make_cert(tmp_path)) as reg:
        assert reg.url.startswith("https://")
        name = f"{reg.host}/tls/bb:1"
        daemon.docker.ok("tag", "busybox", name)
        assert "1: digest: sha256:" in daemon.docker.ok("push", name)
        daemon.docker.ok("rmi", name)
        assert "Status: Downloaded newer image" in daemon.docker.ok("pull", name)
