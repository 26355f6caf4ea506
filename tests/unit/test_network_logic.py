"""Pure networking logic: IPAM choices, port specs, DNS messages, the nftables ruleset."""

from __future__ import annotations

import ipaddress
import socket
import struct

import pytest

from wharfie.errors import Conflict, InvalidArgument
from wharfie.network import dns, ipam, nat, portmap
from wharfie.network.service import NetSettings

N = ipaddress.IPv4Network


def test_pool_parse_and_pick_skips_taken_subnets() -> None:
    pool = ipam.Pool.parse({"base": "10.90.0.0/22", "size": 24})
    assert pool == ipam.Pool.parse("base=10.90.0.0/22,size=24")
    taken = [N("10.90.0.0/24"), N("10.90.1.128/25")]
    assert ipam.pick_subnet([pool], taken) == N("10.90.2.0/24")
    with pytest.raises(Conflict):
        ipam.pick_subnet([pool], [N("10.90.0.0/22")])
    with pytest.raises(InvalidArgument):
        ipam.Pool.parse({"base": "10.0.0.0/16", "size": 8})


def test_addresses_never_repeat_and_skip_gateway() -> None:
    net = N("10.5.0.0/29")
    used = {"10.5.0.1"}
    got = []
    for _ in range(5):
        a = ipam.next_free(net, used)
        used.add(a)
        got.append(a)
    assert got == ["10.5.0.2", "10.5.0.3", "10.5.0.4", "10.5.0.5", "10.5.0.6"]
    with pytest.raises(Conflict):
        ipam.next_free(net, used)
    assert ipam.check_address(net, "10.5.0.6") == "10.5.0.6"
    big = N("10.6.0.0/24")
    assert ipam.next_free(big, {"10.6.0.1"}, N("10.6.0.128/25")) == "10.6.0.129"
    assert ipam.next_free(big, {"10.6.0.1", "10.6.0.129"}, N("10.6.0.128/25")) == "10.6.0.130"
    for bad in ("10.5.0.0", "10.5.0.7", "10.6.0.1", "nope"):
        with pytest.raises(InvalidArgument):
            ipam.check_address(net, bad)


def test_net_settings_from_daemon_config() -> None:
    s = NetSettings.from_config(None, None, None)
    assert (s.bridge, str(s.bip), s.table) == ("wharfie0", "10.87.0.1/16", "wharfie_wharfie0")
    s = NetSettings.from_config("wht-1", None, [{"base": "10.200.0.0/16", "size": 24}])
    assert str(s.bip) == "10.200.0.1/24" and s.table == "wharfie_wht_1"
    assert str(NetSettings.from_config(None, "192.168.77.1/24", None).bip) == "192.168.77.1/24"
    with pytest.raises(InvalidArgument):
        NetSettings.from_config("a-name-far-too-long", None, None)


def test_port_specs() -> None:
    assert portmap.split_port("80") == (80, "tcp") and portmap.split_port("53/UDP") == (53, "udp")
    for bad in ("0/tcp", "70000", "80/icmp", "x"):
        with pytest.raises(InvalidArgument):
            portmap.split_port(bad)
    assert portmap.host_range("") == (0, 0) and portmap.host_range("8000-8010") == (8000, 8010)
    want = portmap.wanted({"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}], "53/udp": None},
                          True, {"80/tcp": {}, "443/tcp": {}})
    assert want == [("tcp", 80, "127.0.0.1", (8080, 8080)), ("udp", 53, "", (0, 0)), ("tcp", 443, "", (0, 0))]


def test_ports_documents_like_docker() -> None:
    b = [portmap.Binding("tcp", "0.0.0.0", 32768, 80)]
    doc = portmap.ports_doc(b, {"80/tcp": {}, "443/tcp": {}})
    assert doc == {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "32768"}], "443/tcp": None}
    assert portmap.summary_ports(doc) == [
        {"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 32768, "Type": "tcp"},
        {"PrivatePort": 443, "Type": "tcp"}]


def test_reservations_detect_conflicts_and_release() -> None:
    r = portmap.Reservations()
    port = r.reserve("a", "tcp", "127.0.0.1", (0, 0))
    assert port > 0
    with pytest.raises(Conflict, match="port is already allocated"):
        r.reserve("b", "tcp", "127.0.0.1", (port, port))
    with pytest.raises(Conflict):
        r.reserve("b", "tcp", "0.0.0.0", (port, port))  # the wildcard overlaps the specific one
    # a range moves on to the next free port
    got = r.reserve("b", "tcp", "127.0.0.1", (port, port + 50))
    assert got != port
    r.release("a")
    assert r.reserve("c", "tcp", "127.0.0.1", (port, port)) == port
    r.release("b")
    r.release("c")
    for bad in ('1.2.3.4" drop', "nope", "10.0.0.300"):
        with pytest.raises(InvalidArgument):
            r.reserve("d", "sctp", bad, (5000, 5000))


def _query(name: str, qtype: int = 1) -> bytes:
    q = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    return struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0) + q + struct.pack(">HH", qtype, 1)


