"""Which TCP addresses a process tree listens on (Linux ``/proc``), to keep local servers on loopback."""

from __future__ import annotations

import ipaddress
import os
import socket
import struct
from pathlib import Path

__all__ = ["process_tree", "listening_addresses", "non_loopback_listeners", "can_inspect"]

_PROC = Path("/proc")
_LISTEN = "0A"  # TCP_LISTEN in /proc/net/tcp's "st" column (include/net/tcp_states.h)


def can_inspect() -> bool:
    """True when ``/proc/net/tcp`` can be read (Linux)."""
    return (_PROC / "net" / "tcp").is_file()


def process_tree(pid: int) -> list[int]:
    """``pid`` and every descendant still running (from each ``/proc/<pid>/stat``'s parent id)."""
    children: dict[int, list[int]] = {}
    for entry in _PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])  # after "(comm)": state, ppid
        children.setdefault(parent, []).append(int(entry.name))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(children.get(current, []))
    return tree


def _socket_inodes(pid: int) -> set[str]:
    inodes: set[str] = set()
    try:
        fds = list((_PROC / str(pid) / "fd").iterdir())
    except OSError:
        return inodes
    for fd in fds:
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def _address(hex_address: str) -> tuple[str, int]:
    """``/proc/net/tcp{,6}`` ``local_address`` (32-bit words in host byte order, hex) → ``(host, port)``."""
    host_hex, port_hex = hex_address.split(":")
    words = [int(host_hex[i : i + 8], 16) for i in range(0, len(host_hex), 8)]
    packed = b"".join(struct.pack("=I", word) for word in words)
    family = socket.AF_INET if len(packed) == 4 else socket.AF_INET6
    return socket.inet_ntop(family, packed), int(port_hex, 16)


def listening_addresses(pids: list[int]) -> list[tuple[int, str, int]]:
    """Every listening TCP socket of ``pids``, as ``(pid, host, port)``.

    Reads ``/proc/net/tcp`` and ``/proc/net/tcp6`` (sockets in LISTEN state, with their inode)
    and each process's ``/proc/<pid>/fd`` (which inodes it holds). Empty where ``/proc`` is
    missing: call :func:`can_inspect` first.
    """
    owner = {inode: pid for pid in pids for inode in _socket_inodes(pid)}
    found: list[tuple[int, str, int]] = []
    for table in ("tcp", "tcp6"):
        try:
            lines = (_PROC / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and fields[3] == _LISTEN and fields[9] in owner:
                host, port = _address(fields[1])
                found.append((owner[fields[9]], host, port))
    return found


def non_loopback_listeners(pid: int) -> list[tuple[int, str, int]]:
    """The listening sockets of ``pid``'s process tree bound to anything but a loopback address."""
    return [(p, host, port) for p, host, port in listening_addresses(process_tree(pid)) if not _is_loopback(host)]


def _is_loopback(host: str) -> bool:
    address = ipaddress.ip_address(host)
    mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:127.0.0.1
    return (mapped or address).is_loopback
