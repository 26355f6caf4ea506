"""Pure logic of the registry client: challenges, X-Registry-Auth, manifests, platforms,
endpoints, references, progress, and the CLI's credential store (config.json + helpers)."""

from __future__ import annotations

import base64
import gzip
import json
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from wharfie.errors import Forbidden, InvalidArgument, NotFound, Unauthorized, WharfieError
from wharfie.oci import reference
from wharfie.registry import challenge, manifest, tags, upload
from wharfie.registry.authconfig import AuthConfig, decode_header, encode_header
from wharfie.registry.blobreader import BlobReader
from wharfie.registry.endpoints import Endpoint, RegistryConfig
from wharfie.registry.progress import bar, human_size
from wharfie.registry.pull import fetch_manifest
from wharfie.registry.service import registry_domain
from wharfie.registry.session import Session, TokenCache, Transport

D1 = "sha256:" + "a" * 64
D2 = "sha256:" + "b" * 64
D3 = "sha256:" + "c" * 64


def test_bearer_challenge_with_quotes_and_commas() -> None:
    got = challenge.parse('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
                          'scope="repository:library/busybox:pull,push"')
    assert len(got) == 1 and got[0].scheme == "bearer"
    assert got[0].realm == "https://auth.docker.io/token"
    assert got[0].params["scope"] == "repository:library/busybox:pull,push"


def test_basic_challenge_and_preference() -> None:
    got = challenge.parse('Basic realm="Registry Realm"')
    assert got[0].scheme == "basic" and got[0].realm == "Registry Realm"
    both = challenge.parse('Basic realm="x", Bearer realm="https://t/token",service="s"')
    picked = challenge.pick(both)
    assert picked is not None and picked.scheme == "bearer"
    assert challenge.pick(challenge.parse("")) is None


def test_x_registry_auth_decoding() -> None:
    raw = json.dumps({"username": "alice", "password": "s3cret", "serveraddress": "localhost:5000"}).encode()
    for enc in (base64.urlsafe_b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode().rstrip("="),
                base64.b64encode(raw).decode()):
        a = decode_header(enc)
        assert (a.username, a.password, a.server_address) == ("alice", "s3cret", "localhost:5000")
    assert decode_header("e30=").anonymous
    assert decode_header("!!!not base64").anonymous
    assert decode_header(None).anonymous
    tok = decode_header(encode_header(AuthConfig(identity_token="tok", server_address="r")))
    assert tok.identity_token == "tok" and not tok.anonymous
    legacy = AuthConfig.from_json({"auth": base64.b64encode(b"bob:pw").decode()})
    assert (legacy.username, legacy.password) == ("bob", "pw")


def _manifest(layers: list[dict[str, object]] | None = None) -> bytes:
    return json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                       "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                                  "digest": D1, "size": 10},
                       "layers": layers if layers is not None else [
                           {"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                            "digest": D2, "size": 20}]}).encode()


def test_manifest_parse_and_validation() -> None:
    m = manifest.parse(_manifest())
    assert isinstance(m, manifest.ImageManifest)
    assert m.config.digest == D1 and [x.digest for x in m.layers] == [D2]
    with pytest.raises(InvalidArgument, match="not valid JSON"):
        manifest.parse(b"{nope")
    with pytest.raises(InvalidArgument, match="schema 1"):
        manifest.parse(json.dumps({"schemaVersion": 1, "fsLayers": []}).encode())
    with pytest.raises(InvalidArgument, match="too large"):
        manifest.parse(b" " * (manifest.MAX_MANIFEST + 1))
    with pytest.raises(InvalidArgument, match="size"):
        manifest.parse(_manifest([{"mediaType": "x", "digest": D2, "size": -1}]))
    with pytest.raises(InvalidArgument, match="digest"):
        manifest.parse(_manifest([{"mediaType": "x", "digest": "sha256:zz", "size": 1}]))
    with pytest.raises(InvalidArgument, match="unsupported layer media type"):
        manifest.image_layers(manifest.parse(_manifest([{"mediaType": "text/html", "digest": D2, "size": 1}])))  # type: ignore[arg-type]


def _index() -> manifest.ImageIndex:
    doc = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": D1, "size": 1,
         "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": D2, "size": 1,
         "platform": {"os": "linux", "architecture": "amd64"}},
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": D3, "size": 1,
         "platform": {"os": "unknown", "architecture": "unknown"},
         "annotations": {"vnd.docker.reference.type": "attestation-manifest"}},
    ]}
    idx = manifest.parse(json.dumps(doc).encode())
    assert isinstance(idx, manifest.ImageIndex)
    return idx