def test_dns_messages() -> None:
    ident, flags, name, qtype, end = dns.parse_question(_query("Web.Example"))
    assert (ident, name, qtype, end) == (0x1234, "web.example", 1, len(_query("web.example")))
    reply = dns.answer(_query("web"), ["10.1.2.3", "10.1.2.4"])
    head = struct.unpack(">HHHHHH", reply[:12])
    assert head[0] == 0x1234 and head[1] & 0x8000 and head[3] == 2
    assert reply.endswith(socket.inet_aton("10.1.2.4"))
    aaaa = dns.answer(_query("web", 28), ["10.1.2.3"])
    assert struct.unpack(">HHHHHH", aaaa[:12])[3] == 0  # known name, no IPv6: empty NOERROR
    fail = dns.servfail(_query("x"))
    assert fail is not None and fail[3] & 0x0F == 2
    with pytest.raises(dns.BadMessage):
        dns.parse_question(b"\0" * 5)
    assert dns.reverse_address("4.3.2.10.in-addr.arpa") == "10.2.3.4"
    assert dns.reverse_address("x.in-addr.arpa") is None and dns.reverse_address("example.com") is None
    ptr = dns.answer(_query("4.3.2.10.in-addr.arpa", 12), ["web.appnet"])
    assert ptr.endswith(b"\x03web\x06appnet\x00") and struct.unpack(">HHHHHH", ptr[:12])[3] == 1


def test_nft_ruleset() -> None:
    text = nat.render("wharfie_t", [nat.NetRules("br0", "10.1.0.0/24", False), nat.NetRules("br1", "10.2.0.0/24", True)],
                      [nat.PortRule("tcp", "0.0.0.0", 8080, "10.1.0.2", 80),
                       nat.PortRule("udp", "127.0.0.1", 5353, "10.1.0.3", 53)])
    assert "table ip wharfie_t {" in text
    assert "tcp dport 8080 dnat to 10.1.0.2:80" in text
    assert "ip daddr 127.0.0.1 udp dport 5353 dnat to 10.1.0.3:53" in text
    assert 'ip saddr 10.1.0.0/24 oifname != "br0" masquerade' in text
    assert 'ip saddr 10.2.0.0/24 oifname != "br1" masquerade' not in text  # internal: no way out
    assert 'iifname "br0" oifname { "br1" } reject' in text
    assert 'oifname "br0" ip saddr 127.0.0.0/8 masquerade' in text


def test_net_dev_counters() -> None:
    from wharfie.network import netstats

    text = ("Inter-|   Receive                                                |  Transmit\n"
            " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n"
            "    lo:     100       2    0    0    0     0          0         0      100       2    0    0    0     0       0          0\n"
            "  eth0:    1500      10    1    2    0     0          0         0      700       5    0    3    0     0       0          0\n")
    assert netstats.parse(text) == {"eth0": {"rx_bytes": 1500, "rx_packets": 10, "rx_errors": 1, "rx_dropped": 2,
                                             "tx_bytes": 700, "tx_packets": 5, "tx_errors": 0, "tx_dropped": 3}}


def test_iptables_ruleset() -> None:
    from wharfie.network import iptables

    text = iptables.render("wharfie_t", [nat.NetRules("br0", "10.1.0.0/24", False),
                                         nat.NetRules("br1", "10.2.0.0/24", True)],
                           [nat.PortRule("tcp", "127.0.0.1", 8080, "10.1.0.2", 80)])
    ports = iptables.chain("wharfie_t", "PORTS")
    assert len(ports) <= 28  # iptables' limit on chain names
    assert f"-A {ports} -d 127.0.0.1/32 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 10.1.0.2:80" in text
    post = iptables.chain("wharfie_t", "POST")
    assert f"-A {post} -s 10.1.0.0/24 ! -o br0 -j MASQUERADE" in text
    assert f"-A {post} -s 10.2.0.0/24 ! -o br1 -j MASQUERADE" not in text
    assert f"-A {iptables.chain('wharfie_t', 'FWD')} -i br0 -o br1 -j REJECT" in text
    assert text.count("COMMIT") == 3


def test_bridges_cannot_reach_host_loopback() -> None:
    from wharfie.network import iptables

    nets = [nat.NetRules("br0", "10.1.0.0/24", False)]
    assert 'iifname != "lo" ip daddr 127.0.0.0/8 drop' in nat.render("t", nets, [])
    assert f"-A {iptables.chain('t', 'RAW')} ! -i lo -d 127.0.0.0/8 -j DROP" in iptables.render("t", nets, [])


