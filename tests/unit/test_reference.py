"""Reference parsing against the behaviour of distribution/reference (the vectors of its
normalize_test.go and reference_test.go, restated through the normalising parser)."""

import pytest

from wharfie.errors import InvalidArgument
from wharfie.oci.reference import Reference, is_id_like, parse, parse_docker_ref

HEX = "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
D = "sha256:" + HEX
HEX_ID = "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a"


# --- the examples from the brief ------------------------------------------------------

@pytest.mark.parametrize(
    "s, domain, path, tag, digest, full, familiar",
    [
        ("busybox", "docker.io", "library/busybox", None, None,
         "docker.io/library/busybox", "busybox"),
        ("busybox:1.36", "docker.io", "library/busybox", "1.36", None,
         "docker.io/library/busybox:1.36", "busybox:1.36"),
        ("localhost:5000/x", "localhost:5000", "x", None, None,
         "localhost:5000/x", "localhost:5000/x"),
        ("localhost:5000/x:1", "localhost:5000", "x", "1", None,
         "localhost:5000/x:1", "localhost:5000/x:1"),
        ("localhost/x", "localhost", "x", None, None, "localhost/x", "localhost/x"),
        ("127.0.0.1:5000/a/b:tag", "127.0.0.1:5000", "a/b", "tag", None,
         "127.0.0.1:5000/a/b:tag", "127.0.0.1:5000/a/b:tag"),
        ("[::1]:5000/x", "[::1]:5000", "x", None, None, "[::1]:5000/x", "[::1]:5000/x"),
        ("[2001:db8::1]/repo:tag", "[2001:db8::1]", "repo", "tag", None,
         "[2001:db8::1]/repo:tag", "[2001:db8::1]/repo:tag"),
        ("docker.io/busybox", "docker.io", "library/busybox", None, None,
         "docker.io/library/busybox", "busybox"),
        ("index.docker.io/library/busybox", "docker.io", "library/busybox", None, None,
         "docker.io/library/busybox", "busybox"),
        ("index.docker.io/user/app:v2", "docker.io", "user/app", "v2", None,
         "docker.io/user/app:v2", "user/app:v2"),
        ("user/app", "docker.io", "user/app", None, None, "docker.io/user/app", "user/app"),
        ("ghcr.io/org/app", "ghcr.io", "org/app", None, None,
         "ghcr.io/org/app", "ghcr.io/org/app"),
        ("busybox@" + D, "docker.io", "library/busybox", None, D,
         "docker.io/library/busybox@" + D, "busybox@" + D),
        ("busybox:latest@" + D, "docker.io", "library/busybox", "latest", D,
         "docker.io/library/busybox:latest@" + D, "busybox:latest@" + D),
        ("test:5000/repo@" + D, "test:5000", "repo", None, D,
         "test:5000/repo@" + D, "test:5000/repo@" + D),
        ("lowercase:Uppercase", "docker.io", "library/lowercase", "Uppercase", None,
         "docker.io/library/lowercase:Uppercase", "lowercase:Uppercase"),
        # "host:port" without a slash is a name and a tag, never a registry.
        ("test.com:5000", "docker.io", "library/test.com", "5000", None,
         "docker.io/library/test.com:5000", "test.com:5000"),
        ("192.168.1.1:5000", "docker.io", "library/192.168.1.1", "5000", None,
         "docker.io/library/192.168.1.1:5000", "192.168.1.1:5000"),
        ("192.168.1.1:5000/repo:5050", "192.168.1.1:5000", "repo", "5050", None,
         "192.168.1.1:5000/repo:5050", "192.168.1.1:5000/repo:5050"),
    ],
)
def test_parse(s, domain, path, tag, digest, full, familiar):
    ref = parse(s)
    assert (ref.domain, ref.path, ref.tag, ref.digest) == (domain, path, tag, digest)
    assert str(ref) == full
    assert ref.familiar() == familiar
    assert parse(full) == ref  # the full form round-trips
    assert parse(familiar) == ref


