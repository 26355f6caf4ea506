"""The docker CLI's config file (``$DOCKER_CONFIG/config.json``), read-only.

Only the settings the container commands honour are used: ``psFormat``,
``statsFormat``, ``volumesFormat`` and ``detachKeys``. A missing or unreadable
file is an empty config, as for the docker CLI.
"""

from __future__ import annotations

import os
from typing import Any

_cache: dict[str, Any] | None = None


def config_dir() -> str:
    return os.environ.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")


def load_config() -> dict[str, Any]:
    global _cache
    if _cache is None:
        import json

        try:
            with open(os.path.join(config_dir(), "config.json"), "rb") as f:
                data = json.load(f)
        except (OSError, ValueError):
            data = {}
        _cache = data if isinstance(data, dict) else {}
    return _cache
