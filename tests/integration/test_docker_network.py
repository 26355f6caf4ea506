"""The real docker CLI and SDK against wharfied: bridge networks, published ports, DNS.

Traffic goes only to 127.0.0.1 and to addresses of containers in namespaces these tests
made (the mirror fetch of the build test goes out through the NAT like any container's).
Busybox 1.35's static wget segfaults on host names, `-T` and URLs without a port: names are
resolved with `nslookup` and fetched as `http://ADDR:80/…`.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from support.daemon import WharfieDaemon

HTTPD = ["sh", "-c", "mkdir -p /www && echo \"hello from $(hostname)\" > /www/index.html && exec httpd -f -p 80 -h /www"]


@pytest.fixture(scope="module", autouse=True)
def busybox(daemon: WharfieDaemon, busybox_archive: Path) -> None:
    daemon.docker.ok("load", "-i", str(busybox_archive))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fetch(port: int, path: str = "/index.html", timeout: float = 10) -> str:
    """GET from 127.0.0.1:PORT, retrying while the server in the container comes up."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
                return str(r.read().decode())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def lookup(docker, container: str, name: str) -> list[str]:  # type: ignore[no-untyped-def]
    """Addresses of `name` from inside `container` (busybox nslookup through its resolv.conf)."""
    r = docker("exec", container, "nslookup", name)
    return [line.split()[-1] for line in r.out.splitlines()[2:] if line.startswith("Address")]


def cleanup(docker, *names: str) -> None:  # type: ignore[no-untyped-def]
    docker("rm", "-f", *names)


def test_publish_on_loopback_serves_the_host(docker) -> None:
    port = free_port()
    cid = docker.ok("run", "-d", "--name", "web1", "-p", f"127.0.0.1:{port}:80", "busybox", *HTTPD).strip()
    try:
        assert fetch(port) == f"hello from {cid[:12]}\n"
        row = docker.ok("ps", "--filter", "name=web1", "--format", "{{.Ports}}").strip()
        assert row == f"127.0.0.1:{port}->80/tcp"
        assert docker.ok("port", "web1").strip() == f"80/tcp -> 127.0.0.1:{port}"
        for spec, hit in ((str(port), True), (f"{port}/tcp", True), (f"{port}/udp", False),
                          (f"{port - 1}-{port + 1}", True), ("80", False)):
            assert ("web1" in docker.ok("ps", "--filter", f"publish={spec}", "--format", "{{.Names}}")) == hit, spec
        info = json.loads(docker.ok("inspect", "web1"))[0]
        ns = info["NetworkSettings"]
        assert ns["Ports"] == {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(port)}]}
        bridge = ns["Networks"]["bridge"]
        assert bridge["IPAddress"] == ns["IPAddress"] and bridge["Gateway"] == ns["Gateway"]
        assert ns["MacAddress"].startswith("02:42:") and ns["SandboxKey"]
        # the container sees its address, the default route and /etc/hosts like Docker's
        out = docker.ok("exec", "web1", "sh", "-c", "ip -4 route; tail -1 /etc/hosts")
        assert f"default via {bridge['Gateway']}" in out
        assert f"{bridge['IPAddress']}\t{cid[:12]}" in out
        stats = json.loads(docker.ok("stats", "--no-stream", "--format", "{{json .}}", "web1"))
        assert stats["NetIO"] != "0B / 0B"  # counters of the container's eth0
        # hairpin: another container's published port through the host's bridge address
        other = free_port()
        docker.ok("run", "-d", "--name", "web1c", "-p", f"{other}:80", "busybox", *HTTPD)
        got = docker.ok("exec", "web1", "wget", "-q", "-O-", f"http://{bridge['Gateway']}:{other}/index.html")
        assert got.startswith("hello from")
        docker.ok("rm", "-f", "web1c")
        # a second container asking for the same host port gets Docker's error
        r = docker("run", "-d", "--name", "web1b", "-p", f"127.0.0.1:{port}:80", "busybox", *HTTPD)
        assert r.rc != 0 and "port is already allocated" in r.err
    finally:
        cleanup(docker, "web1", "web1b")
    with pytest.raises(OSError):  # released with the container
        urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=2)


