"""Image list filters: the filters argument, Go's path.Match, reference/label matching and
Docker timestamps (vectors from Go's path/match_test.go, distribution/reference's TestMatch
and moby's api/types/time tests)."""

import time

import pytest

from wharfie.errors import InvalidArgument
from wharfie.images.filters import (
    IMAGE_LIST_FILTERS,
    familiar_match,
    get_bool,
    go_path_match,
    label_match,
    parse_filters,
    parse_until,
    validate,
)
from wharfie.oci.reference import parse

# --- the filters argument ------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, expected",
    [
        (None, {}),
        ("", {}),
        ("{}", {}),
        ("null", {}),
        ('{"dangling":{"true":true}}', {"dangling": ["true"]}),
        ('{"reference":{"busybox":true,"alpine:*":true},"label":{"a=b":true}}',
         {"reference": ["busybox", "alpine:*"], "label": ["a=b"]}),
        ('{"dangling":["true"]}', {"dangling": ["true"]}),  # legacy (API < 1.22)
        ('{"reference":["a","b","a"]}', {"reference": ["a", "b"]}),
        ('{"label":null}', {"label": []}),
        ('{"label":{}}', {"label": []}),
    ],
)
def test_parse_filters(raw, expected):
    assert parse_filters(raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["{", "[]", '"x"', "1", '{"a":"b"}', '{"a":{"b":"c"}}', '{"a":[1]}',
     '{"a":{"x":true},"b":["y"]}', "[" * 100_000],
)
def test_parse_filters_malformed(raw):
    with pytest.raises(InvalidArgument, match="^invalid filter$"):
        parse_filters(raw)


def test_validate():
    validate({"dangling": ["true"], "until": ["1h"]}, IMAGE_LIST_FILTERS)
    validate({}, set())
    with pytest.raises(InvalidArgument) as exc:
        validate({"label": [], "bogus": ["x"]}, IMAGE_LIST_FILTERS)
    assert str(exc.value) == "invalid filter 'bogus'"


def test_get_bool():
    assert get_bool({}, "dangling") is False
    assert get_bool({}, "dangling", True) is True
    assert get_bool({"dangling": ["true"]}, "dangling") is True
    assert get_bool({"dangling": ["1"]}, "dangling") is True
    assert get_bool({"dangling": ["false"]}, "dangling", True) is False
    assert get_bool({"dangling": ["0", "false"]}, "dangling", True) is False
    with pytest.raises(InvalidArgument, match=r"^invalid filter 'dangling=\[maybe\]'$"):
        get_bool({"dangling": ["maybe"]}, "dangling")
    with pytest.raises(InvalidArgument, match=r"^invalid filter 'dangling=\[true false\]'$"):
        get_bool({"dangling": ["true", "false"]}, "dangling")
    with pytest.raises(InvalidArgument, match="^invalid filter 'dangling'$"):
        get_bool({"dangling": []}, "dangling")


# --- Go's path.Match -------------------------------------------------------------------------

