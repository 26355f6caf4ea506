"""Pure output logic of the CLI: units, durations, tables, image and history rows."""

from __future__ import annotations

import time

import pytest

from wharfie.cli import formatter
from wharfie.cli.commands.history import HEADER as HISTORY_HEADER
from wharfie.cli.commands.history import history_row
from wharfie.cli.commands.images import HEADER, image_format, image_rows
from wharfie.cli.tabwriter import tabwrite


@pytest.mark.parametrize(
    "size, expected",
    [(0, "0B"), (6, "6B"), (999, "999B"), (1000, "1kB"), (1240, "1.24kB"),
     (4270000, "4.27MB"), (1982297, "1.98MB"), (999_500, "1e+03kB"),
     (1_500_000_000, "1.5GB")],
)
def test_human_size_with_precision_3(size: int, expected: str) -> None:
    assert formatter.human_size_with_precision(size, 3) == expected


def test_human_size_and_bytes_size() -> None:
    assert formatter.human_size(1982297) == "1.982MB"
    assert formatter.human_size(0) == "0B"
    assert formatter.bytes_size(25276502016) == "23.54GiB"
    assert formatter.bytes_size(1024) == "1KiB"


@pytest.mark.parametrize(
    "seconds, expected",
    [(0.5, "Less than a second"), (1, "1 second"), (59, "59 seconds"),
     (60, "About a minute"), (119, "About a minute"), (120, "2 minutes"),
     (3599, "59 minutes"), (3600, "About an hour"), (5399, "About an hour"),
     (5400, "2 hours"), (47 * 3600, "47 hours"), (48 * 3600, "2 days"),
     (13 * 86400, "13 days"), (14 * 86400, "2 weeks"), (59 * 86400, "8 weeks"),
     (60 * 86400, "2 months"), (729 * 86400, "24 months"), (730 * 86400, "2 years")],
)
def test_human_duration(seconds: float, expected: str) -> None:
    assert formatter.human_duration(seconds) == expected


def test_truncate_id_and_ellipsis() -> None:
    assert formatter.truncate_id("sha256:" + "a" * 64) == "a" * 12
    assert formatter.truncate_id("<missing>") == "<missing>"
    text = '/bin/sh -c echo hello > /hello && echo "a really long command"'
    assert formatter.ellipsis(text, 45) == '/bin/sh -c echo hello > /hello && echo "a re…'
    assert formatter.ellipsis("short", 45) == "short"
    assert formatter.ellipsis("你好世界", 5) == "你好…"


def test_tabwriter_docker_layout() -> None:
    text = (
        "REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE\n"
        "localhost:5000/foo/bar\t1.0\ta8a79a22d31c\t1 second ago\t1.98MB\n"
        "<none>\t<none>\t16e9330162fe\tLess than a second ago\t1MB\n"
    )
    assert tabwrite(text) == (
        "REPOSITORY               TAG       IMAGE ID       CREATED                  SIZE\n"
        "localhost:5000/foo/bar   1.0       a8a79a22d31c   1 second ago             1.98MB\n"
        "<none>                   <none>    16e9330162fe   Less than a second ago   1MB\n"
    )


def test_tabwriter_blocks_and_trailing_cells() -> None:
    # a line without tabs ends a column block; trailing empty cells are padded
    assert tabwrite("a\tb\nlonger\tc\nno tabs here\nx\ty\n") == (
        "a         b\nlonger    c\nno tabs here\nx         y\n"
    )
    assert tabwrite("A\tB\t\nx\t\t\n") == "A         B         \nx                   \n"
    assert tabwrite(" Version:\t1\n API version:\t2\n", minwidth=20, padding=1) == (
        " Version:           1\n API version:       2\n"
    )


def _summary(**kw: object) -> dict[str, object]:
    base: dict[str, object] = {
        "Id": "sha256:" + "1" * 64, "RepoTags": [], "RepoDigests": [],
        "Created": int(time.time()) - 7200, "Size": 1982297, "SharedSize": -1,
        "Containers": -1,
    }
    base.update(kw)
    return base


def test_image_rows_default_table() -> None:
    images = [
        _summary(RepoTags=["busybox:latest", "busybox:x", "localhost:5000/foo/bar:1.0"]),
        _summary(Id="sha256:" + "2" * 64),
        _summary(Id="sha256:" + "3" * 64, RepoTags=["<none>:<none>"],
                 RepoDigests=["<none>@<none>"]),
    ]
    fmt = image_format("table", quiet=False, digest=False)
    out = formatter.render(fmt, image_rows(images, True, False, False), HEADER)
    assert out == (
        "REPOSITORY               TAG       IMAGE ID       CREATED       SIZE\n"
        "busybox                  latest    111111111111   2 hours ago   1.98MB\n"
        "busybox                  x         111111111111   2 hours ago   1.98MB\n"
        "localhost:5000/foo/bar   1.0       111111111111   2 hours ago   1.98MB\n"
        "<none>                   <none>    222222222222   2 hours ago   1.98MB\n"
        "<none>                   <none>    333333333333   2 hours ago   1.98MB\n"
    )


