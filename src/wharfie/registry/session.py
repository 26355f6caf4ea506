"""HTTP to one registry: endpoint discovery (`GET /v2/`), auth, retries.

    Transport (one per endpoint, shared, thread-safe)
        ping()  → base URL (https, else http when allowed) + the auth challenge, cached
    Session (one repository, one set of credentials, one set of scopes)
        request() → response; sends the Authorization the challenge asks for:
                    Basic from the credentials, or a Bearer token from the realm (cached until
                    it expires). A 401 with a token triggers exactly one fresh token; a second
                    401 is an error (no loops).

Idempotent requests are retried with backoff on connection errors, 429 and 5xx.
Credentials go only to the registry's own origin (scheme, host, port): an upload location or a
pagination link elsewhere is fetched without them, and only the registry's own 401s can change
the auth challenge. Bodies are asked for without content coding and read with a bound
(`read_limited`): a hostile registry cannot make the client buffer without end.
Callers run in worker threads; nothing here touches the event loop.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

import httpx

from wharfie.errors import Forbidden, NotFound, Unauthorized, Unavailable, WharfieError
from wharfie.registry import challenge as ch
from wharfie.registry.authconfig import AuthConfig
from wharfie.registry.endpoints import Endpoint

log = logging.getLogger("wharfie.registry")
# httpx logs every request at INFO and httpcore every socket event at DEBUG: keep the
# daemon's log about the daemon.
logging.getLogger("httpx").setLevel(logging.WARNING)
logging.getLogger("httpcore").setLevel(logging.WARNING)

RETRIES = 3
BACKOFF = 0.25
MAX_ERROR_BODY = 64 << 10
MAX_TOKEN_BODY = 1 << 20
MAX_BODY = 1 << 20  # a non-streamed response (JSON: tags, catalog, search; upload replies)
TIMEOUT = httpx.Timeout(30.0, read=120.0)


class RegistryUnreachable(Unavailable):
    """No scheme of an endpoint answered `GET /v2/`."""


def registry_message(resp: httpx.Response) -> str:
    """Distribution's error body as Docker prints it: "manifest unknown: manifest unknown"."""
    try:
        body = read_limited(resp, MAX_ERROR_BODY)
        errors = json.loads(body).get("errors") or []
        parts = []
        for e in errors:
            code = str(e.get("code") or "unknown").lower().replace("_", " ")
            parts.append(f"{code}: {e.get('message') or ''}".rstrip(": "))
        if parts:
            return "; ".join(parts)
        if isinstance(json.loads(body).get("details"), str):
            return str(json.loads(body)["details"])
    except (ValueError, AttributeError, TypeError, httpx.HTTPError):
        pass
    return f"unexpected status from {resp.request.method} request to {resp.request.url}: {_status_line(resp)}"


def read_limited(resp: httpx.Response, limit: int) -> bytes:
    """At most `limit` bytes of the body as sent (registry requests ask for no content coding,
    so nothing is inflated), then the response is closed; the rest is never read."""
    try:
        return resp.content[:limit]  # already read
    except httpx.ResponseNotRead:
        pass
    body = bytearray()
    try:
        for chunk in resp.iter_raw(1 << 16):
            body += chunk
            if len(body) >= limit:
                break
    finally:
        resp.close()
    return bytes(body[:limit])


def content_length(resp: httpx.Response) -> int | None:
    """The Content-Length header (None when absent); a malformed one is the registry's error."""
    value = resp.headers.get("content-length")
    if value is None:
        return None
    value = value.strip()
    if not value.isascii() or not value.isdigit():
        raise WharfieError(f"invalid Content-Length {value[:40]!r} from the registry at {resp.request.url}")
    return int(value)


def origin(url: str | httpx.URL) -> tuple[str, str, int | None]:
    """(scheme, host, port) with the scheme's default port filled in."""
    u = httpx.URL(url)
    return u.scheme, u.host, u.port or {"http": 80, "https": 443}.get(u.scheme)


def _status_line(resp: httpx.Response) -> str:
    return f"{resp.status_code} {resp.reason_phrase}".strip()


def error_for(resp: httpx.Response, prefix: str = "") -> WharfieError:
    """Map a failed registry response to the engine's error vocabulary."""
    text = (prefix + ": " if prefix else "") + registry_message(resp)
    if resp.status_code == 401:
        return Unauthorized(text)
    if resp.status_code == 403:
        return Forbidden(text)
    if resp.status_code == 404:
        return NotFound(text)
    if resp.status_code in (429,) or resp.status_code >= 500:
        return Unavailable(text)
    return WharfieError(text)


@dataclass(frozen=True)
class Ping:
    base: str
    challenge: ch.Challenge | None


class TokenCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[tuple[str, ...], tuple[str, float]] = {}

    def get(self, key: tuple[str, ...]) -> str | None:
        with self._lock:
            hit = self._tokens.get(key)
            return hit[0] if hit and hit[1] > time.monotonic() else None

    def put(self, key: tuple[str, ...], token: str, ttl: float) -> None:
        with self._lock:
            self._tokens[key] = (token, time.monotonic() + max(ttl - 10, 5))

    def drop(self, key: tuple[str, ...]) -> None:
        with self._lock:
            self._tokens.pop(key, None)