BAD = "bad"
GO_MATCH_TESTS = [
    ("abc", "abc", True), ("*", "abc", True), ("*c", "abc", True), ("a*", "a", True),
    ("a*", "abc", True), ("a*", "ab/c", False), ("a*/b", "abc/b", True),
    ("a*/b", "a/c/b", False), ("a*b*c*d*e*/f", "axbxcxdxe/f", True),
    ("a*b*c*d*e*/f", "axbxcxdxexxx/f", True), ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", False),
    ("a*b*c*d*e*/f", "axbxcxdxexxx/fff", False), ("a*b?c*x", "abxbbxdbxebxczzx", True),
    ("a*b?c*x", "abxbbxdbxebxczzy", False), ("ab[c]", "abc", True), ("ab[b-d]", "abc", True),
    ("ab[e-g]", "abc", False), ("ab[^c]", "abc", False), ("ab[^b-d]", "abc", False),
    ("ab[^e-g]", "abc", True), ("a\\*b", "a*b", True), ("a\\*b", "ab", False),
    ("a?b", "a☺b", True), ("a[^a]b", "a☺b", True), ("a???b", "a☺b", False),
    ("a[^a][^a][^a]b", "a☺b", False), ("[a-ζ]*", "α", True), ("*[a-ζ]", "A", False),
    ("a?b", "a/b", False), ("a*b", "a/b", False), ("[\\]a]", "]", True), ("[\\-]", "-", True),
    ("[x\\-]", "x", True), ("[x\\-]", "-", True), ("[x\\-]", "z", False),
    ("[\\-x]", "x", True), ("[\\-x]", "-", True), ("[\\-x]", "a", False),
    ("[]a]", "]", BAD), ("[-]", "-", BAD), ("[x-]", "x", BAD), ("[x-]", "-", BAD),
    ("[x-]", "z", BAD), ("[-x]", "x", BAD), ("[-x]", "-", BAD), ("[-x]", "a", BAD),
    ("\\", "a", BAD), ("[a-b-c]", "a", BAD), ("[", "a", BAD), ("[^", "a", BAD),
    ("[^bc", "a", BAD), ("a[", "a", BAD), ("a[", "ab", BAD), ("a[", "x", BAD),
    ("a/b[", "x", BAD), ("*x", "xxx", True),
    # and a few more
    ("", "", True), ("", "a", False), ("*", "", True), ("a/*", "a/", True),
    ("x*", "abc[", False), ("a*[", "abc", BAD),
]


@pytest.mark.parametrize("pattern, name, expected", GO_MATCH_TESTS)
def test_go_path_match(pattern, name, expected):
    if expected is BAD:
        with pytest.raises(InvalidArgument, match="syntax error in pattern"):
            go_path_match(pattern, name)
    else:
        assert go_path_match(pattern, name) is expected


# --- reference filter ------------------------------------------------------------------------

@pytest.mark.parametrize(
    "ref, pattern, expected",
    [
        # distribution/reference TestMatch
        ("foo", "foo/**/ba[rz]", False),
        ("foo/any/bat", "foo/**/ba[rz]", False),
        ("foo/a/bar", "foo/**/ba[rz]", True),
        ("foo/b/baz", "foo/**/ba[rz]", True),
        ("foo/c/baz:tag", "foo/**/ba[rz]", True),
        ("foo/c/baz:tag", "foo/*/baz:tag", True),
        ("foo/c/baz:tag", "foo/c/baz:tag", True),
        ("example.com/foo/c/baz:tag", "*/foo/c/baz", True),
        ("example.com/foo/c/baz:tag", "example.com/foo/c/baz", True),
        # how `docker images --filter reference=…` reads
        ("busybox:latest", "busybox", True),
        ("busybox:latest", "busybox:latest", True),
        ("busybox:latest", "busybox:*", True),
        ("busybox:latest", "busybox:1*", False),
        ("busybox:latest", "busy*", True),
        ("busybox:latest", "docker.io/library/busybox", False),
        ("busybox:latest", "library/busybox", False),
        ("user/app:v1", "*", False),
        ("user/app:v1", "*/*", True),
        ("user/app:v1", "user/*:v?", True),
        ("localhost:5000/x:1", "localhost:5000/x", True),
        ("localhost:5000/x:1", "localhost:5000/*:1", True),
        ("busybox@sha256:" + "a" * 64, "busybox", True),
        ("busybox@sha256:" + "a" * 64, "busybox@sha256:*", True),
    ],
)
def test_familiar_match(ref, pattern, expected):
    assert familiar_match(pattern, parse(ref)) is expected


def test_familiar_match_bad_pattern():
    with pytest.raises(InvalidArgument, match="syntax error in pattern"):
        familiar_match("[-x]", parse("foo"))


# --- label filter ----------------------------------------------------------------------------

LABELS = {"a": "1", "b": "", "c": "x=y"}


