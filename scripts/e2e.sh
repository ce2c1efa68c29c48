#!/usr/bin/env bash
# End-to-end test of the switch, as a user runs it: three network namespaces
# joined by veth pairs to an `oxvsd` learning switch (ports of type
# `system`, default offloads left on), driven and inspected with
# `oxvs-dpctl`. Checks:
#   - ping both ways;
#   - a 100 MB TCP transfer whose sha256 matches at the far end;
#   - a VLAN-tagged frame crosses with its tag;
#   - learned flows appear in dump-flows, and expire once traffic stops;
#   - a port deleted under traffic: the daemon survives and keeps forwarding
#     between the other ports.
# Prints SKIP and exits 0 without root, iproute2, ping, sysctl or python3. Cleans up
# everything it created (the trap is registered before anything is made).
set -euo pipefail
cd "$(dirname "$0")/.."

skip() { echo "SKIP: e2e: $*"; exit 0; }
[ "$(id -u)" = 0 ] || skip "needs root"
. scripts/prereqs.sh
missing=$(prereqs_missing ip:iproute2 ping:iputils-ping sysctl:procps python3:python3) ||
    skip "missing commands; install these packages: $missing"

tag="oxe$$"
tag="${tag:0:8}"
dp="e2e$$"
dp="${dp:0:15}"
sock="/run/oxvs/${tag}.sock"
daemon=""
fail() { echo "FAIL: e2e: $*" >&2; exit 1; }

cleanup() {
    set +e
    [ -n "$daemon" ] && kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
    for i in 1 2 3; do
        ip netns del "${tag}n$i" 2>/dev/null
        ip link del "${tag}s$i" 2>/dev/null
    done
    rm -f "$sock"
}
trap cleanup EXIT

cargo build --release -q --bin oxvsd --bin oxvs-dpctl
dpctl() { OXVSD_SOCKET="$sock" target/release/oxvs-dpctl "$@"; }
nsx() { local n=$1; shift; ip netns exec "${tag}n$n" "$@"; }

for i in 1 2 3; do
    ip netns add "${tag}n$i"
    ip link add "${tag}s$i" type veth peer name "${tag}h$i"
    ip link set "${tag}h$i" netns "${tag}n$i"
    nsx "$i" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
    nsx "$i" ip addr add "10.98.0.$i/24" dev "${tag}h$i"
    nsx "$i" ip link set "${tag}h$i" up
    nsx "$i" ip link set lo up
    ip link set "${tag}s$i" up
done

mkdir -p /run/oxvs
target/release/oxvsd --socket "$sock" --dp "$dp" --flow-idle 2 \
    --port "${tag}s1" --port "${tag}s2" --port "${tag}s3" >"/tmp/${tag}.log" 2>&1 &
daemon=$!
for _ in $(seq 200); do [ -S "$sock" ] && break; sleep 0.05; done
[ -S "$sock" ] || fail "oxvsd did not start: $(cat "/tmp/${tag}.log")"

echo "== ping both ways"
nsx 1 ping -c 3 -W 2 -q 10.98.0.2 || fail "ping 1 -> 2"
nsx 2 ping -c 3 -W 2 -q 10.98.0.1 || fail "ping 2 -> 1"

echo "== learned flows in dump-flows"
flows=$(dpctl dump-flows "netdev@$dp")
echo "$flows"
echo "$flows" | grep -q '^recirc_id(0),in_port(1),.*actions:2$' || fail "no learned flow from port 1 to port 2"
echo "$flows" | grep -q '^recirc_id(0),in_port(2),.*actions:1$' || fail "no learned flow from port 2 to port 1"

echo "== 100 MB TCP transfer, sha256 checked"
out=$(mktemp)
nsx 2 python3 - "$out" <<'PY' &
import hashlib, socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("10.98.0.2", 5202)); s.listen(1); s.settimeout(60)
c, _ = s.accept(); c.settimeout(60); h = hashlib.sha256(); n = 0
while True:
    b = c.recv(1 << 16)
    if not b: break
    h.update(b); n += len(b)