def test_publish_all_and_port(docker, tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM busybox\nEXPOSE 80\n")
    docker.ok("build", "-q", "-t", "exposing", str(tmp_path))
    docker.ok("run", "-d", "--name", "web2", "--expose", "9999/udp", "-P", "exposing", *HTTPD)
    try:
        tcp = docker.ok("port", "web2", "80/tcp").split()[0]
        ip, _, port = tcp.rpartition(":")
        assert ip == "0.0.0.0" and int(port) >= 1024
        assert fetch(int(port)).startswith("hello from")
        assert docker.ok("port", "web2", "9999/udp").startswith("0.0.0.0:")
        ports = docker.ok("ps", "--filter", "name=web2", "--format", "{{.Ports}}").strip()
        assert f"0.0.0.0:{port}->80/tcp" in ports and "->9999/udp" in ports
    finally:
        cleanup(docker, "web2")
        docker("rmi", "exposing")


def test_port_range_and_udp(docker) -> None:
    a = free_port()
    docker.ok("run", "-d", "--name", "udp1", "-p", f"127.0.0.1:{a}:53/udp", "busybox", "sleep", "60")
    try:
        assert docker.ok("port", "udp1").strip() == f"53/udp -> 127.0.0.1:{a}"
        # a host range for one container port: the first free one of the range is taken
        docker.ok("run", "-d", "--name", "rng1", "-p", f"127.0.0.1:{a}-{a + 20}:53/udp", "busybox", "sleep", "60")
        got = int(docker.ok("port", "rng1", "53/udp").strip().rsplit(":", 1)[1])
        assert a < got <= a + 20
        # ranges on both sides map port to port
        b = free_port()
        docker.ok("run", "-d", "--name", "rng2", "-p", f"127.0.0.1:{b}-{b + 1}:80-81", "busybox", "sleep", "60")
        assert docker.ok("port", "rng2").splitlines() == [f"80/tcp -> 127.0.0.1:{b}", f"81/tcp -> 127.0.0.1:{b + 1}"]
    finally:
        cleanup(docker, "udp1", "rng1", "rng2")


def test_user_network_name_alias_and_short_id(docker) -> None:
    docker.ok("network", "create", "--label", "team=net", "appnet")
    try:
        web = docker.ok("run", "-d", "--name", "web3", "--network", "appnet", "--network-alias", "www",
                        "busybox", *HTTPD).strip()
        client = docker.ok("run", "-d", "--name", "client3", "--network", "appnet", "busybox", "sleep", "300").strip()
        info = json.loads(docker.ok("inspect", "web3"))[0]["NetworkSettings"]["Networks"]["appnet"]
        addr = info["IPAddress"]
        assert info["Aliases"] == ["www"] and info["DNSNames"][:2] == ["web3", "www"]
        assert docker.ok("exec", "client3", "cat", "/etc/resolv.conf").startswith("nameserver 127.0.0.11\n")
        for name in ("web3", "www", web[:12], "WEB3"):
            assert lookup(docker, "client3", name) == [addr], name
        assert docker.ok("exec", "client3", "wget", "-q", "-O-", f"http://{addr}:80/index.html") == \
            f"hello from {web[:12]}\n"
        assert "web3.appnet" in docker.ok("exec", "client3", "nslookup", addr)  # reverse (PTR)
        # names of containers elsewhere are not answered; the rest is forwarded upstream
        assert lookup(docker, "client3", "no-such-container-here") == []
        # the network's view
        net = json.loads(docker.ok("network", "inspect", "appnet"))[0]
        assert net["Driver"] == "bridge" and net["Labels"] == {"team": "net"}
        assert set(net["Containers"]) == {web, client}
        assert net["Containers"][web]["IPv4Address"] == f"{addr}/{info['IPPrefixLen']}"
        assert docker.ok("ps", "--filter", "network=appnet", "--format", "{{.Names}}").split() == ["client3", "web3"]
        r = docker("network", "rm", "appnet")
        assert r.rc != 0 and "has active endpoints" in r.err
    finally:
        cleanup(docker, "web3", "client3")
        docker("network", "rm", "appnet")
    assert "appnet" not in docker.ok("network", "ls", "--format", "{{.Name}}").split()


def test_network_create_options_ls_prune(docker, daemon: WharfieDaemon) -> None:
    pool = daemon.network_config()["default-address-pools"][0]["base"]  # type: ignore[index]
    subnet = pool.replace(".0.0/16", ".200.0/24")
    gw = subnet.replace(".0/24", ".254")
    docker.ok("network", "create", "--subnet", subnet, "--gateway", gw, "--internal", "fixed")
    docker.ok("network", "create", "--subnet", subnet.replace(".200.0/24", ".201.0/24"),
              "--ip-range", subnet.replace(".200.0/24", ".201.64/26"), "spare")
    try:
        net = json.loads(docker.ok("network", "inspect", "fixed"))[0]
        assert net["IPAM"]["Config"] == [{"Subnet": subnet, "Gateway": gw}] and net["Internal"] is True
        ip = subnet.replace(".0/24", ".77")
        out = docker.ok("run", "--rm", "--network", "fixed", "--ip", ip, "busybox", "ip", "-4", "addr", "show", "eth0")
        assert f"inet {ip}/24" in out
        out = docker.ok("run", "--rm", "--network", "spare", "busybox", "ip", "-4", "addr", "show", "eth0")
        assert f"inet {subnet.replace('.200.0/24', '.201.65')}/24" in out  # from --ip-range
        r = docker("network", "create", "-o", 'com.docker.network.bridge.name=x"; flush', "hostile")
        assert r.rc != 0 and "invalid bridge name" in r.err
        r = docker("network", "create", "--subnet", subnet, "clash")
        assert r.rc != 0 and "overlaps" in r.err
        names = docker.ok("network", "ls", "--format", "{{.Name}} {{.Driver}}").splitlines()
        assert {"bridge bridge", "host host", "none null", "fixed bridge", "spare bridge"} <= set(names)
        assert docker.ok("network", "ls", "-q", "--filter", "type=builtin").count("\n") == 3
        r = docker("network", "rm", "bridge")
        assert r.rc != 0 and "pre-defined network" in r.err
        pruned = docker.ok("network", "prune", "-f")
        assert "fixed" in pruned and "spare" in pruned
    finally:
        docker("network", "rm", "fixed", "spare")


def test_connect_and_disconnect_live(docker) -> None:
    docker.ok("network", "create", "livenet")
    try:
        docker.ok("run", "-d", "--name", "server4", "--network", "livenet", "busybox", *HTTPD)
        docker.ok("run", "-d", "--name", "roamer", "busybox", "sleep", "300")
        server_ip = json.loads(docker.ok("inspect", "server4"))[0]["NetworkSettings"]["Networks"]["livenet"]["IPAddress"]
        r = docker("exec", "roamer", "timeout", "5", "wget", "-q", "-O-", f"http://{server_ip}:80/index.html")
        assert r.rc != 0  # not on that network yet (networks are isolated from each other)
        docker.ok("network", "connect", "--alias", "wanderer", "livenet", "roamer")
        nets = json.loads(docker.ok("inspect", "roamer"))[0]["NetworkSettings"]["Networks"]
        assert set(nets) == {"bridge", "livenet"}
        mine = nets["livenet"]["IPAddress"]
        assert f"inet {mine}/" in docker.ok("exec", "roamer", "ip", "-4", "addr", "show", "eth1")
        assert docker.ok("exec", "roamer", "wget", "-q", "-O-", f"http://{server_ip}:80/index.html").startswith("hello")
        assert lookup(docker, "server4", "wanderer") == [mine]
        docker.ok("network", "disconnect", "livenet", "roamer")
        assert "eth1" not in docker.ok("exec", "roamer", "ip", "link")
        assert "livenet" not in json.loads(docker.ok("inspect", "roamer"))[0]["NetworkSettings"]["Networks"]
        assert lookup(docker, "server4", "wanderer") == []
        assert docker("exec", "roamer", "timeout", "5", "wget", "-q", "-O-", f"http://{server_ip}:80/index.html").rc != 0
    finally:
        cleanup(docker, "server4", "roamer")
        docker("network", "rm", "livenet")


def test_network_none_has_only_loopback(docker) -> None:
    out = docker.ok("run", "--rm", "--network", "none", "busybox", "ls", "/sys/class/net")
    assert out.split() == ["lo"]
    assert docker.ok("run", "--rm", "--network", "none", "busybox", "cat", "/sys/class/net/lo/operstate").strip() \
        in ("unknown", "up")


def test_network_host_sees_the_hosts_interfaces(docker) -> None:
    out = docker.ok("run", "--rm", "--network", "host", "busybox", "ls", "/sys/class/net")
    assert set(out.split()) == set(os.listdir("/sys/class/net"))
    info = docker.ok("run", "--rm", "--network", "host", "busybox", "hostname")
    assert info.strip() == os.uname().nodename
    r = docker("run", "--rm", "--network", "host", "-p", "1:1", "busybox", "true")
    assert r.rc == 0 and "WARNING: Published ports are discarded when using host network mode" in r.err


def test_container_mode_shares_the_namespace(docker) -> None:
    docker.ok("run", "-d", "--name", "base5", "busybox", *HTTPD)
    try:
        out = docker.ok("run", "--rm", "--network", "container:base5", "busybox", "wget", "-q", "-O-",
                        "http://127.0.0.1:80/index.html")
        assert out.startswith("hello from")
        base_id = docker.ok("inspect", "-f", "{{.Id}}", "base5").strip()
        out = docker.ok("run", "--rm", "--network", "container:base5", "busybox", "sh", "-c", "hostname; cat /etc/hosts")
        assert out.startswith(base_id[:12] + "\n") and f"\t{base_id[:12]}" in out  # the peer's names
    finally:
        cleanup(docker, "base5")


def test_dns_and_add_host_flags(docker) -> None:
    out = docker.ok("run", "--rm", "--dns", "10.9.9.9", "--add-host", "db.local:10.1.2.3",
                    "--add-host", "gw:host-gateway", "busybox", "sh", "-c", "cat /etc/resolv.conf /etc/hosts")
    assert "nameserver 10.9.9.9" in out and "10.1.2.3\tdb.local" in out
    gw = json.loads(docker.ok("network", "inspect", "bridge"))[0]["IPAM"]["Config"][0]["Gateway"]
    assert f"{gw}\tgw" in out


def _mirror_host() -> str:
    """The Debian mirror apt uses on this machine (sources.list or deb822 .sources)."""
    import re

    for path in ["/etc/apt/sources.list", *sorted(str(p) for p in Path("/etc/apt/sources.list.d").glob("*"))]:
        try:
            text = Path(path).read_text()
        except OSError:
            continue
        for m in re.finditer(r"(?:^deb\s+(?:\[[^]]*\]\s+)?|^URIs:\s*)https?://([^/\s]+)/debian\b", text, re.M):
            return m.group(1)
    return "deb.debian.org"


def _has_default_route() -> bool:
    return any(line.split()[1] == "00000000" for line in Path("/proc/net/route").read_text().splitlines()[1:])


def test_build_run_step_reaches_the_package_mirror(docker, tmp_path: Path) -> None:
    if not _has_default_route():
        pytest.skip("this machine has no route to anywhere (no default route): the mirror is unreachable")
    host = _mirror_host()
    (tmp_path / "Dockerfile").write_text(
        "FROM busybox\n"
        f"RUN A=$(nslookup {host} | awk '/^Address: /{{print $2}}' | grep -v : | tail -1) && echo addr=$A && "
        f"wget -q -O /release --header 'Host: {host}' http://$A:80/debian/dists/bookworm/Release && "
        "grep -q '^Origin: Debian' /release && ip -4 route | grep default\n")
    r = docker("build", "--no-cache", "-t", "mirrorcheck", str(tmp_path), timeout=180)
    assert r.rc == 0, r.out + r.err
    # the RUN step was on the bridge (its own namespace, default route via our gateway)
    gw = json.loads(docker.ok("network", "inspect", "bridge"))[0]["IPAM"]["Config"][0]["Gateway"]
    assert f"default via {gw}" in r.out + r.err
    # --network none: no route out
    (tmp_path / "Dockerfile").write_text("FROM busybox\nRUN ls /sys/class/net > /nets && test \"$(cat /nets)\" = lo\n")
    docker.ok("build", "--no-cache", "--network", "none", "-t", "nonecheck", str(tmp_path), timeout=120)
    docker("rmi", "mirrorcheck", "nonecheck")


def test_sdk_networks_and_ports(daemon: WharfieDaemon) -> None:
    import docker as docker_sdk

    client = docker_sdk.DockerClient(base_url=daemon.url, timeout=120)
    port = free_port()
    net = client.networks.create("sdknet", driver="bridge", labels={"k": "v"})
    try:
        assert {n.name for n in client.networks.list()} >= {"bridge", "host", "none", "sdknet"}
        assert client.networks.get("sdknet").attrs["Labels"] == {"k": "v"}
        web = client.containers.run("busybox", HTTPD, name="sdkweb", detach=True, network="sdknet",
                                    ports={"80/tcp": ("127.0.0.1", port)})
        web.reload()
        assert web.ports == {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(port)}]}
        assert fetch(port).startswith("hello from")
        other = client.containers.run("busybox", ["sleep", "300"], name="sdkother", detach=True)
        net.connect(other, aliases=["buddy"])
        net.reload()
        assert {c.name for c in net.containers} == {"sdkweb", "sdkother"}
        addr = web.attrs["NetworkSettings"]["Networks"]["sdknet"]["IPAddress"]
        code, out = other.exec_run(["wget", "-q", "-O-", f"http://{addr}:80/index.html"])
        assert code == 0 and out.startswith(b"hello from")
        net.disconnect(other)
        other.reload()
        assert "sdknet" not in other.attrs["NetworkSettings"]["Networks"]
        for c in (web, other):
            c.remove(force=True)
    finally:
        for name in ("sdkweb", "sdkother"):
            try:
                client.containers.get(name).remove(force=True)
            except docker_sdk.errors.NotFound:
                pass
        net.remove()
        client.close()


