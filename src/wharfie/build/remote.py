"""ADD <url>: download into a scratch file the step then copies like a context file.

Like Docker: the file is never unpacked, gets mode 0600 (its time is normalised like every
COPY/ADD file, for reproducible layers), and is named after the URL's last path segment when the destination is a directory. The step's
cache key covers the downloaded bytes, so an unchanged remote file hits the cache.
`--checksum=sha256:…` is verified before anything is copied.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import posixpath
import tempfile
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path

from wharfie.errors import InvalidArgument, WharfieError

MAX_DOWNLOAD = 8 << 30
TIMEOUT = 60


def is_url(src: str) -> bool:
    return src.startswith(("http://", "https://"))


def filename(url: str) -> str:
    name = posixpath.basename(urllib.parse.urlsplit(url).path)
    if not name or name in (".", ".."):
        raise InvalidArgument(f"cannot determine filename from url: {url}")
    return name


@contextlib.contextmanager
def downloads(urls: list[str], checksum: str, tmp: Path, say: Callable[[str], None]) -> Iterator[list[tuple[str, str]]]:
    """(host path, name) for each URL, downloaded into a scratch dir removed afterwards."""
    if not urls:
        yield []
        return
    if checksum and len(urls) != 1:
        raise InvalidArgument("checksum can't be specified for multiple sources")
    with tempfile.TemporaryDirectory(dir=tmp, prefix="add-url-") as d:
        out = []
        for i, url in enumerate(urls):
            name = filename(url)
            say(f"Downloading {url}\n")
            path = os.path.join(d, str(i), name)
            os.mkdir(os.path.dirname(path))
            fetch(url, path, checksum)
            out.append((path, name))
        yield out


def fetch(url: str, path: str, checksum: str = "") -> None:
    import urllib.error
    import urllib.request

    req = urllib.request.Request(url, headers={"User-Agent": "wharfie-builder"})
    h = hashlib.sha256()
    size = 0
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT) as resp, \
                open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
            while chunk := resp.read(1 << 20):
                size += len(chunk)
                if size > MAX_DOWNLOAD:
                    raise WharfieError(f"ADD {url}: the download exceeds {MAX_DOWNLOAD >> 30} GiB")
                h.update(chunk)
                out.write(chunk)
    except urllib.error.HTTPError as e:  # Docker's wording
        raise WharfieError(f"failed to GET {url} with status {e.code} {_status_text(e.code)}") from None
    except OSError as e:  # URLError is an OSError
        raise WharfieError(f"failed to download {url}: {getattr(e, 'reason', None) or e}") from None
    if checksum and checksum != "sha256:" + h.hexdigest():
        raise WharfieError(f"digest mismatch for {url}: expected {checksum}, got sha256:{h.hexdigest()}")


def _status_text(code: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return ""