@pytest.mark.parametrize(
    "spec, expected",
    [
        ("a", True), ("z", False), ("a=1", True), ("a=2", False), ("b", True), ("b=", True),
        ("a=", False), ("c=x=y", True), ("c=x", False), ("z=1", False),
        ("a!=2", True), ("a!=1", False), ("z!=1", True), ("b!=", False), ("c!=x=y", False),
    ],
)
def test_label_match(spec, expected):
    assert label_match(LABELS, spec) is expected


# --- until -----------------------------------------------------------------------------------

@pytest.fixture
def utc(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


NOW = 1_700_000_000.25


@pytest.mark.parametrize(
    "value, expected",
    [
        # moby api/types/time TestGetTimestamp (daemon in UTC)
        ("2006-01-02T15:04:05.999999999+07:00", 1136189045.999999999),
        ("2006-01-02T15:04:05.999999999Z", 1136214245.999999999),
        ("2006-01-02T15:04:05.999999999", 1136214245.999999999),
        ("2006-01-02T15:04:05Z", 1136214245), ("2006-01-02T15:04:05", 1136214245),
        ("2006-01-02T15:04Z", 1136214240), ("2006-01-02T15:04+00:00", 1136214240),
        ("2006-01-02T15:04-00:00", 1136214240), ("2006-01-02T15:04", 1136214240),
        ("2006-01-02T15Z", 1136214000), ("2006-01-02T15+00:00", 1136214000),
        ("2006-01-02T15-00:00", 1136214000), ("2006-01-02T15", 1136214000),
        ("2006-01-02T1Z", 1136163600), ("2006-01-02T1", 1136163600),
        ("2006-01-02+00:00", 1136160000), ("2006-01-02-00:00", 1136160000),
        ("2006-01-02-00:01", 1136160060), ("2006-01-02Z", 1136160000),
        ("2006-01-02", 1136160000), ("2015-05-13T20:39:09Z", 1431549549),
        ("2015-05-13T20:39:09.5Z", 1431549549.5), ("2015-05-13T20:39:09,5Z", 1431549549.5),
        ("1136073600", 1136073600), ("1136073600.000000001", 1136073600.000000001),
        ("1136073600.5", 1136073600.5), ("0", 0),
        # Go durations, subtracted from now and truncated to whole seconds
        ("1m", 1_700_000_000 - 60), ("1.5h", 1_700_000_000 - 5400),
        ("1h30m", 1_700_000_000 - 5400), ("10m", 1_700_000_000 - 600),
        ("90s", 1_700_000_000 - 90), ("500ms", 1_699_999_999), ("-1h", 1_700_003_600),
        ("1h0m0.5s", 1_699_996_399), (".5m", 1_700_000_000 - 30), ("1µs", 1_700_000_000),
    ],
)
def test_parse_until(utc, value, expected):
    assert parse_until(value, NOW) == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize(
    "value",
    ["2006-01-02T15:04:0Z", "2006-01-02T15:04:0", "2006-01-02T15:0Z", "2006-01-02T15:0",
     "2006-01-02TZ", "2006-01-02T", "invalid", "", "2006-13-02", "2006-02-30",
     "2006-01-02T24:00:00Z", "2006-01-02T15:04:05z", "1h 30m", "10x", "1.", "-5",
     "99999999999999999999"],
)
def test_parse_until_errors(utc, value):
    with pytest.raises(InvalidArgument):
        parse_until(value, NOW)


def test_parse_until_local_zone(monkeypatch):
    monkeypatch.setenv("TZ", "EST+5")  # a fixed UTC-5 zone
    time.tzset()
    try:
        assert parse_until("2006-01-02", NOW) == 1136160000 + 5 * 3600
        assert parse_until("2006-01-02T15:04:05", NOW) == 1136214245 + 5 * 3600
        assert parse_until("2006-01-02T15:04:05Z", NOW) == 1136214245
        assert parse_until("1136073600", NOW) == 1136073600
    finally:
        monkeypatch.undo()
        time.tzset()