def test_restart_keeps_networking_and_published_ports(tmp_path: Path, busybox_archive: Path) -> None:
    """A running container keeps its address, published port and name resolution across a
    daemon restart — and the port keeps answering while no daemon runs at all."""
    d = WharfieDaemon(tmp_path)
    try:
        d.start()
        docker = d.docker
        docker.ok("load", "-i", str(busybox_archive))
        docker.ok("network", "create", "keepnet")
        port = free_port()
        web = docker.ok("run", "-d", "--name", "keepweb", "--network", "keepnet", "-p", f"127.0.0.1:{port}:80",
                        "busybox", *HTTPD).strip()
        docker.ok("run", "-d", "--name", "keepclient", "--network", "keepnet", "busybox", "sleep", "600")
        addr = json.loads(docker.ok("inspect", "keepweb"))[0]["NetworkSettings"]["Networks"]["keepnet"]["IPAddress"]
        assert fetch(port) == f"hello from {web[:12]}\n"
        d.stop()
        assert fetch(port) == f"hello from {web[:12]}\n"  # DNAT in the kernel: no daemon needed
        d.start()
        assert fetch(port) == f"hello from {web[:12]}\n"
        assert lookup(docker, "keepclient", "keepweb") == [addr]
        assert docker.ok("port", "keepweb").strip() == f"80/tcp -> 127.0.0.1:{port}"
        d.kill9()  # a crash, not a clean stop: the same on the way back
        assert fetch(port) == f"hello from {web[:12]}\n"
        d.start()
        assert lookup(docker, "keepclient", "keepweb") == [addr]
        assert docker.ok("exec", "keepclient", "wget", "-q", "-O-", f"http://{addr}:80/index.html") == \
            f"hello from {web[:12]}\n"
        # the port is still reserved by the new daemon, and a new container gets a new address
        r = docker("run", "-d", "--name", "clash", "-p", f"127.0.0.1:{port}:80", "busybox", *HTTPD)
        assert r.rc != 0 and "already allocated" in r.err
        docker.ok("run", "-d", "--name", "third", "--network", "keepnet", "busybox", "sleep", "60")
        third = json.loads(docker.ok("inspect", "third"))[0]["NetworkSettings"]["Networks"]["keepnet"]["IPAddress"]
        assert third != addr
        docker.ok("rm", "-f", "keepweb", "keepclient", "third", "clash")
        with pytest.raises(OSError):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=2)
    finally:
        d.cleanup()
    assert not Path(f"/sys/class/net/{d.bridge}").exists()
    nft = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout
    assert f"wharfie_{d.bridge}" not in nft