@pytest.mark.parametrize(
    "s, message",
    [
        ("Busybox", "invalid reference format: repository name (library/Busybox) must be lowercase"),
        ("docker/Docker", "invalid reference format: repository name (docker/Docker) must be lowercase"),
        ("test:5000/Uppercase/lowercase:tag",
         "invalid reference format: repository name (Uppercase/lowercase) must be lowercase"),
        ("a:b:c", "invalid reference format"),
        ("", "invalid reference format"),
        ("busybox:", "invalid reference format"),
        (":justtag", "invalid reference format"),
        ("@" + D, "invalid reference format"),
        ("busybox@", "invalid reference format"),
        ("busybox\n", "invalid reference format"),
        ("busybox:" + "t" * 129, "invalid reference format"),
        ("aa/asdf$$^/aa", "invalid reference format"),
        ("[2001:db8::1]:5000", "invalid reference format"),
        ("[fe80::1%eth0]:5000/repo", "invalid reference format"),
        ("repo@sha256:" + "f" * 34, "invalid checksum digest length"),
        ("repo@sha256:" + "F" * 64, "invalid checksum digest format"),
        ("validname@invaliddigest:" + HEX, "unsupported digest algorithm"),
        ("domain/" + "a" * 256 + ":tag", "repository name must not be more than 255 characters"),
        (HEX_ID, f"invalid repository name ({HEX_ID}), cannot specify 64-byte hexadecimal strings"),
    ],
)
def test_parse_errors(s, message):
    with pytest.raises(InvalidArgument) as exc:
        parse(s)
    assert str(exc.value) == message


def test_length_limit_is_on_the_path():
    assert parse("example.com/" + "a" * 255 + ":tag").path == "a" * 255
    assert len(parse("a/" * 127 + "a:tag-puts-this-over-max").path) == 255
    with pytest.raises(InvalidArgument, match="255"):
        parse("a/" * 127 + "aa")


def test_digest_algorithms():
    assert parse("x@sha512:" + "f" * 128).digest == "sha512:" + "f" * 128
    assert parse("x@sha384:" + "f" * 96).digest == "sha384:" + "f" * 96
    with pytest.raises(InvalidArgument, match="length"):
        parse("x@sha512:" + HEX)


# --- distribution/reference normalize_test.go ------------------------------------------

VALID_REPO_NAMES = [
    "docker/docker", "library/debian", "debian", "localhost/library/debian", "localhost/debian",
    "LOCALDOMAIN/library/debian", "LOCALDOMAIN/debian", "docker.io/docker/docker",
    "docker.io/library/debian", "docker.io/debian", "index.docker.io/docker/docker",
    "index.docker.io/library/debian", "index.docker.io/debian", "127.0.0.1:5000/docker/docker",
    "127.0.0.1:5000/library/debian", "127.0.0.1:5000/debian", "192.168.0.1", "192.168.0.1:80",
    "192.168.0.1:8/debian", "192.168.0.2:25000/debian",
    "thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev",
    "[fc00::1]:5000/docker", "[fc00::1]:5000/docker/docker",
    "[fc00:1:2:3:4:5:6:7]:5000/library/debian", "docker.io/" + HEX_ID, "Docker/docker",
    "DOCKER/docker",
    # TestValidateRemoteName
    "docker-rules/docker", "docker---rules/docker", "doc/docker", "d/docker", "jess/t",
    "dock__er/docker",
]
INVALID_REPO_NAMES = [
    "https://github.com/docker/docker", "docker/Docker", "-docker", "-docker/docker",
    "-docker.io/docker/docker", "docker///docker", "docker.io/docker/Docker",
    "docker.io/docker///docker", "[fc00::1]", "[fc00::1]:5000", "fc00::1:5000/debian",
    "[fe80::1%eth0]:5000/debian", "[2001:db8:3:4::192.0.2.33]:5000/debian", HEX_ID,
    # TestValidateRemoteName
    "docker-/docker", "-docker-/docker", "____/____", "_docker/_docker", "dock..er/docker",
    "dock_.er/docker", "dock-.er/docker", "docker/",
    "this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_" * 4 + "/docker",
]


