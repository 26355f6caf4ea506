"""The lazy command registry: names map to ``"module:factory"`` strings.

Only the invoked command's module is imported. Short descriptions live here too,
so ``wharfie --help`` lists every command without importing any of them.
"""

from __future__ import annotations

_C = "wharfie.cli.commands."

#: top-level verbs: name -> (target, short description)
COMMANDS: dict[str, tuple[str, str]] = {
    "attach": (
        _C + "attach:attach_command",
        "Attach local standard input, output, and error streams to a running container",
    ),
    "build": (_C + "build:build_command", "Build an image from a Dockerfile"),
    "commit": (_C + "commit:commit_command", "Create a new image from a container's changes"),
    "cp": (
        _C + "cp:cp_command",
        "Copy files/folders between a container and the local filesystem",
    ),
    "create": (_C + "run:create_command", "Create a new container"),
    "events": (_C + "events:events_command", "Get real time events from the server"),
    "exec": (_C + "container_exec:exec_command", "Execute a command in a running container"),
    "history": (_C + "history:history_command", "Show the history of an image"),
    "images": (_C + "images:images_command", "List images"),
    "import": (
        _C + "image_import:import_command",
        "Import the contents from a tarball to create a filesystem image",
    ),
    "info": (_C + "info:info_command", "Display system-wide information"),
    "inspect": (_C + "inspect:inspect_command", "Return low-level information on Docker objects"),
    "kill": (_C + "kill:kill_command", "Kill one or more running containers"),
    "load": (_C + "load:load_command", "Load an image from a tar archive or STDIN"),
    "login": (_C + "login:login_command", "Authenticate to a registry"),
    "logout": (_C + "login:logout_command", "Log out from a registry"),
    "logs": (_C + "logs:logs_command", "Fetch the logs of a container"),
    "pause": (_C + "pause:pause_command", "Pause all processes within one or more containers"),
    "diff": (_C + "diff:diff_command", "Inspect changes to files or directories on a container's filesystem"),
    "export": (_C + "export:export_command", "Export a container's filesystem as a tar archive"),
    "port": (
        _C + "port:port_command",
        "List port mappings or a specific mapping for the container",
    ),
    "ps": (_C + "ps:ps_command", "List containers"),
    "pull": (_C + "pull:pull_command", "Download an image from a registry"),
    "push": (_C + "push:push_command", "Upload an image to a registry"),
    "rename": (_C + "rename:rename_command", "Rename a container"),
    "restart": (_C + "stop:restart_command", "Restart one or more containers"),
    "rm": (_C + "rm:rm_command", "Remove one or more containers"),
    "rmi": (_C + "rmi:rmi_command", "Remove one or more images"),
    "run": (_C + "run:run_command", "Create and run a new container from an image"),
    "save": (
        _C + "save:save_command",
        "Save one or more images to a tar archive (streamed to STDOUT by default)",
    ),
    "search": (_C + "search:search_command", "Search Docker Hub for images"),
    "start": (_C + "start:start_command", "Start one or more stopped containers"),
    "stats": (
        _C + "stats:stats_command",
        "Display a live stream of container(s) resource usage statistics",
    ),
    "stop": (_C + "stop:stop_command", "Stop one or more running containers"),
    "tag": (_C + "tag:tag_command", "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE"),
    "top": (_C + "top:top_command", "Display the running processes of a container"),
    "unpause": (
        _C + "pause:unpause_command",
        "Unpause all processes within one or more containers",
    ),
    "update": (_C + "update:update_command", "Update configuration of one or more containers"),
    "version": (_C + "version:version_command", "Show the wharfie version information"),
    "wait": (
        _C + "wait:wait_command",
        "Block until one or more containers stop, then print their exit codes",
    ),
}

#: "Common Commands" section of ``wharfie --help``, in docker's order
COMMON = ("run", "exec", "ps", "build", "images", "version", "info")


def _same(*names: str) -> dict[str, tuple[str, str]]:
    """Management sub-commands that are the top-level verb under another path."""
    return {name: COMMANDS[name] for name in names}


