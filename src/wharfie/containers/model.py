"""Container documents: creation from an API request, state changes, Docker's status texts.

A container is stored as Docker's inspect document (`ContainerInspectResponse`), plus a
private `_wharfie` section (image chain, cgroup path, manual-stop flag) that inspect strips.
"""

from __future__ import annotations

import copy
import secrets
import time
from datetime import UTC, datetime
from typing import Any

from wharfie.errors import InvalidArgument
from wharfie.units import human_duration

Doc = dict[str, Any]
ZERO_TIME = "0001-01-01T00:00:00Z"

HOSTCONFIG_DEFAULTS: dict[str, Any] = {
    "Binds": None, "ContainerIDFile": "", "LogConfig": {"Type": "json-file", "Config": {}},
    "NetworkMode": "bridge", "PortBindings": {}, "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0},
    "AutoRemove": False, "VolumeDriver": "", "VolumesFrom": None, "ConsoleSize": [0, 0], "CapAdd": None,
    "CapDrop": None, "CgroupnsMode": "private", "Dns": [], "DnsOptions": [], "DnsSearch": [],
    "ExtraHosts": None, "GroupAdd": None, "IpcMode": "private", "Cgroup": "", "Links": None,
    "OomScoreAdj": 0, "PidMode": "", "Privileged": False, "PublishAllPorts": False,
    "ReadonlyRootfs": False, "SecurityOpt": None, "UTSMode": "", "UsernsMode": "", "ShmSize": 67108864,
    "Runtime": "wharfie", "Isolation": "", "CpuShares": 0, "Memory": 0, "NanoCpus": 0,
    "CgroupParent": "", "BlkioWeight": 0, "BlkioWeightDevice": [], "BlkioDeviceReadBps": [],
    "BlkioDeviceWriteBps": [], "BlkioDeviceReadIOps": [], "BlkioDeviceWriteIOps": [], "CpuPeriod": 0,
    "CpuQuota": 0, "CpuRealtimePeriod": 0, "CpuRealtimeRuntime": 0, "CpusetCpus": "", "CpusetMems": "",
    "Devices": [], "DeviceCgroupRules": None, "DeviceRequests": None, "MemoryReservation": 0,
    "MemorySwap": 0, "MemorySwappiness": None, "OomKillDisable": None, "PidsLimit": None,
    "Ulimits": [], "CpuCount": 0, "CpuPercent": 0, "IOMaximumIOps": 0, "IOMaximumBandwidth": 0,
    "Mounts": None, "MaskedPaths": None, "ReadonlyPaths": None, "Init": None, "Tmpfs": None,
    "Sysctls": None,
}

ADJECTIVES = ("admiring", "agitated", "amazing", "blissful", "bold", "brave", "busy", "calm", "clever",
              "cool", "dazzling", "eager", "ecstatic", "elegant", "epic", "festive", "focused", "friendly",
              "gallant", "gifted", "happy", "hopeful", "jolly", "keen", "kind", "lucid", "magical",
              "modest", "nifty", "nostalgic", "peaceful", "practical", "quirky", "relaxed", "serene",
              "sharp", "stoic", "sweet", "tender", "trusting", "upbeat", "vibrant", "wizardly", "zen")
