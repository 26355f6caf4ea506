"""Pure logic: --change parsing, digests and chain IDs, platform selection, API routing."""

from __future__ import annotations

import hashlib

import pytest

from wharfie.api.server import Router
from wharfie.errors import InvalidArgument
from wharfie.images.changes import apply_changes
from wharfie.oci import digest as dg
from wharfie.oci import mediatypes as mt


def test_changes_json_and_shell_forms() -> None:
    cfg = apply_changes({}, ['CMD ["a", "b"]', "ENTRYPOINT /bin/run --x", "USER app", "WORKDIR /w",
                             "STOPSIGNAL SIGINT", "ONBUILD RUN x"])
    assert cfg["Cmd"] == ["a", "b"]
    assert cfg["Entrypoint"] == ["/bin/sh", "-c", "/bin/run --x"]
    assert (cfg["User"], cfg["WorkingDir"], cfg["StopSignal"]) == ("app", "/w", "SIGINT")
    assert cfg["OnBuild"] == ["RUN x"]


def test_changes_env_label_expose_volume() -> None:
    cfg = apply_changes({"Env": ["A=1"]}, ['ENV A=2 B="two words"', "ENV C legacy form",
                                            'LABEL x=1 "y"="z z"', "EXPOSE 80 53/udp 8000-8002",
                                            'VOLUME ["/data", "/logs"]', "VOLUME /a /b"])
    assert cfg["Env"] == ["A=2", "B=two words", "C=legacy form"]
    assert cfg["Labels"] == {"x": "1", "y": "z z"}
    assert set(cfg["ExposedPorts"]) == {"80/tcp", "53/udp", "8000/tcp", "8001/tcp", "8002/tcp"}
    assert set(cfg["Volumes"]) == {"/data", "/logs", "/a", "/b"}


@pytest.mark.parametrize("bad", ["RUN echo", "FROM x", "EXPOSE abc", "ENV =x"])
def test_changes_refused(bad: str) -> None:
    with pytest.raises(InvalidArgument):
        apply_changes({}, [bad])


def test_digests_and_chain_ids() -> None:
    a, b = dg.of_bytes(b"a"), dg.of_bytes(b"b")
    assert dg.chain_ids([a]) == [a]
    expect = "sha256:" + hashlib.sha256(f"{a} {b}".encode()).hexdigest()
    assert dg.chain_ids([a, b]) == [a, expect]
    assert dg.short_id(a) == a[7:19]
    for bad in ("sha256:xyz", "md5:" + "0" * 32, "sha256:" + "A" * 64, "nocolon"):
        with pytest.raises(InvalidArgument):
            dg.validate(bad)


def test_platform_selection() -> None:
    entries = [
        {"digest": "arm", "platform": {"os": "linux", "architecture": "arm64"}},
        {"digest": "amd", "platform": {"os": "linux", "architecture": "amd64"}},
        {"digest": "att", "platform": {"os": "unknown", "architecture": "unknown"},
         "annotations": {"vnd.docker.reference.type": "attestation-manifest"}},
    ]
    assert mt.select_platform(entries, "linux/arm64")["digest"] == "arm"  # type: ignore[index]
    assert mt.select_platform(entries, "linux/amd64")["digest"] == "amd"  # type: ignore[index]
    assert mt.select_platform(entries, "windows/amd64") is None


def test_router_params_and_paths() -> None:
    r = Router()

    async def h(req):  # type: ignore[no-untyped-def]
        return None

    r.add("GET", "/images/json", h)
    r.add("GET", "/images/{name:path}/json", h)
    r.add("DELETE", "/containers/{id}", h)
    assert r.match("GET", "/images/json") == (h, {})
    assert r.match("GET", "/images/localhost:5000/a/b:1/json") == (h, {"name": "localhost:5000/a/b:1"})
    assert r.match("DELETE", "/containers/abc") == (h, {"id": "abc"})
    assert r.match("DELETE", "/containers/a/b") is None
    assert r.match("POST", "/images/json") is None
