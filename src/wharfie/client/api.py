"""The Engine API client: requests, version negotiation, error decoding, streams.

One short-lived HTTP connection per request (the daemon is local; this keeps
streaming responses simple). Every request but ``/_ping`` is prefixed with the
negotiated ``/v<version>`` like the docker CLI does.
"""

from __future__ import annotations

import http.client
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import IO, Any

from wharfie import API_VERSION, __version__
from wharfie.client.errors import APIError, ConnectionFailed
from wharfie.client.transport import HostAddress
from wharfie.errors import WharfieError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from wharfie.client.hijack import HijackedConnection

#: API version assumed when a daemon's ping carries no ``Api-Version`` header.
FALLBACK_API_VERSION = "1.24"
DEFAULT_HOST = "unix:///run/wharfie/wharfie.sock"
USER_AGENT = f"wharfie-cli/{__version__}"

QueryValue = str | int | bool | Sequence[str] | None


def version_tuple(v: str) -> tuple[int, ...]:
    out = []
    for part in v.split("."):
        try:
            out.append(int(part))
        except ValueError:
            out.append(0)
    return tuple(out)


def version_less(a: str, b: str) -> bool:
    return version_tuple(a) < version_tuple(b)


def encode_query(params: Mapping[str, QueryValue] | None) -> str:
    """Go's ``url.Values.Encode``: keys sorted, values kept in order, ``+`` for space."""
    if not params:
        return ""
    from urllib.parse import quote_plus

    parts = []
    for key in sorted(params):
        value = params[key]
        if value is None:
            continue
        values: Sequence[Any]
        if isinstance(value, (list, tuple)):
            values = value
        elif isinstance(value, bool):
            values = ["1" if value else "0"]
        else:
            values = [value]
        for v in values:
            parts.append(f"{quote_plus(key)}={quote_plus(str(v))}")
    return "&".join(parts)


def escape_path(path: str) -> str:
    """Escape a URL path like Go's ``url.URL.EscapedPath``."""
    from urllib.parse import quote

    return quote(path, safe="$&+,/:;=@")


def filters_json(filters: Mapping[str, Iterable[str]]) -> str:
    """``filters.ToJSON``: ``{"key":{"value":true}}`` with keys sorted like Go's json."""
    from wharfie.client.jsonutil import go_json_compact

    return go_json_compact(
        {k: {v: True for v in sorted(set(vals))} for k, vals in sorted(filters.items())}
    )


class Response:
    """A response whose body may still be streaming. Close it (or use ``with``)."""

    def __init__(self, conn: http.client.HTTPConnection, resp: http.client.HTTPResponse,
                 url: str = "") -> None:
        self._conn = conn
        self.url = url
        self.raw = resp
        self.status = resp.status
        self.headers = resp.headers

    def __enter__(self) -> Response:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        try:
            self.raw.close()
        finally:
            self._conn.close()

    def read(self) -> bytes:
        try:
            return self.raw.read()
        finally:
            self.close()

    def json(self) -> Any:
        import json

        data = self.read()
        if not data.strip():
            return None
        return json.loads(data)

    def iter_chunks(self, size: int = 64 * 1024) -> Iterator[bytes]:
        while True:
            chunk = self.raw.read1(size) if hasattr(self.raw, "read1") else self.raw.read(size)
            if not chunk:
                return
            yield chunk

    def iter_json(self) -> Iterator[Any]:
        """Decode a stream of JSON values (one per line, like moby's streamformatter)."""
        from wharfie.client.jsonutil import iter_json_values

        return iter_json_values(self.iter_chunks())


