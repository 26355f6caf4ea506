"""`wharfie registry serve` against the OCI distribution spec, with raw HTTP (httpx) and sockets.

Every endpoint, the error codes, crash safety (client gone mid-upload, server killed -9),
garbage collection, auth and TLS; then interop with skopeo (copy in and out, inspect,
list-tags). The server is a real process on a free loopback port in a temp root.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from support.registry import RegistryServer, make_cert, make_htpasswd, registry_server  # noqa: F401

BIN = Path(sys.executable).parent
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def code(r: httpx.Response) -> str:
    return r.json()["errors"][0]["code"]


@pytest.fixture
def reg(registry_server: RegistryServer) -> RegistryServer:  # noqa: F811
    return registry_server


@pytest.fixture
def http(reg: RegistryServer):  # type: ignore[no-untyped-def]
    with httpx.Client(base_url=reg.url, timeout=30) as c:
        yield c


def push_blob(http: httpx.Client, repo: str, data: bytes) -> str:
    d = sha(data)
    r = http.post(f"/v2/{repo}/blobs/uploads/", params={"digest": d}, content=data,
                  headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 201, r.text
    return d


def image_manifest(config: bytes, layers: list[bytes], media_type: str = OCI_MANIFEST,
                   **extra: object) -> bytes:
    layer_type = ("application/vnd.oci.image.layer.v1.tar" if media_type == OCI_MANIFEST
                  else "application/vnd.docker.image.rootfs.diff.tar")
    config_type = ("application/vnd.oci.image.config.v1+json" if media_type == OCI_MANIFEST
                   else "application/vnd.docker.container.image.v1+json")
    doc = {"schemaVersion": 2, "mediaType": media_type,
           "config": {"mediaType": config_type, "digest": sha(config), "size": len(config)},
           "layers": [{"mediaType": layer_type, "digest": sha(x), "size": len(x)} for x in layers],
           **extra}
    return json.dumps(doc).encode()


def push_image(http: httpx.Client, repo: str, tag: str, media_type: str = OCI_MANIFEST,
               seed: bytes = b"") -> tuple[str, bytes]:
    config = b'{"architecture":"amd64","os":"linux","seed":"%s"}' % seed.hex().encode()
    layers = [b"layer-one" + seed, b"layer-two" + seed]
    for blob in [config, *layers]:
        push_blob(http, repo, blob)
    body = image_manifest(config, layers, media_type)
    r = http.put(f"/v2/{repo}/manifests/{tag}", content=body, headers={"Content-Type": media_type})
    assert r.status_code == 201, r.text
    assert r.headers["Docker-Content-Digest"] == sha(body)
    return sha(body), body


def leftovers(reg: RegistryServer) -> list[str]:
    return os.listdir(reg.root / "uploads") + os.listdir(reg.root / "ingest")


# -- base, blobs ---------------------------------------------------------------------------

def test_base_endpoint(http: httpx.Client) -> None:
    r = http.get("/v2/")
    assert r.status_code == 200
    assert r.headers["Docker-Distribution-API-Version"] == "registry/2.0"


def test_monolithic_post_then_head_get(http: httpx.Client) -> None:
    data = os.urandom(300_000)
    r = http.post("/v2/lib/a/blobs/uploads/", params={"digest": sha(data)}, content=data)
    assert r.status_code == 201
    assert r.headers["Location"] == f"/v2/lib/a/blobs/{sha(data)}"
    assert r.headers["Docker-Content-Digest"] == sha(data)
    h = http.head(f"/v2/lib/a/blobs/{sha(data)}")
    assert h.status_code == 200
    assert h.headers["Content-Length"] == str(len(data))
    assert h.headers["Docker-Content-Digest"] == sha(data)
    g = http.get(f"/v2/lib/a/blobs/{sha(data)}")
    assert g.status_code == 200 and g.content == data


def test_post_then_put(http: httpx.Client) -> None:
    data = b"post then put"
    r = http.post("/v2/x/blobs/uploads/")
    assert r.status_code == 202
    loc = r.headers["Location"]
    assert r.headers["Range"] == "0-0" and r.headers["Docker-Upload-UUID"] in loc
    r = http.put(loc, params={"digest": sha(data)}, content=data)
    assert r.status_code == 201
    assert http.get(f"/v2/x/blobs/{sha(data)}").content == data


def test_chunked_upload_with_status(http: httpx.Client) -> None:
    data = os.urandom(5 << 20) + b"tail"
    loc = http.post("/v2/chunks/blobs/uploads/").headers["Location"]
    cut = 3 << 20
    r = http.patch(loc, content=data[:cut], headers={"Content-Range": f"0-{cut - 1}",
                                                     "Content-Type": "application/octet-stream"})
    assert r.status_code == 202 and r.headers["Range"] == f"0-{cut - 1}"
    st = http.get(r.headers["Location"])
    assert st.status_code == 204 and st.headers["Range"] == f"0-{cut - 1}"
    r = http.patch(st.headers["Location"], content=data[cut:],
                   headers={"Content-Range": f"{cut}-{len(data) - 1}"})
    assert r.status_code == 202 and r.headers["Range"] == f"0-{len(data) - 1}"
    r = http.put(r.headers["Location"], params={"digest": sha(data)})
    assert r.status_code == 201
    assert http.get(f"/v2/chunks/blobs/{sha(data)}").content == data


def test_patch_without_content_range_streams_like_docker(http: httpx.Client) -> None:
    data = os.urandom(1 << 20)

    def gen():  # type: ignore[no-untyped-def]
        for i in range(0, len(data), 65536):
            yield data[i:i + 65536]

    loc = http.post("/v2/stream/blobs/uploads/").headers["Location"]
    r = http.patch(loc, content=gen())  # chunked transfer encoding, no Content-Range
    assert r.status_code == 202
    r = http.put(r.headers["Location"], params={"digest": sha(data)})
    assert r.status_code == 201


def test_final_chunk_in_put(http: httpx.Client) -> None:
    data = b"0123456789"
    loc = http.post("/v2/fin/blobs/uploads/").headers["Location"]
    loc = http.patch(loc, content=data[:4], headers={"Content-Range": "0-3"}).headers["Location"]
    r = http.put(loc, params={"digest": sha(data)}, content=data[4:],
                 headers={"Content-Range": "4-9"})
    assert r.status_code == 201


def test_out_of_order_chunk_is_416_and_upload_continues(http: httpx.Client) -> None:
    data = b"abcdefghij"
    loc = http.post("/v2/ooo/blobs/uploads/").headers["Location"]
    loc = http.patch(loc, content=data[:5], headers={"Content-Range": "0-4"}).headers["Location"]
    r = http.patch(loc, content=data[6:], headers={"Content-Range": "6-9"})
    assert r.status_code == 416
    assert http.get(loc).headers["Range"] == "0-4"
    r = http.patch(loc, content=data[:5], headers={"Content-Range": "0-4"})  # a replay
    assert r.status_code == 416
    r = http.patch(loc, content=data[5:], headers={"Content-Range": "5-9"})
    assert r.status_code == 202
    assert http.put(loc, params={"digest": sha(data)}).status_code == 201


def test_chunk_size_disagreeing_with_range(http: httpx.Client) -> None:
    loc = http.post("/v2/sz/blobs/uploads/").headers["Location"]
    r = http.patch(loc, content=b"12345", headers={"Content-Range": "0-9"})
    assert r.status_code == 400 and code(r) == "SIZE_INVALID"
    assert http.get(loc).headers["Range"] == "0-0"
    r = http.patch(loc, content=b"12345", headers={"Content-Range": "bad"})
    assert r.status_code == 416


def test_digest_mismatch_commits_nothing(http: httpx.Client, reg: RegistryServer) -> None:
    data, claimed = b"the real bytes", sha(b"other bytes")
    loc = http.post("/v2/dm/blobs/uploads/").headers["Location"]
    loc = http.patch(loc, content=data).headers["Location"]
    r = http.put(loc, params={"digest": claimed})
    assert r.status_code == 400 and code(r) == "DIGEST_INVALID"
    for d in (claimed, sha(data)):
        assert http.head(f"/v2/dm/blobs/{d}").status_code == 404
    assert http.get(loc).status_code == 404  # the session is gone
    r = http.post("/v2/dm/blobs/uploads/", params={"digest": claimed}, content=data)
    assert r.status_code == 400 and code(r) == "DIGEST_INVALID"
    assert leftovers(reg) == []
    assert os.listdir(reg.root / "blobs" / "sha256") == []


def test_put_without_or_with_bad_digest(http: httpx.Client) -> None:
    loc = http.post("/v2/nd/blobs/uploads/").headers["Location"]
    r = http.put(loc, content=b"x")
    assert r.status_code == 400 and code(r) == "DIGEST_INVALID"
    r = http.put(loc, params={"digest": "sha256:zz"})
    assert r.status_code == 400 and code(r) == "DIGEST_INVALID"
    r = http.get("/v2/nd/blobs/sha512:" + "a" * 128)
    assert r.status_code == 400 and code(r) == "UNSUPPORTED"


def test_cancel_upload(http: httpx.Client, reg: RegistryServer) -> None:
    loc = http.post("/v2/cancel/blobs/uploads/").headers["Location"]
    http.patch(loc, content=b"partial")
    assert http.delete(loc).status_code == 204
    r = http.get(loc)
    assert r.status_code == 404 and code(r) == "BLOB_UPLOAD_UNKNOWN"
    assert leftovers(reg) == []


def test_upload_session_belongs_to_its_repository(http: httpx.Client) -> None:
    loc = http.post("/v2/one/blobs/uploads/").headers["Location"]
    r = http.patch(loc.replace("/one/", "/two/"), content=b"x")
    assert r.status_code == 404 and code(r) == "BLOB_UPLOAD_UNKNOWN"


def test_blob_ranges(http: httpx.Client) -> None:
    data = bytes(range(256)) * 4
    d = push_blob(http, "rng", data)
    r = http.get(f"/v2/rng/blobs/{d}", headers={"Range": "bytes=10-19"})
    assert r.status_code == 206 and r.content == data[10:20]
    assert r.headers["Content-Range"] == f"bytes 10-19/{len(data)}"
    r = http.get(f"/v2/rng/blobs/{d}", headers={"Range": "bytes=1000-"})
    assert r.content == data[1000:]
    r = http.get(f"/v2/rng/blobs/{d}", headers={"Range": "bytes=-5"})
    assert r.content == data[-5:]
    r = http.get(f"/v2/rng/blobs/{d}", headers={"Range": "bytes=5000-6000"})
    assert r.status_code == 416 and r.headers["Content-Range"] == f"bytes */{len(data)}"


def test_blob_visible_only_where_linked_and_mount(http: httpx.Client) -> None:
    data = b"shared layer"
    d = push_blob(http, "src/repo", data)
    r = http.head(f"/v2/dst/repo/blobs/{d}")
    assert r.status_code == 404
    assert code(http.get(f"/v2/dst/repo/blobs/{d}")) == "BLOB_UNKNOWN"
    r = http.post("/v2/dst/repo/blobs/uploads/", params={"mount": d, "from": "src/repo"})
    assert r.status_code == 201
    assert r.headers["Location"] == f"/v2/dst/repo/blobs/{d}"
    assert http.get(f"/v2/dst/repo/blobs/{d}").content == data
    # not mountable (unknown blob, or from a repo that lacks it): a fresh session instead
    other = sha(b"nowhere")
    r = http.post("/v2/dst/repo/blobs/uploads/", params={"mount": other, "from": "src/repo"})
    assert r.status_code == 202 and "/blobs/uploads/" in r.headers["Location"]
    r = http.post("/v2/third/blobs/uploads/", params={"mount": d, "from": "nope"})
    assert r.status_code == 202


def test_delete_blob(http: httpx.Client) -> None:
    d = push_blob(http, "del", b"to delete")
    assert http.delete(f"/v2/del/blobs/{d}").status_code == 202
    assert http.head(f"/v2/del/blobs/{d}").status_code == 404
    r = http.delete(f"/v2/del/blobs/{d}")
    assert r.status_code == 404 and code(r) == "BLOB_UNKNOWN"


# -- manifests -----------------------------------------------------------------------------

@pytest.mark.parametrize("media_type", [OCI_MANIFEST, DOCKER_MANIFEST])
def test_manifest_by_tag_and_digest(http: httpx.Client, media_type: str) -> None:
    digest, body = push_image(http, "img", "v1", media_type)
    for ref in ("v1", digest):
        r = http.get(f"/v2/img/manifests/{ref}", headers={"Accept": media_type})
        assert r.status_code == 200 and r.content == body
        assert r.headers["Content-Type"] == media_type
        assert r.headers["Docker-Content-Digest"] == digest
        h = http.head(f"/v2/img/manifests/{ref}")
        assert h.status_code == 200 and h.headers["Content-Length"] == str(len(body))
        assert h.headers["Docker-Content-Digest"] == digest
    # a manifest is a blob of the repository too
    assert http.get(f"/v2/img/blobs/{digest}").content == body
    r = http.get("/v2/img/manifests/nope")
    assert r.status_code == 404 and code(r) == "MANIFEST_UNKNOWN"
    assert http.get("/v2/nothere/manifests/v1").status_code == 404


def test_oci_manifest_without_media_type_keeps_content_type(http: httpx.Client) -> None:
    config = b"{}"
    push_blob(http, "bare", config)
    doc = json.loads(image_manifest(config, []))
    del doc["mediaType"]
    body = json.dumps(doc).encode()
    r = http.put("/v2/bare/manifests/t", content=body, headers={"Content-Type": OCI_MANIFEST})
    assert r.status_code == 201
    assert http.get("/v2/bare/manifests/t").headers["Content-Type"] == OCI_MANIFEST


@pytest.mark.parametrize("index_type,child_type", [(OCI_INDEX, OCI_MANIFEST), (DOCKER_LIST, DOCKER_MANIFEST)])
def test_index_and_manifest_list(http: httpx.Client, index_type: str, child_type: str) -> None:
    children = [push_image(http, "multi", f"c{i}", child_type, seed=bytes([i])) for i in range(2)]
    index = {"schemaVersion": 2, "mediaType": index_type, "manifests": [
        {"mediaType": child_type, "digest": d, "size": len(b),
         "platform": {"os": "linux", "architecture": arch}}
        for (d, b), arch in zip(children, ["amd64", "arm64"], strict=True)]}
    body = json.dumps(index).encode()
    r = http.put("/v2/multi/manifests/latest", content=body, headers={"Content-Type": index_type})
    assert r.status_code == 201
    r = http.get("/v2/multi/manifests/latest", headers={"Accept": f"{index_type}, {child_type}"})
    assert r.headers["Content-Type"] == index_type and r.content == body
    # a child that is not in this repository
    index["manifests"][0]["digest"] = sha(b"missing manifest")
    r = http.put("/v2/multi/manifests/bad", content=json.dumps(index).encode(),
                 headers={"Content-Type": index_type})
    assert r.status_code == 400 and code(r) == "MANIFEST_BLOB_UNKNOWN"


def test_manifest_blob_unknown(http: httpx.Client) -> None:
    config = b'{"os":"linux"}'
    push_blob(http, "mbu", config)
    push_blob(http, "elsewhere", b"layer")  # exists in the registry, but not in "mbu"
    body = image_manifest(config, [b"layer"])
    r = http.put("/v2/mbu/manifests/t", content=body, headers={"Content-Type": OCI_MANIFEST})
    assert r.status_code == 400 and code(r) == "MANIFEST_BLOB_UNKNOWN"
    assert r.json()["errors"][0]["detail"] == [{"digest": sha(b"layer")}]
    assert http.get("/v2/mbu/manifests/t").status_code == 404


def test_manifest_invalid_and_too_large(http: httpx.Client) -> None:
    for body, ctype in [(b"{not json", OCI_MANIFEST), (b'{"schemaVersion": 1}', OCI_MANIFEST),
                        (b"[]", OCI_MANIFEST),
                        (b'{"schemaVersion":2,"mediaType":"%s"}' % OCI_INDEX.encode(), OCI_MANIFEST),
                        (b'{"schemaVersion":2,"config":{"digest":"sha256:xyz","size":1}}', OCI_MANIFEST)]:
        r = http.put("/v2/inv/manifests/t", content=body, headers={"Content-Type": ctype})
        assert r.status_code == 400 and code(r) == "MANIFEST_INVALID", body
    big = b'{"schemaVersion":2,"pad":"' + b"x" * (4 << 20) + b'"}'
    r = http.put("/v2/inv/manifests/t", content=big, headers={"Content-Type": OCI_MANIFEST})
    assert r.status_code == 413 and code(r) == "MANIFEST_INVALID"
    assert http.get("/v2/").status_code == 200  # still serving


def test_trailing_newline_in_tag_or_subject_is_refused(http: httpx.Client, reg: RegistryServer) -> None:
    config = b"{}"
    push_blob(http, "nl", config)
    body = image_manifest(config, [])
    r = http.put("/v2/nl/manifests/latest%0A", content=body, headers={"Content-Type": OCI_MANIFEST})
    assert r.status_code == 400  # was 201, and a tag "latest\n"
    doc = json.loads(image_manifest(config, []))
    doc["subject"] = {"mediaType": OCI_MANIFEST, "digest": sha(b"s") + "\n", "size": 1}
    r = http.put("/v2/nl/manifests/t", content=json.dumps(doc).encode(), headers={"Content-Type": OCI_MANIFEST})
    assert r.status_code == 400 and code(r) == "MANIFEST_INVALID"  # was a broken OCI-Subject header
    assert http.get("/v2/nl/tags/list").json()["tags"] in (None, [])
    assert "'/v2/nl/manifests/latest\\n'" in reg.log.read_text()  # logged quoted, on one line


def test_manifest_put_by_digest(http: httpx.Client) -> None:
    config = b"{}"
    push_blob(http, "bd", config)
    body = image_manifest(config, [])
    r = http.put(f"/v2/bd/manifests/{sha(body)}", content=body, headers={"Content-Type": OCI_MANIFEST})
    assert r.status_code == 201
    r = http.put(f"/v2/bd/manifests/{sha(b'x')}", content=body, headers={"Content-Type": OCI_MANIFEST})
    assert r.status_code == 400 and code(r) == "DIGEST_INVALID"
    r = http.put("/v2/bd/manifests/-bad-tag", content=body, headers={"Content-Type": OCI_MANIFEST})
    assert r.status_code == 400


def test_delete_tag_and_manifest(http: httpx.Client) -> None:
    digest, _ = push_image(http, "dm2", "a")
    http.put("/v2/dm2/manifests/b", content=http.get(f"/v2/dm2/manifests/{digest}").content,
             headers={"Content-Type": OCI_MANIFEST})
    assert http.delete("/v2/dm2/manifests/a").status_code == 202
    assert http.get("/v2/dm2/manifests/a").status_code == 404
    assert http.get(f"/v2/dm2/manifests/{digest}").status_code == 200
    assert http.delete(f"/v2/dm2/manifests/{digest}").status_code == 202
    assert http.get(f"/v2/dm2/manifests/{digest}").status_code == 404
    assert http.get("/v2/dm2/tags/list").json()["tags"] == []  # "b" went with its manifest
    assert http.delete(f"/v2/dm2/manifests/{digest}").status_code == 404
    r = http.delete("/v2/never/manifests/a")
    assert r.status_code == 404 and code(r) == "NAME_UNKNOWN"


# -- discovery -----------------------------------------------------------------------------

def test_tags_list_pagination(http: httpx.Client) -> None:
    digest, body = push_image(http, "tagged", "b")
    for tag in ["a", "d", "c", "B", "1.0"]:
        http.put(f"/v2/tagged/manifests/{tag}", content=body, headers={"Content-Type": OCI_MANIFEST})
    r = http.get("/v2/tagged/tags/list")
    assert r.json() == {"name": "tagged", "tags": ["1.0", "B", "a", "b", "c", "d"]}
    r = http.get("/v2/tagged/tags/list", params={"n": 2})
    assert r.json()["tags"] == ["1.0", "B"]
    link = r.headers["Link"]
    assert link == '</v2/tagged/tags/list?last=B&n=2>; rel="next"'
    seen = ["1.0", "B"]
    while "Link" in r.headers:
        r = http.get(r.headers["Link"].split(";")[0].strip("<>"))
        seen += r.json()["tags"]
    assert seen == ["1.0", "B", "a", "b", "c", "d"]
    r = http.get("/v2/tagged/tags/list", params={"n": 0})
    assert r.json()["tags"] == [] and "Link" not in r.headers
    r = http.get("/v2/tagged/tags/list", params={"last": "b"})
    assert r.json()["tags"] == ["c", "d"]
    r = http.get("/v2/unknown/tags/list")
    assert r.status_code == 404 and code(r) == "NAME_UNKNOWN"


def test_catalog(http: httpx.Client) -> None:
    for repo in ["b/c", "a", "b", "z/y/x"]:
        push_image(http, repo, "latest")
    assert http.get("/v2/_catalog").json() == {"repositories": ["a", "b", "b/c", "z/y/x"]}
    r = http.get("/v2/_catalog", params={"n": 3})
    assert r.json()["repositories"] == ["a", "b", "b/c"]
    assert r.headers["Link"] == '</v2/_catalog?last=b/c&n=3>; rel="next"'
    assert http.get("/v2/_catalog", params={"last": "b/c"}).json()["repositories"] == ["z/y/x"]


def test_invalid_names(http: httpx.Client) -> None:
    for path in ["/v2/UPPER/tags/list", "/v2/a//b/tags/list", "/v2/-a/manifests/x",
                 "/v2/a_/blobs/uploads/"]:
        r = http.request("POST" if path.endswith("uploads/") else "GET", path)
        assert r.status_code == 400 and code(r) == "NAME_INVALID", path
    r = http.get("/v2/a/unknown/endpoint")
    assert r.status_code == 404


def test_referrers(http: httpx.Client) -> None:
    subject, sbody = push_image(http, "art", "v1")
    subj = {"mediaType": OCI_MANIFEST, "digest": subject, "size": len(sbody)}
    empty = b"{}"
    push_blob(http, "art", empty)
    pushed = {}
    for kind in ["application/vnd.example.sbom", "application/vnd.example.sig"]:
        body = image_manifest(empty, [], artifactType=kind, subject=subj,
                              annotations={"kind": kind})
        r = http.put(f"/v2/art/manifests/{sha(body)}", content=body,
                     headers={"Content-Type": OCI_MANIFEST})
        assert r.status_code == 201 and r.headers["OCI-Subject"] == subject
        pushed[kind] = (sha(body), len(body))
    # artifactType falls back to the config's media type
    body = image_manifest(b"{}", [], subject=subj)
    http.put(f"/v2/art/manifests/{sha(body)}", content=body, headers={"Content-Type": OCI_MANIFEST})
    r = http.get(f"/v2/art/referrers/{subject}")
    assert r.status_code == 200 and r.headers["Content-Type"] == OCI_INDEX
    found = {m["digest"]: m for m in r.json()["manifests"]}
    assert len(found) == 3
    d, size = pushed["application/vnd.example.sig"]
    assert found[d] == {"mediaType": OCI_MANIFEST, "digest": d, "size": size,
                        "artifactType": "application/vnd.example.sig",
                        "annotations": {"kind": "application/vnd.example.sig"}}
    assert found[sha(body)]["artifactType"] == "application/vnd.oci.image.config.v1+json"
    r = http.get(f"/v2/art/referrers/{subject}", params={"artifactType": "application/vnd.example.sbom"})
    assert r.headers["OCI-Filters-Applied"] == "artifactType"
    assert [m["digest"] for m in r.json()["manifests"]] == [pushed["application/vnd.example.sbom"][0]]
    # deleting a referrer removes it from the list; unknown subjects list nothing
    http.delete(f"/v2/art/manifests/{d}")
    assert len(http.get(f"/v2/art/referrers/{subject}").json()["manifests"]) == 2
    r = http.get(f"/v2/art/referrers/{sha(b'none')}")
    assert r.status_code == 200 and r.json()["manifests"] == []
    assert http.get("/v2/art/referrers/sha256:bad").status_code == 400


# -- crash safety --------------------------------------------------------------------------

def raw_partial(reg: RegistryServer, head: str, body: bytes) -> None:
    """Send a request head and part of its body, then vanish."""
    host, port = reg.host.rsplit(":", 1)
    with socket.create_connection((host, int(port))) as s:
        s.sendall(head.encode() + body)
        time.sleep(0.2)


def test_client_gone_mid_patch_and_mid_put(http: httpx.Client, reg: RegistryServer) -> None:
    data = os.urandom(2 << 20)
    loc = http.post("/v2/crash/blobs/uploads/").headers["Location"]
    loc = http.patch(loc, content=data[:1000], headers={"Content-Range": "0-999"}).headers["Location"]
    raw_partial(reg, f"PATCH {loc} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(data) - 1000}\r\n"
                f"Content-Range: 1000-{len(data) - 1}\r\n\r\n", data[1000:500_000])
    time.sleep(0.3)
    assert http.get(loc).headers["Range"] == "0-999"  # the broken chunk was rolled back
    assert (reg.root / "uploads" / loc.rsplit("/", 1)[1]).stat().st_size == 1000
    raw_partial(reg, f"PUT {loc}?digest={sha(data)} HTTP/1.1\r\nHost: x\r\n"
                f"Content-Length: {len(data) - 1000}\r\n\r\n", data[1000:300_000])
    raw_partial(reg, f"POST /v2/crash/blobs/uploads/?digest={sha(data)} HTTP/1.1\r\nHost: x\r\n"
                f"Content-Length: {len(data)}\r\n\r\n", data[:300_000])
    time.sleep(0.3)
    assert http.head(f"/v2/crash/blobs/{sha(data)}").status_code == 404
    assert not (reg.root / "blobs" / "sha256" / sha(data)[7:]).exists()
    r = http.put(loc, params={"digest": sha(data)}, content=data[1000:])  # resume and finish
    assert r.status_code == 201
    assert http.get(f"/v2/crash/blobs/{sha(data)}").content == data
    assert leftovers(reg) == []


def test_server_killed_during_upload(http: httpx.Client, reg: RegistryServer) -> None:
    data = os.urandom(1 << 20)
    loc = http.post("/v2/kill/blobs/uploads/").headers["Location"]
    http.patch(loc, content=data[:4096])
    host, port = reg.host.rsplit(":", 1)
    with socket.create_connection((host, int(port))) as s:
        s.sendall(f"PUT {loc}?digest={sha(data)} HTTP/1.1\r\nHost: x\r\n"
                  f"Content-Length: {len(data) - 4096}\r\n\r\n".encode() + data[4096:600_000])
        time.sleep(0.3)
        reg.kill()
    assert os.listdir(reg.root / "uploads")  # the staging file is there after the crash…
    (reg.root / "ingest" / "0123abcd").write_bytes(b"half a manifest")  # as a crash mid-commit leaves
    reg.start()
    with httpx.Client(base_url=reg.url) as c:
        assert leftovers(reg) == []  # …and gone after the restart
        assert c.head(f"/v2/kill/blobs/{sha(data)}").status_code == 404
        assert c.get(loc).status_code == 404
        assert os.listdir(reg.root / "blobs" / "sha256") == []
        push_blob(c, "kill", data)  # and the registry works


def test_second_server_on_same_root_is_refused(reg: RegistryServer) -> None:
    p = subprocess.run([str(BIN / "wharfie"), "registry", "serve", "--listen", "127.0.0.1:0",
                        "--root", str(reg.root)], capture_output=True, timeout=30)
    assert p.returncode != 0 and b"in use" in p.stderr


def test_bad_startup_options_are_clear_errors(tmp_path: Path) -> None:
    (tmp_path / "md5").write_text("bob:$apr1$abc$def\n")
    cases = [(["--listen", "nowhere"], "invalid --listen"),
             (["--htpasswd", str(tmp_path / "md5")], "only bcrypt"),
             (["--htpasswd", str(tmp_path / "missing")], "No such file"),
             (["--tls-cert", "/etc/hostname", "--tls-key", "/etc/hostname"], "cannot load --tls-cert"),
             (["--tls-cert", "/etc/hostname"], "go together")]
    for args, message in cases:
        p = subprocess.run([str(BIN / "wharfie"), "registry", "serve", "--root", str(tmp_path / "r"),
                            "--listen", "127.0.0.1:0", *args], capture_output=True, text=True, timeout=30)
        assert p.returncode == 1 and message in p.stderr and "Traceback" not in p.stderr, (args, p.stderr)


# -- garbage collection --------------------------------------------------------------------

def test_gc_deletes_unreferenced_blobs(http: httpx.Client, reg: RegistryServer) -> None:
    digest, body = push_image(http, "keep", "v1")
    orphan = push_blob(http, "keep", b"nobody references me")
    deleted_img, _ = push_image(http, "gone", "v1", seed=b"g")
    gone_layers = [d["digest"] for d in json.loads(http.get("/v2/gone/manifests/v1").content)["layers"]]
    http.delete(f"/v2/gone/manifests/{deleted_img}")
    gc = [str(BIN / "wharfie"), "registry", "gc", "--root", str(reg.root)]
    busy = subprocess.run(gc, capture_output=True, text=True)
    assert busy.returncode != 0 and "in use" in busy.stderr  # not while serving
    reg.stop()
    dry = subprocess.run(gc + ["--dry-run"], capture_output=True, text=True, check=True)
    assert orphan in dry.stdout and (reg.root / "blobs" / "sha256" / orphan[7:]).exists()
    out = subprocess.run(gc, capture_output=True, text=True, check=True).stdout
    assert orphan in out and deleted_img in out and all(d in out for d in gone_layers)
    reg.start()
    with httpx.Client(base_url=reg.url) as c:
        assert c.head(f"/v2/keep/blobs/{orphan}").status_code == 404
        assert c.get("/v2/keep/manifests/v1").content == body
        for layer in json.loads(body)["layers"]:
            assert c.head(f"/v2/keep/blobs/{layer['digest']}").status_code == 200
        assert not (reg.root / "repositories" / "keep" / "_layers" / orphan[7:]).exists()


def test_gc_delete_untagged_keeps_what_tags_reach(http: httpx.Client, reg: RegistryServer) -> None:
    tagged, tbody = push_image(http, "u", "v1", seed=b"t")
    child, cbody = push_image(http, "u", "child", seed=b"c")
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": child, "size": len(cbody)}]}).encode()
    http.put("/v2/u/manifests/multi", content=index, headers={"Content-Type": OCI_INDEX})
    http.delete("/v2/u/manifests/child")  # the child is now reached only through the index
    sig = image_manifest(b"{}", [], artifactType="application/vnd.example.sig",
                         subject={"mediaType": OCI_MANIFEST, "digest": tagged, "size": len(tbody)})
    push_blob(http, "u", b"{}")
    http.put(f"/v2/u/manifests/{sha(sig)}", content=sig, headers={"Content-Type": OCI_MANIFEST})
    loose, lbody = push_image(http, "u", "loose", seed=b"l")
    http.delete("/v2/u/manifests/loose")  # untagged and unreachable
    reg.stop()
    out = subprocess.run([str(BIN / "wharfie"), "registry", "gc", "--delete-untagged", "--root",
                          str(reg.root)], capture_output=True, text=True, check=True).stdout
    assert f"deleted untagged manifest u@{loose}" in out
    assert out.count("untagged manifest") == 1
    reg.start()
    with httpx.Client(base_url=reg.url) as c:
        for digest in (tagged, child, sha(index), sha(sig)):
            assert c.get(f"/v2/u/manifests/{digest}").status_code == 200
        assert c.get(f"/v2/u/manifests/{loose}").status_code == 404
        for layer in json.loads(lbody)["layers"]:
            assert c.head(f"/v2/u/blobs/{layer['digest']}").status_code == 404
        assert len(c.get(f"/v2/u/referrers/{tagged}").json()["manifests"]) == 1


# -- auth and TLS --------------------------------------------------------------------------

def test_htpasswd_and_tls(tmp_path: Path) -> None:
    htpasswd = make_htpasswd(tmp_path / "htpasswd", "alice", "s3cret")
    cert, key = make_cert(tmp_path)
    with RegistryServer(tmp_path / "reg", htpasswd=htpasswd, tls=(cert, key)) as reg:
        assert reg.url.startswith("https://")
        ca = ssl.create_default_context(cafile=str(cert))
        with httpx.Client(base_url=reg.url, verify=ca) as c:
            r = c.get("/v2/")
            assert r.status_code == 401 and code(r) == "UNAUTHORIZED"
            assert r.headers["WWW-Authenticate"] == 'Basic realm="wharfie-registry"'
            assert c.get("/v2/", auth=("alice", "wrong")).status_code == 401
            assert c.get("/v2/", auth=("bob", "s3cret")).status_code == 401
            r = c.post("/v2/x/blobs/uploads/", params={"digest": sha(b"x" * 100)}, content=b"x" * 100)
            assert r.status_code == 401  # refused before reading the body
            assert c.get("/v2/", auth=("alice", "s3cret")).status_code == 200
        with httpx.Client(base_url=reg.url, verify=ca, auth=("alice", "s3cret")) as c:
            push_blob(c, "x", b"authorised")


def test_htpasswd_file_made_by_apache_htpasswd(tmp_path: Path) -> None:
    if not shutil.which("htpasswd"):
        pytest.skip("apache2-utils' htpasswd is not installed")
    path = tmp_path / "htpasswd"
    subprocess.run(["htpasswd", "-Bbc", str(path), "carol", "pw"], check=True, capture_output=True)
    with RegistryServer(tmp_path / "reg", htpasswd=path) as reg:
        assert httpx.get(reg.url + "/v2/", auth=("carol", "pw")).status_code == 200
        assert httpx.get(reg.url + "/v2/", auth=("carol", "nope")).status_code == 401
        # edits are picked up while serving; a broken file keeps the last good users
        subprocess.run(["htpasswd", "-Bb", str(path), "dave", "pw2"], check=True, capture_output=True)
        assert httpx.get(reg.url + "/v2/", auth=("dave", "pw2")).status_code == 200
        path.write_text("garbage\n")
        assert httpx.get(reg.url + "/v2/", auth=("carol", "pw")).status_code == 200


# -- interop: skopeo -----------------------------------------------------------------------

needs_skopeo = pytest.mark.skipif(not shutil.which("skopeo"), reason="skopeo is not installed")


def skopeo(*args: str) -> str:
    p = subprocess.run(["skopeo", "--insecure-policy", *args], capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 0, f"skopeo {' '.join(args)}:\n{p.stderr}"
    return p.stdout


@pytest.fixture(scope="module")
def archives(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    import imagegen

    d = tmp_path_factory.mktemp("skopeo-images")
    image = imagegen.busybox_image()
    imagegen.docker_archive([(image, ["busybox:latest"])], str(d / "docker.tar"))
    imagegen.oci_archive(image, str(d / "oci.tar"), ref_name="latest")
    (d / "config").write_text(image.id)
    return {"docker": d / "docker.tar", "oci": d / "oci.tar", "dir": d}


@needs_skopeo
def test_skopeo_copy_in_inspect_list_tags_and_out(reg: RegistryServer, archives: dict[str, Path],
                                                 http: httpx.Client, tmp_path: Path) -> None:
    config_digest = (archives["dir"] / "config").read_text()
    base = f"docker://{reg.host}"
    skopeo("copy", "--dest-tls-verify=false", f"docker-archive:{archives['docker']}",
           f"{base}/library/busybox:latest")
    skopeo("copy", "--dest-tls-verify=false", f"oci-archive:{archives['oci']}", f"{base}/oci/busybox:v1")
    skopeo("copy", "--dest-tls-verify=false", f"oci-archive:{archives['oci']}", f"{base}/oci/busybox:v2")
    info = json.loads(skopeo("inspect", "--tls-verify=false", f"{base}/library/busybox:latest"))
    head = http.head("/v2/library/busybox/manifests/latest")
    assert info["Digest"] == head.headers["Docker-Content-Digest"]
    assert info["Os"] == "linux" and len(info["Layers"]) == 1
    raw = json.loads(skopeo("inspect", "--raw", "--tls-verify=false", f"{base}/oci/busybox:v1"))
    assert raw["config"]["digest"] == config_digest
    tags = json.loads(skopeo("list-tags", "--tls-verify=false", f"{base}/oci/busybox"))
    assert tags["Tags"] == ["v1", "v2"]
    # … and back out, as an OCI layout and a docker archive, with the same config
    skopeo("copy", "--src-tls-verify=false", f"{base}/oci/busybox:v1", f"oci:{tmp_path / 'out'}:v1")
    index = json.loads((tmp_path / "out" / "index.json").read_text())
    manifest_path = tmp_path / "out" / "blobs" / "sha256" / index["manifests"][0]["digest"][7:]
    assert json.loads(manifest_path.read_text())["config"]["digest"] == config_digest
    skopeo("copy", "--src-tls-verify=false", f"{base}/library/busybox:latest",
           f"docker-archive:{tmp_path / 'out.tar'}:busybox:latest")
    import tarfile

    with tarfile.open(tmp_path / "out.tar") as tf:
        manifest = json.load(tf.extractfile("manifest.json"))  # type: ignore[arg-type]
    assert manifest[0]["Config"].removeprefix("blobs/sha256/").removesuffix(".json") == config_digest[7:]


@needs_skopeo
def test_skopeo_registry_to_registry_mounts_and_deletes(reg: RegistryServer, archives: dict[str, Path],
                                                        http: httpx.Client) -> None:
    base = f"docker://{reg.host}"
    skopeo("copy", "--dest-tls-verify=false", f"docker-archive:{archives['docker']}", f"{base}/a/bb:1")
    skopeo("copy", "--src-tls-verify=false", "--dest-tls-verify=false", f"{base}/a/bb:1", f"{base}/b/bb:1")
    assert "POST '/v2/b/bb/blobs/uploads/' 201" in reg.log.read_text()  # the layer was mounted
    assert http.get("/v2/_catalog").json()["repositories"] == ["a/bb", "b/bb"]
    skopeo("delete", "--tls-verify=false", f"{base}/b/bb:1")
    assert http.get("/v2/b/bb/manifests/1").status_code == 404
    assert http.get("/v2/a/bb/manifests/1").status_code == 200


@needs_skopeo
def test_skopeo_with_tls_and_htpasswd(tmp_path: Path, archives: dict[str, Path]) -> None:
    htpasswd = make_htpasswd(tmp_path / "htpasswd", "alice", "s3cret")
    certs = tmp_path / "certs"
    certs.mkdir()
    cert, key = make_cert(certs)
    shutil.copy(cert, certs / "ca.crt")  # containers/image trusts DIR/*.crt
    with RegistryServer(tmp_path / "reg", htpasswd=htpasswd, tls=(cert, key)) as reg:
        ref = f"docker://{reg.host}/secure/busybox:latest"
        p = subprocess.run(["skopeo", "--insecure-policy", "copy", "--dest-cert-dir", str(certs),
                            f"docker-archive:{archives['docker']}", ref], capture_output=True, text=True)
        assert p.returncode != 0 and "unauthorized" in p.stderr.lower()
        skopeo("copy", "--dest-cert-dir", str(certs), "--dest-creds", "alice:s3cret",
               f"docker-archive:{archives['docker']}", ref)
        info = json.loads(skopeo("inspect", "--cert-dir", str(certs), "--creds", "alice:s3cret", ref))
        assert info["RepoTags"] == ["latest"]


# -- interop: a real dockerd ---------------------------------------------------------------

@pytest.fixture(scope="module")
def dockerd(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A private dockerd (no bridge, no iptables: it must not touch the host's network)."""
    if not shutil.which("dockerd"):
        pytest.skip("dockerd is not installed")
    base = tmp_path_factory.mktemp("dockerd")
    sock = base / "docker.sock"
    log = open(base / "dockerd.log", "wb")
    proc = subprocess.Popen(
        ["dockerd", "-H", f"unix://{sock}", "--data-root", str(base / "data"),
         "--exec-root", str(base / "exec"), "--pidfile", str(base / "dockerd.pid"),
         "--bridge", "none", "--iptables=false", "--ip-forward=false", "--ip-masq=false",
         "--storage-driver", "overlay2"], stdout=log, stderr=log, start_new_session=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    env.update(DOCKER_HOST=f"unix://{sock}", DOCKER_CONFIG=str(base / "config"))
    try:
        deadline = time.monotonic() + 60
        while subprocess.run(["docker", "version"], env=env, capture_output=True).returncode != 0:
            if time.monotonic() > deadline or proc.poll() is not None:
                pytest.fail(f"dockerd did not start:\n{(base / 'dockerd.log').read_text()}")
            time.sleep(0.2)
        yield env
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        log.close()
        _kill_processes_under(base)  # a containerd that outlived a stuck dockerd
        with open("/proc/self/mountinfo") as fh:
            mounts = [line.split()[4] for line in fh if line.split()[4].startswith(str(base))]
        for m in sorted(mounts, key=len, reverse=True):
            subprocess.run(["umount", "-l", m], capture_output=True)


def _kill_processes_under(base: Path) -> None:
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                if str(base).encode() in fh.read():
                    os.kill(int(pid), 9)
        except (OSError, ProcessLookupError):
            pass


def docker(env: dict[str, str], *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], env=env, capture_output=True, text=True, input=input,
                          timeout=300)