#: management commands: name -> (short, {sub: (target, short)}, {alias: sub})
MANAGEMENT: dict[str, tuple[str, dict[str, tuple[str, str]], dict[str, str]]] = {
    "container": (
        "Manage containers",
        {
            **_same("attach", "commit", "cp", "create", "diff", "exec", "export", "kill", "logs", "pause", "port",
                    "rename",
                    "restart", "rm", "run", "start", "stats", "stop", "top", "unpause",
                    "update", "wait"),
            "inspect": (
                _C + "inspect:container_inspect_command",
                "Display detailed information on one or more containers",
            ),
            "ls": (_C + "ps:container_ls_command", "List containers"),
            "prune": (_C + "prune:container_prune_command", "Remove all stopped containers"),
        },
        {"list": "ls", "ps": "ls", "remove": "rm"},
    ),
    "image": (
        "Manage images",
        {
            "build": (_C + "build:image_build_command", COMMANDS["build"][1]),
            "history": (_C + "history:image_history_command", COMMANDS["history"][1]),
            "import": (_C + "image_import:image_import_command", COMMANDS["import"][1]),
            "inspect": (
                _C + "inspect:image_inspect_command",
                "Display detailed information on one or more images",
            ),
            "load": (_C + "load:image_load_command", COMMANDS["load"][1]),
            "ls": (_C + "images:image_ls_command", "List images"),
            "prune": (_C + "prune:image_prune_command", "Remove unused images"),
            "pull": (_C + "pull:image_pull_command", COMMANDS["pull"][1]),
            "push": (_C + "push:image_push_command", COMMANDS["push"][1]),
            "rm": (_C + "rmi:image_rm_command", "Remove one or more images"),
            "save": (_C + "save:image_save_command", COMMANDS["save"][1]),
            "tag": (_C + "tag:image_tag_command", COMMANDS["tag"][1]),
        },
        {"list": "ls", "rmi": "rm", "remove": "rm"},
    ),
    "builder": (
        "Manage builds",
        {
            "build": (_C + "build:build_command", COMMANDS["build"][1]),
            "prune": (_C + "builder:builder_prune_command", "Remove build cache"),
        },
        {},
    ),
    "system": (
        "Manage wharfie",
        {
            "df": (_C + "system_df:df_command", "Show wharfie disk usage"),
            "events": (_C + "events:system_events_command", COMMANDS["events"][1]),
            "info": (_C + "info:system_info_command", COMMANDS["info"][1]),
            "prune": (_C + "prune:system_prune_command", "Remove unused data"),
        },
        {},
    ),
    "registry": (
        "Run an OCI registry",
        {
            "gc": (_C + "registry_server:registry_gc_command",
                   "Delete blobs no manifest references (the registry must be stopped)"),
            "serve": (_C + "registry_server:registry_serve_command", "Run an OCI distribution registry"),
        },
        {},
    ),
    "network": (
        "Manage networks",
        {
            "connect": (_C + "network:network_connect_command", "Connect a container to a network"),
            "create": (_C + "network:network_create_command", "Create a network"),
            "disconnect": (_C + "network:network_disconnect_command", "Disconnect a container from a network"),
            "inspect": (_C + "network:network_inspect_command",
                        "Display detailed information on one or more networks"),
            "ls": (_C + "network:network_ls_command", "List networks"),
            "prune": (_C + "network:network_prune_command", "Remove all unused networks"),
            "rm": (_C + "network:network_rm_command", "Remove one or more networks"),
        },
        {"list": "ls", "remove": "rm"},
    ),
    "volume": (
        "Manage volumes",
        {
            "create": (_C + "volume:volume_create_command", "Create a volume"),
            "inspect": (
                _C + "inspect:volume_inspect_command",
                "Display detailed information on one or more volumes",
            ),
            "ls": (_C + "volume:volume_ls_command", "List volumes"),
            "prune": (_C + "volume:volume_prune_command", "Remove unused local volumes"),
            "rm": (_C + "volume:volume_rm_command", "Remove one or more volumes"),
        },
        {"list": "ls", "remove": "rm"},
    ),
}


def resolve(target: str) -> object:
    """Import ``module:attr`` and return the attribute."""
    import importlib

    module_name, _, attr = target.partition(":")
    return getattr(importlib.import_module(module_name), attr)