class APIClient:
    """A synchronous Docker Engine API client.

    ``host`` defaults to ``$DOCKER_HOST``, then :data:`DEFAULT_HOST` (wharfied's
    socket; ``unix:///var/run/docker.sock`` reaches a real dockerd).
    ``$DOCKER_API_VERSION`` pins the API version and disables negotiation.
    """

    def __init__(self, host: str | None = None, version: str | None = None) -> None:
        self.host = host or os.environ.get("DOCKER_HOST") or DEFAULT_HOST
        self.address = HostAddress(self.host)
        pinned = version or os.environ.get("DOCKER_API_VERSION") or ""
        self.version = pinned.lstrip("v") or API_VERSION
        self.default_version = API_VERSION
        self._manual_version = bool(pinned)
        self._negotiated = False
        self.ping_headers: http.client.HTTPMessage | None = None

    # low level ------------------------------------------------------------------
    def _open(
        self,
        method: str,
        url: str,
        body: bytes | IO[bytes] | Iterable[bytes] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        conn = self.address.connection()
        hdrs = {"Host": self.address.host_header, "User-Agent": USER_AGENT}
        if headers:
            hdrs.update(headers)
        if body is not None and not any(k.lower() == "content-type" for k in hdrs):
            hdrs["Content-Type"] = "text/plain"  # as the docker client does
        chunked = body is not None and not isinstance(body, (bytes, bytearray))
        if chunked:
            hdrs["Transfer-Encoding"] = "chunked"
        try:
            try:
                conn.request(method, url, body=body, headers=hdrs, encode_chunked=chunked)
            except (BrokenPipeError, ConnectionResetError):
                # The daemon answered (an error) and closed before reading the whole
                # body: read that answer, like Go's transport does.
                if conn.sock is None:
                    raise
            resp = conn.getresponse()
        except (FileNotFoundError, ConnectionRefusedError) as e:
            conn.close()
            raise ConnectionFailed(self.host) from e
        except PermissionError as e:
            conn.close()
            raise WharfieError(
                "permission denied while trying to connect to the wharfie daemon socket "
                f"at {self.host}: {e.strerror or e}"
            ) from e
        except OSError as e:
            conn.close()
            if isinstance(e, (ConnectionResetError, BrokenPipeError)):
                # The daemon may have answered before reading the whole body.
                raise WharfieError(f"error during connect: {e}") from e
            import socket

            if isinstance(e, socket.gaierror) or self.address.proto == "tcp":
                raise ConnectionFailed(self.host) from e
            raise WharfieError(f"error during connect: {e}") from e
        except http.client.HTTPException as e:
            conn.close()
            raise WharfieError(f"error during connect: {e}") from e
        return Response(conn, resp, url)

    def ping(self) -> http.client.HTTPMessage:
        """``HEAD /_ping`` (falling back to GET); returns the response headers."""
        resp = self._open("HEAD", "/_ping")
        try:
            if resp.status in (200, 500):
                return resp.headers
        finally:
            resp.close()
        resp = self._open("GET", "/_ping")
        resp.close()
        return resp.headers

    def negotiate(self) -> None:
        """Use ``min(daemon's Api-Version, ours)``; a missing header means 1.24."""
        if self._manual_version or self._negotiated:
            return
        try:
            headers = self.ping()
        except ConnectionFailed:
            return  # the real request reports it
        self.ping_headers = headers
        server = headers.get("Api-Version") or FALLBACK_API_VERSION
        if version_less(server, self.version):
            self.version = server
        self._negotiated = True

    def request(
        self,
        method: str,
        path: str,
        params: Mapping[str, QueryValue] | None = None,
        *,
        body: bytes | IO[bytes] | Iterable[bytes] | None = None,
        headers: Mapping[str, str] | None = None,
        json_body: Any = None,
    ) -> Response:
        """Send a request to ``/v<ver><path>``; raise APIError on a status >= 400."""
        self.negotiate()
        url = f"/v{self.version}{escape_path(path)}"
        query = encode_query(params)
        if query:
            url += "?" + query
        hdrs = dict(headers or {})
        if json_body is not None:
            from wharfie.client.jsonutil import go_json_compact

            # json.NewEncoder: compact, HTML-escaped, newline-terminated
            body = (go_json_compact(json_body) + "\n").encode()
            hdrs.setdefault("Content-Type", "application/json")
        resp = self._open(method, url, body=body, headers=hdrs)
        if resp.status >= 400:
            raise self._error(resp)
        return resp

    def hijack(
        self,
        path: str,
        params: Mapping[str, QueryValue] | None = None,
        *,
        json_body: Any = None,
        content_type: str = "text/plain",
    ) -> HijackedConnection:
        """``POST`` with ``Upgrade: tcp``; returns the raw connection after a ``101``."""
        import socket

        from wharfie.client.hijack import HijackedConnection, build_request, read_response_head

        self.negotiate()
        url = f"/v{self.version}{escape_path(path)}"
        query = encode_query(params)
        if query:
            url += "?" + query
        body = b""
        if json_body is not None:
            from wharfie.client.jsonutil import go_json_compact

            body = (go_json_compact(json_body) + "\n").encode()
        headers = {
            "Host": self.address.host_header,
            "User-Agent": USER_AGENT,
            "Connection": "Upgrade",
            "Content-Type": content_type,
            "Upgrade": "tcp",
        }
        try:
            sock = self.address.dial()
        except (FileNotFoundError, ConnectionRefusedError) as e:
            raise ConnectionFailed(self.host) from e
        except OSError as e:
            if isinstance(e, socket.gaierror) or self.address.proto == "tcp":
                raise ConnectionFailed(self.host) from e
            raise WharfieError(f"error during connect: {e}") from e
        try:
            sock.sendall(build_request("POST", url, headers, body))
            status, resp_headers, rest = read_response_head(sock)
        except OSError as e:
            sock.close()
            raise WharfieError(f"error during connect: {e}") from e
        except BaseException:
            sock.close()
            raise
        if status != 101:
            sock.close()
            raise WharfieError(f"unable to upgrade to tcp, received {status}")
        media_type = resp_headers.get("content-type", "")
        if version_less(self.version, "1.42"):
            media_type = ""
        return HijackedConnection(sock, rest, media_type)

    def _error(self, resp: Response) -> APIError:
        status = resp.status
        try:
            body = resp.raw.read(1024 * 1024 + 1)
        finally:
            resp.close()
        reason = f"{status} {http.client.responses.get(status, '')}".strip()
        if not body:
            return APIError(
                status,
                f"request returned {reason} for API route and version "
                f"http://{self.address.host_header}{resp.url}, "
                "check if the server supports the requested API version",
            )
        message = ""
        if resp.headers.get("Content-Type") == "application/json":
            import json

            try:
                decoded = json.loads(body)
            except ValueError as e:
                return APIError(status, f"Error reading JSON: {e}")
            if isinstance(decoded, dict) and isinstance(decoded.get("message"), str):
                message = decoded["message"].strip()
            if not message:
                message = (
                    f"API returned a {status} ({http.client.responses.get(status, '')}) "
                    "but provided no error-message"
                )
        else:
            message = body.decode(errors="replace").strip()
        return APIError(status, message)

    def get_json(self, path: str, params: Mapping[str, QueryValue] | None = None) -> Any:
        return self.request("GET", path, params).json()

    def get_raw(self, path: str, params: Mapping[str, QueryValue] | None = None) -> bytes:
        return self.request("GET", path, params).read()

    # system -----------------------------------------------------------------------
    def server_version(self) -> Any:
        return self.get_json("/version")

    def info(self) -> Any:
        return self.get_json("/info")

    def events(
        self,
        since: str | None = None,
        until: str | None = None,
        filters: Mapping[str, Iterable[str]] | None = None,
    ) -> Response:
        params: dict[str, QueryValue] = {"since": since or None, "until": until or None}
        if filters:
            params["filters"] = filters_json(filters)
        return self.request("GET", "/events", params)

    # images ---------------------------------------------------------------------
    def images(
        self, all: bool = False, filters: Mapping[str, Iterable[str]] | None = None
    ) -> Any:
        params: dict[str, QueryValue] = {}
        if all:
            params["all"] = "1"
        if filters:
            params["filters"] = filters_json(filters)
        return self.get_json("/images/json", params)

    def image_inspect_raw(self, name: str, platform: str | None = None) -> bytes:
        return self.get_raw(f"/images/{name}/json", {"platform": platform} if platform else None)

    def image_history(self, name: str, platform: str | None = None) -> Any:
        params: dict[str, QueryValue] = {}
        if platform:
            params["platform"] = platform
        return self.get_json(f"/images/{name}/history", params)

    def image_tag(self, source: str, repo: str, tag: str | None) -> None:
        params: dict[str, QueryValue] = {"repo": repo}
        if tag:
            params["tag"] = tag
        self.request("POST", f"/images/{source}/tag", params).read()

    def image_remove(
        self, name: str, force: bool = False, noprune: bool = False,
        platforms: Sequence[str] = (),
    ) -> Any:
        params: dict[str, QueryValue] = {}
        if platforms:
            params["platforms"] = list(platforms)
        if force:
            params["force"] = "1"
        if noprune:
            params["noprune"] = "1"
        return self.request("DELETE", f"/images/{name}", params).json()

    def images_prune(self, filters: Mapping[str, Iterable[str]] | None = None) -> Any:
        params: dict[str, QueryValue] = {}
        if filters:
            params["filters"] = filters_json(filters)
        return self.request("POST", "/images/prune", params).json()

    def image_save(self, names: Sequence[str], platforms: Sequence[str] = ()) -> Response:
        """``platforms`` are JSON-encoded OCI platforms (``encode_platform``)."""
        params: dict[str, QueryValue] = {}
        if platforms:
            params["platform"] = list(platforms)
        # Like the docker CLI: always GET /images/get?names=…, even for one image.
        params["names"] = list(names)
        return self.request("GET", "/images/get", params)

    def image_load(
        self, data: IO[bytes] | Iterable[bytes], quiet: bool = False,
        platforms: Sequence[str] = (),
    ) -> Response:
        params: dict[str, QueryValue] = {"quiet": "1" if quiet else "0"}
        if platforms:
            params["platform"] = list(platforms)
        return self.request(
            "POST", "/images/load", params, body=data,
            headers={"Content-Type": "application/x-tar"},
        )

    def image_import(
        self,
        source: IO[bytes] | None,
        source_name: str,
        ref: str = "",
        message: str = "",
        changes: Sequence[str] = (),
        platform: str = "",
    ) -> Response:
        params: dict[str, QueryValue] = {"fromSrc": source_name}
        if ref:
            params["repo"] = ref
        if message:
            params["message"] = message
        if platform:
            params["platform"] = platform.lower()
        if changes:
            params["changes"] = list(changes)
        return self.request("POST", "/images/create", params, body=source)

    # other objects (for `inspect`) ------------------------------------------
    def container_inspect_raw(self, name: str, size: bool = False) -> bytes:
        return self.get_raw(f"/containers/{name}/json", {"size": "1"} if size else None)

    def network_inspect_raw(self, name: str) -> bytes:
        return self.get_raw(f"/networks/{name}")

    def volume_inspect_raw(self, name: str) -> bytes:
        return self.get_raw(f"/volumes/{name}")

    def plugin_inspect_raw(self, name: str) -> bytes:
        return self.get_raw(f"/plugins/{name}/json")

    # containers -----------------------------------------------------------------
    def container_create(
        self, body: Any, name: str = "", platform: str = ""
    ) -> Any:
        params: dict[str, QueryValue] = {}
        if platform:
            params["platform"] = platform
        if name:
            params["name"] = name
        return self.request("POST", "/containers/create", params, json_body=body).json()

    def containers(
        self, all: bool = False, limit: int = -1, size: bool = False,
        filters: Mapping[str, Iterable[str]] | None = None,
    ) -> Any:
        params: dict[str, QueryValue] = {}
        if all:
            params["all"] = "1"
        if limit > 0:
            params["limit"] = str(limit)
        if size:
            params["size"] = "1"
        if filters:
            params["filters"] = filters_json(filters)
        return self.get_json("/containers/json", params)

    def container_inspect(self, name: str, size: bool = False) -> Any:
        import json

        return json.loads(self.container_inspect_raw(name, size))

    def _post_empty(self, path: str, params: Mapping[str, QueryValue] | None = None) -> None:
        self.request("POST", path, params).read()

    def container_start(self, name: str, checkpoint: str = "", checkpoint_dir: str = "") -> None:
        self._post_empty(f"/containers/{name}/start",
                         {"checkpoint": checkpoint or None,
                          "checkpoint-dir": checkpoint_dir or None})

    def container_stop(self, name: str, timeout: int | None = None, signal: str = "") -> None:
        params: dict[str, QueryValue] = {}
        if timeout is not None:
            params["t"] = str(timeout)
        if signal and not version_less(self.version, "1.42"):
            params["signal"] = signal
        self._post_empty(f"/containers/{name}/stop", params)

    def container_restart(self, name: str, timeout: int | None = None, signal: str = "") -> None:
        params: dict[str, QueryValue] = {}
        if timeout is not None:
            params["t"] = str(timeout)
        if signal and not version_less(self.version, "1.42"):
            params["signal"] = signal
        self._post_empty(f"/containers/{name}/restart", params)

    def container_kill(self, name: str, signal: str = "") -> None:
        self._post_empty(f"/containers/{name}/kill", {"signal": signal or None})

    def container_pause(self, name: str) -> None:
        self._post_empty(f"/containers/{name}/pause")

    def container_unpause(self, name: str) -> None:
        self._post_empty(f"/containers/{name}/unpause")

    def container_rename(self, name: str, new_name: str) -> None:
        self._post_empty(f"/containers/{name}/rename", {"name": new_name})

    def container_remove(
        self, name: str, force: bool = False, volumes: bool = False, link: bool = False
    ) -> None:
        params: dict[str, QueryValue] = {}
        if volumes:
            params["v"] = "1"
        if link:
            params["link"] = "1"
        if force:
            params["force"] = "1"
        self.request("DELETE", f"/containers/{name}", params).read()

    def container_wait(self, name: str, condition: str = "") -> Response:
        """``POST /wait``: returns once the headers arrived; the body is the result."""
        return self.request(
            "POST", f"/containers/{name}/wait", {"condition": condition or None}
        )

    def container_resize(self, name: str, height: int, width: int, exec_: bool = False) -> None:
        base = "/exec/" if exec_ else "/containers/"
        self._post_empty(f"{base}{name}/resize", {"h": str(height), "w": str(width)})

    def container_attach(
        self, name: str, stdin: bool, stdout: bool, stderr: bool, detach_keys: str = "",
        logs: bool = False,
    ) -> HijackedConnection:
        params: dict[str, QueryValue] = {"stream": "1"}
        if stdin:
            params["stdin"] = "1"
        if stdout:
            params["stdout"] = "1"
        if stderr:
            params["stderr"] = "1"
        if detach_keys:
            params["detachKeys"] = detach_keys
        if logs:
            params["logs"] = "1"
        return self.hijack(f"/containers/{name}/attach", params)

    def container_logs(self, name: str, params: Mapping[str, QueryValue]) -> Response:
        return self.request("GET", f"/containers/{name}/logs", params)

    def container_top(self, name: str, ps_args: Sequence[str] = ()) -> Any:
        params: dict[str, QueryValue] = {}
        if ps_args:
            params["ps_args"] = " ".join(ps_args)
        return self.get_json(f"/containers/{name}/top", params)

    def container_stats(self, name: str, stream: bool) -> Response:
        return self.request(
            "GET", f"/containers/{name}/stats", {"stream": "1" if stream else "0"}
        )

    def container_update(self, name: str, body: Any) -> Any:
        return self.request("POST", f"/containers/{name}/update", json_body=body).json()

    def containers_prune(self, filters: Mapping[str, Iterable[str]] | None = None) -> Any:
        params: dict[str, QueryValue] = {}
        if filters:
            params["filters"] = filters_json(filters)
        return self.request("POST", "/containers/prune", params).json()

    # archives (docker cp) ---------------------------------------------------------
    @staticmethod
    def _path_stat(resp: Response) -> Any:
        import base64
        import json

        encoded = resp.headers.get("X-Docker-Container-Path-Stat") or ""
        try:
            return json.loads(base64.b64decode(encoded.encode(), validate=False) or b"null")
        except ValueError as e:
            raise WharfieError(f"unable to decode container path stat header: {e}") from None

    def container_stat_path(self, name: str, path: str) -> Any:
        resp = self.request("HEAD", f"/containers/{name}/archive", {"path": path})
        resp.close()
        return self._path_stat(resp)

    def container_get_archive(self, name: str, path: str) -> tuple[Response, Any]:
        resp = self.request("GET", f"/containers/{name}/archive", {"path": path})
        try:
            stat = self._path_stat(resp)
        except WharfieError as e:
            resp.close()
            raise WharfieError(f"unable to get resource stat from response: {e}") from None
        return resp, stat

    def container_put_archive(
        self, name: str, path: str, data: IO[bytes] | Iterable[bytes], copy_uid_gid: bool = False
    ) -> None:
        params: dict[str, QueryValue] = {"noOverwriteDirNonDir": "true", "path": path}
        if copy_uid_gid:
            params["copyUIDGID"] = "true"
        self.request("PUT", f"/containers/{name}/archive", params, body=data).read()

    # exec -------------------------------------------------------------------------
    def exec_create(self, container: str, body: Any) -> Any:
        return self.request("POST", f"/containers/{container}/exec", json_body=body).json()

    def exec_start_detached(self, exec_id: str, body: Any) -> None:
        self.request("POST", f"/exec/{exec_id}/start", json_body=body).read()

    def exec_attach(self, exec_id: str, body: Any) -> HijackedConnection:
        return self.hijack(f"/exec/{exec_id}/start", json_body=body,
                           content_type="application/json")

    def exec_inspect(self, exec_id: str) -> Any:
        return self.get_json(f"/exec/{exec_id}/json")

    # volumes ----------------------------------------------------------------------
    def volume_create(self, body: Any) -> Any:
        return self.request("POST", "/volumes/create", json_body=body).json()

    def volumes(self, filters: Mapping[str, Iterable[str]] | None = None) -> Any:
        params: dict[str, QueryValue] = {}
        if filters:
            params["filters"] = filters_json(filters)
        return self.get_json("/volumes", params)

    def volume_inspect(self, name: str) -> Any:
        return self.get_json(f"/volumes/{name}")

    def volume_remove(self, name: str, force: bool = False) -> None:
        params: dict[str, QueryValue] = {}
        if force and not version_less(self.version, "1.25"):
            params["force"] = "1"
        self.request("DELETE", f"/volumes/{name}", params).read()

    def volumes_prune(self, filters: Mapping[str, Iterable[str]] | None = None) -> Any:
        params: dict[str, QueryValue] = {}
        if filters:
            params["filters"] = filters_json(filters)
        return self.request("POST", "/volumes/prune", params).json()

    # build and commit -------------------------------------------------------------
    def image_build(
        self, context: IO[bytes] | Iterable[bytes], params: Mapping[str, QueryValue],
        registry_config: str = "e30=",
    ) -> Response:
        """``POST /build`` (the legacy builder) with a tar context, sent chunked.

        ``params`` are the query parameters as the docker client builds them
        (``imageBuildOptionsToQuery``); the response is the JSON-lines stream.
        """
        return self.request(
            "POST", "/build", params, body=context,
            headers={"Content-Type": "application/x-tar", "X-Registry-Config": registry_config},
        )

    def container_commit(
        self, container: str, repo: str = "", tag: str = "", comment: str = "",
        author: str = "", changes: Sequence[str] = (), pause: bool = True,
    ) -> Any:
        """``POST /commit``: docker always sends container, repo, tag, comment and
        author (empty when unset), ``changes`` once per change, ``pause=0`` only to opt out."""
        params: dict[str, QueryValue] = {
            "container": container, "repo": repo, "tag": tag, "comment": comment,
            "author": author,
        }
        if changes:
            params["changes"] = list(changes)
        if not pause:
            params["pause"] = "0"
        return self.request("POST", "/commit", params).json()

    def build_prune(
        self, all: bool = False, filters: Mapping[str, Iterable[str]] | None = None,
        keep_storage: int = 0,
    ) -> Any:
        """``POST /build/prune``; docker always sends ``filters`` (empty when none)."""
        params: dict[str, QueryValue] = {}
        if all:
            params["all"] = "1"
        if keep_storage:
            params["keep-storage"] = str(keep_storage)
        params["filters"] = filters_json(filters) if filters else ""
        return self.request("POST", "/build/prune", params).json()

    # pull (the fallback of `run`/`create`) ----------------------------------------
    def image_create(self, from_image: str, tag: str, platform: str = "",
                     registry_auth: str = "e30=") -> Response:
        params: dict[str, QueryValue] = {"fromImage": from_image, "tag": tag}
        if platform:
            params["platform"] = platform.lower()
        return self.request("POST", "/images/create", params,
                            headers={"X-Registry-Auth": registry_auth})

    # registries -------------------------------------------------------------------
    def image_push(self, name: str, tag: str, registry_auth: str = "e30=") -> Response:
        params: dict[str, QueryValue] = {"tag": tag} if tag else {}
        return self.request("POST", f"/images/{name}/push", params,
                            headers={"X-Registry-Auth": registry_auth})

    def registry_login(self, auth: Mapping[str, str]) -> Any:
        """``POST /auth``: the daemon checks the credentials against the registry."""
        return self.request("POST", "/auth", json_body=dict(auth)).json()

    def image_search(self, term: str, limit: int = 0, registry_auth: str = "e30=") -> Any:
        params: dict[str, QueryValue] = {"term": term}
        if limit:
            params["limit"] = str(limit)
        return self.request("GET", "/images/search", params,
                            headers={"X-Registry-Auth": registry_auth}).json()