@pytest.mark.parametrize("name", VALID_REPO_NAMES)
def test_valid_repo_names(name):
    parse(name)


@pytest.mark.parametrize("name", INVALID_REPO_NAMES)
def test_invalid_repo_names(name):
    with pytest.raises(InvalidArgument):
        parse(name)


# (path, familiar name, full name, another spelling, domain) from TestParseRepositoryInfo
REPOSITORY_INFO = [
    ("fooo", "localhost/fooo", "localhost/fooo", None, "localhost"),
    ("fooo/bar", "localhost/fooo/bar", "localhost/fooo/bar", None, "localhost"),
    ("fooo", "LOCALDOMAIN/fooo", "LOCALDOMAIN/fooo", None, "LOCALDOMAIN"),
    ("fooo/bar", "LOCALDOMAIN/fooo/bar", "LOCALDOMAIN/fooo/bar", None, "LOCALDOMAIN"),
    ("fooo/bar", "fooo/bar", "docker.io/fooo/bar", "index.docker.io/fooo/bar", "docker.io"),
    ("library/ubuntu", "ubuntu", "docker.io/library/ubuntu", "library/ubuntu", "docker.io"),
    ("nonlibrary/ubuntu", "nonlibrary/ubuntu", "docker.io/nonlibrary/ubuntu", None, "docker.io"),
    ("other/library", "other/library", "docker.io/other/library", None, "docker.io"),
    ("private/moonbase", "127.0.0.1:8000/private/moonbase", "127.0.0.1:8000/private/moonbase",
     None, "127.0.0.1:8000"),
    ("privatebase", "127.0.0.1:8000/privatebase", "127.0.0.1:8000/privatebase", None,
     "127.0.0.1:8000"),
    ("private/moonbase", "example.com/private/moonbase", "example.com/private/moonbase", None,
     "example.com"),
    ("privatebase", "example.com/privatebase", "example.com/privatebase", None, "example.com"),
    ("private/moonbase", "example.com:8000/private/moonbase",
     "example.com:8000/private/moonbase", None, "example.com:8000"),
    ("privatebasee", "example.com:8000/privatebasee", "example.com:8000/privatebasee", None,
     "example.com:8000"),
    ("library/ubuntu-12.04-base", "ubuntu-12.04-base", "docker.io/library/ubuntu-12.04-base",
     "index.docker.io/library/ubuntu-12.04-base", "docker.io"),
    ("library/foo", "foo", "docker.io/library/foo", "docker.io/foo", "docker.io"),
    ("library/foo/bar", "library/foo/bar", "docker.io/library/foo/bar", None, "docker.io"),
    ("store/foo/bar", "store/foo/bar", "docker.io/store/foo/bar", None, "docker.io"),
    ("bar", "Foo/bar", "Foo/bar", None, "Foo"),
    ("bar", "FOO/bar", "FOO/bar", None, "FOO"),
]


@pytest.mark.parametrize("path, familiar, full, other, domain", REPOSITORY_INFO)
def test_repository_info(path, familiar, full, other, domain):
    for s in filter(None, (familiar, full, other)):
        ref = parse(s)
        assert ref.familiar_name == familiar
        assert ref.name == full == str(ref)
        assert ref.domain == domain
        assert ref.path == path


@pytest.mark.parametrize(
    "s, domain, path",
    [
        ("test.com/foo", "test.com", "foo"),
        ("test_com/foo", "docker.io", "test_com/foo"),
        ("docker/migrator", "docker.io", "docker/migrator"),
        ("test.com:8080/foo", "test.com:8080", "foo"),
        ("test-com:8080/foo", "test-com:8080", "foo"),
        ("foo", "docker.io", "library/foo"),
        ("xn--n3h.com/foo", "xn--n3h.com", "foo"),
        ("xn--n3h.com:18080/foo", "xn--n3h.com:18080", "foo"),
        ("docker.io/foo", "docker.io", "library/foo"),
        ("docker.io/library/foo", "docker.io", "library/foo"),
        ("docker.io/library/foo/bar", "docker.io", "library/foo/bar"),
        # a "domain" the grammar cannot read as one stays part of the path, as upstream
        ("foo_bar.com/x", "", "foo_bar.com/x"),
    ],
)
def test_split_hostname(s, domain, path):
    ref = parse(s)
    assert (ref.domain, ref.path) == (domain, path)


