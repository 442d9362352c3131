"""Which addresses a local TCP port listens on, read from the kernel's socket tables (Linux)."""

from __future__ import annotations

import ipaddress
from pathlib import Path

_LISTEN = "0A"


def _address(hex_address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    raw = bytes.fromhex(hex_address)
    # The kernel prints each 32-bit word in host (little-endian) byte order.
    words = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    return ipaddress.ip_address(words)


def listen_addresses(port: int) -> set[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """The local addresses of the sockets listening on TCP `port` (IPv4 and IPv6).

    0.0.0.0 or :: in the result means every interface of the machine.
    """
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        path = Path(table)
        if not path.is_file():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            local, state = fields[1], fields[3]
            hex_address, hex_port = local.split(":")
            if state == _LISTEN and int(hex_port, 16) == port:
                found.add(_address(hex_address))
    return found


def exposed(addresses) -> list[str]:
    """The addresses in `addresses` that other machines could reach (not loopback)."""
    return sorted(str(a) for a in addresses if not a.is_loopback)


def machine_addresses() -> set[ipaddress.IPv4Address]:
    """This machine's own IPv4 addresses (loopback included), from the kernel's routing table."""
    path = Path("/proc/net/fib_trie")
    if not path.is_file():
        return set()
    lines = path.read_text().splitlines()
    found = set()
    for previous, line in zip(lines, lines[1:]):
        if line.strip() == "/32 host LOCAL":
            found.add(ipaddress.ip_address(previous.split("--")[-1].strip()))
    return found


def accepts(address, port: int, timeout_s: float = 2.0) -> bool:
    """Whether a TCP connection to `address`:`port` succeeds."""
    import socket

    try:
        with socket.create_connection((str(address), port), timeout=timeout_s):
            return True
    except OSError:
        return False