def test_iptables_backend(tmp_path: Path, busybox_archive: Path) -> None:
    """`firewall-backend: iptables` (the fallback for hosts without nft): the same behaviour
    from our own iptables chains, all of them gone after cleanup."""
    import shutil

    from wharfie.network import iptables

    if not shutil.which("iptables-restore", path="/usr/sbin:/sbin:" + os.environ.get("PATH", "")):
        pytest.skip("iptables is not installed (the nftables backend is the default anyway)")
    d = WharfieDaemon(tmp_path)
    d.config.write_text(json.dumps({**d.network_config(), "firewall-backend": "iptables"}))
    table = f"wharfie_{d.bridge}"
    try:
        d.start()
        docker = d.docker
        docker.ok("load", "-i", str(busybox_archive))
        port = free_port()
        web = docker.ok("run", "-d", "--name", "ipt", "-p", f"127.0.0.1:{port}:80", "busybox", *HTTPD).strip()
        assert fetch(port) == f"hello from {web[:12]}\n"
        rules = subprocess.run(["iptables", "-w", "-t", "nat", "-S", iptables.chain(table, "PORTS")],
                               capture_output=True, text=True).stdout
        assert f"--dport {port} -j DNAT" in rules
        assert "nameserver" in docker.ok("run", "--rm", "busybox", "cat", "/etc/resolv.conf")
        docker.ok("network", "create", "iptnet")
        docker.ok("run", "-d", "--name", "ipt2", "--network", "iptnet", "busybox", "sleep", "60")
        addr = json.loads(docker.ok("inspect", "ipt"))[0]["NetworkSettings"]["IPAddress"]
        assert docker("exec", "ipt2", "timeout", "5", "wget", "-q", "-O-", f"http://{addr}:80/index.html").rc != 0
        d.stop()
        assert fetch(port) == f"hello from {web[:12]}\n"  # kernel rules, no daemon
        d.start()
        docker.ok("rm", "-f", "ipt", "ipt2")
        with pytest.raises(OSError):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=2)
    finally:
        d.cleanup()
        iptables.delete(table)
    for tbl in ("nat", "filter"):
        out = subprocess.run(["iptables", "-w", "-t", tbl, "-S"], capture_output=True, text=True).stdout
        assert iptables.chain(table, "") not in out


