"""The registry service: what the daemon (API routes, the builder) calls to reach registries.

    pull(name, platform, auth, emit)   → image ID      (prepare_pull + run_pull for the API)
    push(push_targets(name, tag), auth, emit) → [(tag, digest, size)]
    list_tags(name, auth)              → tags          (pull --all-tags)
    login(auth)                        → ("Login Succeeded", identity token)
    search(term, limit, auth)          → results
    distribution_inspect(name, auth)   → {Descriptor, Platforms}

Every method blocks (HTTP, hashing, extraction): call it from a worker thread, never on the
event loop. Transports (one HTTP client per endpoint) and bearer tokens are shared across calls.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from wharfie.errors import InvalidArgument, NotFound, WharfieError
from wharfie.events import EventBus
from wharfie.images.service import ImageService
from wharfie.oci import reference
from wharfie.oci.reference import Reference
from wharfie.registry import distribution, login, search, tags
from wharfie.registry import pull as pl
from wharfie.registry import push as ps
from wharfie.registry.authconfig import AuthConfig
from wharfie.registry.blobsources import BlobSources
from wharfie.registry.endpoints import Endpoint, RegistryConfig
from wharfie.registry.progress import Emit, Progress
from wharfie.registry.session import Session, TokenCache, Transport

log = logging.getLogger("wharfie.registry")
HUB_SEARCH = "index.docker.io"  # Docker Hub's search lives on the index, not on registry-1


class RegistryService:
    def __init__(self, images: ImageService, events: EventBus, config: RegistryConfig) -> None:
        self.images, self.events, self.config = images, events, config
        self.sources = BlobSources(images.db)
        self.tokens = TokenCache()
        self._transports: dict[Endpoint, Transport] = {}
        self._lock = threading.Lock()

    # -- plumbing ------------------------------------------------------------------------
    def transport(self, endpoint: Endpoint) -> Transport:
        with self._lock:
            t = self._transports.get(endpoint)
            if t is None:
                t = self._transports[endpoint] = Transport(endpoint)
            return t

    def session(self, endpoint: Endpoint, repo: str, auth: AuthConfig, actions: str,
                extra_scopes: tuple[str, ...] = ()) -> Session:
        scopes = [f"repository:{repo}:{actions}", *extra_scopes]
        return Session(self.transport(endpoint), auth, self.tokens, scopes)

    def close(self) -> None:
        with self._lock:
            for t in self._transports.values():
                t.close()
            self._transports.clear()

    # -- pull ----------------------------------------------------------------------------
    def prepare_pull(self, name: str, platform: str = "", auth: AuthConfig | None = None) -> pl.PullPlan:
        """Resolve `name` to a manifest and config (errors here come before any progress)."""
        ref = reference.parse_docker_ref(name)
        auth = auth or AuthConfig()
        errors: list[WharfieError] = []
        endpoints = self.config.endpoints(ref.domain)
        for ep in endpoints:
            try:
                return pl.resolve(self.session(ep, ref.path, auth, "pull"), ref, ref.domain, platform)
            except WharfieError as e:
                if not ep.mirror:
                    raise
                log.warning("mirror %s failed for %s: %s; trying the next endpoint", ep.host, ref, e)
                errors.append(e)
        raise errors[-1] if errors else NotFound(f"no endpoint for {ref.domain}")

    def run_pull(self, plan: pl.PullPlan, emit: Emit | None = None) -> pl.PullResult:
        return pl.run(plan, self.images, self.sources, emit)

    def pull(self, name: str, platform: str = "", auth: AuthConfig | None = None,
             emit: Emit | None = None) -> str:
        """Pull `name` (tag or digest; "latest" by default) and return the image ID."""
        return self.run_pull(self.prepare_pull(name, platform, auth), emit).image_id

    def list_tags(self, name: str, auth: AuthConfig | None = None) -> list[str]:
        """Every tag of a repository (`docker pull --all-tags`), following `Link` pagination."""
        ref = reference.parse(name)
        ep = self._push_endpoint(ref)
        session = self.session(ep, ref.path, auth or AuthConfig(), "pull")
        return tags.list_tags(session, ref)

    # -- push ----------------------------------------------------------------------------
    def push_targets(self, name: str, tag: str) -> list[ps.PushTarget]:
        """What `docker push name[:tag]` pushes: one tag, or every tag of the repository."""
        ref = reference.parse(name)
        if ref.digest:
            raise InvalidArgument("cannot push a digest reference")
        if tag:
            ref = ref.with_tag(tag)
        if ref.tag:
            image_id = self.images.db.resolve_ref(str(ref))
            if image_id is None:
                raise NotFound(f"An image does not exist locally with the tag: {ref.familiar_name}")
            return [ps.PushTarget(ref, self.images.image(image_id), ref.domain)]
        targets = []
        for image_id, refs in self.images.db.all_refs().items():
            for r, is_digest in refs:
                parsed = reference.parse(r)
                if not is_digest and parsed.name == ref.name:
                    targets.append(ps.PushTarget(parsed, self.images.image(image_id), ref.domain))
        if not targets:
            raise NotFound(f"An image does not exist locally with the tag: {ref.familiar_name}")
        return sorted(targets, key=lambda t: t.ref.tag or "")

    def push(self, targets: list[ps.PushTarget], auth: AuthConfig | None = None,
             emit: Emit | None = None) -> list[tuple[str, str, int]]:
        auth = auth or AuthConfig()
        first = targets[0].ref
        Progress(emit).say(f"The push refers to repository [{first.name_only()}]")
        ep = self._push_endpoint(first)
        out = []
        for t in targets:
            session = self.session(ep, t.ref.path, auth, "pull,push")

            def mounting(source: str, t: ps.PushTarget = t) -> Session:
                return self.session(ep, t.ref.path, auth, "pull,push", (f"repository:{source}:pull",))

            digest, size = ps.run(self.images, self.sources, t, session, mounting, emit)
            out.append((t.ref.tag or "latest", digest, size))
        return out

    def _push_endpoint(self, ref: Reference) -> Endpoint:
        return [e for e in self.config.endpoints(ref.domain) if not e.mirror][0]

    # -- login / search / distribution ---------------------------------------------------
    def login(self, auth: AuthConfig) -> tuple[str, str]:
        """Check credentials against the registry named by `auth.server_address`: the status
        and, from OAuth2 token servers, an identity (refresh) token for later logins."""
        domain = registry_domain(auth.server_address)
        return login.check(self._push_endpoint(Reference(domain, "x")), auth)

    def search(self, term: str, limit: int, auth: AuthConfig | None = None) -> list[dict[str, Any]]:
        """`docker search [REGISTRY/]TERM`."""
        first, _, rest = term.partition("/")
        domain, query = (first, rest) if rest and _looks_like_host(first) else (reference.DEFAULT_DOMAIN, term)
        ep = (Endpoint(HUB_SEARCH, ("https",), verify_tls=True) if domain == reference.DEFAULT_DOMAIN
              else self._push_endpoint(Reference(domain, "x")))
        session = Session(self.transport(ep), auth or AuthConfig(), self.tokens, ["registry:catalog:*"])
        return search.run(session, domain, query, limit)

    def distribution_inspect(self, name: str, auth: AuthConfig | None = None) -> dict[str, Any]:
        ref = reference.parse_docker_ref(name)
        ep = self.config.endpoints(ref.domain)[-1]
        return distribution.inspect(self.session(ep, ref.path, auth or AuthConfig(), "pull"), ref)


def _looks_like_host(first: str) -> bool:
    return "." in first or ":" in first or first == "localhost"


def registry_domain(server_address: str) -> str:
    """"https://index.docker.io/v1/", "localhost:5000", "http://r.example/" → reference domain."""
    addr = server_address.strip() or reference.DEFAULT_DOMAIN
    addr = addr.split("://", 1)[-1].split("/", 1)[0]
    if addr in ("index.docker.io", "registry-1.docker.io", "registry.hub.docker.com", ""):
        return reference.DEFAULT_DOMAIN
    return addr