class Transport:
    """The HTTP client for one endpoint and what its `/v2/` said."""

    def __init__(self, endpoint: Endpoint, http: httpx.BaseTransport | None = None) -> None:
        self.endpoint = endpoint
        # identity: bodies are read as sent (digests, `iter_raw`, bounded reads); `http` is for tests
        self.client = httpx.Client(verify=endpoint.verify_tls, timeout=TIMEOUT, follow_redirects=True,
                                   limits=httpx.Limits(max_connections=32, max_keepalive_connections=16),
                                   headers={"User-Agent": "wharfie/0.1 (docker-compatible)",
                                            "Accept-Encoding": "identity"}, transport=http)
        self._ping: Ping | None = None
        self._lock = threading.Lock()

    def ping(self) -> Ping:
        with self._lock:
            if self._ping is None:
                self._ping = self._discover()
            return self._ping

    def _discover(self) -> Ping:
        errors = []
        for i, scheme in enumerate(self.endpoint.schemes):
            base = f"{scheme}://{self.endpoint.host}{self.endpoint.path}"
            url = base + "/v2/"
            last = i == len(self.endpoint.schemes) - 1  # a fallback follows: fail fast
            try:
                resp = _with_retries(lambda u=url: open_stream(self.client, "GET", u), idempotent=last)  # type: ignore[misc]
            except httpx.HTTPError as e:
                errors.append(f'Get "{url}": {_describe(e, self.endpoint.host)}')
                continue
            resp.close()  # the status and the challenge are all it says
            if resp.status_code in (200, 401):
                found = ch.pick(ch.parse(resp.headers.get("www-authenticate", ""))) if resp.status_code == 401 else None
                return Ping(base, found)
            errors.append(f'Get "{url}": {_status_line(resp)}')
        raise RegistryUnreachable(errors[-1])  # the last scheme tried, as Docker reports it

    def rechallenge(self, challenge: ch.Challenge) -> None:
        """A request was answered with a different challenge than `/v2/`: use that one now."""
        with self._lock:
            if self._ping is not None:
                self._ping = Ping(self._ping.base, challenge)

    def close(self) -> None:
        self.client.close()


def open_stream(client: httpx.Client, method: str, url: str, **kwargs: Any) -> httpx.Response:
    """Send, leaving the body unread (read it with `read_limited`, or close)."""
    return client.send(client.build_request(method, url, **kwargs), stream=True)


def _describe(e: httpx.HTTPError, host: str) -> str:
    """Connection errors in the words Docker uses for them."""
    text = str(e) or type(e).__name__
    if isinstance(e, httpx.ConnectError) and "refused" in text.lower():
        return f"dial tcp {host}: connect: connection refused"
    if _permanent(e):
        return f"dial tcp: lookup {host.rsplit(':', 1)[0] if host.count(':') == 1 else host}: no such host"
    return text


def _permanent(e: Exception) -> bool:
    """A host name that does not resolve will not resolve a second later either."""
    text = str(e).lower()
    return isinstance(e, httpx.ConnectError) and ("name or service not known" in text
                                                  or "no address associated" in text
                                                  or "temporary failure in name resolution" in text)


def _with_retries(send: Callable[[], httpx.Response], idempotent: bool) -> httpx.Response:
    attempt = 0
    while True:
        try:
            resp = send()
        except (httpx.TransportError, httpx.DecodingError) as e:
            attempt += 1
            if not idempotent or attempt >= RETRIES or _permanent(e):
                raise
            time.sleep(BACKOFF * 2 ** attempt)
            continue
        if idempotent and (resp.status_code == 429 or resp.status_code >= 500) and attempt + 1 < RETRIES:
            attempt += 1
            resp.close()
            time.sleep(BACKOFF * 2 ** attempt)
            continue
        return resp