@pytest.fixture
def lan():  # type: ignore[no-untyped-def]
    """A namespace playing a LAN host: a veth pair, 198.18.77.2 inside, 198.18.77.1 on the
    host side, its default route and 127/8 (lo stays down: no loopback of its own) via the host."""
    tag = f"{os.getpid() % 100000}"
    name, host_if, peer = f"whlan{tag}", f"whl{tag}h", f"whl{tag}p"

    def ip(*args: str) -> None:
        subprocess.run(["ip", *args], check=True, capture_output=True)

    try:
        ip("netns", "add", name)
        ip("link", "add", host_if, "type", "veth", "peer", "name", peer)
        ip("link", "set", peer, "netns", name)
        ip("addr", "add", "198.18.77.1/30", "dev", host_if)
        ip("link", "set", host_if, "up")
        ip("-n", name, "addr", "add", "198.18.77.2/30", "dev", peer)
        ip("-n", name, "link", "set", peer, "up")
        ip("-n", name, "route", "add", "default", "via", "198.18.77.1")
        ip("-n", name, "route", "add", "127.0.0.0/8", "via", "198.18.77.1")
        # an attacker's host accepts the replies from 127.0.0.1 (not a martian source here)
        ip("netns", "exec", name, "sysctl", "-qw", f"net.ipv4.conf.{peer}.route_localnet=1")
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)
        subprocess.run(["ip", "link", "del", host_if], capture_output=True)


def lan_connects(ns: str, addr: str, port: int) -> bool:
    """Whether a TCP connection from the LAN namespace to addr:port is answered."""
    code = f"import socket; socket.create_connection(({addr!r}, {port}), timeout=3).close()"
    return subprocess.run(["ip", "netns", "exec", ns, "python3", "-c", code], capture_output=True).returncode == 0


