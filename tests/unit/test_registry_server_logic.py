"""Pure pieces of the registry server: names, ranges, manifest facts, htpasswd and Basic."""

from __future__ import annotations

import base64
import json

import pytest

from wharfie.registry.server import auth, manifests, names, ranges
from wharfie.registry.server.errors import RegistryError

D = "sha256:" + "a" * 64


@pytest.mark.parametrize("name", ["a", "library/busybox", "a.b/c-d/e__f", "x--y", "0/1/2"])
def test_valid_names(name: str) -> None:
    assert names.check_name(name) == name


@pytest.mark.parametrize("name", ["A", "a/", "/a", "a//b", "-a", "a-", "a_", "a___b", "a/../b",
                                  "a/_layers", "x" * 300])
def test_invalid_names(name: str) -> None:
    with pytest.raises(RegistryError) as e:
        names.check_name(name)
    assert e.value.code == "NAME_INVALID" and e.value.status == 400


def test_tags_and_digests() -> None:
    assert names.is_tag("v1.0_rc-1") and names.is_tag("_x") and not names.is_tag(".x")
    assert not names.is_tag("x" * 129)
    assert names.check_digest(D) == D
    with pytest.raises(RegistryError) as e:
        names.check_digest("sha512:" + "a" * 128)
    assert e.value.code == "UNSUPPORTED"
    with pytest.raises(RegistryError) as e:
        names.check_digest("sha256:XYZ")
    assert e.value.code == "DIGEST_INVALID"


def test_error_body() -> None:
    e = RegistryError("MANIFEST_BLOB_UNKNOWN", "nope", detail=[{"digest": D}])
    assert e.status == 400
    assert json.loads(e.body()) == {"errors": [{"code": "MANIFEST_BLOB_UNKNOWN", "message": "nope",
                                                "detail": [{"digest": D}]}]}


@pytest.mark.parametrize("header,expect", [
    ("bytes=0-9", (0, 9)), ("bytes=5-", (5, 99)), ("bytes=-10", (90, 99)), ("bytes=90-500", (90, 99)),
    ("bytes=0-1,5-6", None), ("items=0-1", None), ("bytes=-", None),
])
def test_parse_range(header: str, expect: tuple[int, int] | None) -> None:
    assert ranges.parse_range(header, 100) == expect


@pytest.mark.parametrize("header", ["bytes=100-", "bytes=5-2", "bytes=-0"])
def test_unsatisfiable_range(header: str) -> None:
    with pytest.raises(ranges.Unsatisfiable):
        ranges.parse_range(header, 100)


def test_content_range() -> None:
    assert ranges.parse_content_range("0-99") == (0, 99)
    assert ranges.parse_content_range("bytes 100-199/*") == (100, 199)
    for bad in ["", "5", "9-1", "a-b", "-1-2"]:
        with pytest.raises(ValueError):
            ranges.parse_content_range(bad)
    assert ranges.upload_range(0) == "0-0" and ranges.upload_range(10) == "0-9"


def _desc(digest: str = D, media_type: str = "x", **kw: object) -> dict[str, object]:
    return {"mediaType": media_type, "digest": digest, "size": 1, **kw}


def test_manifest_facts() -> None:
    doc = {"schemaVersion": 2, "config": _desc(media_type="application/vnd.oci.image.config.v1+json"),
           "layers": [_desc("sha256:" + "b" * 64),
                      _desc("sha256:" + "c" * 64, urls=["https://example.com/l"])],
           "subject": _desc("sha256:" + "d" * 64), "annotations": {"k": "v"}}
    m = manifests.parse(json.dumps(doc).encode(), "application/vnd.oci.image.manifest.v1+json; x=y")
    assert m.media_type == manifests.mt.OCI_MANIFEST and not m.is_index
    assert m.blobs == [D, "sha256:" + "b" * 64]  # the foreign layer is not required
    assert m.subject == "sha256:" + "d" * 64
    assert m.artifact_type == "application/vnd.oci.image.config.v1+json"
    desc = manifests.referrer_descriptor(m, D, 10)
    assert desc == {"mediaType": manifests.mt.OCI_MANIFEST, "digest": D, "size": 10,
                    "artifactType": "application/vnd.oci.image.config.v1+json", "annotations": {"k": "v"}}
    index = {"schemaVersion": 2, "manifests": [_desc()], "artifactType": "t"}
    m = manifests.parse(json.dumps(index).encode(), "")
    assert m.is_index and m.manifests == [D] and m.artifact_type == "t"


