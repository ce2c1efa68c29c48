#!/usr/bin/env bash
# The main job: a learning switch between two network namespaces.
#
#   sudo scripts/demo.sh
#
# Creates two namespaces joined by veth pairs to an oxvsd userspace datapath
# (ports of type `system`, the default learning handler), pings across both
# ways, runs a short TCP transfer checked with sha256, prints `show` and
# `dump-flows`, then removes everything it created. Needs root, iproute2,
# ping and python3 (for the TCP transfer): it installs the missing ones with
# apt-get where it can, and otherwise names them before doing anything. Needs
# cargo too unless target/release already holds the binaries.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
    echo "demo: needs root (network namespaces, AF_PACKET)" >&2
    exit 1
fi

. scripts/prereqs.sh
needs=(ip:iproute2 ping:iputils-ping python3:python3)
if ! prereqs_install "${needs[@]}"; then
    echo "demo: missing commands; install these packages: $(prereqs_missing "${needs[@]}")" >&2
    exit 1
fi
if { [ ! -x target/release/oxvsd ] || [ ! -x target/release/oxvs-dpctl ]; } &&
    ! command -v cargo >/dev/null; then
    echo "demo: cargo not found (Rust 1.80 or newer, e.g. from https://rustup.rs) to build oxvsd and oxvs-dpctl" >&2
    exit 1
fi

tag="oxd$$"
ns1="${tag}a"
ns2="${tag}b"
dp="demo$$"
dp="${dp:0:15}"
sock="/run/oxvs/${tag}.sock"
daemon=""

cleanup() {
    set +e
    if [ -n "$daemon" ]; then
        kill "$daemon" 2>/dev/null
        wait "$daemon" 2>/dev/null
    fi
    ip netns del "$ns1" 2>/dev/null
    ip netns del "$ns2" 2>/dev/null
    ip link del "${tag}s1" 2>/dev/null
    ip link del "${tag}s2" 2>/dev/null
    rm -f "$sock"
}
trap cleanup EXIT

if [ ! -x target/release/oxvsd ] || [ ! -x target/release/oxvs-dpctl ]; then
    cargo build --release -q --bin oxvsd --bin oxvs-dpctl
fi
dpctl() { OXVSD_SOCKET="$sock" target/release/oxvs-dpctl "$@"; }

echo "== topology: $ns1 (10.99.0.1) -- ${tag}s1 [netdev@$dp] ${tag}s2 -- $ns2 (10.99.0.2)"
ip netns add "$ns1"
ip netns add "$ns2"
for i in 1 2; do
    ns="${tag}a"; [ "$i" = 2 ] && ns="${tag}b"
    ip link add "${tag}s$i" type veth peer name "${tag}h$i"
    ip link set "${tag}h$i" netns "$ns"
    ip -n "$ns" addr add "10.99.0.$i/24" dev "${tag}h$i"
    ip -n "$ns" link set "${tag}h$i" up
    ip -n "$ns" link set lo up
    ip link set "${tag}s$i" up
done

mkdir -p /run/oxvs
target/release/oxvsd --socket "$sock" --dp "$dp" --port "${tag}s1" --port "${tag}s2" &
daemon=$!
for _ in $(seq 100); do
    [ -S "$sock" ] && break
    sleep 0.05
done
[ -S "$sock" ] || { echo "demo: oxvsd did not start" >&2; exit 1; }

echo "== ping $ns1 -> $ns2"
ip netns exec "$ns1" ping -c 3 -W 2 10.99.0.2
echo "== ping $ns2 -> $ns1"
ip netns exec "$ns2" ping -c 3 -W 2 10.99.0.1

echo "== TCP transfer, 20 MB, $ns1 -> $ns2"
out=$(mktemp)
ip netns exec "$ns2" python3 - "$out" <<'PY' &
import hashlib, socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("10.99.0.2", 5201)); s.listen(1); s.settimeout(30)
c, _ = s.accept(); h = hashlib.sha256(); n = 0
while True:
    b = c.recv(1 << 16)
    if not b: break
    h.update(b); n += len(b)
open(sys.argv[1], "w").write(f"{n} {h.hexdigest()}\n")
PY
server=$!
sleep 0.3
sent=$(ip netns exec "$ns1" python3 - <<'PY'
import hashlib, os, socket, time
data = os.urandom(20 * 1024 * 1024)
for _ in range(50):
    try:
        c = socket.create_connection(("10.99.0.2", 5201), timeout=5); break
    except OSError:
        time.sleep(0.1)
t = time.time(); c.sendall(data); c.close(); dt = time.time() - t
print(f"{len(data)} {hashlib.sha256(data).hexdigest()} {len(data) * 8 / dt / 1e9:.2f}")
PY
)
wait "$server"
got=$(cat "$out"); rm -f "$out"
echo "sent:     ${sent% *} (${sent##* } Gbit/s)"
echo "received: $got"
[ "${sent% *}" = "$got" ] || { echo "demo: TCP transfer corrupted" >&2; exit 1; }

echo "== oxvs-dpctl show netdev@$dp"
dpctl show "netdev@$dp"
echo "== oxvs-dpctl dump-flows netdev@$dp"
dpctl dump-flows "netdev@$dp"
echo "== done"