SURNAMES = ("albattani", "babbage", "bell", "carson", "curie", "darwin", "dijkstra", "einstein",
            "euler", "fermat", "feynman", "gauss", "goldberg", "hamilton", "hopper", "hypatia",
            "johnson", "kepler", "knuth", "lamport", "liskov", "lovelace", "mccarthy", "meitner",
            "newton", "noether", "pascal", "pike", "ritchie", "shannon", "thompson", "turing",
            "wilson", "wozniak", "yalow")


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(s: str) -> float:
    if not s or s.startswith("0001-"):
        return 0.0
    head, _, frac = s.rstrip("Z").partition(".")
    base = datetime.strptime(head, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp()
    return base + (float("0." + frac) if frac else 0.0)


def random_name(taken: set[str]) -> str:
    for _ in range(100):
        name = f"{secrets.choice(ADJECTIVES)}_{secrets.choice(SURNAMES)}"
        if "/" + name not in taken:
            return name
    return f"{secrets.choice(ADJECTIVES)}_{secrets.choice(SURNAMES)}{secrets.randbelow(100)}"


def validate_name(name: str) -> str:
    import re

    bare = name.lstrip("/")
    if not re.fullmatch(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*", bare):
        raise InvalidArgument(f'Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed')
    return "/" + bare


def merge_config(image_cfg: dict[str, Any], req: dict[str, Any]) -> dict[str, Any]:
    """Docker's merge of the image config into the create request's Config."""
    cfg = {k: v for k, v in req.items() if k not in ("HostConfig", "NetworkingConfig")}
    img = image_cfg or {}
    if not cfg.get("User"):
        cfg["User"] = img.get("User", "")
    env = list(img.get("Env") or [])
    keys = {e.split("=", 1)[0]: i for i, e in enumerate(env)}
    for e in cfg.get("Env") or []:
        k = e.split("=", 1)[0]
        if k in keys:
            env[keys[k]] = e
        else:
            keys[k] = len(env)
            env.append(e)
    cfg["Env"] = env
    entry_given = cfg.get("Entrypoint") is not None
    if not entry_given:
        cfg["Entrypoint"] = img.get("Entrypoint")
        if not cfg.get("Cmd"):
            cfg["Cmd"] = img.get("Cmd")
    elif cfg["Entrypoint"] == [""] or cfg["Entrypoint"] == []:
        cfg["Entrypoint"] = None  # --entrypoint "" resets it (and the image's Cmd stays unused)
    if not cfg.get("WorkingDir"):
        cfg["WorkingDir"] = img.get("WorkingDir", "")
    ports = dict(img.get("ExposedPorts") or {})
    ports.update(cfg.get("ExposedPorts") or {})
    cfg["ExposedPorts"] = ports or None
    vols = dict(img.get("Volumes") or {})
    vols.update(cfg.get("Volumes") or {})
    cfg["Volumes"] = vols or None
    labels = dict(img.get("Labels") or {})
    labels.update(cfg.get("Labels") or {})
    cfg["Labels"] = labels
    if not cfg.get("StopSignal") and img.get("StopSignal"):
        cfg["StopSignal"] = img["StopSignal"]
    if cfg.get("Healthcheck") is None and img.get("Healthcheck"):
        cfg["Healthcheck"] = img["Healthcheck"]
    for k, default in (("Hostname", ""), ("Domainname", ""), ("AttachStdin", False), ("AttachStdout", False),
                       ("AttachStderr", False), ("Tty", False), ("OpenStdin", False), ("StdinOnce", False),
                       ("OnBuild", None)):
        cfg.setdefault(k, default)
    return cfg


def command_of(cfg: dict[str, Any]) -> list[str]:
    return list(cfg.get("Entrypoint") or []) + list(cfg.get("Cmd") or [])


def new_doc(cid: str, name: str, image_id: str, cfg: dict[str, Any], host: dict[str, Any]) -> Doc:
    argv = command_of(cfg)
    hc = copy.deepcopy(HOSTCONFIG_DEFAULTS)
    hc.update({k: v for k, v in host.items() if v is not None or k not in hc})
    if not hc.get("LogConfig") or not hc["LogConfig"].get("Type"):
        hc["LogConfig"] = {"Type": "json-file", "Config": (hc.get("LogConfig") or {}).get("Config") or {}}
    if hc.get("NetworkMode") in ("", "default", None):
        hc["NetworkMode"] = "bridge"
    if not hc.get("Runtime"):
        hc["Runtime"] = "wharfie"
    if not (hc.get("RestartPolicy") or {}).get("Name"):
        hc["RestartPolicy"] = {"Name": "no", "MaximumRetryCount": 0}
    return {
        "Id": cid,
        "Created": now_rfc3339(),
        "Path": argv[0] if argv else "",
        "Args": argv[1:],
        "State": {"Status": "created", "Running": False, "Paused": False, "Restarting": False,
                  "OOMKilled": False, "Dead": False, "Pid": 0, "ExitCode": 0, "Error": "",
                  "StartedAt": ZERO_TIME, "FinishedAt": ZERO_TIME},
        "Image": image_id,
        "ResolvConfPath": "", "HostnamePath": "", "HostsPath": "", "LogPath": "",
        "Name": name,
        "RestartCount": 0,
        "Driver": "overlay2",
        "Platform": "linux",
        "MountLabel": "", "ProcessLabel": "", "AppArmorProfile": "",
        "ExecIDs": None,
        "HostConfig": hc,
        "GraphDriver": {"Name": "overlay2", "Data": None},
        "Mounts": [],
        "Config": cfg,
        "NetworkSettings": {"Bridge": "", "SandboxID": "", "SandboxKey": "", "Ports": {},
                            "HairpinMode": False, "LinkLocalIPv6Address": "", "LinkLocalIPv6PrefixLen": 0,
                            "SecondaryIPAddresses": None, "SecondaryIPv6Addresses": None, "EndpointID": "",
                            "Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "IPAddress": "",
                            "IPPrefixLen": 0, "IPv6Gateway": "", "MacAddress": "", "Networks": {}},
        "_wharfie": {"manual_stop": False, "created_unix": time.time()},
    }


def public(doc: Doc) -> Doc:
    return {k: v for k, v in doc.items() if not k.startswith("_")}


def status_text(doc: Doc, now: float | None = None) -> str:
    st = doc["State"]
    now = now or time.time()
    if st.get("Restarting"):
        return f"Restarting ({st['ExitCode']}) {human_duration(now - parse_time(st['FinishedAt']))} ago"
    if st.get("Running"):
        up = f"Up {human_duration(now - parse_time(st['StartedAt']))}"
        if st.get("Paused"):
            return up + " (Paused)"
        health = (st.get("Health") or {}).get("Status")
        return f"{up} (health: starting)" if health == "starting" else f"{up} ({health})" if health else up
    if st.get("Status") == "removing":
        return "Removal In Progress"
    if st.get("Dead"):
        return "Dead"
    if st.get("StartedAt", ZERO_TIME).startswith("0001-"):
        return "Created"
    finished = parse_time(st["FinishedAt"])
    return f"Exited ({st['ExitCode']}) {human_duration(now - finished)} ago" if finished else f"Exited ({st['ExitCode']})"


def command_text(doc: Doc) -> str:
    """Like dockerd: path and args joined by spaces, no quoting (the CLI quotes the column)."""
    return f"{doc['Path']} {' '.join(doc['Args'])}" if doc["Args"] else doc["Path"]
