#!/usr/bin/env python3
"""Netlink from Python as pyroute2 does it (socket module calls only).

Usage:
  pyroute2_probe.py calls FAMILY   the sequence pyroute2's NetlinkSocket makes,
                                   with a GETFAMILY lookup of FAMILY
  pyroute2_probe.py lookup FAMILY  one lookup

Prints FACT key=value lines; exits non-zero on a broken expectation.
"""

import errno
import os
import socket
import struct
import sys

NETLINK_GENERIC = 16
GENL_ID_CTRL = 0x10
NLM_F_REQUEST = 1
NLM_F_ACK = 4
NLMSG_ERROR = 2
CTRL_CMD_GETFAMILY = 3
CTRL_CMD_NEWFAMILY = 1
CTRL_ATTR_FAMILY_ID = 1
CTRL_ATTR_FAMILY_NAME = 2


def fact(key, value):
    print(f"FACT {key}={value}", flush=True)


def getfamily(name, seq, pid, flags=0):
    raw = name.encode() + b"\0"
    attr = struct.pack("=HH", 4 + len(raw), CTRL_ATTR_FAMILY_NAME) + raw
    attr += b"\0" * ((4 - len(attr) % 4) % 4)
    payload = struct.pack("=BBH", CTRL_CMD_GETFAMILY, 1, 0) + attr
    return struct.pack("=IHHII", 16 + len(payload), GENL_ID_CTRL,
                       NLM_F_REQUEST | flags, seq, pid) + payload


def parse(data):
    """(type, flags, seq, pid, payload) of each message."""
    out = []
    while len(data) >= 16:
        length, ty, flags, seq, pid = struct.unpack("=IHHII", data[:16])
        if length < 16 or length > len(data):
            break
        out.append((ty, flags, seq, pid, data[16:length]))
        data = data[(length + 3) & ~3:]
    return out


def family_id(payload):
    attrs = payload[4:]
    while len(attrs) >= 4:
        alen, aty = struct.unpack("=HH", attrs[:4])
        if alen < 4:
            break
        if aty & 0x3fff == CTRL_ATTR_FAMILY_ID:
            return struct.unpack("=H", attrs[4:6])[0]
        attrs = attrs[(alen + 3) & ~3:]
    return None


def lookup(sock, name, seq):
    """The family id, or -errno."""
    sock.sendto(getfamily(name, seq, 0), (0, 0))
    data, addr = sock.recvfrom(65536)
    for ty, _flags, mseq, _pid, payload in parse(data):
        if mseq != seq:
            continue
        if ty == NLMSG_ERROR:
            return struct.unpack("=i", payload[:4])[0]
        return family_id(payload)
    raise SystemExit(f"no answer for {name}")


def new_socket():
    # pyroute2's NetlinkSocket: SOCK_DGRAM, buffer sizes, then bind.
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_GENERIC)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 32768)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024 * 1024)
    return s


def bind_like_pyroute2(s):
    """pyroute2 picks pid = getpid() & 0x3fffff | port << 22 and tries the
    next port on EADDRINUSE. Returns the pid bound."""
    base = os.getpid() & 0x3FFFFF
    for port in range(1, 1024):
        pid = base | (port << 22)
        try:
            s.bind((pid, 0))
            return pid
        except OSError as e:
            if e.errno != errno.EADDRINUSE:
                raise
    raise SystemExit("no free pid")


def calls(family):
    s = new_socket()
    fact("fresh_name", s.getsockname())
    pid = bind_like_pyroute2(s)
    name = s.getsockname()
    fact("bound_name", "explicit pid" if name == (pid, 0) else repr(name))
    # A second socket on the same pid is refused, and pyroute2 moves on.
    t = new_socket()
    try:
        t.bind((pid, 0))
        fact("same_pid", "bound")
    except OSError as e:
        fact("same_pid", errno.errorcode.get(e.errno, e.errno))
    pid2 = bind_like_pyroute2(t)
    fact("next_pid", "other" if pid2 != pid else "same")
    # The bound socket cannot be rebound elsewhere.
    try:
        s.bind((pid + 1, 0))
        fact("rebind", "bound")
    except OSError as e:
        fact("rebind", errno.errorcode.get(e.errno, e.errno))
    # A lookup: sendto the kernel, recvfrom.
    req = getfamily(family, 1, pid)
    n = s.sendto(req, (0, 0))
    fact("sendto", "all" if n == len(req) else n)
    data, addr = s.recvfrom(65536)
    fact("recvfrom_addr", addr)
    msgs = parse(data)
    ok = len(msgs) == 1 and msgs[0][2] == 1 and msgs[0][0] == GENL_ID_CTRL \
        and msgs[0][4][0] == CTRL_CMD_NEWFAMILY and family_id(msgs[0][4]) is not None
    fact("answer", "NEWFAMILY" if ok else repr(msgs))
    fact("answer_pid", "ours" if msgs and msgs[0][3] == pid else repr(msgs[0][3]))
    # Unknown family: an error with the errno.
    fact("unknown", lookup(s, "oxvs_nofamily", 2))
    # recv_into with MSG_TRUNC gives the full length.
    s.sendto(getfamily(family, 3, pid), (0, 0))
    size = s.recv_into(bytearray(1), 1, socket.MSG_PEEK | socket.MSG_TRUNC)
    data = s.recv(65536)
    fact("peek_trunc", "full length" if size == len(data) else f"{size} vs {len(data)}")
    # recvmsg reports MSG_TRUNC.
    s.sendto(getfamily(family, 4, pid), (0, 0))
    _data, _anc, flags, addr = s.recvmsg(8)
    fact("recvmsg_short", "MSG_TRUNC" if flags & socket.MSG_TRUNC else flags)
    s.setblocking(False)
    try:
        s.recv(65536)
        fact("empty", "data")
    except BlockingIOError:
        fact("empty", "EAGAIN")
    s.close()
    t.close()


def main():
    mode, family = sys.argv[1], sys.argv[2]
    if mode == "calls":
        calls(family)
    elif mode == "lookup":
        s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_GENERIC)
        fact(f"lookup_{family}", "found" if (lookup(s, family, 1) or 0) > 0 else "absent")
    else:
        raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
