"""Registries that lie or misbehave: every failure is a clear error, nothing is committed, no
temp file is left in the data root, and the daemon keeps answering — also while a pull trickles.
Also the honest paths the hostile server can show: bearer tokens (fetched once, then cached) and
a download resumed with Range after the connection dropped."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest
from support.daemon import WharfieDaemon
from support.hostile_registry import REPO, HostileRegistry


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def _store_state(daemon: WharfieDaemon) -> dict[str, set[str]]:
    image = daemon.data_root / "image"
    return {
        "blobs": _files(image / "content" / "blobs"),
        "ingest": _files(image / "content" / "ingest"),
        "tmp": _files(image / "tmp"),
        "snapshots": {p.name for p in (image / "snapshots").iterdir()} if (image / "snapshots").exists() else set(),
    }


CASES = {
    "digest-mismatch": "filesystem layer verification failed for digest",
    "truncated": "unexpected EOF",
    "wrong-size": "unexpected EOF",
    "huge-manifest": "manifest too large",
    "malformed-manifest": "invalid manifest",
    "auth-loop": "unauthorized",
}


@pytest.mark.parametrize("mode", list(CASES))
def test_bad_registry_commits_nothing(daemon: WharfieDaemon, mode: str) -> None:
    before = _store_state(daemon)
    with HostileRegistry(mode) as reg:
        name = f"{reg.host}/{REPO}:latest"
        r = daemon.docker("pull", name)
        assert r.rc != 0, r.out
        assert CASES[mode] in r.err, r.err
        if mode == "auth-loop":
            assert reg.token_requests <= 3  # one token, one refresh: no loop
    assert daemon.docker("image", "inspect", name).rc != 0
    after = _store_state(daemon)
    assert after["ingest"] == set() and after["tmp"] == set()
    assert after["blobs"] == before["blobs"], after["blobs"] - before["blobs"]
    assert after["snapshots"] == before["snapshots"]
    assert daemon.ping()


def test_bearer_token_is_fetched_once_and_cached(daemon: WharfieDaemon) -> None:
    with HostileRegistry("token") as reg:
        name = f"{reg.host}/{REPO}:latest"
        out = daemon.docker.ok("pull", name)
        assert "Status: Downloaded newer image" in out
        assert reg.token_requests == 1
        scopes = [p for m, p, _ in reg.requests if p.startswith("/token")]
        assert "scope=repository%3Aevil%3Apull" in scopes[0] and "service=hostile" in scopes[0]
        assert "Image is up to date" in daemon.docker.ok("pull", name)
        assert reg.token_requests == 1  # cached until it expires
    daemon.docker.ok("rmi", name)


def test_dropped_download_resumes_with_range(daemon: WharfieDaemon) -> None:
    with HostileRegistry("flaky") as reg:
        name = f"{reg.host}/{REPO}:latest"
        assert "Pull complete" in daemon.docker.ok("pull", name)
        ranges = [h.get("Range") for m, p, h in reg.requests if "/blobs/" + reg.image.layer_digest in p]
        assert any(r and r.startswith("bytes=") and r != "bytes=0-" for r in ranges), ranges
    daemon.docker.ok("rmi", name)


def test_daemon_answers_during_a_slow_pull(daemon: WharfieDaemon) -> None:
    with HostileRegistry("slow") as reg:
        name = f"{reg.host}/{REPO}:latest"
        result: dict[str, object] = {}
        puller = threading.Thread(target=lambda: result.update(r=daemon.docker("pull", name)))
        puller.start()
        worst = 0.0
        while puller.is_alive():
            t0 = time.monotonic()
            assert daemon.ping()
            worst = max(worst, time.monotonic() - t0)
            time.sleep(0.05)
        puller.join()
        assert result["r"].rc == 0, result["r"]  # type: ignore[attr-defined]
        assert worst < 1.0, f"/_ping took {worst:.3f}s during the pull"
    daemon.docker.ok("rmi", name)
    assert os.path.isdir(daemon.data_root)


def test_login_against_a_token_server(daemon: WharfieDaemon) -> None:
    import base64

    with HostileRegistry("token") as reg:
        r = daemon.docker("login", "-u", "tok-user", "--password-stdin", reg.host, input="pw\n").ok()
        assert "Login Succeeded" in r.out
        sent = [h.get("Authorization", "") for m, p, h in reg.requests if p.startswith("/token")]
        assert "Basic " + base64.b64encode(b"tok-user:pw").decode() in sent
        # the token server handed out a refresh token: the CLI keeps it as the identity token,
        # and the next pull trades it for an access token (OAuth2 refresh_token grant)
        import json

        cfg = json.loads((Path(daemon.env["DOCKER_CONFIG"]) / "config.json").read_text())
        assert cfg["auths"][reg.host].get("identitytoken") == "refresh-me"
        daemon.docker.ok("pull", f"{reg.host}/{REPO}:latest")
        posts = [h["body"] for m, p, h in reg.requests if m == "POST" and p.startswith("/token")]
        assert posts and "grant_type=refresh_token" in posts[0] and "refresh_token=refresh-me" in posts[0]
        daemon.docker.ok("logout", reg.host)
        daemon.docker.ok("rmi", f"{reg.host}/{REPO}:latest")


def test_failed_upload_is_retried(daemon: WharfieDaemon, busybox_archive: Path) -> None:
    daemon.docker.ok("load", "-i", str(busybox_archive))
    with HostileRegistry("flaky-upload") as reg:
        name = f"{reg.host}/{REPO}:pushed"
        daemon.docker.ok("tag", "busybox", name)
        out = daemon.docker.ok("push", name)
        assert "Pushed" in out and "pushed: digest: sha256:" in out
        puts = [p for m, p, _ in reg.requests if m == "PUT" and "/blobs/uploads/" in p]
        assert len(puts) >= 2  # the 503 and the retry
        daemon.docker.ok("rmi", name)
