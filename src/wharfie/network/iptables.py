"""The iptables fallback of nat.py, for hosts without `nft` (or `firewall-backend: iptables`).

Same rules, same whole-state re-rendering: the daemon's own chains (`WH-<hash>-…`, named after
its nftables table name) are declared — hence flushed — and refilled in one
`iptables-restore --noflush` transaction per table; the built-in chains only get one jump into
ours, inserted once. Unlike the nftables table, the FORWARD chain here is shared with other
software (dockerd sets its policy to DROP), so ours also *accepts* our bridges' traffic.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import threading

from wharfie.errors import WharfieError
from wharfie.network.nat import NetRules, PortRule

_lock = threading.Lock()

# (table, built-in chain, our chain suffix)
HOOKS = (("nat", "PREROUTING", "PRE"), ("nat", "OUTPUT", "OUT"), ("nat", "POSTROUTING", "POST"),
         ("filter", "FORWARD", "FWD"), ("raw", "PREROUTING", "RAW"))


def chain(table: str, suffix: str) -> str:
    return f"WH-{hashlib.sha256(table.encode()).hexdigest()[:8]}-{suffix}"


def render(table: str, nets: list[NetRules], ports: list[PortRule]) -> str:
    pre, out, post, fwd, dnat, raw = (chain(table, s) for s in ("PRE", "OUT", "POST", "FWD", "PORTS", "RAW"))
    lines = ["*nat", f":{pre} - [0:0]", f":{out} - [0:0]", f":{post} - [0:0]", f":{dnat} - [0:0]",
             f"-A {pre} -m addrtype --dst-type LOCAL -j {dnat}",
             f"-A {out} -m addrtype --dst-type LOCAL -j {dnat}"]
    for p in ports:
        match = "" if p.host_ip in ("", "0.0.0.0") else f"-d {p.host_ip}/32 "
        lines.append(f"-A {dnat} {match}-p {p.proto} -m {p.proto} --dport {p.host_port} "
                     f"-j DNAT --to-destination {p.addr}:{p.port}")
    for n in nets:
        lines.append(f"-A {post} -o {n.bridge} -s 127.0.0.0/8 -j MASQUERADE")
        lines.append(f"-A {post} -o {n.bridge} -s {n.subnet} -m conntrack --ctstate DNAT -j MASQUERADE")
        if not n.internal and n.masquerade:
            lines.append(f"-A {post} -s {n.subnet} ! -o {n.bridge} -j MASQUERADE")
    lines += ["COMMIT", "*raw", f":{raw} - [0:0]"]
    lines.append(f"-A {raw} ! -i lo -d 127.0.0.0/8 -j DROP")  # see nat.py
    lines += ["COMMIT", "*filter", f":{fwd} - [0:0]"]
    for n in nets:
        for o in nets:
            if o.bridge != n.bridge:
                lines.append(f"-A {fwd} -i {n.bridge} -o {o.bridge} -j REJECT")
        if n.internal:
            lines.append(f"-A {fwd} -i {n.bridge} ! -o {n.bridge} -j REJECT")
            lines.append(f"-A {fwd} -o {n.bridge} ! -i {n.bridge} -j REJECT")
        else:  # into the bridge from elsewhere: published ports and replies only (see nat.py)
            lines.append(f"-A {fwd} -o {n.bridge} ! -i {n.bridge} -m conntrack --ctstate DNAT -j ACCEPT")
            lines.append(f"-A {fwd} -o {n.bridge} ! -i {n.bridge} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT")
            lines.append(f"-A {fwd} -o {n.bridge} ! -i {n.bridge} -j DROP")
        lines.append(f"-A {fwd} -i {n.bridge} -j ACCEPT")
    lines.append("COMMIT")
    return "\n".join(lines) + "\n"


def _bin(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if not found:
        raise WharfieError(f"{name} not found: install Debian's nftables (or iptables) package")
    return found


def _run(argv: list[str], data: str | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(argv, input=data.encode() if data is not None else None, capture_output=True)


def apply(table: str, nets: list[NetRules], ports: list[PortRule]) -> None:
    with _lock:
        p = _run([_bin("iptables-restore"), "--noflush", "-w"], render(table, nets, ports))
        if p.returncode != 0:
            raise WharfieError(f"iptables-restore: {p.stderr.decode(errors='replace').strip()}")
        ipt = _bin("iptables")
        for tbl, builtin, suffix in HOOKS:
            if _run([ipt, "-w", "-t", tbl, "-C", builtin, "-j", chain(table, suffix)]).returncode != 0:
                p = _run([ipt, "-w", "-t", tbl, "-I", builtin, "-j", chain(table, suffix)])
                if p.returncode != 0:
                    raise WharfieError(f"iptables: {p.stderr.decode(errors='replace').strip()}")


def delete(table: str) -> None:
    with _lock:
        ipt = shutil.which("iptables") or shutil.which("iptables", path="/usr/sbin:/sbin")
        if not ipt:
            return
        for tbl, builtin, suffix in HOOKS:
            while _run([ipt, "-w", "-t", tbl, "-D", builtin, "-j", chain(table, suffix)]).returncode == 0:
                pass
        for tbl, suffixes in (("nat", ("PRE", "OUT", "POST", "PORTS")), ("filter", ("FWD",)), ("raw", ("RAW",))):
            for s in suffixes:
                _run([ipt, "-w", "-t", tbl, "-F", chain(table, s)])
            for s in suffixes:
                _run([ipt, "-w", "-t", tbl, "-X", chain(table, s)])
