"""`docker search`: the registry's `/v1/search` when it has one (Docker Hub does), otherwise
the distribution catalog (`/v2/_catalog`) filtered by the term. Registries offering neither get
a clear error."""

from __future__ import annotations

import json
from typing import Any

from wharfie.errors import NotFound
from wharfie.registry.session import Session, error_for


def run(session: Session, domain: str, term: str, limit: int) -> list[dict[str, Any]]:
    limit = limit or 25
    resp = session.request("GET", "/v1/search",
                           params={"q": term, "n": str(limit)})
    if resp.status_code == 200:
        try:
            results = json.loads(resp.content).get("results") or []  # at most session.MAX_BODY
            return [_hub_result(r) for r in results][:limit]
        except (ValueError, AttributeError):
            pass
    resp.close()
    resp = session.request("GET", "/v2/_catalog", params={"n": "1000"})
    if resp.status_code == 404:
        raise NotFound(f"the registry {domain} does not support search (no /v1/search and no /v2/_catalog)")
    if resp.status_code != 200:
        raise error_for(resp, f"search on {domain} failed")
    try:
        repos = json.loads(resp.content).get("repositories") or []
    except (ValueError, AttributeError):
        repos = []
    hits = [r for r in repos if isinstance(r, str) and term in r]
    prefix = "" if domain == "docker.io" else domain + "/"
    return [{"name": prefix + r, "description": "", "star_count": 0, "is_official": False,
             "is_automated": False} for r in hits[:limit]]


def _hub_result(r: dict[str, Any]) -> dict[str, Any]:
    return {"name": r.get("name", ""), "description": r.get("description", ""),
            "star_count": r.get("star_count", 0), "is_official": bool(r.get("is_official")),
            "is_automated": bool(r.get("is_automated"))}
