"""`POST /auth`: check credentials against a registry the way `docker login` expects.

A registry whose `/v2/` needs no auth accepts anyone; Basic registries must answer `/v2/` with
200 for the credentials; token registries must hand out a token for them.
"""

from __future__ import annotations

from wharfie.errors import Unauthorized, WharfieError
from wharfie.registry.authconfig import AuthConfig
from wharfie.registry.endpoints import Endpoint
from wharfie.registry.session import (
    RegistryUnreachable,
    Transport,
    basic_header,
    fetch_token,
    open_stream,
)

SUCCEEDED = "Login Succeeded"


def check(endpoint: Endpoint, auth: AuthConfig) -> tuple[str, str]:
    """("Login Succeeded", identity token or "") or an Unauthorized error."""
    transport = Transport(endpoint)  # a fresh ping: the registry may have changed its mind
    try:
        ping = transport.ping()
        chal = ping.challenge
        if chal is None:
            return SUCCEEDED, ""
        if auth.anonymous:
            raise Unauthorized("login attempt failed: no credentials given")
        if chal.scheme == "bearer":
            token = fetch_token(transport.client, chal, [], auth, offline=not auth.identity_token)
            return SUCCEEDED, token.refresh
        resp = open_stream(transport.client, "GET", ping.base + "/v2/", headers={"Authorization": basic_header(auth)})
        resp.close()  # the status is the answer
        if resp.status_code != 200:
            raise Unauthorized(f"login attempt to {ping.base}/v2/ failed with status: "
                               f"{resp.status_code} {resp.reason_phrase}")
        return SUCCEEDED, ""
    except RegistryUnreachable as e:
        raise WharfieError(str(e)) from None  # a 500, as dockerd answers it
    finally:
        transport.close()