@pytest.mark.parametrize("body,ctype", [
    (b'{"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v1+json"}', ""),
    (b'{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": []}',
     "application/vnd.oci.image.manifest.v1+json"),
    (b'{"schemaVersion": 2, "mediaType": "text/plain"}', ""),
    (b'{"schemaVersion": 2, "manifests": {}}', ""),
    (b'{"schemaVersion": 2, "config": {"size": 1}}', ""),
    (b'{"schemaVersion": 2, "config": {"digest": "' + D.encode() + b'", "size": -1}}', ""),
    (b"\xff\xfe", ""),
])
def test_invalid_manifests(body: bytes, ctype: str) -> None:
    with pytest.raises(RegistryError) as e:
        manifests.parse(body, ctype)
    assert e.value.code == "MANIFEST_INVALID"


def test_manifest_too_large() -> None:
    with pytest.raises(RegistryError) as e:
        manifests.parse(b" " * (manifests.MAX_MANIFEST + 1), "")
    assert e.value.status == 413


def test_htpasswd_and_basic() -> None:
    users = auth.parse_htpasswd("# comment\n\nalice:$2y$05$abc\nbob:$2b$05$def\n")
    assert users == {"alice": b"$2y$05$abc", "bob": b"$2b$05$def"}
    with pytest.raises(ValueError, match="bcrypt"):
        auth.parse_htpasswd("carol:{SHA}xyz\n")
    token = base64.b64encode(b"alice:pa:ss").decode()
    assert auth.parse_basic(f"Basic {token}") == ("alice", "pa:ss")
    assert auth.parse_basic(f"Bearer {token}") is None
    assert auth.parse_basic("Basic !!!") is None
    assert auth.parse_basic("Basic " + base64.b64encode(b"nocolon").decode()) is None


def test_cli_help_does_not_import_the_server() -> None:
    import subprocess
    import sys

    code = "import sys; from wharfie.cli.main import main; main(['--help']); " \
           "main(['registry', '--help']); print(sorted(m for m in sys.modules if 'registry.server' in m))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "serve" in out and "gc" in out
    assert out.rstrip().endswith("[]")


