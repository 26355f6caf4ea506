"""NetworkService: networks (bridge/host/none and user-defined ones) and container endpoints.

Lifecycle of a container's networking, driven by the container service:

    plan(doc, NetworkingConfig)   at create: validate the mode, record the endpoint configs
    attach(doc) -> ns path        at start: a pinned netns (netns.py), one veth per network
                                  (bridge.py) with a leased address (ipam.py, store.py),
                                  published ports reserved (portmap.py) and DNAT'ed (nat.py),
                                  the 127.0.0.11 resolver for user networks (dns.py)
    release(doc)                  at exit: all of that undone, leases returned
    restore(docs)                 at daemon start, for containers still running: ports
                                  re-reserved, rules re-rendered, resolvers reopened

Blocking work (netlink, nft, SQLite) runs in worker threads; the resolvers live on the loop.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wharfie.errors import Conflict, Forbidden, InvalidArgument, NotFound, WharfieError
from wharfie.events import EventBus
from wharfie.images import filters as flt
from wharfie.network import dns, ipam, nat, netns, portmap
from wharfie.network.store import NetworkStore

log = logging.getLogger("wharfie.network")

Doc = dict[str, Any]
BUILTIN = ("bridge", "host", "none")
DRIVERS = {"bridge": "bridge", "host": "host", "none": "null"}
DEFAULT_BRIDGE = "wharfie0"
DEFAULT_BIP = "10.87.0.1/16"
DEFAULT_POOLS = [{"base": "10.90.0.0/15", "size": 24}]
OPT = "com.docker.network.bridge."
RESERVED = ("gateway", "aux")  # lease owners that are not containers
BRIDGE_OPTIONS = {OPT + k for k in ("name", "host_binding_ipv4", "enable_ip_masquerade", "enable_icc")}


def _opt_bool(options: dict[str, str], key: str) -> bool:
    v = options.get(key, "true").strip().lower()
    if v in ("1", "t", "true", "yes"):
        return True
    if v in ("0", "f", "false", "no"):
        return False
    raise InvalidArgument(f"invalid value for {key}: {options[key]!r} (true or false)")


def parse_mac(value: object) -> str:
    """A requested MAC address (EndpointConfig / Config.MacAddress), normalised; "" for none."""
    text = str(value or "").strip()
    if not text:
        return ""
    parts = re.split(r"[:-]", text)
    if len(parts) != 6 or not all(re.fullmatch(r"[0-9A-Fa-f]{2}", p) for p in parts):
        raise InvalidArgument(f"invalid MAC address: {text}")
    if int(parts[0], 16) & 1:
        raise InvalidArgument(f"invalid MAC address {text}: a multicast address")
    return ":".join(parts).lower()


def parse_link(link: object) -> tuple[str, str]:
    """A legacy link, "container:alias" or "container" (alias = the name), as (name, alias)."""
    text = str(link or "")
    if not text:
        raise InvalidArgument("empty string specified for links")
    parts = text.split(":")
    if len(parts) > 2 or not all(parts):
        raise InvalidArgument(f"bad format for links: {text}")
    if len(parts) == 1:
        return text.lstrip("/"), text.lstrip("/")
    return parts[0].lstrip("/"), parts[1].rsplit("/", 1)[-1]  # "/foo:/c1/bar" as stored by Docker


def check_bridge_options(options: dict[str, str]) -> None:
    """The `com.docker.network.bridge.*` options wharfie honours; any other one is refused
    rather than silently ignored (most of them ask for more restriction)."""
    for k in options:
        if k.startswith(OPT) and k not in BRIDGE_OPTIONS:
            raise InvalidArgument(f"unsupported bridge option {k}")
    _opt_bool(options, OPT + "enable_ip_masquerade")
    if not _opt_bool(options, OPT + "enable_icc"):
        raise InvalidArgument(f"{OPT}enable_icc=false is not supported by wharfie")
    hb = options.get(OPT + "host_binding_ipv4")
    if hb is not None:
        try:
            ipaddress.IPv4Address(hb)
        except ValueError:
            raise InvalidArgument(f"invalid {OPT}host_binding_ipv4: {hb!r} (an IPv4 address)") from None


@dataclass
class NetSettings:
    bridge: str = DEFAULT_BRIDGE
    bip: ipaddress.IPv4Interface = field(default_factory=lambda: ipaddress.IPv4Interface(DEFAULT_BIP))
    pools: list[ipam.Pool] = field(default_factory=lambda: [ipam.Pool.parse(p) for p in DEFAULT_POOLS])
    firewall: str = ""  # "nftables" | "iptables" | "" = nftables when `nft` exists

    @property
    def table(self) -> str:
        return "wharfie_" + "".join(c if c.isalnum() else "_" for c in self.bridge)

    @classmethod
    def from_config(cls, bridge: str | None, bip: str | None, pools: Any, firewall: str | None = None) -> NetSettings:
        s = cls()
        if firewall:
            if firewall not in ("nftables", "iptables"):
                raise InvalidArgument(f"invalid firewall-backend {firewall!r}: nftables or iptables")
            s.firewall = firewall
        if bridge:
            if len(bridge) > 15 or not all(c.isascii() and (c.isalnum() or c in "-_.") for c in bridge):
                raise InvalidArgument(f"invalid bridge name: {bridge!r}")
            s.bridge = bridge
        if pools:
            if not isinstance(pools, list):
                raise InvalidArgument("default-address-pools must be a list of {base, size}")
            s.pools = [ipam.Pool.parse(p) for p in pools]
            if not bip:  # like dockerd: the default bridge takes the first pool's first subnet
                first = next(s.pools[0].base.subnets(new_prefix=s.pools[0].size))
                s.bip = ipaddress.IPv4Interface(f"{first.network_address + 1}/{first.prefixlen}")
        if bip:
            try:
                s.bip = ipaddress.IPv4Interface(bip)
            except ValueError:
                raise InvalidArgument(f"invalid --bip: {bip}") from None
        return s


def _now() -> str:
    from wharfie.containers.model import now_rfc3339

    return now_rfc3339()


def public(doc: Doc) -> Doc:
    return {k: v for k, v in doc.items() if not k.startswith("_")}


def host_if(endpoint_id: str) -> str:
    return "veth" + endpoint_id[:7]


@dataclass
class Published:
    rules: list[portmap.Binding]
    address: str


class NetworkService:
    def __init__(self, data_root: Path, exec_root: Path, events: EventBus, settings: NetSettings) -> None:
        d = data_root / "network"
        d.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.store = NetworkStore(d / "network.db")
        self.sandbox_root = exec_root / "netns"
        self.settings = settings
        self.events = events
        self.containers: Callable[[], list[Doc]] = list
        self.reservations = portmap.Reservations()
        self.published: dict[str, Published] = {}  # guarded by rules_lock (worker threads)
        self.rules_lock = threading.RLock()
        self.resolvers: dict[str, dns.Resolver] = {}
        # create, remove and endpoint attach: a subnet is chosen once, a network is never
        # removed under a container that is joining it (worker threads)
        self.net_lock = threading.RLock()

    # -- set-up ------------------------------------------------------------------------------
    def sandbox(self, cid: str) -> str:
        return str(self.sandbox_root / cid)

    async def setup(self) -> None:
        await asyncio.to_thread(self._setup_sync)

    def _setup_sync(self) -> None:
        from wharfie.network import bridge

        bridge.enable_forwarding()
        s = self.settings
        net = s.bip.network
        docs = {d["Name"]: d for d in self.store.all()}
        old = docs.get("bridge")
        if old is not None and (old["IPAM"]["Config"][0]["Subnet"] != str(net) or old.get("_bridge") != s.bridge):
            self.store.delete(old["Id"])  # --bip / --bridge changed: the default network follows
            bridge.delete_bridge(old["_bridge"])
            old = None
        if old is None:
            clash = ipam.overlaps(net, [ipaddress.IPv4Network(d["IPAM"]["Config"][0]["Subnet"])
                                        for d in self.store.all() if d["Driver"] == "bridge"])
            if clash is not None:
                raise InvalidArgument(f"--bip {s.bip} overlaps network {clash}")
            doc = self._doc(secrets.token_hex(32), "bridge", "bridge", str(net), str(s.bip.ip), False, {}, {
                "com.docker.network.bridge.default_bridge": "true",
                "com.docker.network.bridge.enable_icc": "true",
                "com.docker.network.bridge.enable_ip_masquerade": "true",
                "com.docker.network.bridge.host_binding_ipv4": "0.0.0.0",
                "com.docker.network.bridge.name": s.bridge,
                "com.docker.network.driver.mtu": "1500"}, s.bridge)
            self.store.insert(doc)
            self.store.lease(doc["Id"], str(s.bip.ip), "gateway")
        for name in ("host", "none"):
            if name not in docs:
                self.store.insert(self._doc(secrets.token_hex(32), name, DRIVERS[name], "", "", False, {}, {}, ""))
        for d in self.store.all():
            if d["Driver"] == "bridge":
                self._ensure_bridge(d)

    @staticmethod
    def _doc(nid: str, name: str, driver: str, subnet: str, gateway: str, internal: bool,
             labels: dict[str, str], options: dict[str, str], bridge_name: str) -> Doc:
        return {
            "Name": name, "Id": nid, "Created": _now(), "Scope": "local", "Driver": driver,
            "EnableIPv4": True, "EnableIPv6": False,
            "IPAM": {"Driver": "default", "Options": None,
                     "Config": [{"Subnet": subnet, "Gateway": gateway}] if subnet else []},
            "Internal": internal, "Attachable": False, "Ingress": False,
            "ConfigFrom": {"Network": ""}, "ConfigOnly": False,
            "Options": options, "Labels": labels, "_bridge": bridge_name,
        }

    def _ensure_bridge(self, d: Doc) -> None:
        from wharfie.network import bridge

        cfg = d["IPAM"]["Config"][0]
        bridge.ensure_bridge(d["_bridge"], cfg["Gateway"], ipaddress.IPv4Network(cfg["Subnet"]).prefixlen)

    def _apply_rules(self) -> None:
        with self.rules_lock:
            nets = [nat.NetRules(d["_bridge"], d["IPAM"]["Config"][0]["Subnet"], bool(d["Internal"]),
                                 _opt_bool(d.get("Options") or {}, OPT + "enable_ip_masquerade"))  # (checked at create)
                    for d in self.store.all() if d["Driver"] == "bridge"]
            rules = [nat.PortRule(b.proto, b.host_ip, b.host_port, p.address, b.port)
                     for p in self.published.values() if p.address for b in p.rules]
            self._firewall().apply(self.settings.table, nets, rules)

    def _firewall(self) -> Any:
        """nat.py (nftables) or its iptables twin: the same apply."""
        if not self.settings.firewall:
            self.settings.firewall = "nftables" if nat.available() else "iptables"
            log.info("firewall backend: %s", self.settings.firewall)
        if self.settings.firewall == "iptables":
            from wharfie.network import iptables

            return iptables
        return nat

    # -- queries -----------------------------------------------------------------------------
    def get(self, ref: str) -> Doc:
        return self.store.get(ref)

    def _endpoints(self, nid: str) -> dict[str, Doc]:
        out = {}
        for c in self.containers():
            for ep in (c["NetworkSettings"].get("Networks") or {}).values():
                if ep.get("NetworkID") == nid and ep.get("EndpointID"):
                    out[c["Id"]] = {"Name": c["Name"].lstrip("/"), "EndpointID": ep["EndpointID"],
                                    "MacAddress": ep.get("MacAddress", ""),
                                    "IPv4Address": f"{ep['IPAddress']}/{ep['IPPrefixLen']}" if ep.get("IPAddress") else "",
                                    "IPv6Address": ""}
        return out

    def inspect(self, ref: str) -> Doc:
        d = self.get(ref)
        return {**public(d), "Containers": self._endpoints(d["Id"])}

    def _users(self, nid: str) -> list[Doc]:
        return [c for c in self.containers()
                if any(ep.get("NetworkID") == nid for ep in (c["NetworkSettings"].get("Networks") or {}).values())]

    def list_networks(self, raw_filters: str | None) -> list[Doc]:
        filters = flt.parse_filters(raw_filters)
        flt.validate(filters, {"dangling", "driver", "id", "label", "name", "scope", "type"})
        out = []
        for d in sorted(self.store.all(), key=lambda d: d["Created"]):
            if "name" in filters and not any(v in d["Name"] for v in filters["name"]):
                continue
            if "id" in filters and not any(d["Id"].startswith(v) for v in filters["id"]):
                continue
            if "driver" in filters and d["Driver"] not in filters["driver"]:
                continue
            if "scope" in filters and d["Scope"] not in filters["scope"]:
                continue
            if "label" in filters and not all(flt.label_match(d.get("Labels") or {}, s) for s in filters["label"]):
                continue
            if "type" in filters:
                kinds = set(filters["type"])
                if not kinds <= {"custom", "builtin"}:
                    raise InvalidArgument(f"invalid filter: 'type'='{','.join(sorted(kinds))}'")
                if ("builtin" if d["Name"] in BUILTIN else "custom") not in kinds:
                    continue
            if "dangling" in filters:
                dangling = d["Name"] not in BUILTIN and not self._users(d["Id"])
                if dangling != flt.get_bool(filters, "dangling"):
                    continue
            out.append({**public(d), "Containers": {}})
        return out

    # -- create / remove ---------------------------------------------------------------------
    async def create(self, body: dict[str, Any]) -> str:
        if not isinstance(body, dict) or not isinstance(body.get("Name"), str):
            raise InvalidArgument("invalid name: name is empty")
        doc = await asyncio.to_thread(self._create_sync, body)
        self.events.publish("network", "create", doc["Id"], {"name": doc["Name"], "type": doc["Driver"]})
        return str(doc["Id"])

    def _create_sync(self, body: dict[str, Any]) -> Doc:
        with self.net_lock:  # two creates never pick the same subnet (or bridge name)
            return self._create_locked(body)

    def _create_locked(self, body: dict[str, Any]) -> Doc:
        from wharfie.network import bridge

        name = str(body["Name"])
        # Docker takes any name that is not blank ("test 01" too); a name only ever reaches the
        # store, DNS answers and API documents: bridges and rules are named from the ID
        if not name.strip():
            raise InvalidArgument("invalid name: name is empty")
        if name in (*BUILTIN, "default"):
            raise Forbidden(f"operation is not permitted on predefined {name} network")
        driver = body.get("Driver") or "bridge"
        if driver != "bridge":
            if driver in ("host", "null"):
                raise Forbidden(f"only one instance of \"{driver}\" network is allowed")
            raise NotFound(f"plugin \"{driver}\" not found")
        if body.get("EnableIPv6"):
            raise InvalidArgument("IPv6 networks are not supported by wharfie")
        try:
            self.store.get(name)
            raise Conflict(f"network with name {name} already exists")
        except NotFound:
            pass
        others = [ipaddress.IPv4Network(d["IPAM"]["Config"][0]["Subnet"]) for d in self.store.all()
                  if d["Driver"] == "bridge"]
        configs = ((body.get("IPAM") or {}).get("Config")) or []
        if len(configs) > 1:
            raise InvalidArgument("wharfie networks take one IPAM config (one IPv4 subnet)")
        cfg = configs[0] if configs else {}
        if cfg.get("Subnet"):
            subnet = ipam.parse_subnet(cfg["Subnet"])
            clash = ipam.overlaps(subnet, others)
            if clash is not None:
                raise Forbidden("invalid pool request: Pool overlaps with other one on this address space")
        else:
            if cfg.get("Gateway"):
                raise InvalidArgument("a gateway needs a subnet (--subnet)")
            subnet = ipam.pick_subnet(self.settings.pools, others + bridge.routes_v4())
        gateway = ipam.check_address(subnet, cfg["Gateway"], "gateway") if cfg.get("Gateway") else ipam.default_gateway(subnet)
        ip_range = ""
        if cfg.get("IPRange"):
            rng = ipam.parse_subnet(cfg["IPRange"]) if "/" in str(cfg["IPRange"]) else None
            if rng is None or not rng.subnet_of(subnet):
                raise InvalidArgument(f"invalid ip-range {cfg['IPRange']}: it must be a CIDR inside {subnet}")
            ip_range = str(rng)
        aux = cfg.get("AuxiliaryAddresses") or {}
        if not isinstance(aux, dict):
            raise InvalidArgument("AuxiliaryAddresses must be a map of names to addresses")
        aux = {str(k): ipam.check_address(subnet, str(v), f"auxiliary address {k}") for k, v in aux.items()}
        ipam_opts = (body.get("IPAM") or {}).get("Options")
        if ipam_opts is not None and not isinstance(ipam_opts, dict):
            raise InvalidArgument("IPAM Options must be a map of strings")
        nid = secrets.token_hex(32)
        options = {str(k): str(v) for k, v in (body.get("Options") or {}).items()}
        check_bridge_options(options)
        br = options.get(OPT + "name") or f"br-{nid[:12]}"
        if len(br) > 15 or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", br):
            raise InvalidArgument(f"invalid bridge name {br!r}: up to 15 of [A-Za-z0-9_.-]")
        if any(d.get("_bridge") == br for d in self.store.all()) or br == self.settings.bridge:
            raise Conflict(f"bridge name {br} is already used by another network")
        if bridge.exists(br):  # never adopt (and later delete) an interface that isn't ours
            raise Conflict(f"interface {br} already exists: choose another bridge name")
        doc = self._doc(nid, name, "bridge", str(subnet), gateway, bool(body.get("Internal")),
                        {str(k): str(v) for k, v in (body.get("Labels") or {}).items()}, options, br)
        doc["Attachable"] = bool(body.get("Attachable"))
        if ip_range:
            doc["IPAM"]["Config"][0]["IPRange"] = ip_range
        if aux:
            doc["IPAM"]["Config"][0]["AuxiliaryAddresses"] = aux
        # as given (Docker): null when the request had none, `docker network create` sends {}
        doc["IPAM"]["Options"] = None if ipam_opts is None else {str(k): str(v) for k, v in ipam_opts.items()}
        self.store.insert(doc)
        try:
            self.store.lease(nid, gateway, "gateway")
            for k, a in aux.items():  # reserved: never given to a container
                if not self.store.lease(nid, a, "aux"):
                    raise InvalidArgument(f"auxiliary address {k}={a} is already reserved (the gateway?)")
            self._ensure_bridge(doc)
            self._apply_rules()
        except BaseException:
            self.store.delete(nid)
            bridge.delete_bridge(br)
            raise
        return doc

    async def remove(self, ref: str) -> None:
        d = self.get(ref)
        if d["Name"] in BUILTIN:
            raise Forbidden(f"{d['Name']} is a pre-defined network and cannot be removed")
        await asyncio.to_thread(self._remove_sync, d)
        self.events.publish("network", "destroy", d["Id"], {"name": d["Name"], "type": d["Driver"]})

    def _remove_sync(self, d: Doc) -> None:
        from wharfie.network import bridge

        with self.net_lock:  # no container joins meanwhile (_connect_endpoint takes it too)
            d = self.get(d["Id"])  # still there? (another remove)
            leased = any(nid == d["Id"] and owner not in RESERVED for nid, _a, owner in self.store.leases())
            if leased or self._endpoints(d["Id"]):
                raise Forbidden(f"error while removing network: network {d['Name']} id {d['Id']} has active endpoints")
            self.store.delete(d["Id"])
            bridge.delete_bridge(d["_bridge"])
            self._apply_rules()

    async def prune(self, raw_filters: str | None) -> list[str]:
        filters = flt.parse_filters(raw_filters)
        flt.validate(filters, {"label", "label!", "until"})
        gone = []
        for d in self.store.all():
            if d["Name"] in BUILTIN or self._users(d["Id"]):
                continue
            if "label" in filters and not all(flt.label_match(d.get("Labels") or {}, s) for s in filters["label"]):
                continue
            if "label!" in filters and any(flt.label_match(d.get("Labels") or {}, s) for s in filters["label!"]):
                continue
            if "until" in filters:
                from wharfie.containers.model import parse_time

                if parse_time(d["Created"]) >= flt.parse_until(filters["until"][0], time.time()):
                    continue
            try:
                await self.remove(d["Id"])
                gone.append(d["Name"])
            except WharfieError as e:
                log.warning("prune: %s", e)
        return gone

    # -- container endpoints -------------------------------------------------------------------
    def plan(self, doc: Doc, networking: dict[str, Any] | None) -> list[str]:
        """At create: check the mode and record `NetworkSettings.Networks` (no addresses yet).
        Returns the create warnings."""
        hc = doc["HostConfig"]
        mode = hc.get("NetworkMode") or "bridge"
        warnings = []
        if (mode == "host" or mode.startswith("container:")) and (hc.get("PortBindings") or hc.get("PublishAllPorts")):
            warnings.append("Published ports are discarded when using host network mode")
        if mode == "default":
            mode = hc["NetworkMode"] = "bridge"
        endpoints = dict(((networking or {}).get("EndpointsConfig")) or {})
        if "default" in endpoints:
            endpoints.setdefault("bridge", endpoints.pop("default"))
        if mode.startswith("container:"):
            if not mode[len("container:"):]:
                raise InvalidArgument("invalid network mode: container: needs a container")
            doc["NetworkSettings"]["Networks"] = {}
            return warnings
        net = self.get(mode)
        if mode != net["Name"]:  # built-ins by name: "host"/"none"/"bridge" are checked as such
            mode = hc["NetworkMode"] = net["Name"] if net["Name"] in BUILTIN or not net["Id"].startswith(mode) else mode
        first = endpoints.pop(mode, None) or endpoints.pop(net["Name"], None) or endpoints.pop(net["Id"], None) or {}
        if net["Name"] in ("host", "none") and endpoints:
            raise InvalidArgument("container cannot be connected to multiple networks with one of "
                                  "the networks in private (none) mode" if net["Name"] == "none" else
                                  "container cannot be disconnected from host network or connected to host network")
        legacy = parse_mac(doc["Config"].get("MacAddress"))
        if legacy:  # deprecated: the main network's endpoint takes it (Docker)
            if net["Name"] not in ("host", "none"):
                first = dict(first)
                if not first.get("MacAddress"):
                    first["MacAddress"] = legacy
                elif parse_mac(first["MacAddress"]) != legacy:
                    raise InvalidArgument("the container-wide MAC address must match the endpoint-specific "
                                          "MAC address for the main network, or be left empty")
            warnings.append("The container-wide MacAddress field is now deprecated. It should be specified "
                            "in EndpointsConfig instead.")
        out = {net["Name"]: self._endpoint_config(doc, net, first)}
        for ref, cfg in endpoints.items():
            other = self.get(ref)
            if other["Driver"] != "bridge":
                raise InvalidArgument(f"container cannot be connected to network {other['Name']} and {net['Name']}")
            out[other["Name"]] = self._endpoint_config(doc, other, cfg or {})
        doc["NetworkSettings"]["Networks"] = out
        return warnings

    def _endpoint_config(self, doc: Doc, net: Doc, cfg: dict[str, Any]) -> Doc:
        aliases = list(cfg.get("Aliases") or [])
        ipam_cfg = cfg.get("IPAMConfig") or None
        user = net["Name"] not in BUILTIN
        if aliases and not user:
            raise InvalidArgument("network-scoped alias is supported only for containers in user defined networks")
        if ipam_cfg and ipam_cfg.get("IPv4Address"):
            if not user:
                raise InvalidArgument("user specified IP address is supported on user defined networks only")
            ipam.check_address(ipaddress.IPv4Network(net["IPAM"]["Config"][0]["Subnet"]), ipam_cfg["IPv4Address"])
        links = list(cfg.get("Links") or [])
        for link in links:
            parse_link(link)
        mac = parse_mac(cfg.get("MacAddress"))
        if mac and net["Driver"] != "bridge":
            raise InvalidArgument(f"a MAC address needs a bridge network, not {net['Name']}")
        macs = doc.setdefault("_wharfie", {}).setdefault("macs", {})  # kept across stops (Docker)
        if mac:
            macs[net["Name"]] = mac
        else:
            macs.pop(net["Name"], None)
        return {"IPAMConfig": ipam_cfg, "Links": links or None, "Aliases": aliases or None,
                "MacAddress": mac, "DriverOpts": cfg.get("DriverOpts"), "GwPriority": cfg.get("GwPriority") or 0,
                "NetworkID": net["Id"], "EndpointID": "", "Gateway": "", "IPAddress": "", "IPPrefixLen": 0,
                "IPv6Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
                "DNSNames": None}

    def uses_embedded_dns(self, doc: Doc) -> bool:
        mode = doc["HostConfig"].get("NetworkMode") or "bridge"
        return mode not in BUILTIN and not mode.startswith("container:")

    async def attach(self, doc: Doc) -> str | None:
        """At start: the network namespace path for the spec ("" = a private one, None = host)."""
        mode = doc["HostConfig"].get("NetworkMode") or "bridge"
        if mode == "host":
            return None
        if mode == "none":
            return ""
        if mode.startswith("container:"):
            return self._joined(doc, mode[len("container:"):])
        cid = doc["Id"]
        try:
            await asyncio.to_thread(self._attach_sync, doc)
            if self.uses_embedded_dns(doc) or any(n not in BUILTIN for n in doc["NetworkSettings"]["Networks"]):
                await self._open_resolver(doc)
        except BaseException:
            await self.release(doc)
            raise
        for name, ep in doc["NetworkSettings"]["Networks"].items():
            self.events.publish("network", "connect", ep["NetworkID"], {"container": cid, "name": name,
                                                                         "type": "bridge"})
        return self.sandbox(cid)

    def _joined(self, doc: Doc, ref: str) -> str | None:
        other = next((c for c in self.containers() if c["Id"] == ref or c["Name"] == "/" + ref
                      or (len(ref) >= 3 and c["Id"].startswith(ref))), None)
        if other is None:
            raise NotFound(f"No such container: {ref}")
        if not other["State"]["Running"]:
            raise Conflict(f"cannot join network namespace of a non running container: container {other['Id']} is not running")
        doc["_wharfie"]["net_peer"] = other["Id"]  # its hostname, hosts and resolv.conf too (Docker)
        mode = other["HostConfig"].get("NetworkMode") or ""
        if mode == "host":
            return None
        key = other["NetworkSettings"].get("SandboxKey") or ""
        if key:
            return key
        return f"/proc/{other['State']['Pid']}/ns/net"

    def _attach_sync(self, doc: Doc) -> None:
        cid = doc["Id"]
        path = self.sandbox(cid)
        netns.create(path)
        ns = doc["NetworkSettings"]
        ns["SandboxKey"] = path
        ns["SandboxID"] = secrets.token_hex(32)
        routed = False  # the default route: via the first network that isn't internal
        for name, ep in ns["Networks"].items():
            try:
                net = self.get(ep.get("NetworkID") or name)
            except NotFound:  # re-created under the same name (the default one after --bip changed)
                net = self.get(name)
            self._connect_endpoint(doc, net, ep, default_route=not routed)
            routed = routed or not net["Internal"]
        self._publish(doc)

    def _connect_endpoint(self, doc: Doc, net: Doc, ep: Doc, default_route: bool) -> None:
        with self.net_lock:  # not while the network is being removed
            self.get(net["Id"])  # NotFound if it just was
            self._connect_locked(doc, net, ep, default_route)

    def _connect_locked(self, doc: Doc, net: Doc, ep: Doc, default_route: bool) -> None:
        from wharfie.network import bridge

        cid = doc["Id"]
        subnet = ipaddress.IPv4Network(net["IPAM"]["Config"][0]["Subnet"])
        gateway = net["IPAM"]["Config"][0]["Gateway"]
        want = ((ep.get("IPAMConfig") or {}).get("IPv4Address")) or ""
        if want:
            address = ipam.check_address(subnet, want)
            if not self.store.lease(net["Id"], address, cid):
                raise Conflict(f"Address already in use: {address}")
        else:
            pool = net["IPAM"]["Config"][0].get("IPRange")  # --ip-range: dynamic addresses from there
            # under net_lock (every lease is): nothing can take the address in between
            address = ipam.next_free(subnet, self.store.used(net["Id"]),
                                     ipaddress.IPv4Network(pool) if pool else None)
            if not self.store.lease(net["Id"], address, cid):
                raise Conflict(f"no available IPv4 addresses on network {net['Name']}")
        eid = secrets.token_hex(32)
        mac = self._desired_mac(doc, net["Name"]) or bridge.mac_for(address)
        try:
            self._ensure_bridge(net)
            bridge.attach(net["_bridge"], self.sandbox(cid), host_if(eid), address, subnet.prefixlen,
                          gateway, mac, default_route and not net["Internal"])
        except BaseException:
            self.store.release(net["Id"], cid, address)
            raise
        user = net["Name"] not in BUILTIN
        ep.update(NetworkID=net["Id"], EndpointID=eid, Gateway=gateway if not net["Internal"] else "",
                  IPAddress=address, IPPrefixLen=subnet.prefixlen, MacAddress=mac,
                  DNSNames=[doc["Name"].lstrip("/"), *(ep.get("Aliases") or []), cid[:12]] if user else None)
        if net["Name"] == "bridge":
            doc["NetworkSettings"].update(Bridge="", EndpointID=eid, Gateway=gateway, IPAddress=address,
                                          IPPrefixLen=subnet.prefixlen, MacAddress=mac)

    @staticmethod
    def _desired_mac(doc: Doc, network: str) -> str:
        return str(((doc.get("_wharfie") or {}).get("macs") or {}).get(network) or "")

    def _primary_address(self, doc: Doc) -> str:
        for ep in doc["NetworkSettings"]["Networks"].values():
            if ep.get("IPAddress"):
                return str(ep["IPAddress"])
        return ""

    def _host_binding(self, doc: Doc) -> str:
        """-p without an address: the host_binding_ipv4 of the network ports are DNAT'ed to."""
        for ep in doc["NetworkSettings"]["Networks"].values():
            if ep.get("IPAddress") and ep.get("NetworkID"):
                try:
                    opts = self.get(ep["NetworkID"]).get("Options") or {}
                except NotFound:
                    return ""
                hb = opts.get(OPT + "host_binding_ipv4", "")
                return "" if hb == "0.0.0.0" else hb
        return ""

    def _publish(self, doc: Doc) -> None:
        cid, hc, cfg = doc["Id"], doc["HostConfig"], doc["Config"]
        bindings = []
        default_ip = self._host_binding(doc)
        try:
            for proto, port, ip, rng in portmap.wanted(hc.get("PortBindings"), bool(hc.get("PublishAllPorts")),
                                                       cfg.get("ExposedPorts")):
                ip = ip or default_ip
                host_port = self.reservations.reserve(cid, proto, ip, rng)
                bindings.append(portmap.Binding(proto, ip or "0.0.0.0", host_port, port))
        except BaseException:
            self.reservations.release(cid)
            raise
        exposed = dict(cfg.get("ExposedPorts") or {})
        for key in hc.get("PortBindings") or {}:
            exposed.setdefault(key if "/" in key else f"{key}/tcp", {})
        doc["NetworkSettings"]["Ports"] = portmap.ports_doc(bindings, exposed)
        if not bindings:
            return  # the rules don't change: no nft run for a container that publishes nothing
        with self.rules_lock:
            self.published[cid] = Published(bindings, self._primary_address(doc))
            try:
                self._apply_rules()
            except BaseException:
                self.published.pop(cid, None)
                self.reservations.release(cid)
                raise

    async def release(self, doc: Doc) -> None:
        """At exit (or a failed start): everything attach made, undone. Idempotent."""
        r = self.resolvers.pop(doc["Id"], None)
        if r is not None:
            r.close()
        mode = doc["HostConfig"].get("NetworkMode") or "bridge"
        if mode in ("host", "none") or mode.startswith("container:"):
            return
        attached = [(n, ep["NetworkID"]) for n, ep in doc["NetworkSettings"].get("Networks", {}).items()
                    if ep.get("EndpointID")]
        await asyncio.to_thread(self._release_sync, doc)
        for name, nid in attached:
            self.events.publish("network", "disconnect", nid, {"container": doc["Id"], "name": name,
                                                                "type": "bridge"})

    def _release_sync(self, doc: Doc) -> None:
        from wharfie.network import bridge

        cid = doc["Id"]
        self.reservations.release(cid)
        with self.rules_lock:
            if self.published.pop(cid, None) is not None:
                try:
                    self._apply_rules()
                except WharfieError as e:
                    log.warning("could not update the nftables rules: %s", e)
        ns = doc["NetworkSettings"]
        for name, ep in ns.get("Networks", {}).items():
            if ep.get("EndpointID"):
                bridge.delete_link(host_if(ep["EndpointID"]))
            if ep.get("NetworkID"):
                self.store.release(ep["NetworkID"], cid)
            ep.update(EndpointID="", Gateway="", IPAddress="", IPPrefixLen=0, DNSNames=None,
                      MacAddress=self._desired_mac(doc, name))
        netns.remove(self.sandbox(cid))
        ns.update(SandboxKey="", SandboxID="", EndpointID="", Gateway="", IPAddress="", IPPrefixLen=0,
                  MacAddress="", Ports={})

    # -- DNS -----------------------------------------------------------------------------------
    async def _open_resolver(self, doc: Doc) -> None:
        cid = doc["Id"]
        if cid in self.resolvers:
            return
        path = self.sandbox(cid)

        def sockets() -> tuple[Any, Any]:
            with netns.inside(path):
                return dns.Resolver.open_sockets()

        udp, tcp = await asyncio.to_thread(sockets)
        upstream = list(doc["HostConfig"].get("Dns") or [])
        r = dns.Resolver(udp, tcp, lambda name: self.lookup(cid, name),
                         lambda: upstream or dns.host_servers())
        await r.start()
        self.resolvers[cid] = r

    def lookup(self, cid: str, name: str) -> list[str] | None:
        """Addresses of `name` as seen from container `cid` (its user-defined networks)."""
        me = next((c for c in self.containers() if c["Id"] == cid), None)
        if me is None:
            return None
        mine = {n: ep for n, ep in me["NetworkSettings"]["Networks"].items()
                if n not in BUILTIN and ep.get("EndpointID")}
        if not name.startswith("ptr:"):  # legacy links: an alias of this container's endpoint
            for n, ep in mine.items():   # names the linked container on that network (Docker)
                for link in ep.get("Links") or []:
                    target, alias = parse_link(link)
                    if name in (alias.lower(), f"{alias.lower()}.{n.lower()}"):
                        hits = self._resolve({ep["NetworkID"]}, target.lower())
                        if hits:
                            return hits
        return self._resolve({ep["NetworkID"] for ep in mine.values()}, name)

    def _resolve(self, nets: set[str], name: str) -> list[str] | None:
        """Addresses of `name` (or the names of a "ptr:" address) on the networks `nets`."""
        found: list[str] = []
        reverse = name[4:] if name.startswith("ptr:") else ""
        for c in self.containers():
            for n, ep in (c["NetworkSettings"].get("Networks") or {}).items():
                if ep.get("NetworkID") not in nets or not ep.get("IPAddress"):
                    continue
                if reverse:  # Docker answers `container.network` for a container's address
                    if ep["IPAddress"] == reverse:
                        found.append(f"{c['Name'].lstrip('/')}.{n}")
                    continue
                names = {c["Name"].lstrip("/").lower(), c["Id"][:12], *(a.lower() for a in ep.get("Aliases") or [])}
                if name in names or name in {f"{x}.{n.lower()}" for x in names}:
                    found.append(ep["IPAddress"])
        return list(dict.fromkeys(found)) or None

    # -- connect / disconnect --------------------------------------------------------------------
    async def connect(self, ref: str, doc: Doc, cfg: dict[str, Any]) -> None:
        net = self.get(ref)
        mode = doc["HostConfig"].get("NetworkMode") or ""
        if mode in ("host", "none") or mode.startswith("container:") or net["Driver"] != "bridge":
            raise Forbidden("container sharing network namespace with another container or host "
                            "cannot be connected to any other network")
        nets = doc["NetworkSettings"]["Networks"]
        if net["Name"] in nets:
            raise Forbidden(f"endpoint with name {doc['Name'].lstrip('/')} already exists in network {net['Name']}")
        ep = self._endpoint_config(doc, net, cfg or {})
        if doc["State"]["Running"]:
            routed = any(e.get("EndpointID") and e.get("Gateway") for e in nets.values())
            await asyncio.to_thread(self._connect_endpoint, doc, net, ep, not routed)
            nets[net["Name"]] = ep
            if net["Name"] not in BUILTIN:
                await self._open_resolver(doc)
        else:
            nets[net["Name"]] = ep
        self.events.publish("network", "connect", net["Id"], {"container": doc["Id"], "name": net["Name"],
                                                                "type": net["Driver"]})

    async def disconnect(self, ref: str, doc: Doc, force: bool) -> None:
        net = self.get(ref)
        nets = doc["NetworkSettings"]["Networks"]
        name = net["Name"]
        if name not in nets:
            raise Forbidden(f"container {doc['Id']} is not connected to network {name}")
        if name in ("host", "none"):
            raise Forbidden("container cannot be disconnected from host network or connected to host network")
        ep = nets[name]
        if doc["State"]["Running"] and ep.get("EndpointID"):
            await asyncio.to_thread(self._disconnect_sync, doc, net, ep)
        ((doc.get("_wharfie") or {}).get("macs") or {}).pop(name, None)
        del nets[name]  # NetworkMode stays (Docker): connecting to another network works again
        self.events.publish("network", "disconnect", net["Id"], {"container": doc["Id"], "name": name,
                                                                   "type": net["Driver"]})

    def _disconnect_sync(self, doc: Doc, net: Doc, ep: Doc) -> None:
        from wharfie.network import bridge

        bridge.detach(self.sandbox(doc["Id"]), ep["IPAddress"])
        bridge.delete_link(host_if(ep["EndpointID"]))
        if ep.get("Gateway"):  # it may have held the default route: the next network takes it
            gw = next((e["Gateway"] for e in doc["NetworkSettings"]["Networks"].values()
                       if e is not ep and e.get("EndpointID") and e.get("Gateway")), "")
            if gw:
                bridge.ensure_default_route(self.sandbox(doc["Id"]), gw)
        self.store.release(net["Id"], doc["Id"])
        if net["Name"] == "bridge":
            doc["NetworkSettings"].update(EndpointID="", Gateway="", IPAddress="", IPPrefixLen=0, MacAddress="")
        with self.rules_lock:
            p = self.published.get(doc["Id"])
            if p is not None and p.address == ep["IPAddress"]:
                ep["IPAddress"] = ""
                p.address = self._primary_address(doc)
                self._apply_rules()

    # -- recovery --------------------------------------------------------------------------------
    async def restore(self, running: list[Doc]) -> None:
        """After a daemon restart: containers still running keep their ports, rules, resolvers.
        Leases of containers that are not running any more are returned."""
        def sync() -> None:
            alive = {d["Id"] for d in running}
            self._sweep(running)
            for nid, address, owner in self.store.leases():
                if owner not in RESERVED and owner not in alive:
                    self.store.release(nid, owner, address)
            for d in running:
                ports = d["NetworkSettings"].get("Ports") or {}
                rules = []
                for key, binds in ports.items():
                    port, proto = portmap.split_port(key)
                    for b in binds or []:
                        hp = int(b.get("HostPort") or 0)
                        try:
                            self.reservations.reserve(d["Id"], proto, b.get("HostIp") or "", (hp, hp))
                        except WharfieError as e:
                            log.warning("container %s: port %s: %s", d["Id"][:12], hp, e)
                        rules.append(portmap.Binding(proto, b.get("HostIp") or "0.0.0.0", hp, port))
                if rules:
                    with self.rules_lock:
                        self.published[d["Id"]] = Published(rules, self._primary_address(d))
            try:
                self._apply_rules()
            except WharfieError as e:  # e.g. nft missing: containers still run, ports don't
                log.error("could not install the nftables rules: %s", e)

        await asyncio.to_thread(sync)
        for d in running:
            if any(n not in BUILTIN for n in d["NetworkSettings"].get("Networks") or {}) \
                    and netns.exists(self.sandbox(d["Id"])):
                try:
                    await self._open_resolver(d)
                except OSError as e:
                    log.warning("container %s: no embedded DNS: %s", d["Id"][:12], e)

    def _sweep(self, running: list[Doc]) -> None:
        """What a crash during a start (or stop) left: namespaces of containers not running,
        veths on our bridges that no running container's endpoint owns."""
        from wharfie.network import bridge

        alive = {d["Id"] for d in running}
        try:
            pinned = [p.name for p in self.sandbox_root.iterdir()]
        except OSError:
            pinned = []
        for cid in pinned:
            if cid not in alive:
                log.info("removing the leftover network namespace of %s", cid[:12])
                netns.remove(self.sandbox(cid))
        owned = {host_if(ep["EndpointID"]) for d in running
                 for ep in (d["NetworkSettings"].get("Networks") or {}).values() if ep.get("EndpointID")}
        for d in self.store.all():
            if d["Driver"] == "bridge":
                for link in bridge.ports(d["_bridge"]):
                    if link.startswith("veth") and link not in owned:
                        log.info("removing leftover %s from %s", link, d["_bridge"])
                        bridge.delete_link(link)

    async def shutdown(self) -> None:
        """The daemon stops: resolvers and reservations go, the kernel state (links, rules,
        namespaces) stays for the containers that keep running."""
        for r in self.resolvers.values():
            r.close()
        self.resolvers.clear()
        for owner in list(self.reservations.socks):
            self.reservations.release(owner)
        await asyncio.to_thread(self.store.close)