class Session:
    """Requests on behalf of one repository with one set of credentials."""

    def __init__(self, transport: Transport, auth: AuthConfig, tokens: TokenCache, scopes: list[str]) -> None:
        self.transport = transport
        self.auth = auth
        self.tokens = tokens
        self.scopes = scopes
        self.base = ""
        self._authz: str | None = None
        self._lock = threading.Lock()

    @property
    def client(self) -> httpx.Client:
        return self.transport.client

    def url(self, path: str) -> str:
        if not self.base:
            self.base = self.transport.ping().base
        return path if path.startswith(("http://", "https://")) else self.base + path

    def resolve(self, location: str, relative_to: str) -> str:
        return urljoin(relative_to, location)

    def request(self, method: str, path: str, *, headers: dict[str, str] | None = None,
                content: Any = None, params: dict[str, str] | None = None, stream: bool = False,
                idempotent: bool | None = None) -> httpx.Response:
        """Send with auth; a response is returned whatever its status (callers check). Without
        `stream`, at most MAX_BODY bytes of the body are read (`content` holds them)."""
        url = self.url(path)
        ours = origin(url) == origin(self.base)  # anywhere else gets no credentials
        retryable = method in ("GET", "HEAD") if idempotent is None else idempotent
        fresh = False
        while True:
            hdrs = dict(headers or {})
            authz = self.authorization(refresh=fresh) if ours else None
            if authz:
                hdrs["Authorization"] = authz

            def send(h: dict[str, str] = hdrs) -> httpx.Response:
                req = self.client.build_request(method, url, headers=h, content=content, params=params)
                return self.client.send(req, stream=True)

            resp = _with_retries(send, retryable)
            if resp.status_code != 401 or fresh or not ours or not self._can_refresh(resp, content):
                return resp if stream else _bounded(resp)
            resp.close()
            fresh = True

    def _can_refresh(self, resp: httpx.Response, content: Any) -> bool:
        """Retry a 401 once with fresh credentials when that can help: a token (expired, or a
        new scope) or a challenge that differs from what `/v2/` said (the registry changed its
        auth since we first asked) — and only with a replayable body."""
        if content is not None and not isinstance(content, bytes):
            return False
        if origin(resp.url) != origin(self.base):
            return False  # a redirect target's 401 is an error, never a new challenge or realm
        said = ch.pick(ch.parse(resp.headers.get("www-authenticate", "")))
        if said is not None and said != self.transport.ping().challenge:
            self.transport.rechallenge(said)
            return True
        chal = self.transport.ping().challenge
        return chal is not None and chal.scheme == "bearer"

    def authorization(self, refresh: bool = False) -> str | None:
        with self._lock:
            if self._authz is not None and not refresh:
                return self._authz or None
            chal = self.transport.ping().challenge
            if chal is None:
                self._authz = ""
            elif chal.scheme == "basic":
                self._authz = basic_header(self.auth) if not self.auth.anonymous else ""
            elif chal.scheme == "bearer":
                self._authz = "Bearer " + self._token(chal, refresh)
            else:
                raise Unauthorized(f"unsupported authentication scheme {chal.scheme!r}")
            return self._authz or None

    def _token(self, chal: ch.Challenge, refresh: bool) -> str:
        if self.auth.registry_token:
            return self.auth.registry_token
        a = self.auth
        secret = hashlib.sha256("\0".join((a.username, a.password, a.identity_token, a.registry_token))
                                .encode()).hexdigest()  # other credentials never share a token
        key = (chal.realm, chal.params.get("service", ""), " ".join(self.scopes), a.username, secret)
        if not refresh:
            cached = self.tokens.get(key)
            if cached:
                return cached
        got = fetch_token(self.client, chal, self.scopes, self.auth)
        self.tokens.put(key, got.token, got.ttl)
        return got.token


def _bounded(resp: httpx.Response) -> httpx.Response:
    """The response with at most MAX_BODY bytes of its body read, as sent, and its connection released."""
    body = read_limited(resp, MAX_BODY)
    headers = [(k, v) for k, v in resp.headers.multi_items() if k.lower() != "content-encoding"]
    return httpx.Response(resp.status_code, headers=headers, content=body, request=resp.request,
                          extensions=resp.extensions)


def basic_header(auth: AuthConfig) -> str:
    return "Basic " + base64.b64encode(f"{auth.username}:{auth.password}".encode()).decode()


@dataclass(frozen=True)
class Token:
    token: str
    ttl: float
    refresh: str = ""  # an OAuth2 refresh token, when asked for one (login's identity token)


def fetch_token(client: httpx.Client, chal: ch.Challenge, scopes: list[str],
                auth: AuthConfig, offline: bool = False) -> Token:
    """The token server flow (docker/distribution token spec, and its OAuth2 variant).
    `offline` asks for a refresh token too (`docker login` stores it as the identity token)."""
    realm = chal.realm
    if not realm.startswith(("http://", "https://")):
        raise Unauthorized(f"invalid token realm {realm!r}")
    service = chal.params.get("service", "")
    if auth.identity_token:
        form = {"grant_type": "refresh_token", "refresh_token": auth.identity_token, "service": service,
                "client_id": "wharfie", "scope": " ".join(scopes)}
        resp = _with_retries(lambda: open_stream(client, "POST", realm, data=form), idempotent=True)
    else:
        params: list[tuple[str, str | int | float | bool | None]] = [("service", service)] if service else []
        params += [("scope", s) for s in scopes]
        if offline:
            params += [("offline_token", "true"), ("client_id", "wharfie")]
        headers = {"Authorization": basic_header(auth)} if auth.username else {}
        resp = _with_retries(lambda: open_stream(client, "GET", realm, params=params, headers=headers),
                             idempotent=True)
    if resp.status_code != 200:
        raise error_for(resp, "failed to fetch an authorization token" if resp.status_code != 401 else "")
    body = read_limited(resp, MAX_TOKEN_BODY)
    try:
        data = json.loads(body)
        token = data.get("token") or data.get("access_token")
        ttl = float(data.get("expires_in") or 60)
        refresh = str(data.get("refresh_token") or "")
    except (ValueError, AttributeError, TypeError):
        token, ttl, refresh = None, 0.0, ""
    if not isinstance(token, str) or not token:
        raise Unauthorized(f"the token server at {realm} returned no token")
    return Token(token, ttl, refresh)