def test_loopback_only_ports_are_not_reachable_from_other_interfaces() -> None:
    """127/8 from anything but `lo` is dropped at raw prerouting, before the DNAT, even with
    no network at all (a LAN host sending to 127.0.0.1:PORT through the host's eth0)."""
    from wharfie.network import iptables

    ports = [nat.PortRule("tcp", "127.0.0.1", 8080, "10.1.0.2", 80)]
    text = nat.render("t", [], ports)
    raw = text.index("chain raw_prerouting")
    assert text.index('iifname != "lo" ip daddr 127.0.0.0/8 drop') > raw
    assert "priority raw" in text[raw:text.index("}", raw)]
    assert f"-A {iptables.chain('t', 'RAW')} ! -i lo -d 127.0.0.0/8 -j DROP" in iptables.render("t", [], ports)


def test_forwarding_into_a_bridge_only_for_published_ports_and_replies() -> None:
    from wharfie.network import iptables

    nets = [nat.NetRules("br0", "10.1.0.0/24", False)]
    text = nat.render("t", nets, [])
    fwd = text[text.index("chain forward"):]
    accept_dnat = fwd.index('oifname "br0" iifname != "br0" ct status dnat accept')
    accept_est = fwd.index('oifname "br0" iifname != "br0" ct state established,related accept')
    drop = fwd.index('oifname "br0" iifname != "br0" drop')
    assert accept_dnat < drop and accept_est < drop
    assert "oifname \"br0\" accept" not in fwd
    ipt = iptables.render("t", nets, [])
    c = iptables.chain("t", "FWD")
    rules = [line for line in ipt.splitlines() if line.startswith(f"-A {c}")]
    assert rules == [f"-A {c} -o br0 ! -i br0 -m conntrack --ctstate DNAT -j ACCEPT",
                     f"-A {c} -o br0 ! -i br0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
                     f"-A {c} -o br0 ! -i br0 -j DROP",
                     f"-A {c} -i br0 -j ACCEPT"]


def test_masquerade_can_be_turned_off() -> None:
    from wharfie.network import iptables

    nets = [nat.NetRules("br0", "10.1.0.0/24", False, masquerade=False)]
    assert 'ip saddr 10.1.0.0/24 oifname != "br0" masquerade' not in nat.render("t", nets, [])
    assert "-s 10.1.0.0/24 ! -o br0 -j MASQUERADE" not in iptables.render("t", nets, [])


def test_dns_long_names_and_internal_errors_get_servfail() -> None:
    import asyncio

    with pytest.raises(dns.BadMessage):
        dns.encode_name("a" * 64 + ".net")
    with pytest.raises(dns.BadMessage):
        dns.encode_name(".".join(["a" * 60] * 5))
    assert dns.encode_name("a" * 63 + ".net") == b"\x3f" + b"a" * 63 + b"\x03net\x00"

    def no_upstream() -> list[str]:
        raise AssertionError("must not forward")

    def rcode(reply: bytes | None) -> int:
        assert reply is not None
        return reply[3] & 0x0F

    ptr = _query("4.3.2.10.in-addr.arpa", 12)
    assert rcode(asyncio.run(dns.resolve(ptr, lambda n: ["x" * 64 + ".net"], no_upstream, False))) == 2
    assert rcode(asyncio.run(dns.resolve(ptr, lambda n: ["x" * 60 + ".net"] * 5, no_upstream, False))) == 0

    def broken(name: str) -> list[str] | None:
        raise RuntimeError("boom")

    assert rcode(asyncio.run(dns.resolve(_query("web"), broken, no_upstream, True))) == 2


def test_dns_forwards_are_capped_across_resolvers(monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    assert dns.MAX_INFLIGHT <= 32 and dns.MAX_FORWARDS <= 256
    monkeypatch.setattr(dns, "_forwarding", dns.MAX_FORWARDS)

    def no_upstream() -> list[str]:
        raise AssertionError("must not forward past the cap")

    reply = asyncio.run(dns.resolve(_query("example.com"), lambda n: None, no_upstream, False))
    assert reply is not None and reply[3] & 0x0F == 2
    monkeypatch.setattr(dns, "_forwarding", 0)
    reply = asyncio.run(dns.resolve(_query("example.com"), lambda n: None, list, False))  # no servers
    assert reply is not None and reply[3] & 0x0F == 2 and dns._forwarding == 0


def test_fd_soft_limit_raised_to_the_hard_one(monkeypatch: pytest.MonkeyPatch) -> None:
    import resource

    from wharfie import daemon

    calls = []
    monkeypatch.setattr(resource, "getrlimit", lambda which: (1024, 4096))
    monkeypatch.setattr(resource, "setrlimit", lambda which, lim: calls.append((which, lim)))
    daemon.raise_fd_limit()
    assert calls == [(resource.RLIMIT_NOFILE, (4096, 4096))]
