"""Registry credentials on the client side, as the docker CLI keeps them.

``$DOCKER_CONFIG/config.json`` (default ``~/.docker/config.json``)::

    {"auths": {"localhost:5000": {"auth": "<base64 user:pass>"}},
     "credsStore": "pass", "credHelpers": {"registry.example": "ecr-login"}}

A registry named in ``credHelpers`` (or any registry when ``credsStore`` is set) keeps its secret
in ``docker-credential-<helper>`` (``get``/``store``/``erase`` over stdin/stdout JSON); the
file then only lists the registry. Docker Hub's key is ``https://index.docker.io/v1/``. The
encoded form the daemon receives is ``X-Registry-Auth``: base64url JSON.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
from typing import Any

from wharfie.cli.configfile import config_dir

HUB_KEY = "https://index.docker.io/v1/"
HUB_DOMAIN = "docker.io"
TOKEN_USER = "<token>"


class CredentialError(Exception):
    pass


def config_path() -> str:
    return os.path.join(config_dir(), "config.json")


def read_config() -> dict[str, Any]:
    try:
        with open(config_path(), "rb") as f:
            data = json.load(f)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        raise CredentialError(f"loading config file {config_path()}: {e}") from None
    return data if isinstance(data, dict) else {}


def write_config(cfg: dict[str, Any]) -> None:
    path = config_path()
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(cfg, f, indent="\t")
    os.replace(tmp, path)


def server_key(domain: str) -> str:
    return HUB_KEY if domain in (HUB_DOMAIN, "index.docker.io", "") else domain


def hostname(address: str) -> str:
    """``ConvertToHostname``: strip a scheme and a path."""
    return address.split("://", 1)[-1].split("/", 1)[0]


def _helper(cfg: dict[str, Any], key: str) -> str:
    helpers = cfg.get("credHelpers") or {}
    return str(helpers.get(hostname(key)) or helpers.get(key) or cfg.get("credsStore") or "")


def _run_helper(helper: str, action: str, data: str) -> str:
    try:
        p = subprocess.run([f"docker-credential-{helper}", action], input=data.encode(), capture_output=True,
                           timeout=60)
    except FileNotFoundError:
        raise CredentialError(f"error getting credentials - err: exec: \"docker-credential-{helper}\": "
                              "executable file not found in $PATH") from None
    out = p.stdout.decode(errors="replace").strip()
    if p.returncode != 0:
        raise CredentialError(out or p.stderr.decode(errors="replace").strip() or f"{helper} {action} failed")
    return out


def get(domain: str) -> dict[str, str]:
    """The stored credentials for a registry ({} when none): username/password/identitytoken."""
    cfg = read_config()
    key = server_key(domain)
    helper = _helper(cfg, key)
    if helper:
        try:
            creds = json.loads(_run_helper(helper, "get", key))
        except (CredentialError, ValueError):
            return {}
        user, secret = str(creds.get("Username") or ""), str(creds.get("Secret") or "")
        if user == TOKEN_USER:
            return {"identitytoken": secret, "serveraddress": key}
        return {"username": user, "password": secret, "serveraddress": key}
    for k, entry in (cfg.get("auths") or {}).items():
        if (k == key or hostname(k) == hostname(key)) and isinstance(entry, dict):
            return _decode_entry(entry, key)
    return {}


def _decode_entry(entry: dict[str, Any], key: str) -> dict[str, str]:
    out = {"serveraddress": key}
    if entry.get("auth"):
        raw = str(entry["auth"])
        user, _, password = base64.b64decode(raw + "=" * (-len(raw) % 4)).decode(errors="replace").partition(":")
        out.update(username=user, password=password)
    if entry.get("identitytoken"):
        out["identitytoken"] = str(entry["identitytoken"])
    return out


def store(domain: str, username: str, password: str, identity_token: str = "") -> None:
    cfg = read_config()
    key = server_key(domain)
    helper = _helper(cfg, key)
    auths = cfg.setdefault("auths", {})
    if helper:
        user, secret = (TOKEN_USER, identity_token) if identity_token else (username, password)
        _run_helper(helper, "store", json.dumps({"ServerURL": key, "Username": user, "Secret": secret}))
        auths[key] = {}
    else:
        entry: dict[str, str] = {"auth": base64.b64encode(f"{username}:{password}".encode()).decode()}
        if identity_token:
            entry = {"identitytoken": identity_token}
        auths[key] = entry
    write_config(cfg)


def erase(domain: str) -> bool:
    """Forget a registry's credentials; False when there were none."""
    cfg = read_config()
    key = server_key(domain)
    auths = cfg.get("auths") or {}
    found = [k for k in auths if k == key or hostname(k) == hostname(key)]
    helper = _helper(cfg, key)
    if helper:
        try:
            _run_helper(helper, "erase", key)
            found = found or [key]
        except CredentialError:
            pass
    for k in found:
        auths.pop(k, None)
    if found:
        write_config(cfg)
    return bool(found)


def encode(auth: dict[str, str]) -> str:
    """X-Registry-Auth: base64url (padded) JSON; ``e30=`` when anonymous."""
    data = json.dumps({k: v for k, v in auth.items() if v}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(data).decode()


def header_for(domain: str) -> str:
    try:
        return encode(get(domain))
    except CredentialError:
        return "e30="


def config_header() -> str:
    """X-Registry-Config for `build`: every stored registry's credentials, keyed by server
    (the daemon picks the ones a FROM image's registry needs); ``e30=`` when none."""
    try:
        keys = list(read_config().get("auths") or {})
    except (CredentialError, OSError, ValueError):
        return "e30="
    out: dict[str, dict[str, str]] = {}
    for key in keys:
        try:
            auth = get(hostname(key))
        except CredentialError:
            continue
        if auth:
            out[key] = auth
    data = json.dumps(out, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(data).decode()
