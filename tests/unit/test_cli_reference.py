"""Reference parsing as the docker CLI does it (tag targets, familiar names)."""

from __future__ import annotations

import pytest

from wharfie.cli.reference import parse_any_reference, parse_normalized_named, split_repo_tag
from wharfie.errors import InvalidArgument


@pytest.mark.parametrize(
    "target, repo, tag",
    [
        ("busybox", "docker.io/library/busybox", "latest"),
        ("busybox:x", "docker.io/library/busybox", "x"),
        ("foo/bar:1", "docker.io/foo/bar", "1"),
        ("localhost:5000/myimg", "localhost:5000/myimg", "latest"),
        ("localhost:5000/myimg:1", "localhost:5000/myimg", "1"),
        ("localhost/a/b:c", "localhost/a/b", "c"),
        ("registry.example.com:443/team/app:v1.2", "registry.example.com:443/team/app", "v1.2"),
        ("index.docker.io/library/alpine:3", "docker.io/library/alpine", "3"),
    ],
)
def test_split_repo_tag(target: str, repo: str, tag: str) -> None:
    assert split_repo_tag(target) == (repo, tag)


@pytest.mark.parametrize(
    "ref, familiar",
    [
        ("busybox:latest", "busybox"),
        ("docker.io/library/busybox:latest", "busybox"),
        ("docker.io/foo/bar:1", "foo/bar"),
        ("library/busybox:1", "busybox"),
        ("localhost:5000/foo/bar:1.0", "localhost:5000/foo/bar"),
        ("quay.io/library/x:1", "quay.io/library/x"),
    ],
)
def test_familiar_name(ref: str, familiar: str) -> None:
    assert parse_normalized_named(ref).familiar_name == familiar


def test_digest_reference() -> None:
    digest = "sha256:" + "a" * 64
    ref = parse_normalized_named(f"alpine@{digest}")
    assert ref.digest == digest and ref.tag == "" and ref.familiar_name == "alpine"


@pytest.mark.parametrize(
    "bad, message",
    [
        ("Busybox", "invalid reference format: repository name (library/Busybox) must be lowercase"),
        ("a" * 64, f"invalid repository name ({'a' * 64}), cannot specify 64-byte hexadecimal strings"),
        ("foo:bar:baz", "invalid reference format"),
        ("-foo", "invalid reference format"),
        ("", "invalid reference format"),
    ],
)
def test_invalid(bad: str, message: str) -> None:
    with pytest.raises(InvalidArgument) as exc:
        parse_normalized_named(bad)
    assert str(exc.value).startswith(message)


def test_parse_any_reference_accepts_ids() -> None:
    assert parse_any_reference("a" * 64) == "a" * 64
    assert parse_any_reference("sha256:" + "b" * 64) == "sha256:" + "b" * 64
    assert parse_any_reference("a8a79a22d31c") == "docker.io/library/a8a79a22d31c"


@pytest.mark.parametrize(
    "spec, encoded",
    [
        ("linux/amd64", '{"architecture":"amd64","os":"linux"}'),
        ("Linux/X86_64", '{"architecture":"amd64","os":"linux"}'),
        ("linux/arm64/v8", '{"architecture":"arm64","os":"linux","variant":"v8"}'),
        ("linux/arm", '{"architecture":"arm","os":"linux"}'),
    ],
)
def test_encode_platform(spec: str, encoded: str) -> None:
    from wharfie.cli.reference import encode_platform

    assert encode_platform(spec) == encoded
