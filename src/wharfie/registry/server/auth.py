"""Basic auth against an htpasswd file of bcrypt entries (what `htpasswd -B` writes).

bcrypt is slow on purpose (tens of ms), and `docker push` sends dozens of requests with the
same credentials, so a successful check is remembered by (user, sha256(password)) for as long
as the file is unchanged. Checks run on their own two threads (`check_async`), so a flood of
bad passwords queues there instead of starving the default pool that does all disk I/O; an
unknown user costs a bcrypt too (against a dummy hash), so timing does not reveal user names.
`bcrypt` is imported only here.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from wharfie.registry.server.errors import RegistryError

log = logging.getLogger("wharfie.registry")

REALM = "wharfie-registry"
BCRYPT_THREADS = 2


def parse_htpasswd(text: str) -> dict[str, bytes]:
    """`user:$2y$…` lines → {user: hash}; other hash schemes are refused, not ignored."""
    users: dict[str, bytes] = {}
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        user, sep, hashed = line.partition(":")
        if not sep or not hashed.startswith(("$2y$", "$2b$", "$2a$")):
            raise ValueError(f"htpasswd line {n}: only bcrypt entries are supported (htpasswd -B)")
        users[user] = hashed.encode()
    return users


def parse_basic(header: str) -> tuple[str, str] | None:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, sep, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    return (user, password) if sep else None


class Htpasswd:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._mtime = 0.0
        self._users: dict[str, bytes] = {}
        self._ok: set[tuple[str, bytes]] = set()
        self._dummy: bytes | None = None  # a hash for unknown users, made on first use
        self._pool = ThreadPoolExecutor(BCRYPT_THREADS, thread_name_prefix="wharfie-bcrypt")
        self._reload()

    async def check_async(self, header: str) -> str:
        return await asyncio.get_running_loop().run_in_executor(self._pool, self.check, header)

    def _reload(self) -> None:
        """Pick up edits to the file; a file that vanished or broke keeps the last good users
        (the first load, in __init__, raises instead)."""
        try:
            mtime = os.stat(self.path).st_mtime
            if mtime != self._mtime:
                self._users = parse_htpasswd(self.path.read_text())
                self._ok.clear()
                self._dummy = None
                self._mtime = mtime
        except (OSError, ValueError) as e:
            if not self._mtime:
                raise
            log.warning("keeping the previous htpasswd users: %s", e)

    def check(self, header: str) -> str:
        """Blocking. The user name for a valid `Authorization` header, else UNAUTHORIZED."""
        creds = parse_basic(header) if header else None
        if creds is None:
            raise unauthorized("authentication required")
        user, password = creds
        self._reload()
        key = (user, hashlib.sha256(password.encode()).digest())
        if key in self._ok:
            return user
        import bcrypt

        hashed = self._users.get(user)
        if hashed is None:
            if self._dummy is None:
                raw = next(iter(self._users.values()), b"")[4:6]  # the cost of a real entry
                cost = int(raw) if raw.isdigit() and 4 <= int(raw) <= 31 else 10
                self._dummy = bcrypt.hashpw(b"-", bcrypt.gensalt(rounds=cost))
            bcrypt.checkpw(password.encode(), self._dummy)  # as slow as a known user's check
            raise unauthorized("invalid username or password")
        if not bcrypt.checkpw(password.encode(), hashed.replace(b"$2y$", b"$2b$", 1)):
            raise unauthorized("invalid username or password")
        self._ok.add(key)
        return user


def unauthorized(message: str) -> RegistryError:
    return RegistryError("UNAUTHORIZED", message)


def challenge() -> tuple[str, str]:
    return ("WWW-Authenticate", f'Basic realm="{REALM}"')