def test_tag_and_digest_kept_by_parse():
    short = "busybox:latest@sha256:86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa"
    ref = parse(short)
    assert str(ref) == "docker.io/library/" + short
    assert ref.familiar() == short


@pytest.mark.parametrize(
    "s, expected",
    [
        ("busybox", "docker.io/library/busybox:latest"),
        ("busybox:latest", "docker.io/library/busybox:latest"),
        ("busybox@sha256:e6693c20186f837fc393390135d8a598a96a833917917789d63766cab6c59582",
         "docker.io/library/busybox@sha256:e6693c20186f837fc393390135d8a598a96a833917917789d63766cab6c59582"),
        ("library/busybox", "docker.io/library/busybox:latest"),
        ("docker.io/busybox", "docker.io/library/busybox:latest"),
        ("docker.io/library/busybox", "docker.io/library/busybox:latest"),
        ("docker.io/busybox:latest", "docker.io/library/busybox:latest"),
        ("library/busybox:latest", "docker.io/library/busybox:latest"),
        ("docker.io/library/busybox:latest", "docker.io/library/busybox:latest"),
        ("gcr.io/library/busybox", "gcr.io/library/busybox:latest"),
        ("gcr.io/library/busybox:latest@sha256:e6693c20186f837fc393390135d8a598a96a833917917789d63766cab6c59582",
         "gcr.io/library/busybox@sha256:e6693c20186f837fc393390135d8a598a96a833917917789d63766cab6c59582"),
        ("localhost:5000/x", "localhost:5000/x:latest"),
    ],
)
def test_parse_docker_ref(s, expected):
    ref = parse_docker_ref(s)
    assert str(ref) == expected
    assert parse(expected) == ref


# --- Reference methods ------------------------------------------------------------------

def test_with_tag_and_default_tag():
    ref = parse("busybox")
    assert ref.with_default_tag().familiar() == "busybox:latest"
    assert ref.with_tag("1.36").familiar() == "busybox:1.36"
    assert parse("busybox:1").with_default_tag().tag == "1"
    digested = parse("busybox@" + D)
    assert digested.with_default_tag() == digested  # a digest alone needs no tag
    assert digested.with_tag("v1").familiar() == "busybox:v1@" + D
    with pytest.raises(InvalidArgument, match="invalid tag format"):
        ref.with_tag("-foo")
    with pytest.raises(InvalidArgument, match="invalid tag format"):
        ref.with_tag("a" * 129)


def test_with_digest_and_name_only():
    ref = parse("localhost:5000/x:1")
    assert str(ref.with_digest(D)) == "localhost:5000/x:1@" + D
    assert str(ref.name_only()) == "localhost:5000/x"
    with pytest.raises(InvalidArgument, match="invalid digest format"):
        ref.with_digest("foo")
    with pytest.raises(InvalidArgument):
        ref.with_digest("sha256:abcd" * 10)


def test_reference_is_hashable_value():
    assert parse("busybox") == parse("docker.io/library/busybox")
    assert len({parse("busybox"), parse("index.docker.io/busybox")}) == 1
    assert isinstance(parse("busybox"), Reference)


@pytest.mark.parametrize(
    "s, expected",
    [
        (HEX_ID, True),
        ("sha256:" + HEX_ID, True),
        (HEX_ID[:-1], False),
        (HEX_ID.upper(), False),
        ("sha512:" + HEX_ID, False),
        ("busybox", False),
        (HEX_ID + "\n", False),
    ],
)
def test_is_id_like(s, expected):
    assert is_id_like(s) is expected