def test_lan_reaches_only_published_ports(docker, lan: str) -> None:
    """A LAN host reaches a port published on every address, but neither a port published on
    127.0.0.1 only (by sending to 127.0.0.1 through the host) nor a container's other ports."""
    wide, local = free_port(), free_port()
    docker.ok("run", "-d", "--name", "lanweb", "-p", f"{wide}:80", "-p", f"127.0.0.1:{local}:81",
              "busybox", "sh", "-c", "httpd -p 81 -h /; " + HTTPD[2])
    try:
        addr = json.loads(docker.ok("inspect", "lanweb"))[0]["NetworkSettings"]["IPAddress"]
        fetch(wide)
        assert lan_connects(lan, "198.18.77.1", wide)  # the fixture works: published ports do
        assert not lan_connects(lan, "127.0.0.1", local)
        assert not lan_connects(lan, addr, 80)  # unpublished from the LAN's point of view
        assert not lan_connects(lan, addr, 81)
    finally:
        cleanup(docker, "lanweb")


def test_bridge_options_are_honoured_or_refused(docker) -> None:
    port = free_port()
    # never adopt an interface that exists (a veth standing for eth0) or another network's bridge
    dummy = f"whdum{os.getpid() % 100000}"
    subprocess.run(["ip", "link", "add", dummy, "type", "veth", "peer", "name", dummy + "p"], check=True)
    try:
        r = docker("network", "create", "-o", f"com.docker.network.bridge.name={dummy}", "adopter")
        assert r.rc != 0 and "already exists" in r.err
        assert "inet " not in subprocess.run(["ip", "-4", "addr", "show", dummy], capture_output=True, text=True).stdout
    finally:
        docker("network", "rm", "adopter")
        subprocess.run(["ip", "link", "del", dummy], capture_output=True)
    docker.ok("network", "create", "-o", "com.docker.network.bridge.name=whtestbr0",
              "-o", "com.docker.network.bridge.host_binding_ipv4=127.0.0.1", "optnet")
    try:
        assert Path("/sys/class/net/whtestbr0/bridge").is_dir()
        r = docker("network", "create", "-o", "com.docker.network.bridge.name=whtestbr0", "twin")
        assert r.rc != 0 and "already" in r.err
        for opt in ("com.docker.network.bridge.enable_icc=false", "com.docker.network.bridge.gateway_mode_ipv4=routed",
                    "com.docker.network.bridge.enable_ip_masquerade=maybe"):
            r = docker("network", "create", "-o", opt, "restricted")
            assert r.rc != 0 and "com.docker.network.bridge." in r.err, opt
        docker.ok("run", "-d", "--name", "hbweb", "--network", "optnet", "-p", f"{port}:80", "busybox", *HTTPD)
        ports = json.loads(docker.ok("inspect", "hbweb"))[0]["NetworkSettings"]["Ports"]
        assert ports == {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(port)}]}
        assert fetch(port).startswith("hello from")
    finally:
        cleanup(docker, "hbweb")
        docker("network", "rm", "optnet", "twin", "restricted")
    assert not Path("/sys/class/net/whtestbr0").exists()


def test_builtin_network_by_id_and_reconnect_after_disconnect(docker) -> None:
    for name, want in (("host", "lo"), ("none", "lo")):
        nid = json.loads(docker.ok("network", "inspect", name))[0]["Id"]
        out = docker.ok("run", "--rm", "--network", nid[:12], "busybox", "ip", "-o", "link")
        assert want in out and ("eth0" not in out or name == "host"), name
    docker.ok("network", "create", "hopnet")
    try:
        docker.ok("run", "-d", "--name", "hopper", "busybox", "sleep", "300")
        docker.ok("network", "disconnect", "bridge", "hopper")
        docker.ok("network", "connect", "hopnet", "hopper")
        info = json.loads(docker.ok("inspect", "hopper"))[0]
        assert set(info["NetworkSettings"]["Networks"]) == {"hopnet"}
        gw = info["NetworkSettings"]["Networks"]["hopnet"]["Gateway"]
        assert f"default via {gw}" in docker.ok("exec", "hopper", "ip", "-4", "route")
    finally:
        cleanup(docker, "hopper")
        docker("network", "rm", "hopnet")


def test_concurrent_creates_get_distinct_subnets(docker) -> None:
    from concurrent.futures import ThreadPoolExecutor

    names = [f"race{i}" for i in range(4)]
    try:
        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(lambda n: docker("network", "create", n), names))
        assert all(r.rc == 0 for r in results), [r.err for r in results]
        subnets = [json.loads(docker.ok("network", "inspect", n))[0]["IPAM"]["Config"][0]["Subnet"] for n in names]
        assert len(set(subnets)) == len(names)
    finally:
        docker("network", "rm", *names)


