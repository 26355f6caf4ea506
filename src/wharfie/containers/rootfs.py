"""A container's filesystem: the overlay over its image's snapshots, and its /etc files.

    containers/<id>/diff    the writable upper dir (what `docker diff`/commit read)
    containers/<id>/work    overlayfs work dir
    containers/<id>/merged  the mounted rootfs while the container runs (or cp needs it)
    containers/<id>/hostname, hosts, resolv.conf   bind-mounted into the container
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from wharfie.containers.store import Doc
from wharfie.images.service import ImageService
from wharfie.snapshots.store import remove_tree, tree_size

RESOLV_FALLBACK = "nameserver 8.8.8.8\nnameserver 8.8.4.4\n"


class RootfsManager:
    def __init__(self, root: Path, images: ImageService) -> None:
        self.root = root
        self.images = images

    def dir(self, cid: str) -> Path:
        return self.root / cid

    def prepare(self, doc: Doc) -> None:
        d = self.dir(doc["Id"])
        for sub in ("diff", "work", "merged"):
            (d / sub).mkdir(mode=0o755, exist_ok=True)
        hostname = doc["Config"].get("Hostname") or doc["Id"][:12]
        doc["Config"]["Hostname"] = hostname
        net = doc["HostConfig"].get("NetworkMode")
        if net == "host":
            hostname = os.uname().nodename
        (d / "hostname").write_text(hostname + "\n")
        (d / "hosts").write_text(self._hosts(doc, hostname, net == "host"))
        (d / "resolv.conf").write_text(self._resolv(doc))
        doc["HostnamePath"] = str(d / "hostname")
        doc["HostsPath"] = str(d / "hosts")
        doc["ResolvConfPath"] = str(d / "resolv.conf")
        doc["GraphDriver"]["Data"] = {
            "LowerDir": ":".join(str(self.images.snapshots.fs(c)) for c in reversed(doc["_wharfie"]["chain"])),
            "MergedDir": str(d / "merged"), "UpperDir": str(d / "diff"), "WorkDir": str(d / "work"),
        }

    def write_hosts(self, doc: Doc, peer: Doc | None = None) -> None:
        """At start, once the addresses are known: Docker's `IP<TAB>hostname` line (in place:
        the file is bind-mounted into the container). With `--network container:X` (`peer`),
        X's hostname, hosts and resolv.conf, like Docker."""
        net = doc["HostConfig"].get("NetworkMode")
        if peer is not None:
            doc["Config"]["Hostname"] = peer["Config"].get("Hostname") or doc["Config"].get("Hostname")
            for name in ("hostname", "hosts", "resolv.conf"):
                try:
                    text = (self.dir(peer["Id"]) / name).read_text()
                except OSError:
                    continue
                (self.dir(doc["Id"]) / name).write_text(text)
            return
        if net == "host" or str(net).startswith("container:"):
            return
        hostname = doc["Config"].get("Hostname") or doc["Id"][:12]
        text = self._hosts(doc, hostname, False)
        eps = [ep for ep in (doc["NetworkSettings"].get("Networks") or {}).values() if ep.get("IPAddress")]
        if eps:
            text += f"{eps[0]['IPAddress']}\t{hostname}\n"
        (self.dir(doc["Id"]) / "hosts").write_text(text)

    @staticmethod
    def _hosts(doc: Doc, hostname: str, host_net: bool) -> str:
        if host_net:
            try:
                base = Path("/etc/hosts").read_text()
            except OSError:
                base = "127.0.0.1\tlocalhost\n"
        else:
            base = ("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
                    "fe00::\tip6-localnet\nff00::\tip6-mcastprefix\nff02::1\tip6-allnodes\n"
                    "ff02::2\tip6-allrouters\n")
        gateway = next((ep.get("Gateway") for ep in (doc["NetworkSettings"].get("Networks") or {}).values()
                        if ep.get("Gateway")), "")
        extra = ""
        for h in doc["HostConfig"].get("ExtraHosts") or []:
            name, sep, addr = h.partition(":") if "=" not in h else h.partition("=")
            if not sep:
                continue
            if addr == "host-gateway":  # Docker's special value: the host as the container sees it
                addr = gateway or "127.0.0.1"
            extra += f"{addr}\t{name}\n"
        return base + extra

    @staticmethod
    def _resolv(doc: Doc) -> str:
        hc = doc["HostConfig"]
        if doc["_wharfie"].get("embedded_dns"):
            # User-defined networks: the daemon's resolver (network/dns.py) answers container
            # names and forwards the rest to the --dns servers or the host's.
            search = list(hc.get("DnsSearch") or [])
            if not search:
                try:
                    search = next((line.split()[1:] for line in Path("/etc/resolv.conf").read_text().splitlines()
                                   if line.startswith("search")), [])
                except OSError:
                    search = []
            lines = ["nameserver 127.0.0.11"]
            if search:
                lines.append("search " + " ".join(search))
            lines.append("options " + " ".join(["ndots:0", *(hc.get("DnsOptions") or [])]))
            return "\n".join(lines) + "\n"
        if hc.get("Dns") or hc.get("DnsSearch") or hc.get("DnsOptions"):
            lines = [f"nameserver {d}" for d in hc.get("Dns") or []]
            if hc.get("DnsSearch"):
                lines.append("search " + " ".join(hc["DnsSearch"]))
            if hc.get("DnsOptions"):
                lines.append("options " + " ".join(hc["DnsOptions"]))
            return "\n".join(lines) + "\n"
        try:
            host = Path("/etc/resolv.conf").read_text()
        except OSError:
            return RESOLV_FALLBACK
        if hc.get("NetworkMode") == "host":
            return host
        # Loopback resolvers are unreachable from a container's own network namespace.
        kept = [line for line in host.splitlines()
                if not (line.startswith("nameserver") and (" 127." in line or " ::1" in line))]
        if not any(line.startswith("nameserver") for line in kept):
            kept.append(RESOLV_FALLBACK.strip())
        return "\n".join(kept) + "\n"

    def etc_files(self, doc: Doc) -> dict[str, str]:
        d = self.dir(doc["Id"])
        return {"/etc/hostname": str(d / "hostname"), "/etc/hosts": str(d / "hosts"),
                "/etc/resolv.conf": str(d / "resolv.conf")}

    def merged(self, cid: str) -> str:
        return str(self.dir(cid) / "merged")

    def mount(self, doc: Doc) -> str:
        """Mount the overlay (idempotent) and return the rootfs path."""
        from wharfie.linux import mount

        cid = doc["Id"]
        target = self.merged(cid)
        if mount.is_mountpoint(target):
            return target
        lowers = [str(self.images.snapshots.fs(c)) for c in reversed(doc["_wharfie"]["chain"])]
        d = self.dir(cid)
        if not lowers:  # FROM scratch with nothing: overlay needs a lower dir
            empty = d / "empty"
            empty.mkdir(exist_ok=True)
            lowers = [str(empty)]
        mount.mount_overlay(lowers, str(d / "diff"), str(d / "work"), target)
        return target

    @staticmethod
    def make_workdir(rootfs: str, workdir: str) -> None:
        """Docker creates a missing WorkingDir at start (inside the root, never through it)."""
        from wharfie.runtime.init import mkdir_p

        root = os.open(rootfs, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.close(mkdir_p(root, workdir))
        finally:
            os.close(root)

    def subpaths(self, cid: str) -> str:
        """Where volume subpaths are bind-mounted while the container runs (see volumes)."""
        return str(self.dir(cid) / "subpaths")

    def unmount(self, cid: str) -> None:
        from wharfie.linux import mount

        for target in (self.merged(cid), self.subpaths(cid)):
            try:
                mount.unmount_all_under(target)
            except OSError:
                pass

    def destroy(self, cid: str) -> None:
        from wharfie.linux import mount

        self.unmount(cid)
        d = self.dir(cid)
        if mount.mounts_under(str(d)):  # never delete through a mount (a volume's content)
            raise OSError(f"container {cid[:12]}: mounts remain under {d}")
        if d.exists():
            remove_tree(d)

    def disk_usage(self, cid: str) -> int:
        return tree_size(self.dir(cid) / "diff")


@contextmanager
def overlay_for_image(images: ImageService, image_id: str, tmp: Path) -> Iterator[tuple[str, str]]:
    """A throw-away writable overlay of an image (no container): yields (merged, upper)."""
    from wharfie.linux import mount

    d = Path(tempfile.mkdtemp(prefix="overlay-", dir=tmp))
    merged, upper, work, empty = d / "merged", d / "upper", d / "work", d / "empty"
    for p in (merged, upper, work, empty):
        p.mkdir()
    chain = images.db.image_chain(image_id) if image_id else []
    lowers = [str(images.snapshots.fs(c)) for c in reversed(chain)] or [str(empty)]
    mount.mount_overlay(lowers, str(upper), str(work), str(merged))
    try:
        yield str(merged), str(upper)
    finally:
        mount.umount(str(merged), mount.MNT_DETACH)
        remove_tree(d)
