"""From a container document to an OCI spec: user lookup, resources, security options.

The user named by `-u`/`USER` is resolved against the container's own /etc/passwd and
/etc/group (read through openat2 so image symlinks can't point the lookup at the host).
"""

from __future__ import annotations

import os
import stat
from typing import Any

from wharfie.errors import InvalidArgument
from wharfie.linux.openat2 import RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS, openat2
from wharfie.runtime import spec as oci


def read_in_root(rootfs: str, path: str, limit: int = 4 << 20) -> str:
    root = os.open(rootfs, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:  # O_NONBLOCK: a FIFO planted by the container must not hang a daemon thread
        fd = openat2(root, path.lstrip("/"), os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC, 0,
                     RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)
    except OSError:
        return ""
    finally:
        os.close(root)
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return ""
        return fh.read(limit).decode(errors="replace")


def _entries(text: str) -> list[list[str]]:
    return [line.split(":") for line in text.splitlines() if line and not line.startswith("#")]


def resolve_user(rootfs: str, spec: str, group_add: list[str] | None = None) -> oci.User:
    """Docker's `user[:group]` rules: names looked up in the image, numbers taken as they are."""
    user_part, _, group_part = (spec or "").partition(":")
    passwd = _entries(read_in_root(rootfs, "/etc/passwd"))
    groups = _entries(read_in_root(rootfs, "/etc/group"))
    uid, gid, home, name = 0, 0, "/", "root" if not user_part else user_part
    found = None
    if user_part:
        for e in passwd:
            if len(e) >= 6 and (e[0] == user_part or (user_part.isdigit() and e[2] == user_part)):
                found = e
                break
        if found is None and not user_part.isdigit():
            raise InvalidArgument(f"unable to find user {user_part}: no matching entries in passwd file")
    else:
        found = next((e for e in passwd if len(e) >= 6 and e[2] == "0"), None)
    if found is not None:
        name, uid, gid, home = found[0], int(found[2]), int(found[3]), found[5] or "/"
    elif user_part.isdigit():
        uid, gid = int(user_part), 0
    if group_part:
        gid = _group_id(groups, group_part)
    extra = sorted({int(g[2]) for g in groups if len(g) >= 4 and name in g[3].split(",") and g[2].isdigit()})
    for g in group_add or []:
        extra.append(_group_id(groups, g))
    return oci.User(uid=uid, gid=gid, additional_gids=[g for g in dict.fromkeys(extra) if g != gid] or [], home=home)


def _group_id(groups: list[list[str]], spec: str) -> int:
    if spec.isdigit():
        return int(spec)
    for g in groups:
        if len(g) >= 3 and g[0] == spec:
            return int(g[2])
    raise InvalidArgument(f"unable to find group {spec}: no matching entries in group file")


INIT_PATH = "/sbin/docker-init"


def init_binary() -> str:
    """The static init `--init` uses: docker-init if installed, else Debian's tini-static."""
    import shutil

    for name in ("docker-init", "tini-static"):
        found = shutil.which(name)
        if found:
            return found
    raise InvalidArgument("--init needs an init binary: install docker-init or tini (tini-static)")


def resources_of(hc: dict[str, Any]) -> dict[str, Any]:
    """HostConfig limits → OCI linux.resources."""
    res: dict[str, Any] = {}
    memory: dict[str, Any] = {}
    if hc.get("Memory"):
        memory["limit"] = int(hc["Memory"])
    if hc.get("MemorySwap"):
        memory["swap"] = int(hc["MemorySwap"])
    if hc.get("MemoryReservation"):
        memory["reservation"] = int(hc["MemoryReservation"])
    if memory:
        res["memory"] = memory
    cpu: dict[str, Any] = {}
    if hc.get("CpuShares"):
        cpu["shares"] = int(hc["CpuShares"])
    if hc.get("NanoCpus"):
        cpu["period"] = 100000
        cpu["quota"] = int(hc["NanoCpus"]) * 100000 // 1_000_000_000
    if hc.get("CpuQuota"):
        cpu["quota"] = int(hc["CpuQuota"])
        cpu["period"] = int(hc.get("CpuPeriod") or 100000)
    elif hc.get("CpuPeriod"):
        cpu["period"] = int(hc["CpuPeriod"])
    if hc.get("CpusetCpus"):
        cpu["cpus"] = hc["CpusetCpus"]
    if hc.get("CpusetMems"):
        cpu["mems"] = hc["CpusetMems"]
    if cpu:
        res["cpu"] = cpu
    if hc.get("PidsLimit") and int(hc["PidsLimit"]) > 0:
        res["pids"] = {"limit": int(hc["PidsLimit"])}
    if hc.get("BlkioWeight"):
        res["blockIO"] = {"weight": int(hc["BlkioWeight"])}
    return res


def capabilities_of(hc: dict[str, Any]) -> list[str]:
    from wharfie.linux import caps

    return caps.tweak_caps(list(oci.DEFAULT_CAPS), hc.get("CapAdd") or [], hc.get("CapDrop") or [])


def security_of(hc: dict[str, Any], capabilities: list[str]) -> tuple[bool, dict[str, Any] | None]:
    """(no_new_privileges, OCI seccomp section) from `--security-opt`."""
    from wharfie.linux import seccomp

    nnp = False
    profile: Any = "default"
    for opt in hc.get("SecurityOpt") or []:
        key, sep, value = opt.partition("=") if "=" in opt else opt.partition(":")
        if key == "no-new-privileges":
            nnp = value.lower() in ("", "true", "1")
        elif key == "seccomp":
            profile = value
        elif key in ("label", "apparmor"):
            continue  # no LSM on this engine; accepted like Docker on hosts without one
        else:
            raise InvalidArgument(f"invalid --security-opt: {opt!r}")
    if hc.get("Privileged"):
        return nnp, None
    loaded = seccomp.from_security_opt("" if profile == "default" else profile, capabilities)
    return nnp, loaded.to_oci() if loaded is not None else None


def build_spec(doc: dict[str, Any], rootfs: str, mounts: list[oci.Mount], etc_files: dict[str, str]) -> dict[str, Any]:
    cfg, hc = doc["Config"], doc["HostConfig"]
    user = resolve_user(rootfs, cfg.get("User") or "", hc.get("GroupAdd"))
    env = list(cfg.get("Env") or [])
    if not any(e.startswith("PATH=") for e in env):
        env.insert(0, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
    if not any(e.startswith("HOSTNAME=") for e in env):
        env.insert(1, f"HOSTNAME={cfg.get('Hostname', '')}")
    if cfg.get("Tty") and not any(e.startswith("TERM=") for e in env):
        env.append("TERM=xterm")
    if not any(e.startswith("HOME=") for e in env):
        env.append(f"HOME={user.home}")
    capabilities = capabilities_of(hc)
    nnp, seccomp_section = security_of(hc, capabilities)
    net = hc.get("NetworkMode") or "bridge"
    network_ns: str | None = doc["_wharfie"].get("netns", None if net == "host" else "")
    argv = [doc["Path"], *doc["Args"]]
    init_mounts = []
    if hc.get("Init"):  # like Docker: a tini bound at /sbin/docker-init reaps and forwards signals
        argv = [INIT_PATH, "--", *argv]
        init_mounts.append(oci.Mount(INIT_PATH, "bind", init_binary(), ["bind", "ro"]))
    tmpfs = [oci.Mount(dest, "tmpfs", "tmpfs", ["nosuid", "nodev", "noexec", *[o for o in opts.split(",") if o]])
             for dest, opts in (hc.get("Tmpfs") or {}).items()]
    inputs = oci.SpecInputs(
        rootfs=rootfs, args=argv, env=env, cwd=cfg.get("WorkingDir") or "/", user=user,
        hostname=cfg.get("Hostname", "") if net != "host" else "", domainname=cfg.get("Domainname", ""),
        terminal=bool(cfg.get("Tty")), readonly_rootfs=bool(hc.get("ReadonlyRootfs")),
        privileged=bool(hc.get("Privileged")), capabilities=capabilities, no_new_privileges=nnp,
        seccomp=seccomp_section, mounts=init_mounts + mounts + tmpfs, etc_files=etc_files, network_ns=network_ns,
        cgroups_path=f"wharfie/{doc['Id']}", resources=resources_of(hc),
        shm_size=int(hc.get("ShmSize") or 64 << 20), masked_paths=hc.get("MaskedPaths"),
        readonly_paths=hc.get("ReadonlyPaths"), sysctl=dict(hc.get("Sysctls") or {}),
        rlimits=[{"type": f"RLIMIT_{u['Name'].upper()}", "soft": int(u["Soft"]), "hard": int(u["Hard"])}
                 for u in hc.get("Ulimits") or []],
    )
    return oci.build(inputs)