open(sys.argv[1], "w").write(f"{n} {h.hexdigest()}\n")
PY
server=$!
sent=$(nsx 1 python3 - <<'PY'
import hashlib, socket, time
block = bytes(range(256)) * 4096
h = hashlib.sha256(); total = 100 * 1024 * 1024
for _ in range(100):
    try:
        c = socket.create_connection(("10.98.0.2", 5202), timeout=5); break
    except OSError:
        time.sleep(0.1)
c.settimeout(60)
n = 0
while n < total:
    chunk = block[: min(len(block), total - n)]
    chunk = bytes([(n // len(block)) & 0xff]) + chunk[1:]
    c.sendall(chunk); h.update(chunk); n += len(chunk)
c.close()
print(f"{n} {h.hexdigest()}")
PY
)
wait "$server" || fail "TCP receiver failed"
got=$(cat "$out"); rm -f "$out"
echo "sent $sent"
echo "got  $got"
[ "$sent" = "$got" ] || fail "TCP transfer differs"

echo "== VLAN-tagged frame keeps its tag"
# Sent and captured with raw sockets (no 802.1Q interfaces needed).
nsx 3 python3 - "${tag}h3" >"/tmp/${tag}.vlan" <<'PY' &
import socket, struct, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind((sys.argv[1], 0)); s.settimeout(5)
# Ask the kernel to report a VLAN tag the device stripped (PACKET_AUXDATA).
s.setsockopt(263, 8, 1)
end = time.time() + 5
while time.time() < end:
    try:
        data, anc, _, _ = s.recvmsg(2048, socket.CMSG_SPACE(32))
    except socket.timeout:
        break
    if data[6:12] != bytes.fromhex("02000000e2e1"):
        continue
    tci = None
    for lvl, typ, val in anc:
        if lvl == 263 and typ == 8 and len(val) >= 20:
            status, _, _, _, _, vtci = struct.unpack("IIIHHH", val[:18])
            if status & (1 << 4):
                tci = vtci
    if tci is None and data[12:14] == b"\x81\x00":
        tci = struct.unpack("!H", data[14:16])[0]
    print(tci)
    break
PY
cap=$!
sleep 0.5
nsx 1 python3 - "${tag}h1" <<'PY'
import socket, struct, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((sys.argv[1], 0))
frame = bytes.fromhex("ffffffffffff") + bytes.fromhex("02000000e2e1") + \
    struct.pack("!HH", 0x8100, (3 << 13) | 42) + struct.pack("!H", 0x88b5) + b"oxvs vlan test".ljust(46, b"\0")
s.send(frame)
PY
wait "$cap" || true
tci=$(cat "/tmp/${tag}.vlan"); rm -f "/tmp/${tag}.vlan"
[ "$tci" = "$(( (3 << 13) | 42 ))" ] || fail "VLAN tag not kept (got '$tci')"
echo "tag kept: vid 42 pcp 3"

echo "== a port deleted under traffic"
nsx 1 ping -i 0.01 -c 300 -q 10.98.0.3 >/dev/null 2>&1 &
flood=$!
sleep 0.5
port3=$(dpctl show "netdev@$dp" | sed -n "s/^  port \([0-9]*\): ${tag}s3.*/\1/p")
[ -n "$port3" ] || fail "port of ${tag}s3 not shown"
dpctl del-if "netdev@$dp" "${tag}s3" || fail "del-if under traffic"
wait "$flood" || true
kill -0 "$daemon" || fail "oxvsd died"
nsx 1 ping -c 3 -W 2 -q 10.98.0.2 || fail "forwarding 1 -> 2 after deleting port 3"
dpctl show "netdev@$dp" | grep -q "${tag}s3" && fail "port 3 still shown"

echo "== learned flows expire"
for _ in $(seq 150); do
    [ -z "$(dpctl dump-flows "netdev@$dp")" ] && break
    sleep 0.1
done
left=$(dpctl dump-flows "netdev@$dp")
[ -z "$left" ] || fail "flows did not expire: $left"

echo "PASS: e2e"