def test_dockerd_push_pull_and_login(dockerd: dict[str, str], archives: dict[str, Path],
                                     tmp_path: Path) -> None:
    image_id = "sha256:" + (archives["dir"] / "config").read_text()[7:]
    htpasswd = make_htpasswd(tmp_path / "htpasswd", "alice", "s3cret")
    with RegistryServer(tmp_path / "reg", htpasswd=htpasswd) as reg:
        ref = f"{reg.host}/team/busybox:1"
        assert docker(dockerd, "load", "-i", str(archives["docker"])).returncode == 0
        assert docker(dockerd, "tag", "busybox:latest", ref).returncode == 0
        p = docker(dockerd, "push", ref)
        assert p.returncode != 0 and "basic auth" in p.stderr  # not logged in
        p = docker(dockerd, "login", "-u", "alice", "--password-stdin", reg.host, input="wrong\n")
        assert p.returncode != 0 and "401" in p.stderr
        p = docker(dockerd, "login", "-u", "alice", "--password-stdin", reg.host, input="s3cret\n")
        assert p.returncode == 0 and "Login Succeeded" in p.stdout
        p = docker(dockerd, "push", ref)
        assert p.returncode == 0, p.stderr
        digest = p.stdout.split("digest: ")[1].split()[0]
        assert "Layer already exists" in docker(dockerd, "push", ref).stdout
        assert docker(dockerd, "rmi", ref, "busybox:latest").returncode == 0
        p = docker(dockerd, "pull", ref)
        assert p.returncode == 0 and f"Digest: {digest}" in p.stdout
        assert docker(dockerd, "image", "inspect", "-f", "{{.Id}}", ref).stdout.strip() == image_id
        p = docker(dockerd, "pull", f"{reg.host}/team/busybox@{digest}")
        assert p.returncode == 0, p.stderr
        assert docker(dockerd, "rmi", "-f", image_id).returncode == 0


def test_loop_stays_responsive_during_big_transfers(http: httpx.Client, reg: RegistryServer) -> None:
    """Hashing and file I/O of a 128 MiB blob happen in worker threads: /v2/ keeps answering."""
    import threading

    block = os.urandom(1 << 20)
    digest = "sha256:" + hashlib.sha256(block * 128).hexdigest()
    done = threading.Event()

    def upload() -> None:
        with httpx.Client(base_url=reg.url, timeout=120) as c:
            loc = c.post("/v2/big/blobs/uploads/").headers["Location"]
            c.put(loc, params={"digest": digest}, content=(block for _ in range(128)))
            c.get(f"/v2/big/blobs/{digest}").raise_for_status()
        done.set()

    t = threading.Thread(target=upload)
    t.start()
    worst = 0.0
    while not done.is_set() and t.is_alive():
        t0 = time.monotonic()
        assert http.get("/v2/").status_code == 200
        worst = max(worst, time.monotonic() - t0)
        time.sleep(0.01)
    t.join()
    assert done.is_set()
    assert worst < 0.5, f"/v2/ took {worst:.3f}s during a big transfer"
