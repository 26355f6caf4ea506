"""Registry credentials as clients send them to the daemon (Docker's `AuthConfig`).

`X-Registry-Auth` is base64url (padded or not) JSON `{username, password, auth, email,
serveraddress, identitytoken, registrytoken}`; `e30=` (`{}`) means anonymous. Decoding is
lenient like moby's for pulls: garbage means anonymous. Pure data, no I/O.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from wharfie.errors import InvalidArgument


@dataclass(frozen=True)
class AuthConfig:
    username: str = ""
    password: str = ""
    server_address: str = ""
    identity_token: str = ""
    registry_token: str = ""

    @property
    def anonymous(self) -> bool:
        return not (self.username or self.password or self.identity_token or self.registry_token)

    @classmethod
    def from_json(cls, obj: Any) -> AuthConfig:
        if not isinstance(obj, dict):
            raise InvalidArgument("invalid auth configuration: not a JSON object")
        user, password = str(obj.get("username") or ""), str(obj.get("password") or "")
        if not user and obj.get("auth"):
            user, password = _split_basic(str(obj["auth"]))
        return cls(user, password, str(obj.get("serveraddress") or ""),
                   str(obj.get("identitytoken") or ""), str(obj.get("registrytoken") or ""))


def b64decode_lenient(text: str) -> bytes:
    """base64 in either alphabet, padding optional (clients differ)."""
    text = text.strip()
    padded = text + "=" * (-len(text) % 4)
    try:
        if "-" in text or "_" in text:
            return base64.urlsafe_b64decode(padded)
        return base64.b64decode(padded, validate=False)
    except (binascii.Error, ValueError) as e:
        raise InvalidArgument(f"invalid base64: {e}") from e


def decode_header(value: str | None) -> AuthConfig:
    """X-Registry-Auth → AuthConfig; missing or undecodable means anonymous."""
    if not value:
        return AuthConfig()
    try:
        return AuthConfig.from_json(json.loads(b64decode_lenient(value)))
    except (InvalidArgument, ValueError):
        return AuthConfig()


def encode_header(auth: AuthConfig) -> str:
    obj = {"username": auth.username, "password": auth.password, "serveraddress": auth.server_address,
           "identitytoken": auth.identity_token, "registrytoken": auth.registry_token}
    data = json.dumps({k: v for k, v in obj.items() if v}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(data).decode()


def _split_basic(auth: str) -> tuple[str, str]:
    user, sep, password = b64decode_lenient(auth).decode(errors="replace").partition(":")
    if not sep:
        raise InvalidArgument("invalid auth configuration: auth is not user:password")
    return user, password


def decode_config_header(value: str | None) -> dict[str, AuthConfig]:
    """X-Registry-Config (what `docker build` sends): base64 JSON of server → AuthConfig;
    missing or undecodable means no credentials."""
    if not value:
        return {}
    try:
        doc = json.loads(b64decode_lenient(value))
    except (InvalidArgument, ValueError):
        return {}
    if not isinstance(doc, dict):
        return {}
    out = {}
    for server, obj in doc.items():
        try:
            out[str(server)] = AuthConfig.from_json(obj)
        except InvalidArgument:
            continue
    return out


def auth_for(domain: str, configs: dict[str, AuthConfig]) -> AuthConfig:
    """The credentials a config map holds for a registry domain (keys may carry a scheme or,
    for Docker Hub, be the legacy index URL)."""
    keys = [domain, f"https://{domain}", f"http://{domain}"]
    if domain in ("docker.io", "index.docker.io", "registry-1.docker.io"):
        keys.insert(0, "https://index.docker.io/v1/")
    for key in list(configs):
        if key.rstrip("/").removeprefix("https://").removeprefix("http://").split("/")[0] == domain:
            keys.append(key)
    for key in keys:
        if key in configs:
            return configs[key]
    return AuthConfig()