def test_restart_sweeps_leftover_namespaces_and_veths(tmp_path: Path) -> None:
    """What a crash during a start leaves (a pinned namespace, a veth on the bridge) is gone
    once the daemon is back, since no running container owns it."""
    import threading

    from wharfie.network import netns

    d = WharfieDaemon(tmp_path)
    leftover = str(d.exec_root / "netns" / ("ab" * 32))
    veth = f"veth{os.getpid() % 10000000:07d}"
    try:
        d.start()
        d.kill9()
        t = threading.Thread(target=netns.create, args=(leftover,))  # namespaces are per thread
        t.start()
        t.join()
        assert netns.exists(leftover)
        subprocess.run(["ip", "link", "add", veth, "type", "veth", "peer", "name", "wt" + veth[4:]], check=True)
        subprocess.run(["ip", "link", "set", veth, "master", d.bridge], check=True)
        d.start()
        assert not Path(leftover).exists()
        assert not Path(f"/sys/class/net/{veth}").exists()
    finally:
        subprocess.run(["ip", "link", "del", veth], capture_output=True)
        netns.remove(leftover)
        d.cleanup()


def test_default_route_follows_the_networks_that_have_one(docker) -> None:
    docker.ok("network", "create", "--internal", "routeless")
    docker.ok("network", "create", "routed")
    try:
        gw = json.loads(docker.ok("network", "inspect", "routed"))[0]["IPAM"]["Config"][0]["Gateway"]
        docker.ok("run", "-d", "--name", "inner", "--network", "routeless", "busybox", "sleep", "300")
        assert "default" not in docker.ok("exec", "inner", "ip", "-4", "route")
        docker.ok("network", "connect", "routed", "inner")  # the first network with a way out
        assert f"default via {gw}" in docker.ok("exec", "inner", "ip", "-4", "route")
        docker.ok("run", "-d", "--name", "outer", "busybox", "sleep", "300")
        docker.ok("network", "connect", "routed", "outer")
        docker.ok("network", "disconnect", "bridge", "outer")  # it held the route: re-picked
        assert f"default via {gw}" in docker.ok("exec", "outer", "ip", "-4", "route")
    finally:
        cleanup(docker, "inner", "outer")
        docker("network", "rm", "routeless", "routed")


def test_network_names_like_docker(sdk, docker) -> None:
    """Docker takes any name that is not blank (docker-py creates "test 01"); bridges and rules
    are named from the network's ID, never from its name."""
    import docker as docker_sdk

    net = sdk.networks.create("test 01")
    try:
        assert sdk.networks.get("test 01").id == net.id
        assert net.attrs["Name"] == "test 01"
        out = docker.ok("run", "--rm", "--network", "test 01", "busybox", "ip", "-4", "addr", "show", "eth0")
        assert "inet " in out
        hostile = sdk.networks.create('x"; flush ruleset; #')  # only ever data
        hostile.remove()
    finally:
        net.remove()
    for name, status in (("   ", 400), ("bridge", 403), ("default", 403)):
        with pytest.raises(docker_sdk.errors.APIError) as e:
            sdk.networks.create(name)
        assert e.value.status_code == status, name
    r = docker("network", "create", "host")
    assert r.rc != 0 and "operation is not permitted on predefined host network" in r.err


def test_ipam_options_and_auxiliary_addresses_like_docker(sdk, docker, daemon: WharfieDaemon) -> None:
    """docker-py's test_create_network_with_ipam_config: IPAM Options null when none were
    given, as given otherwise; auxiliary addresses shown and never handed to a container."""
    import docker as docker_sdk
    from docker.types import IPAMConfig, IPAMPool

    pool = daemon.network_config()["default-address-pools"][0]["base"]  # type: ignore[index]
    subnet = pool.replace(".0.0/16", ".210.0/24")
    first = subnet.replace(".0/24", ".2")
    net = sdk.networks.create("ipamnet", ipam=IPAMConfig(pool_configs=[IPAMPool(
        subnet=subnet, gateway=subnet.replace(".0/24", ".254"), aux_addresses={"a": first})]))
    withopts = sdk.networks.create("ipamopts", ipam=IPAMConfig(options={"foo": "bar"}))
    docker.ok("network", "create", "cliipam")
    try:
        ipam = sdk.api.inspect_network(net.id)["IPAM"]
        assert ipam["Options"] is None and ipam["Driver"] == "default"
        assert ipam["Config"] == [{"Subnet": subnet, "Gateway": subnet.replace(".0/24", ".254"),
                                   "AuxiliaryAddresses": {"a": first}}]
        assert sdk.api.inspect_network(withopts.id)["IPAM"]["Options"] == {"foo": "bar"}
        assert json.loads(docker.ok("network", "inspect", "cliipam"))[0]["IPAM"]["Options"] == {}
        assert json.loads(docker.ok("network", "inspect", "bridge"))[0]["IPAM"]["Options"] is None
        out = docker.ok("run", "--rm", "--network", "ipamnet", "busybox", "ip", "-4", "addr", "show", "eth0")
        assert f"inet {subnet.replace('.0/24', '.1')}/24" in out  # .2 is reserved
        with pytest.raises(docker_sdk.errors.APIError) as e:  # outside the subnet (the CLI checks too)
            sdk.networks.create("badaux", ipam=IPAMConfig(pool_configs=[IPAMPool(
                subnet=subnet.replace(".210.", ".211."), aux_addresses={"x": "10.255.255.1"})]))
        assert e.value.status_code == 400 and "auxiliary address" in str(e.value.explanation)
    finally:
        for n in ("ipamnet", "ipamopts", "cliipam", "badaux"):
            docker("network", "rm", n)