def test_platform_selection() -> None:
    idx = _index()
    assert manifest.select(idx, "linux/amd64").digest == D2
    assert manifest.select(idx, "linux/arm64").digest == D1
    assert manifest.select(idx, "linux/aarch64").digest == D1
    with pytest.raises(NotFound, match="no matching manifest for linux/s390x in the manifest list entries"):
        manifest.select(idx, "linux/s390x")
    assert {p["architecture"] for p in manifest.platforms(idx)} == {"arm64", "amd64"}


def test_config_layer_count_must_match() -> None:
    cfg = json.dumps({"rootfs": {"type": "layers", "diff_ids": [D1, D2]}}).encode()
    assert manifest.parse_config(cfg, 2)[1] == [D1, D2]
    with pytest.raises(InvalidArgument, match="config lists 2 layers, the manifest 1"):
        manifest.parse_config(cfg, 1)


def test_endpoints_insecure_and_mirrors() -> None:
    cfg = RegistryConfig(insecure=["10.0.0.0/8", "myreg:5000"], mirrors=["https://mirror.example/hub"])
    assert cfg.is_insecure("127.0.0.1:5000") and cfg.is_insecure("localhost:5000")
    assert cfg.is_insecure("10.1.2.3:443") and cfg.is_insecure("myreg:5000")
    assert not cfg.is_insecure("203.0.113.9:5000")
    eps = cfg.endpoints("docker.io")
    assert [e.host for e in eps] == ["mirror.example", "registry-1.docker.io"]
    assert eps[0].mirror and eps[0].path == "/hub" and eps[1].schemes == ("https",)
    local = cfg.endpoints("127.0.0.1:5000")[0]
    assert local.schemes == ("https", "http") and not local.verify_tls


def test_registry_domain_and_pull_reference() -> None:
    from wharfie.api.routes.registry import pull_reference

    assert registry_domain("https://index.docker.io/v1/") == "docker.io"
    assert registry_domain("localhost:5000") == "localhost:5000"
    assert registry_domain("http://r.example:8443/path") == "r.example:8443"
    assert pull_reference("docker.io/library/alpine", "3.19") == "docker.io/library/alpine:3.19"
    assert pull_reference("localhost:5000/x", D1) == f"localhost:5000/x@{D1}"
    assert pull_reference("busybox", "") == "docker.io/library/busybox"


def test_progress_bar_like_docker() -> None:
    assert human_size(1234567) == "1.235MB" and human_size(512) == "512B"
    assert bar(50, 100).startswith("[" + "=" * 25 + ">")
    assert bar(50, 100).endswith("50B/100B")


