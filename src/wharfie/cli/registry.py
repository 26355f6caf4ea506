"""The lazy command registry: names map to ``"module:factory"`` strings.

Only the invoked command's module is imported. Short descriptions live here too,
so ``wharfie --help`` lists every command without importing any of them.
"""

from __future__ import annotations

_C = "wharfie.cli.commands."

#: top-level verbs: name -> (target, short description)
COMMANDS: dict[str, tuple[str, str]] = {
    "events": (_C + "events:events_command", "Get real time events from the server"),
    "history": (_C + "history:history_command", "Show the history of an image"),
    "images": (_C + "images:images_command", "List images"),
    "import": (
        _C + "image_import:import_command",
        "Import the contents from a tarball to create a filesystem image",
    ),
    "info": (_C + "info:info_command", "Display system-wide information"),
    "inspect": (_C + "inspect:inspect_command", "Return low-level information on Docker objects"),
    "load": (_C + "load:load_command", "Load an image from a tar archive or STDIN"),
    "rmi": (_C + "rmi:rmi_command", "Remove one or more images"),
    "save": (
        _C + "save:save_command",
        "Save one or more images to a tar archive (streamed to STDOUT by default)",
    ),
    "tag": (_C + "tag:tag_command", "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE"),
    "version": (_C + "version:version_command", "Show the wharfie version information"),
}

#: "Common Commands" section of ``wharfie --help``, in docker's order
COMMON = ("images", "version", "info")

#: management commands: name -> (short, {sub: (target, short)}, {alias: sub})
MANAGEMENT: dict[str, tuple[str, dict[str, tuple[str, str]], dict[str, str]]] = {
    "image": (
        "Manage images",
        {
            "history": (_C + "history:image_history_command", COMMANDS["history"][1]),
            "import": (_C + "image_import:image_import_command", COMMANDS["import"][1]),
            "inspect": (
                _C + "inspect:image_inspect_command",
                "Display detailed information on one or more images",
            ),
            "load": (_C + "load:image_load_command", COMMANDS["load"][1]),
            "ls": (_C + "images:image_ls_command", "List images"),
            "prune": (_C + "prune:image_prune_command", "Remove unused images"),
            "rm": (_C + "rmi:image_rm_command", "Remove one or more images"),
            "save": (_C + "save:image_save_command", COMMANDS["save"][1]),
            "tag": (_C + "tag:image_tag_command", COMMANDS["tag"][1]),
        },
        {"list": "ls", "rmi": "rm", "remove": "rm"},
    ),
    "system": (
        "Manage wharfie",
        {
            "events": (_C + "events:system_events_command", COMMANDS["events"][1]),
            "info": (_C + "info:system_info_command", COMMANDS["info"][1]),
        },
        {},
    ),
}


def resolve(target: str) -> object:
    """Import ``module:attr`` and return the attribute."""
    import importlib

    module_name, _, attr = target.partition(":")
    return getattr(importlib.import_module(module_name), attr)