def test_requested_mac_addresses(sdk, docker) -> None:
    """EndpointConfig.MacAddress (create and connect) and the deprecated Config.MacAddress set the
    interface's MAC; inspect shows it, before the start and after a stop too."""
    api = sdk.api
    net = sdk.networks.create("macnet")
    names = ("mac1", "mac2", "mac3")
    try:
        c1 = api.create_container("busybox", ["sleep", "300"], name="mac1", mac_address="02:11:22:33:44:55")
        assert c1.get("Warnings") and "deprecated" in c1["Warnings"][0]
        cfg = api.create_networking_config({"macnet": api.create_endpoint_config(mac_address="02:aa:bb:cc:dd:ee")})
        api.create_container("busybox", ["sleep", "300"], name="mac2", networking_config=cfg,
                             host_config=api.create_host_config(network_mode="macnet"))
        api.create_container("busybox", ["sleep", "300"], name="mac3")
        api.connect_container_to_network("mac3", "macnet", mac_address="02:00:00:00:00:33")  # not started
        nets = api.inspect_container("mac3")["NetworkSettings"]["Networks"]
        assert nets["macnet"]["MacAddress"] == "02:00:00:00:00:33"
        assert api.inspect_container("mac2")["NetworkSettings"]["Networks"]["macnet"]["MacAddress"] == "02:aa:bb:cc:dd:ee"
        for name in names:
            api.start(name)
        ns = api.inspect_container("mac1")["NetworkSettings"]
        assert ns["MacAddress"] == "02:11:22:33:44:55" == ns["Networks"]["bridge"]["MacAddress"]
        assert "link/ether 02:11:22:33:44:55" in docker.ok("exec", "mac1", "ip", "link", "show", "eth0")
        assert "link/ether 02:aa:bb:cc:dd:ee" in docker.ok("exec", "mac2", "ip", "link", "show", "eth0")
        out = docker.ok("exec", "mac3", "ip", "link")
        assert "link/ether 02:00:00:00:00:33" in out
        assert json.loads(docker.ok("network", "inspect", "macnet"))[0]["Containers"][
            api.inspect_container("mac2")["Id"]]["MacAddress"] == "02:aa:bb:cc:dd:ee"
        # the same address for an endpoint that asked nothing stays generated (02:42:…)
        assert api.inspect_container("mac3")["NetworkSettings"]["Networks"]["bridge"]["MacAddress"].startswith("02:42:")
        api.stop("mac2", timeout=0)
        assert api.inspect_container("mac2")["NetworkSettings"]["Networks"]["macnet"]["MacAddress"] == "02:aa:bb:cc:dd:ee"
        r = docker("run", "--rm", "--mac-address", "01:00:5e:00:00:01", "busybox", "true")  # multicast
        assert r.rc != 0 and "invalid MAC address" in r.err
    finally:
        cleanup(docker, *names)
        net.remove()


def test_endpoint_links_resolve_for_the_linking_container_only(sdk, docker, daemon: WharfieDaemon) -> None:
    """docker-py's test_create_with_links / test_connect_with_links: EndpointConfig.Links
    ("container:alias") make the embedded DNS answer the alias, for the linking container only."""
    api = sdk.api
    net = sdk.networks.create("linknet")
    names = ("linker", "linker2", "upstream", "bystander")
    try:
        cfg = api.create_networking_config({"linknet": api.create_endpoint_config(links=[("upstream", "bar")])})
        api.create_container("busybox", ["sleep", "300"], name="linker", networking_config=cfg,
                             host_config=api.create_host_config(network_mode="linknet"))
        api.start("linker")
        assert api.inspect_container("linker")["NetworkSettings"]["Networks"]["linknet"]["Links"] == ["upstream:bar"]
        for name in ("upstream", "bystander", "linker2"):
            docker.ok("run", "-d", "--name", name, "--network", "linknet", "busybox", "sleep", "300")
        api.disconnect_container_from_network("linker2", "linknet")
        api.connect_container_to_network("linker2", "linknet", links=[("upstream", "baz")])
        assert api.inspect_container("linker2")["NetworkSettings"]["Networks"]["linknet"]["Links"] == ["upstream:baz"]
        addr = api.inspect_container("upstream")["NetworkSettings"]["Networks"]["linknet"]["IPAddress"]
        assert lookup(docker, "linker", "bar") == [addr]
        assert lookup(docker, "linker", "bar.linknet") == [addr]
        assert lookup(docker, "linker2", "baz") == [addr]
        assert lookup(docker, "linker2", "bar") == []
        assert lookup(docker, "bystander", "bar") == []  # the alias is the linker's own
        code, _, body = daemon.request("POST", "/networks/bridge/connect", json.dumps(
            {"Container": "bystander", "EndpointConfig": {"Links": ["a:b:c"]}}).encode(),
            {"Content-Type": "application/json"})
        assert code == 400 and b"bad format for links" in body
    finally:
        cleanup(docker, *names)
        net.remove()
