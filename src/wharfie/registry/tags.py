"""`GET /v2/<name>/tags/list`, with `Link: <…>; rel="next"` pagination (at most 100 pages)."""

from __future__ import annotations

import json

from wharfie.errors import NotFound, Unauthorized
from wharfie.oci.reference import Reference
from wharfie.registry.session import Session, error_for

MAX_PAGES = 100


def list_tags(session: Session, ref: Reference) -> list[str]:
    out: list[str] = []
    url = session.url(f"/v2/{ref.path}/tags/list?n=1000")
    for _ in range(MAX_PAGES):
        resp = session.request("GET", url)
        if resp.status_code in (401, 403, 404):
            err = error_for(resp)
            raise NotFound(f"pull access denied for {ref.familiar_name}, repository does not exist or may "
                           f"require 'docker login': {err}") if isinstance(err, (NotFound, Unauthorized)) else err
        if resp.status_code != 200:
            raise error_for(resp, f"failed to list the tags of {ref.familiar_name}")
        try:
            page = json.loads(resp.content).get("tags") or []  # at most session.MAX_BODY
        except (ValueError, AttributeError):
            page = []
        out += [t for t in page if isinstance(t, str)]
        link = resp.headers.get("link", "")
        if 'rel="next"' not in link:
            break
        url = session.resolve(link.split(";")[0].strip().strip("<>"), url)
    return sorted(set(out))