def test_cli_credentials_config_file_and_helpers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from wharfie.cli import credentials

    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "cfg"))
    assert credentials.get("localhost:5000") == {}
    assert credentials.header_for("localhost:5000") == "e30="
    credentials.store("localhost:5000", "alice", "s3cret")
    cfg = json.loads((tmp_path / "cfg" / "config.json").read_text())
    assert base64.b64decode(cfg["auths"]["localhost:5000"]["auth"]) == b"alice:s3cret"
    assert oct((tmp_path / "cfg" / "config.json").stat().st_mode & 0o777) == "0o600"
    header = json.loads(base64.urlsafe_b64decode(credentials.header_for("localhost:5000")))
    assert header == {"username": "alice", "password": "s3cret", "serveraddress": "localhost:5000"}
    credentials.store("docker.io", "bob", "pw")
    assert "https://index.docker.io/v1/" in json.loads((tmp_path / "cfg" / "config.json").read_text())["auths"]
    assert credentials.erase("localhost:5000") and not credentials.erase("localhost:5000")
    # a credential helper: docker-credential-<name> get/store/erase
    store_file = tmp_path / "helper-store.json"
    helper = tmp_path / "bin" / "docker-credential-fake"
    helper.parent.mkdir()
    helper.write_text(f"""#!/usr/bin/env python3
import json, sys
path = {str(store_file)!r}
try:
    data = json.load(open(path))
except OSError:
    data = {{}}
action, text = sys.argv[1], sys.stdin.read()
if action == "store":
    obj = json.loads(text); data[obj["ServerURL"]] = obj; json.dump(data, open(path, "w"))
elif action == "get":
    if text.strip() not in data:
        print("credentials not found in native keychain"); sys.exit(1)
    print(json.dumps(data[text.strip()]))
elif action == "erase":
    data.pop(text.strip(), None); json.dump(data, open(path, "w"))
""")
    helper.chmod(helper.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{helper.parent}{os.pathsep}{os.environ['PATH']}")
    (tmp_path / "cfg" / "config.json").write_text(json.dumps({"credHelpers": {"reg.example": "fake"}}))
    credentials.store("reg.example", "carol", "pw2")
    assert json.loads(store_file.read_text())["reg.example"]["Secret"] == "pw2"
    assert json.loads((tmp_path / "cfg" / "config.json").read_text())["auths"] == {"reg.example": {}}
    assert credentials.get("reg.example")["username"] == "carol"
    assert credentials.erase("reg.example")
    assert credentials.get("reg.example") == {}


def test_daemon_registry_flags_and_daemon_json(tmp_path: Path) -> None:
    from wharfie.daemon import parse_args

    flags = parse_args(["--insecure-registry", "10.0.0.0/8", "--insecure-registry", "myreg:5000",
                        "--registry-mirror", "https://mirror.example"] + _no_config(tmp_path))
    assert flags.insecure_registries == ["10.0.0.0/8", "myreg:5000"]
    assert flags.registry_mirrors == ["https://mirror.example"]
    daemon_json = tmp_path / "daemon.json"
    daemon_json.write_text(json.dumps({"insecure-registries": ["r:5000"], "registry-mirrors": ["http://m"]}))
    from_file = parse_args(["--config-file", str(daemon_json)])
    assert from_file.insecure_registries == ["r:5000"] and from_file.registry_mirrors == ["http://m"]
    with pytest.raises(InvalidArgument, match="insecure-registries"):
        parse_args(["--config-file", str(daemon_json), "--insecure-registry", "x:1"])


def _no_config(tmp_path: Path) -> list[str]:
    empty = tmp_path / "empty.json"
    empty.write_text("{}")
    return ["--config-file", str(empty)]


# -- the session against an in-process fake registry (httpx.MockTransport, no sockets) ----------

REG = "https://reg.test"
BEARER = 'Bearer realm="https://reg.test/token",service="s"'


def _session(handler: Callable[[httpx.Request], httpx.Response], auth: AuthConfig | None = None,
             tokens: TokenCache | None = None) -> Session:
    transport = Transport(Endpoint("reg.test", ("https",), True), http=httpx.MockTransport(handler))
    return Session(transport, auth or AuthConfig(), tokens or TokenCache(), ["repository:evil:pull"])


class _Endless:
    """A body that goes on (64 MiB), counting what was actually pulled from it."""

    def __init__(self) -> None:
        self.sent = 0

    def __iter__(self) -> Iterator[bytes]:
        while self.sent < 64 << 20:
            self.sent += 1 << 16
            yield b"x" * (1 << 16)


def test_credentials_go_only_to_the_registry_origin() -> None:
    seen: list[tuple[str, str]] = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append((f"{req.method} {req.url.host}{req.url.path}", req.headers.get("authorization", "")))
        if req.url.path == "/v2/":
            return httpx.Response(401, headers={"WWW-Authenticate": 'Basic realm="r"'})
        if req.method == "POST":
            return httpx.Response(202, headers={"Location": "https://other.test/upload/1"})
        if req.method == "PUT":
            return httpx.Response(201)
        if req.url.host == "reg.test":
            return httpx.Response(200, json={"tags": ["a"]},
                                  headers={"Link": '<https://other.test/v2/evil/tags/list?last=a>; rel="next"'})
        return httpx.Response(200, json={"tags": ["b"]})

    s = _session(handler, AuthConfig("alice", "s3cret"))
    upload.put_bytes(s, "evil", b"data", D1)
    assert tags.list_tags(s, reference.parse("reg.test/evil")) == ["a", "b"]
    basic = "Basic " + base64.b64encode(b"alice:s3cret").decode()
    assert [a for r, a in seen if "reg.test/v2/evil" in r] == [basic, basic]
    assert [a for r, a in seen if "other.test" in r] == ["", ""], seen


def test_a_redirect_targets_401_cannot_retarget_the_token_fetch() -> None:
    evil: list[httpx.Request] = []

    def handler(req: httpx.Request) -> httpx.Response:
        if req.url.host == "evil.test":
            evil.append(req)
            return httpx.Response(200, json={"token": "stolen"})
        if req.url.host == "cdn.test":
            return httpx.Response(401, headers={"WWW-Authenticate": 'Bearer realm="https://evil.test/token"'})
        if req.url.path == "/token":
            return httpx.Response(200, json={"token": "good"})
        if not req.headers.get("authorization"):
            return httpx.Response(401, headers={"WWW-Authenticate": BEARER})
        return httpx.Response(307, headers={"Location": "https://cdn.test/blob"})

    s = _session(handler, AuthConfig("alice", "s3cret"))
    with pytest.raises(Unauthorized), BlobReader(s, "evil", manifest.Descriptor("x", D1, 4)) as r:
        r.read()
    assert evil == []
    chal = s.transport.ping().challenge
    assert chal is not None and chal.realm == "https://reg.test/token"


def test_bodies_from_the_registry_are_read_with_a_bound() -> None:
    bodies: list[_Endless] = []

    def endless(status: int, **kw: Any) -> httpx.Response:
        bodies.append(_Endless())
        return httpx.Response(status, content=bodies[-1], **kw)

    def handler(req: httpx.Request) -> httpx.Response:
        if req.url.path == "/v2/":
            return endless(401, headers={"WWW-Authenticate": BEARER})
        if req.url.path == "/token":
            return endless(200)
        if "/manifests/" in req.url.path or "/blobs/" in req.url.path:
            return endless(403)
        return endless(200)  # tags

    s = _session(handler, AuthConfig("alice", "s3cret"))
    with pytest.raises(Unauthorized, match="no token"):
        s.authorization()
    s._authz = "Bearer t"  # past the token: the other bodies
    with pytest.raises(Forbidden):
        fetch_manifest(s, "evil", "latest")
    with pytest.raises(Forbidden), BlobReader(s, "evil", manifest.Descriptor("x", D1, 4)) as r:
        r.read()
    assert tags.list_tags(s, reference.parse("reg.test/evil")) == []
    assert len(bodies) == 5 and all(b.sent <= 2 << 20 for b in bodies), [b.sent for b in bodies]


def test_token_cache_is_keyed_by_the_secret_too() -> None:
    def handler(req: httpx.Request) -> httpx.Response:
        if req.url.path == "/v2/":
            return httpx.Response(401, headers={"WWW-Authenticate": BEARER})
        if req.method == "POST":
            return httpx.Response(200, json={"token": "tok-identity"})
        basic = req.headers.get("authorization", "")
        who = base64.b64decode(basic[6:]).decode() if basic else "anonymous"
        return httpx.Response(200, json={"token": "tok-" + who})

    tokens = TokenCache()
    assert _session(handler, AuthConfig("alice", "pw"), tokens).authorization() == "Bearer tok-alice:pw"
    assert _session(handler, AuthConfig("alice", "wrong"), tokens).authorization() == "Bearer tok-alice:wrong"
    assert _session(handler, AuthConfig(identity_token="id"), tokens).authorization() == "Bearer tok-identity"
    assert _session(handler, AuthConfig(), tokens).authorization() == "Bearer tok-anonymous"


def test_registry_bodies_are_asked_for_without_content_coding() -> None:
    plain = _manifest()

    def handler(req: httpx.Request) -> httpx.Response:  # a proxy that gzips whatever it may
        if req.url.path == "/v2/":
            return httpx.Response(200)
        if "gzip" in req.headers.get("accept-encoding", ""):
            return httpx.Response(200, content=iter([gzip.compress(plain)]), headers={"Content-Encoding": "gzip"})
        return httpx.Response(200, content=iter([plain]))  # an iterator: streamed, as off the wire

    data, _ = fetch_manifest(_session(handler), "evil", "latest")
    assert data == plain


def test_malformed_content_length_is_a_registry_error() -> None:
    def handler(req: httpx.Request) -> httpx.Response:
        if req.url.path == "/v2/":
            return httpx.Response(200)
        return httpx.Response(200, content=b"{}", headers={"Content-Length": "12abc"})

    s = _session(handler)
    with pytest.raises(WharfieError, match="invalid Content-Length"):
        upload.exists(s, "evil", D1)
    with pytest.raises(WharfieError, match="invalid Content-Length"):
        fetch_manifest(s, "evil", "latest")