def test_upload_sessions_expire_and_purge(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from wharfie.registry.server.storage import Storage
    from wharfie.registry.server.uploads import Uploads

    uploads = Uploads(Storage(tmp_path), ttl=60)
    old, fresh = uploads.start("a"), uploads.start("a")
    old.touched -= 120
    assert uploads.expire() == 1
    assert not old.path.exists() and fresh.path.exists()
    with pytest.raises(RegistryError) as e:
        uploads.get("a", old.id)
    assert e.value.code == "BLOB_UPLOAD_UNKNOWN"
    with pytest.raises(RegistryError):
        uploads.get("b", fresh.id)  # a session belongs to its repository
    assert Uploads(Storage(tmp_path)).purge_all() == 1  # a restart forgets every session
    assert list((tmp_path / "uploads").iterdir()) == []


def test_upload_chunks_are_all_or_nothing(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Random chunk sizes, some requests dying half way: the committed blob is exactly the
    bytes of the requests that completed, in order (file and running hash both rolled back)."""
    import asyncio
    import hashlib
    import random

    from wharfie.registry.server import uploads as up
    from wharfie.registry.server.storage import Storage

    rng = random.Random(7)
    data = rng.randbytes(3 * up.FLUSH + 12345)

    async def body(part: bytes, die_after: int | None):  # type: ignore[no-untyped-def]
        sent = part if die_after is None else part[:die_after]
        for i in range(0, len(sent), 100_000):
            yield sent[i:i + 100_000]
        if die_after is not None:
            raise ConnectionResetError("client gone")

    async def scenario() -> str:
        uploads = up.Uploads(Storage(tmp_path))
        s = uploads.start("r")
        pos = 0
        while pos < len(data):
            part = data[pos:pos + rng.randint(1, 2 * up.FLUSH)]
            if rng.random() < 0.4:  # this request breaks somewhere in the middle
                with pytest.raises(ConnectionResetError):
                    await uploads.receive(s, body(part, rng.randint(0, len(part))))
                assert s.size == pos and s.path.stat().st_size == pos
                continue
            assert await uploads.receive(s, body(part, None)) == len(part)
            pos += len(part)
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        uploads.finish(s, digest)
        return digest

    digest = asyncio.run(scenario())
    assert (tmp_path / "blobs" / "sha256" / digest[7:]).read_bytes() == data
    assert list((tmp_path / "uploads").iterdir()) == []


# -- concurrency, durability and input-strictness fixes ---------------------------------------
class FakeRequest:
    """What `routes.Registry` reads from a request, with a body given up front."""

    def __init__(self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None,
                 query: dict[str, str] | None = None) -> None:
        self.method, self.path, self.body = method, path, body
        self.headers = {"content-length": str(len(body)), **(headers or {})}
        self.query = query or {}
        self.body_done = not body

    def arg(self, name: str, default: str = "") -> str:
        return self.query.get(name, default)

    async def body_chunks(self):  # type: ignore[no-untyped-def]
        if self.body:
            yield self.body
        self.body_done = True


def _registry(tmp_path, htpasswd=None):  # type: ignore[no-untyped-def]
    from wharfie.registry.server.routes import Registry
    from wharfie.registry.server.storage import Storage
    from wharfie.registry.server.uploads import Uploads

    storage = Storage(tmp_path)
    return Registry(storage, Uploads(storage), htpasswd)


def test_patch_waiting_on_a_finished_session_creates_no_orphan(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import asyncio
    import hashlib

    reg = _registry(tmp_path)

    async def scenario() -> int:
        s = reg.uploads.start("r")
        async with s.lock:  # the closing PUT holds the lock…
            patch = asyncio.create_task(reg(FakeRequest("PATCH", f"/v2/r/blobs/uploads/{s.id}", b"x" * 1000)))
            await asyncio.sleep(0.05)  # …while this PATCH passed get() and waits for the lock
            reg.uploads.finish(s, "sha256:" + hashlib.sha256(b"").hexdigest())
        return (await patch).status

    assert asyncio.run(scenario()) == 404
    assert list((tmp_path / "uploads").iterdir()) == []


def test_failed_commit_keeps_the_session(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import hashlib

    reg = _registry(tmp_path)
    s = reg.uploads.start("r")

    def broken(tmp, digest):  # type: ignore[no-untyped-def]
        raise OSError("disk full")

    monkeypatch.setattr(reg.storage, "commit_blob", broken)
    with pytest.raises(OSError):
        reg.uploads.finish(s, "sha256:" + hashlib.sha256(b"").hexdigest())
    assert reg.uploads.sessions.get(s.id) is s and s.path.exists()  # a retry or the ttl ends it
    s.touched -= 2 * reg.uploads.ttl
    assert reg.uploads.expire() == 1 and not s.path.exists()


def test_expire_while_a_thread_starts_a_session(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """start/finish/cancel run in worker threads while expire() iterates on the loop."""
    import asyncio
    import threading
    import time

    from wharfie.registry.server.storage import Storage
    from wharfie.registry.server.uploads import Uploads

    uploads = Uploads(Storage(tmp_path), ttl=3600)
    threads: list[threading.Thread] = []

    class Meddler:  # a session whose idle check lets another thread start an upload
        id, path, lock = "meddler", tmp_path / "uploads" / "meddler", asyncio.Lock()

        @property
        def touched(self) -> float:
            t = threading.Thread(target=uploads.start, args=("a",))
            threads.append(t)
            t.start()
            t.join(0.2)  # returns at once unless the table is locked against it
            return time.monotonic()

    uploads.sessions["meddler"] = Meddler()  # type: ignore[assignment]
    uploads.start("a")
    try:
        assert uploads.expire() == 0  # was: RuntimeError: dictionary changed size during iteration
    finally:
        for t in threads:
            t.join()
    assert len(uploads.sessions) == 3


def test_expire_failure_does_not_end_the_server(caplog) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    from wharfie.registry.server import serve

    class Broken:
        def take_stale(self) -> list[object]:
            raise RuntimeError("dictionary changed size during iteration")

    asyncio.run(serve.expire_uploads(Broken()))  # type: ignore[arg-type]
    assert "expiring idle upload sessions failed" in caplog.text


@pytest.mark.parametrize("value", ["latest\n", "v1\n"])
def test_trailing_newline_is_not_a_tag(value: str) -> None:
    assert not names.is_tag(value)


def test_trailing_newline_is_not_a_digest() -> None:
    from wharfie.errors import InvalidArgument
    from wharfie.oci import digest as dg

    for bad in (D + "\n", "sha512:" + "a" * 128 + "\n"):
        with pytest.raises(RegistryError):
            names.check_digest(bad)
        with pytest.raises(InvalidArgument):
            dg.parse(bad)
    assert not dg.is_full_hex_id("a" * 64 + "\n")
    assert not names.NAME_RE.match("foo\n")
    doc = {"schemaVersion": 2, "manifests": [], "subject": _desc(D + "\n")}
    with pytest.raises(RegistryError) as e:
        manifests.parse(json.dumps(doc).encode(), "")
    assert e.value.code == "MANIFEST_INVALID"


def test_manifest_put_with_newline_in_tag_and_path_logged_quoted(tmp_path, caplog) -> None:  # type: ignore[no-untyped-def]
    import asyncio
    import logging

    reg = _registry(tmp_path)
    body = json.dumps({"schemaVersion": 2, "mediaType": manifests.mt.OCI_INDEX, "manifests": []}).encode()
    with caplog.at_level(logging.INFO, logger="wharfie.registry"):
        resp = asyncio.run(reg(FakeRequest("PUT", "/v2/foo/manifests/latest\n", body)))
    assert resp.status == 400
    assert not (tmp_path / "repositories" / "foo" / "_manifests" / "tags" / "latest\n").exists()
    assert "'/v2/foo/manifests/latest\\n'" in caplog.text


def test_bcrypt_flood_leaves_the_default_pool_free(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import asyncio
    import time

    import bcrypt

    calls: list[bytes] = []

    def slow_checkpw(password: bytes, hashed: bytes) -> bool:
        calls.append(hashed)
        time.sleep(0.3)
        return False

    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_text("alice:$2y$05$" + "a" * 53 + "\n")
    reg = _registry(tmp_path / "root", auth.Htpasswd(htpasswd))
    monkeypatch.setattr(bcrypt, "checkpw", slow_checkpw)
    bad = "Basic " + base64.b64encode(b"alice:wrong").decode()

    async def scenario() -> float:
        flood = [asyncio.create_task(reg(FakeRequest("GET", "/v2/", headers={"authorization": bad})))
                 for _ in range(16)]
        await asyncio.sleep(0.05)
        t0 = time.monotonic()
        await asyncio.to_thread(lambda: None)  # stands for any disk I/O of another request
        waited = time.monotonic() - t0
        for t in flood:
            t.cancel()
        await asyncio.gather(*flood, return_exceptions=True)
        return waited

    assert asyncio.run(scenario()) < 0.2
    calls.clear()
    unknown = "Basic " + base64.b64encode(b"mallory:x").decode()
    with pytest.raises(RegistryError):
        reg.htpasswd.check(unknown)
    assert len(calls) == 1  # an unknown user costs a bcrypt too: no timing oracle


def test_cancelled_receive_waits_for_its_append(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import asyncio
    import threading
    import time

    from wharfie.registry.server import uploads as up

    started = threading.Event()

    def slow_append(s, fh, data):  # type: ignore[no-untyped-def]
        fh.write(data)
        started.set()
        time.sleep(0.3)  # a big write+hash still running when the request is cancelled
        s.hasher.update(data)
        s.size += len(data)

    monkeypatch.setattr(up, "_append", slow_append)
    reg = _registry(tmp_path)
    s = reg.uploads.start("r")

    async def body():  # type: ignore[no-untyped-def]
        yield b"x" * up.FLUSH
        yield b"y" * up.FLUSH  # the receiver now waits for the first (slow) append
        await asyncio.sleep(10)

    async def scenario() -> None:
        task = asyncio.create_task(reg.uploads.receive(s, body()))
        await asyncio.to_thread(started.wait, 5)
        task.cancel()  # the server shuts down
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    time.sleep(0.4)  # an orphaned append thread would land now
    assert s.size == 0 and s.path.stat().st_size == 0


def test_manifest_digest_is_computed_off_the_loop(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import asyncio
    import threading

    from wharfie.oci import digest as dg

    on_loop: list[bool] = []
    real = dg.of_bytes

    def spy(data: bytes) -> str:
        on_loop.append(threading.current_thread() is threading.main_thread())
        return real(data)

    monkeypatch.setattr(dg, "of_bytes", spy)
    reg = _registry(tmp_path)
    body = json.dumps({"schemaVersion": 2, "mediaType": manifests.mt.OCI_INDEX, "manifests": []}).encode()
    resp = asyncio.run(reg(FakeRequest("PUT", f"/v2/r/manifests/{real(body)}", body,
                                       {"content-type": manifests.mt.OCI_INDEX})))
    assert resp.status == 201 and on_loop and not any(on_loop)


def test_new_directories_are_fsynced(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from wharfie.content import store
    from wharfie.registry.server import storage as st

    synced: list[str] = []
    real = store.fsync_dir

    def spy(path):  # type: ignore[no-untyped-def]
        synced.append(str(path))
        real(path)

    monkeypatch.setattr(store, "fsync_dir", spy)
    s = st.Storage(tmp_path)
    digest = s.blobs.put_bytes(b"layer")
    assert str(tmp_path / "blobs" / "sha256") in synced  # Writer.commit syncs the rename
    synced.clear()
    s.link_blob("new/repo", digest)
    for d in ("repositories", "repositories/new", "repositories/new/repo",
              "repositories/new/repo/_layers"):
        assert str(tmp_path / d) in synced, d