def test_image_rows_digests_and_quiet() -> None:
    digest = "sha256:" + "d" * 64
    images = [
        _summary(RepoTags=["docker.io/library/alpine:3"],
                 RepoDigests=[f"alpine@{digest}", f"other/repo@{digest}"]),
    ]
    rows = image_rows(images, True, True, True)
    out = formatter.render(image_format("table", False, True), rows, HEADER)
    lines = out.splitlines()
    assert lines[0].split() == ["REPOSITORY", "TAG", "DIGEST", "IMAGE", "ID", "CREATED", "SIZE"]
    assert lines[1].split()[:3] == ["alpine", "3", digest]
    assert lines[2].split()[:3] == ["other/repo", "<none>", digest]
    # without --digests a digest-only repo shows one row with an empty digest
    rows = image_rows(images, True, False, False)
    assert [(r.get_field("Repository"), r.get_field("Tag")) for r in rows] == [
        ("alpine", "3"), ("other/repo", "<none>")]
    quiet = formatter.render(image_format("table", True, False), rows, HEADER)
    assert quiet == "111111111111\n111111111111\n"


def test_image_json_format_matches_docker() -> None:
    images = [_summary(Created=0, Size=1240)]
    out = formatter.render("json", image_rows(images, True, False, False), HEADER)
    assert out == (
        f'{{"Containers":"N/A","CreatedAt":"{formatter.go_time_string(0)}","CreatedSince":"{formatter.since(0)}",'
        '"Digest":"\\u003cnone\\u003e","ID":"111111111111","Repository":"\\u003cnone\\u003e",'
        '"SharedSize":"N/A","Size":"1.24kB","Tag":"\\u003cnone\\u003e","UniqueSize":"N/A",'
        '"VirtualSize":"1.24kB"}\n'
    )


def test_custom_formats_and_errors() -> None:
    rows = image_rows([_summary(RepoTags=["a:1"])], False, False, False)
    assert formatter.render("{{.Repository}}:{{.Tag}}", rows, HEADER) == "a:1\n"
    assert formatter.render("table {{.Repository}}\\t{{.ID}}", rows, HEADER).splitlines()[0] \
        == "REPOSITORY   IMAGE ID"
    assert formatter.render("{{.ID}}", rows, HEADER) == "sha256:" + "1" * 64 + "\n"
    assert formatter.render("table", [], HEADER) == "\n"
    assert formatter.render("{{.ID}}", [], HEADER) == ""
    with pytest.raises(formatter.CLIError) as exc:
        formatter.render("{{.Foo}}", rows, HEADER)
    assert str(exc.value) == (
        'template parsing error: template: :1:2: executing "" at <.Foo>: '
        "can't evaluate field Foo in type *formatter.imageContext"
    )
    with pytest.raises(formatter.CLIError) as exc:
        formatter.render("{{.ID", rows, HEADER)
    assert str(exc.value) == "template parsing error: template: :1: unclosed action"


def test_digest_column_appended_to_custom_table() -> None:
    assert image_format("table {{.ID}}", False, True) == "table {{.ID}}\t{{.Digest}}"
    assert image_format("{{.ID}}", False, True) == "{{.ID}}"
    assert image_format("raw", True, False) == "image_id: {{.ID}}"


def test_history_rows() -> None:
    now = int(time.time())
    items = [
        {"Id": "sha256:" + "5" * 64, "Created": now - 600,
         "CreatedBy": '/bin/sh -c #(nop)  CMD ["sh"]', "Size": 0, "Comment": ""},
        {"Id": "<missing>", "Created": now - 600,
         "CreatedBy": "/bin/sh -c\techo hello > /hello && echo \"a really long command\"",
         "Size": 6, "Comment": "imported"},
        {"Id": "<missing>", "Created": 0, "CreatedBy": "", "Size": 1982291, "Comment": ""},
    ]
    rows = [history_row(h, True, True) for h in items]
    out = formatter.render(
        "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}",
        rows, HISTORY_HEADER,
    )
    assert out.splitlines() == [
        "IMAGE          CREATED          CREATED BY                                      SIZE      COMMENT",
        '555555555555   10 minutes ago   /bin/sh -c #(nop)  CMD ["sh"]                   0B        ',
        '<missing>      10 minutes ago   /bin/sh -c echo hello > /hello && echo "a re…   6B        imported',
        "<missing>      N/A                                                              1.98MB    ",
    ]
    raw = history_row(items[2], False, False)
    assert raw.get_field("Size") == "1982291"
    assert raw.get_field("CreatedSince") == formatter.rfc3339(0)
