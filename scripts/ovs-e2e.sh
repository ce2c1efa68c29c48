#!/usr/bin/env bash
# Open vSwitch end to end on oxvs: Debian's unmodified ovs-vswitchd (under
# oxvs-run) drives a datapath of a private oxvsd, between network
# namespaces. Nothing of the system's Open vSwitch is used: the daemons run
# from a private run directory (database, sockets, logs, pidfiles), and the
# switch, its ports and oxvsd live in a namespace of their own.
#
#   sudo scripts/ovs-e2e.sh
#
# Checks, in order:
#   a. a bridge of two veth ports, actions=NORMAL: ping both ways; a 100 MB
#      TCP transfer whose sha256 matches at the far end (default offloads);
#   c. `ovs-appctl dpctl/dump-flows` lists megaflows (IPv4 between the two
#      MACs, L3/L4 wildcarded, carried both ping and TCP) and
#      `oxvs-dpctl dump-flows netdev@ovs-system`, which asks the daemon and
#      not ovs-vswitchd, shows the same flows (key and actions);
#   d. ovs-vswitchd killed with SIGKILL in the middle of a TCP transfer: the
#      transfer completes (sha256) on the flows the datapath holds; then
#      ovs-vswitchd restarted under oxvs-run takes the datapath over: port
#      numbers kept, traffic works, new flows installed. The restart is
#      measured twice, without and with other_config:flow-restore-wait (see
#      "flow-restore-wait" below);
#   b. a multi-table OpenFlow 1.3 pipeline on the same bridge, each action
#      checked on the packets the far end sees:
#        goto_table + resubmit  every packet crosses tables 0 → 1 → 2 and is
#                               looked up in 3 and 4 by resubmit;
#        dec_ttl                tcpdump at the far end shows ttl 63, ping
#                               shows ttl=63 in the replies;
#        set_field              a virtual address 10.x.0.100 is rewritten to
#                               the server's 10.x.0.3 (and MAC) and back: ping
#                               to it answers, the server sees 10.x.0.3;
#        push_vlan / pop_vlan   frames to the VLAN-side port carry tag 100 on
#                               its wire; tagged frames from it arrive
#                               untagged (a UDP socket behind a port with no
#                               VLAN device gets them);
#        learn                  learned MAC → port flows appear in
#                               `ovs-ofctl dump-flows` table 3 and steer
#                               unicast to one port (the VLAN port sees none of
#                               it; once they are deleted it is flooded again);
#        select group           200 UDP flows to a group of two ports: both
#                               buckets' ports receive some, all 200 arrive;
#        mirror                 an `ovs-vsctl` mirror of one port: the mirror
#                               port sees copies of its ping both ways;
#      then (c) again on the pipeline's megaflows (masks, set, push_vlan,
#      dp_hash and recirc);
#   e. `ovs-vsctl del-br` removes the ports: `ovs-dpctl show` (Open vSwitch's
#      own tool, under oxvs-run) and `oxvs-dpctl show` no longer list them,
#      and nothing is forwarded any more;
#   f. ovs-vswitchd's log has no WARN, ERR or EMER line and oxvsd's no WARN
#      or ERROR line other than the ones allowed below (each with its
#      reason).
#
# flow-restore-wait: ovs-vswitchd flushes every flow of a datapath when it
# opens it (ofproto/ofproto-dpif.c, open_dpif_backer), unless
# other_config:flow-restore-wait=true, in which case it keeps the flows,
# installs none and handles no upcall until the key is removed (then it
# flushes). Measured here with a canary flow (an idle flow of its own
# ethertype) and a 10 ms ping running across each restart:
#   - without the key the canary flow is gone once the new ovs-vswitchd has
#     its bridge (checked); the ping goes on through upcalls: 0 or 1 of its
#     600 packets lost in our runs (printed);
#   - with it the canary flow is still there with its counters, and the
#     ping loses nothing while ovs-vswitchd restarts (both checked); new
#     flows are installed only once the key is removed.
# So flow-restore-wait is needed to keep the flows across a restart, as with
# the kernel module; for the traffic of a NORMAL bridge the restart without
# it costs a few milliseconds of upcalls. oxvsd itself never removes a
# client's flows: the datapath forwards on them while ovs-vswitchd is down.
#
# Prints SKIP and exits 0 without root, network namespaces or Open vSwitch
# (as root with apt-get, it first installs openvswitch-switch, tcpdump,
# iproute2, iputils-ping and python3 where missing). Exits non-zero with a
# FAIL line on the first failed check (with the datapath's state and the
# daemons' last log lines). Cleans up everything it created, on every exit
# (the trap is registered before anything is made); OVS_E2E_KEEP=1 leaves
# everything in place after a failure, for inspection. OXVSD_LOG sets
# oxvsd's log level (default info).
set -euo pipefail
cd "$(dirname "$0")/.."

skip() { echo "SKIP: ovs-e2e: $*"; exit 0; }
[ "$(id -u)" = 0 ] || skip "needs root"

# Prerequisites: install what is missing when we can (CI runs on a fresh
# Debian machine as root), then skip loudly if something is still missing.
need_pkgs() {
    local -a pk=()
    command -v ovs-vswitchd >/dev/null || pk+=(openvswitch-switch)
    command -v tcpdump >/dev/null || pk+=(tcpdump)
    command -v ip >/dev/null || pk+=(iproute2)
    command -v ping >/dev/null || pk+=(iputils-ping)
    command -v python3 >/dev/null || pk+=(python3)
    echo "${pk[@]}"
}
missing=$(need_pkgs)
if [ -n "$missing" ] && command -v apt-get >/dev/null; then
    echo "== installing: $missing"
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing ||
        { apt-get update -q &&
            DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing; } ||
        echo "ovs-e2e: apt-get install $missing failed" >&2
    missing=$(need_pkgs)
fi
[ -z "$missing" ] || skip "missing packages: $missing"
for c in ovsdb-tool ovsdb-server ovs-vswitchd ovs-vsctl ovs-ofctl ovs-appctl ovs-dpctl; do
    command -v "$c" >/dev/null || skip "needs $c (Open vSwitch)"
done
schema=/usr/share/openvswitch/vswitch.ovsschema
[ -r "$schema" ] || skip "no $schema"

tag="ovx$(($$ % 100000))"
probe_ns="${tag}probe"
ip netns add "$probe_ns" 2>/dev/null || skip "cannot create network namespaces"
ip netns del "$probe_ns"

SW="${tag}sw"            # the switch's namespace: oxvsd, ovs-vswitchd, ports
BR="${tag}br"            # the bridge (and its internal port)
NETS=(a b c d e f)       # endpoint namespaces "${tag}X", veth "${tag}X" <-> "${tag}pX"
W=""
PIDS=()                  # background helpers (tcpdump, servers): stopped on exit
oxvsd_pid=""
ovsdb_pid=""
vsw_pid=""

fail() {
    echo "FAIL: ovs-e2e: $*" >&2
    if [ -n "$W" ]; then
        {
            echo "--- state:"
            [ "${OVS_E2E_KEEP:-0}" = 1 ] || timeout 5 ovs-appctl -t "$W/ovs-vswitchd.ctl" dpctl/show
            [ "${OVS_E2E_KEEP:-0}" = 1 ] || timeout 5 ovs-appctl -t "$W/ovs-vswitchd.ctl" dpctl/dump-flows
            timeout 5 ovs-appctl -t "$W/ovs-vswitchd.ctl" upcall/show
            OXVSD_SOCKET=$W/oxvsd.sock timeout 5 target/release/oxvs-dpctl show
            OXVSD_SOCKET=$W/oxvsd.sock timeout 5 target/release/oxvs-dpctl dump-flows
        } >&2 2>&1 || true
        for f in ovs-vswitchd.log oxvsd.log; do
            [ -f "$W/$f" ] && { echo "--- last lines of $f:" >&2; tail -n 25 "$W/$f" >&2; }
        done
    fi
    exit 1
}

# stop PID [SIGNAL]: signal one of our children and reap it.
stop() {
    local pid=$1 sig=${2:-TERM} i
    [ -n "$pid" ] || return 0
    kill "-$sig" "$pid" 2>/dev/null || true
    for i in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local rc=$? p n
    set +e
    if [ "$rc" != 0 ] && [ "${OVS_E2E_KEEP:-0}" = 1 ]; then
        echo "ovs-e2e: OVS_E2E_KEEP=1: left running for inspection (OVS_RUNDIR=$W, namespaces ${tag}*)" >&2
        exit "$rc"
    fi
    for p in "${PIDS[@]}"; do stop "$p" INT; done
    stop "$vsw_pid"
    stop "$ovsdb_pid"
    stop "$oxvsd_pid"
    for n in "${NETS[@]}"; do ip netns del "${tag}$n" 2>/dev/null; done
    ip netns del "$SW" 2>/dev/null
    [ -n "$W" ] && rm -rf "$W"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

cargo build --release -q -p oxvsd -p oxvs-run -p dpctl
bin=$PWD/target/release
W=$(mktemp -d "/tmp/${tag}.XXXXXX")
sock=$W/oxvsd.sock
export OVS_RUNDIR=$W OVS_LOGDIR=$W OVS_DBDIR=$W OVS_SYSCONFDIR=$W

# Background commands are started with "ip netns exec" itself, never
# through these functions: "function &" would fork a shell whose PID is $!,
# and a signal to it would not reach the command.
nsx() { local n=$1; shift; ip netns exec "${tag}$n" "$@"; }
swx() { ip netns exec "$SW" "$@"; }
ofctl() { ovs-ofctl -O OpenFlow13 "$@"; }
appctl() { ovs-appctl -t "$W/ovs-vswitchd.ctl" "$@"; }
oxdpctl() { OXVSD_SOCKET=$sock "$bin/oxvs-dpctl" "$@"; }
ovsdpctl() { swx "$bin/oxvs-run" --socket "$sock" -- ovs-dpctl "$@"; }
mac_of() { nsx "$1" cat "/sys/class/net/${tag}$1/address"; }
rx_packets() { nsx "$1" cat "/sys/class/net/${tag}$1/statistics/rx_packets"; }
# until TRIES CMD...: run CMD every 0.1 s until it succeeds (TRIES times).
until_ok() {
    local n=$1 i
    shift
    for i in $(seq "$n"); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    return 1
}

echo "== topology: namespaces ${tag}{a..f} -- veth -- [$SW: oxvsd + ovs-vswitchd, bridge $BR]"
ip netns add "$SW"
ip -n "$SW" link set lo up
for n in "${NETS[@]}"; do
    ip netns add "${tag}$n"
    ip link add "${tag}$n" netns "${tag}$n" type veth peer name "${tag}p$n" netns "$SW"
    nsx "$n" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    nsx "$n" ip link set lo up
    nsx "$n" ip link set "${tag}$n" up
    ip -n "$SW" link set "${tag}p$n" up
done
swx sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
net=10.96
A=$net.0.1 B=$net.0.2
nsx a ip addr add "$A/24" dev "${tag}a"
nsx b ip addr add "$B/24" dev "${tag}b"
AMAC=$(mac_of a) BMAC=$(mac_of b)

echo "== oxvsd, ovsdb-server, ovs-vswitchd (under oxvs-run) from $W"
ip netns exec "$SW" "$bin/oxvsd" --socket "$sock" --log-level "${OXVSD_LOG:-info}" >"$W/oxvsd.log" 2>&1 &
oxvsd_pid=$!
until_ok 100 test -S "$sock" || fail "oxvsd did not start: $(cat "$W/oxvsd.log")"
ovsdb-tool create "$W/conf.db" "$schema"
ovsdb-server "$W/conf.db" --remote="punix:$W/db.sock" --pidfile="$W/ovsdb-server.pid" \
    --unixctl="$W/ovsdb-server.ctl" --no-chdir --log-file="$W/ovsdb-server.log" -vconsole:off >"$W/ovsdb-server.out" 2>&1 &
ovsdb_pid=$!
until_ok 100 test -S "$W/db.sock" || fail "ovsdb-server did not start"
ovs-vsctl --no-wait init
# Datapath flows idle for 30 s (not 10) are removed: the pipeline's checks
# look at flows made a few seconds earlier.
ovs-vsctl --no-wait set Open_vSwitch . other_config:max-idle=30000

start_vswitchd() {
    ip netns exec "$SW" "$bin/oxvs-run" --socket "$sock" -- ovs-vswitchd "unix:$W/db.sock" \
        --pidfile="$W/ovs-vswitchd.pid" --unixctl="$W/ovs-vswitchd.ctl" --no-chdir \
        --log-file="$W/ovs-vswitchd.log" -vconsole:off >>"$W/ovs-vswitchd.stderr" 2>&1 &
    vsw_pid=$!
    until_ok 150 appctl version || fail "ovs-vswitchd did not start"
    [ "$(cat "$W/ovs-vswitchd.pid")" = "$vsw_pid" ] ||
        fail "ovs-vswitchd's pidfile names $(cat "$W/ovs-vswitchd.pid"), not $vsw_pid"
}
# The bridge is up once OpenFlow answers on it and its ports have numbers.
bridge_ready() {
    ofctl show "$BR" >/dev/null 2>&1 &&
        [ "$(ovs-vsctl get interface "${tag}pa" ofport)" = 1 ] &&
        [ "$(ovs-vsctl get interface "${tag}pb" ofport)" = 2 ]
}
start_vswitchd

ping_ok() { nsx "$1" ping -c "${3:-3}" -i 0.2 -W 2 -q "$2" >/dev/null; }

echo "== a. bridge $BR, actions=NORMAL: ping both ways"
ovs-vsctl add-br "$BR" \
    -- add-port "$BR" "${tag}pa" -- set interface "${tag}pa" ofport_request=1 \
    -- add-port "$BR" "${tag}pb" -- set interface "${tag}pb" ofport_request=2
until_ok 100 bridge_ready || fail "bridge $BR did not come up"
ofctl dump-flows "$BR" | grep -q 'priority=0 actions=NORMAL' ||
    fail "no NORMAL flow on $BR: $(ofctl dump-flows "$BR")"
ping_ok a "$B" || fail "ping a -> b through NORMAL"
ping_ok b "$A" || fail "ping b -> a through NORMAL"

# tcp_transfer PORT MB [HALF_FILE GO_FILE]: MB megabytes a -> b, sha256
# compared; with HALF_FILE/GO_FILE the sender creates HALF_FILE after the
# first half and waits for GO_FILE before sending the rest.
tcp_transfer() {
    local port=$1 mb=$2 half=${3:-} go=${4:-} out sent got server
    out=$W/tcp.$port
    ip netns exec "${tag}b" python3 - "$B" "$port" "$out" <<'PY' &
import hashlib, socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(1); s.settimeout(60)
c, _ = s.accept(); c.settimeout(60); h = hashlib.sha256(); n = 0
while True:
    b = c.recv(1 << 16)
    if not b: break
    h.update(b); n += len(b)
open(sys.argv[3], "w").write(f"{n} {h.hexdigest()}\n")
PY
    server=$!
    sent=$(nsx a python3 - "$B" "$port" "$mb" "$half" "$go" <<'PY'
import hashlib, os, socket, sys, time
host, port, mb, half, go = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
block = bytes(range(256)) * 4096                      # 1 MiB
h = hashlib.sha256(); n = 0
for _ in range(100):
    try:
        c = socket.create_connection((host, port), timeout=5); break
    except OSError:
        time.sleep(0.1)
else:
    sys.exit("cannot connect")
c.settimeout(60)
for i in range(mb):
    if half and i == mb // 2:
        open(half, "w").close()
        end = time.time() + 60
        while not os.path.exists(go):
            if time.time() > end: sys.exit("no go signal")
            time.sleep(0.01)
    chunk = bytes([i & 0xff]) + block[1:]
    c.sendall(chunk); h.update(chunk); n += len(chunk)
c.close()
print(f"{n} {h.hexdigest()}")
PY
) || { stop "$server"; fail "TCP sender on port $port failed"; }
    wait "$server" || fail "TCP receiver on port $port failed"
    got=$(cat "$out")
    echo "   sent $sent"
    echo "   got  $got"
    [ "$sent" = "$got" ] || fail "TCP transfer on port $port differs"
}

echo "== a. 100 MB TCP transfer a -> b, sha256 checked (default offloads)"
tcp_transfer 5301 100

# Flows without their statistics, sorted: "key actions:..." per line.
strip_stats() { sed -E 's/, packets:[0-9]+, bytes:[0-9]+, used:[^ ]+,( flags:[^ ]+,)? actions:/, actions:/' | sort; }
# same_flows: ovs-vswitchd's dump and the daemon's list the same flows. The
# two dumps are taken one after the other while flows may come and go
# (revalidators), so a difference is retried a few times.
same_flows() {
    local i ovs ox
    for i in 1 2 3 4 5; do
        ovs=$(appctl dpctl/dump-flows | strip_stats)
        ox=$(oxdpctl dump-flows netdev@ovs-system | strip_stats)
        [ -n "$ovs" ] || fail "ovs-appctl dpctl/dump-flows lists no flow"
        [ "$ovs" = "$ox" ] && { FLOWS=$ovs; return 0; }
        sleep 0.3
    done
    diff <(echo "$ovs") <(echo "$ox") >&2 || true
    fail "ovs-appctl dpctl/dump-flows and oxvs-dpctl dump-flows differ (above: < ovs, > oxvs)"
}

echo "== c. megaflows: ovs-appctl dpctl/dump-flows = oxvs-dpctl dump-flows netdev@ovs-system"
same_flows
echo "$FLOWS" | sed 's/^/   /'
# NORMAL's megaflow for IPv4 a -> b matches the MACs and not L3/L4: the
# ping and the TCP transfer share it.
aport=$(oxdpctl show netdev@ovs-system | sed -n "s/^  port \([0-9]*\): ${tag}pa\b.*/\1/p")
bport=$(oxdpctl show netdev@ovs-system | sed -n "s/^  port \([0-9]*\): ${tag}pb\b.*/\1/p")
[ -n "$aport" ] && [ -n "$bport" ] || fail "ports not in oxvs-dpctl show: $(oxdpctl show netdev@ovs-system)"
mega=$(appctl dpctl/dump-flows | grep -F "in_port($aport),eth(src=$AMAC,dst=$BMAC),eth_type(0x0800),ipv4(frag=no), " || true)
[ -n "$mega" ] || fail "no megaflow in_port($aport),eth(src=$AMAC,dst=$BMAC),eth_type(0x0800),ipv4(frag=no)"
mpk=$(sed -E 's/.*packets:([0-9]+),.*/\1/' <<<"$mega")
[ "$mpk" -ge 100 ] || fail "the a -> b megaflow carried $mpk packets, fewer than the TCP transfer's"
[[ $mega == *"actions:$bport" ]] || fail "a -> b megaflow does not output to port $bport: $mega"
echo "   a -> b IPv4 megaflow (no L3/L4 fields) carried $mpk packets"

# canary: an idle flow of its own (ethertype 0x88b5, b -> a) whose fate
# across a restart shows whether the datapath's flows were kept.
canary() {
    nsx b python3 - "${tag}b" "$AMAC" "$BMAC" <<'PY'
import socket, struct, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW); s.bind((sys.argv[1], 0))
mac = lambda m: bytes.fromhex(m.replace(":", ""))
s.send(mac(sys.argv[2]) + mac(sys.argv[3]) + struct.pack("!H", 0x88b5) + b"oxvs canary".ljust(46, b"\0"))
PY
}
canary_flow() { oxdpctl dump-flows netdev@ovs-system | grep -F "eth(src=$BMAC,dst=$AMAC),eth_type(0x88b5)" || true; }
ports_of() { oxdpctl show netdev@ovs-system | grep '^  port ' | sort; }

echo "== d. ovs-vswitchd killed (SIGKILL) in the middle of a TCP transfer"
canary
until_ok 30 eval '[ -n "$(canary_flow)" ]' || fail "canary flow not installed"
ports_before=$(ports_of)
rm -f "$W/half" "$W/go"
(
    until_ok 300 test -e "$W/half" || exit 1
    kill -KILL "$vsw_pid"
    touch "$W/killed"
) &
killer=$!
# The sender waits for the kill before its second half (GO_FILE = killed).
tcp_transfer 5302 40 "$W/half" "$W/killed"
wait "$killer" || fail "the transfer never reached its middle"
wait "$vsw_pid" 2>/dev/null || true
kill -0 "$vsw_pid" 2>/dev/null && fail "ovs-vswitchd still alive after SIGKILL"
appctl version >/dev/null 2>&1 && fail "an ovs-vswitchd still answers after SIGKILL"
vsw_pid=""
echo "   the second half crossed while ovs-vswitchd was dead"
[ -n "$(canary_flow)" ] || fail "the datapath lost its flows when ovs-vswitchd died"
ping_ok a "$B" || fail "ping a -> b on the datapath's flows with ovs-vswitchd dead"
[ "$(ports_of)" = "$ports_before" ] || fail "ports changed while ovs-vswitchd was dead"

# restart_measured LABEL: restart ovs-vswitchd with a 10 ms ping a -> b
# running across; sets LOST (pings lost) and CANARY (kept|flushed).
restart_measured() {
    local label=$1 pingout=$W/ping.$1 pinger
    ip netns exec "${tag}a" ping -q -i 0.01 -c 600 -W 1 "$B" >"$pingout" 2>&1 &
    pinger=$!
    sleep 0.3
    start_vswitchd
    until_ok 150 bridge_ready || fail "$label: bridge $BR did not come back"
    if [ -n "$(canary_flow)" ]; then CANARY=kept; else CANARY=flushed; fi
    wait "$pinger" || true
    LOST=$(sed -n 's/^\([0-9]*\) packets transmitted, \([0-9]*\) received.*/\1 \2/p' "$pingout")
    [ -n "$LOST" ] || fail "$label: no ping statistics: $(cat "$pingout")"
    LOST=$(( ${LOST% *} - ${LOST#* } ))
    echo "   $label: canary flow $CANARY once the bridge was back; $LOST of 600 pings (10 ms) lost across the restart"
}

echo "== d. restart under oxvs-run, without flow-restore-wait"
restart_measured no-flow-restore-wait
[ "$CANARY" = flushed ] || fail "without flow-restore-wait ovs-vswitchd kept the datapath's flows (it flushes them: open_dpif_backer)"
[ "$(ports_of)" = "$ports_before" ] || fail "ports changed across the restart: $(ports_of)"
echo "   ports kept: $(echo "$ports_before" | tr -s ' ' | paste -sd';')"
ping_ok a "$B" || fail "ping a -> b after the restart"
ping_ok b "$A" || fail "ping b -> a after the restart"
new=$(appctl dpctl/dump-flows | grep -cF "eth(src=$BMAC,dst=$AMAC),eth_type(0x0800)" || true)
[ "$new" -ge 1 ] || fail "no flow installed by the restarted ovs-vswitchd: $(appctl dpctl/dump-flows)"
tcp_transfer 5303 20

echo "== d. restart under oxvs-run, with other_config:flow-restore-wait=true"
# No upcall is handled until the key is removed: a and b must not need ARP
# meanwhile (a neighbour probe would find no flow).
nsx a ip neigh replace "$B" lladdr "$BMAC" dev "${tag}a" nud permanent
nsx b ip neigh replace "$A" lladdr "$AMAC" dev "${tag}b" nud permanent
canary
until_ok 30 eval '[ -n "$(canary_flow)" ]' || fail "canary flow not installed"
canary_before=$(canary_flow | sed -E 's/.*packets:([0-9]+),.*/\1/')
kill -KILL "$vsw_pid"
wait "$vsw_pid" 2>/dev/null || true
vsw_pid=""
ovs-vsctl --no-wait set Open_vSwitch . other_config:flow-restore-wait=true
restart_measured flow-restore-wait
[ "$CANARY" = kept ] || fail "with flow-restore-wait the datapath's flows were not kept"
[ "$LOST" -eq 0 ] || fail "with flow-restore-wait $LOST pings were lost across the restart"
canary_after=$(canary_flow | sed -E 's/.*packets:([0-9]+),.*/\1/')
[ "$canary_after" -ge "$canary_before" ] || fail "canary flow counters reset ($canary_before -> $canary_after)"
[ "$(ports_of)" = "$ports_before" ] || fail "ports changed across the restart: $(ports_of)"
# As ovs-ctl does once the OpenFlow flows are back: remove the key. Then
# ovs-vswitchd flushes and installs flows of its own.
ovs-vsctl --if-exists remove Open_vSwitch . other_config flow-restore-wait
until_ok 50 eval '[ -z "$(canary_flow)" ]' || fail "flows not flushed after flow-restore-wait was removed"
ping_ok a "$B" || fail "ping a -> b after flow-restore-wait was removed"
ping_ok b "$A" || fail "ping b -> a after flow-restore-wait was removed"
new=$(appctl dpctl/dump-flows | grep -cF "eth(src=$AMAC,dst=$BMAC),eth_type(0x0800)" || true)
[ "$new" -ge 1 ] || fail "no flow installed after flow-restore-wait was removed"
echo "   flow-restore-wait removed: flows flushed, new flows installed, ping both ways"

echo "== b. OpenFlow 1.3 pipeline"
# Ports: 1 a (client), 2 b (server, also 10.x.0.3), 3 c (mirror output),
# 4 d (VLAN 100 side), 5 e and 6 f (select group buckets, one MAC).
C3=$net.0.3 VIP=$net.0.100 DIP=$net.0.4 GIP=$net.0.50
VMAC=02:00:00:00:01:00 GMAC=02:00:00:00:00:50
nsx b ip addr add "$C3/24" dev "${tag}b"
nsx e ip link set "${tag}e" address "$GMAC"
nsx f ip link set "${tag}f" address "$GMAC"
DMAC=$(mac_of d)
nsx a ip neigh replace "$VIP" lladdr "$VMAC" dev "${tag}a"
nsx a ip neigh replace "$GIP" lladdr "$GMAC" dev "${tag}a"
nsx a ip neigh replace "$DIP" lladdr "$DMAC" dev "${tag}a"
ovs-vsctl set bridge "$BR" protocols=OpenFlow13 fail-mode=secure \
    -- add-port "$BR" "${tag}pc" -- set interface "${tag}pc" ofport_request=3 \
    -- add-port "$BR" "${tag}pd" -- set interface "${tag}pd" ofport_request=4 \
    -- add-port "$BR" "${tag}pe" -- set interface "${tag}pe" ofport_request=5 \
    -- add-port "$BR" "${tag}pf" -- set interface "${tag}pf" ofport_request=6
until_ok 100 eval '[ "$(ovs-vsctl get interface "${tag}pf" ofport)" = 6 ]' || fail "pipeline ports not added"
push100="push_vlan:0x8100,set_field:4196->vlan_vid"   # 4096 | 100: VID 100, present
cat >"$W/flows" <<EOF
table=0,priority=100,in_port=4,dl_vlan=100,actions=pop_vlan,goto_table:1
table=0,priority=90,in_port=4,actions=drop
table=0,priority=90,in_port=3,actions=drop
table=0,priority=0,actions=goto_table:1
table=1,priority=0,actions=learn(table=3,idle_timeout=600,priority=100,NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],load:NXM_OF_IN_PORT[]->NXM_NX_REG0[0..15]),goto_table:2
table=2,priority=100,ip,nw_dst=$VIP,actions=set_field:$C3->ip_dst,set_field:$BMAC->eth_dst,resubmit(,3),resubmit(,4)
table=2,priority=100,ip,nw_src=$C3,actions=set_field:$VIP->ip_src,set_field:$VMAC->eth_src,resubmit(,3),resubmit(,4)
table=2,priority=100,ip,nw_dst=$GIP,actions=dec_ttl,group:1
table=2,priority=50,ip,actions=dec_ttl,resubmit(,3),resubmit(,4)
table=2,priority=0,actions=resubmit(,3),resubmit(,4)
table=4,priority=100,reg0=1,actions=output:1
table=4,priority=100,reg0=2,actions=output:2
table=4,priority=100,reg0=4,actions=$push100,output:4
table=4,priority=0,actions=output:1,output:2,$push100,output:4
EOF
ofctl add-group "$BR" "group_id=1,type=select,bucket=output:5,bucket=output:6"
ofctl replace-flows "$BR" "$W/flows"
ofctl dump-flows "$BR" --no-stats | grep -q 'learn(table=3' || fail "pipeline not installed: $(ofctl dump-flows "$BR")"
ovs-vsctl -- --id=@a get port "${tag}pa" -- --id=@c get port "${tag}pc" \
    -- --id=@m create mirror name="${tag}m" select-src-port=@a select-dst-port=@a output-port=@c \
    -- set bridge "$BR" mirrors=@m >/dev/null

# cap_start NAME NS FILTER...: tcpdump (-e -v: link header, TTL) on
# namespace NS's veth; returns once it listens. cap_stop NAME: ends it and
# leaves one line per packet in $W/cap.NAME.
declare -A CAP=()
cap_start() {
    local name=$1 n=$2
    shift 2
    ip netns exec "${tag}$n" tcpdump -l -nn -e -v -i "${tag}$n" "$@" >"$W/cap.$name.raw" 2>"$W/cap.$name.err" &
    CAP[$name]=$!
    PIDS+=("${CAP[$name]}")
    until_ok 100 grep -q "listening on" "$W/cap.$name.err" ||
        fail "tcpdump $name did not start: $(cat "$W/cap.$name.err")"
}
cap_stop() {
    sleep 0.3
    stop "${CAP[$1]}" INT
    awk '/^[ \t]/ { sub(/^[ \t]+/, " "); printf "%s", $0; next }
         NR > 1 { print "" } { printf "%s", $0 } END { if (NR) print "" }' \
        "$W/cap.$1.raw" >"$W/cap.$1"
}
# udp_send NS SRC DST DPORT COUNT [SPORT0]: COUNT datagrams; with SPORT0,
# each from its own source port (SPORT0, SPORT0+1...): COUNT flows.
udp_send() {
    nsx "$1" python3 - "$2" "$3" "$4" "$5" "${6:-0}" <<'PY'
import socket, sys, time
src, dst, dport, count, sport0 = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
s = None
for i in range(count):
    if s is None or sport0:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((src, sport0 + i if sport0 else 0))
    s.sendto(b"oxvs pipeline %d" % i, (dst, dport))
    time.sleep(0.002)
PY
}

echo "== b. goto_table, resubmit, dec_ttl: ping a -> b, ttl seen at b and in the replies"
cap_start ttl b icmp
cap_start mirror c icmp
out=$(nsx a ping -c 5 -i 0.2 -W 2 "$B") || fail "ping a -> b through the pipeline: $out"
cap_stop ttl
cap_stop mirror
req63=$(grep "$A > $B: ICMP echo request" "$W/cap.ttl" | grep -c "ttl 63," || true)
req64=$(grep "$A > $B: ICMP echo request" "$W/cap.ttl" | grep -c "ttl 64," || true)
[ "$req63" -ge 5 ] && [ "$req64" -eq 0 ] ||
    fail "b saw $req63 echo requests with ttl 63 and $req64 with ttl 64 (sent with 64, want 63): $(cat "$W/cap.ttl")"
[ "$(grep -c 'ttl=63' <<<"$out")" -eq 5 ] || fail "ping replies do not show ttl=63: $out"
echo "   b saw ttl 63 on the requests (sent with 64); a saw ttl=63 in the 5 replies"

echo "== b. mirror: port c saw a's ping both ways"
mreq=$(grep -c "$A > $B: ICMP echo request" "$W/cap.mirror" || true)
mrep=$(grep -c "$B > $A: ICMP echo reply" "$W/cap.mirror" || true)
[ "$mreq" -ge 5 ] && [ "$mrep" -ge 5 ] || fail "mirror port saw $mreq requests and $mrep replies of 5"
echo "   mirror port c: $mreq echo requests, $mrep echo replies"

echo "== b. set_field: ping the virtual address $VIP (rewritten to $C3 and back)"
cap_start nat b icmp
out=$(nsx a ping -c 3 -i 0.2 -W 2 "$VIP") || fail "ping $VIP (set_field rewrite): $out"
cap_stop nat
[ "$(grep -c "bytes from $VIP" <<<"$out")" -eq 3 ] || fail "replies not from $VIP: $out"
[ "$(grep -c "> $BMAC, .*$A > $C3: ICMP echo request" "$W/cap.nat" || true)" -ge 3 ] ||
    fail "b did not see 3 echo requests to $C3 at its MAC: $(cat "$W/cap.nat")"
grep -q "> $VIP" "$W/cap.nat" && fail "b saw packets to the virtual address: $(cat "$W/cap.nat")"
echo "   replies from $VIP; b saw the requests addressed to $C3 (its MAC), none to $VIP"

echo "== b. push_vlan / pop_vlan: VLAN 100 on the wire of port d only"
cap_start vlan_d d udp
cap_start vlan_a a udp
udp_send a "$A" "$DIP" 7100 3
# d -> a: tagged frames from the VLAN side, received by a UDP socket on a
# (whose kernel drops tagged frames: it has no VLAN device).
ip netns exec "${tag}a" python3 - "$A" 7101 >"$W/vlan.rx" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((sys.argv[1], int(sys.argv[2]))); s.settimeout(3)
n = 0
try:
    while n < 3:
        s.recv(2048); n += 1
except socket.timeout:
    pass
print(n)
PY
vrx=$!
sleep 0.3
nsx d python3 - "${tag}d" "$DMAC" "$AMAC" "$DIP" "$A" <<'PY'
import socket, struct, sys, time
dev, src, dst, sip, dip = sys.argv[1:6]
mac = lambda m: bytes.fromhex(m.replace(":", ""))
def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b)); s = (s >> 16) + (s & 0xffff); s += s >> 16
    return ~s & 0xffff
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW); s.bind((dev, 0))
for i in range(3):
    payload = b"tagged %d" % i
    udp = struct.pack("!HHHH", 7101, 7101, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), i, 0, 64, 17, 0,
                     socket.inet_aton(sip), socket.inet_aton(dip))
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    s.send(mac(dst) + mac(src) + struct.pack("!HHH", 0x8100, 100, 0x0800) + ip + udp)
    time.sleep(0.05)
PY
wait "$vrx" || true
cap_stop vlan_d
cap_stop vlan_a
tagged_d=$(grep -c "vlan 100, .*$A\.[0-9]* > $DIP\.7100:" "$W/cap.vlan_d" || true)
[ "$tagged_d" -ge 3 ] || fail "port d's wire did not carry a -> d with VLAN 100: $(cat "$W/cap.vlan_d")"
[ "$(cat "$W/vlan.rx")" = 3 ] || fail "a's socket got $(cat "$W/vlan.rx") of 3 datagrams sent tagged from d"
grep -q "vlan" "$W/cap.vlan_a" && fail "a's wire carried a VLAN tag: $(cat "$W/cap.vlan_a")"
grep -q "$DIP\.7101 > $A\.7101:" "$W/cap.vlan_a" || fail "a's capture lacks d's datagrams: $(cat "$W/cap.vlan_a")"
echo "   d's wire: a -> d with vlan 100 ($tagged_d); a's wire: d -> a untagged, 3 of 3 received"

echo "== b. learn: learned flows in table 3 steer unicast"
learned=$(ofctl dump-flows "$BR" table=3)
for m in "$AMAC:0x1" "$BMAC:0x2" "$DMAC:0x4"; do
    grep -q "dl_dst=${m%:*} actions=load:${m##*:}->NXM_NX_REG0\[0..15\]" <<<"$learned" ||
        fail "no learned flow dl_dst=${m%:*} -> reg0=${m##*:} in table 3: $learned"
done
bflow_n() { ofctl dump-flows "$BR" table=3 | grep "dl_dst=$BMAC " | sed -E 's/.*n_packets=([0-9]+),.*/\1/'; }
n0=$(bflow_n)
cap_start steer d udp
udp_send a "$A" "$B" 7200 20
cap_stop steer
# OpenFlow counters follow the datapath's (revalidators) within a second.
until_ok 30 eval '[ "$(bflow_n)" -ge $((n0 + 20)) ]' ||
    fail "learned flow dl_dst=$BMAC counted $(($(bflow_n) - n0)) of 20 packets"
grep -q "> $B\.7200:" "$W/cap.steer" && fail "port d saw unicast a -> b with b learned: $(cat "$W/cap.steer")"
# Without the learned flows the same traffic is flooded (d sees it).
ofctl del-flows "$BR" table=3
sleep 1   # revalidators update the datapath's flows
cap_start flood d udp
udp_send a "$A" "$B" 7201 5
cap_stop flood
grep -q "> $B\.7201:" "$W/cap.flood" || fail "with table 3 empty, a -> b was not flooded to d"
echo "   dl_dst=$BMAC steered 20 of 20 to b, none to d; flooded to d once the learned flows were deleted"

echo "== b. select group: 200 UDP flows to $GIP over buckets e and f"
e0=$(rx_packets e) f0=$(rx_packets f)
udp_send a "$A" "$GIP" 9 200 20000
sleep 0.3
de=$(($(rx_packets e) - e0)) df=$(($(rx_packets f) - f0))
[ "$((de + df))" -eq 200 ] || fail "buckets e + f received $de + $df packets, not 200"
[ "$de" -ge 20 ] && [ "$df" -ge 20 ] || fail "buckets unbalanced: e $de, f $df of 200"
stats=$(ofctl dump-group-stats "$BR")
echo "   e received $de, f $df (group stats: $(grep -o 'bucket0.*' <<<"$stats"))"

echo "== c. the pipeline's megaflows: ovs-appctl = oxvs-dpctl"
same_flows
for f in 'push_vlan(vid=100' 'pop_vlan' 'set(ipv4(dst=' 'set(ipv4(ttl=63))' 'recirc(' 'dp_hash(' '/255.255.255.'; do
    grep -qF "$f" <<<"$FLOWS" || fail "no megaflow with '$f' among: $FLOWS"
done
echo "   $(wc -l <<<"$FLOWS") flows, same in both; with masks, set, push/pop_vlan, hash + recirc"

echo "== e. ovs-vsctl del-br removes the ports"
# A second bridge keeps the datapath (ovs-vswitchd deletes it with its last
# bridge), so that what is left of it can be listed.
BR2="${tag}b2"
ovs-vsctl add-br "$BR2"
# port_names TOOL...: the datapath's port names as "show" lists them, sorted.
port_names() { "$@" 2>/dev/null | sed -n 's/^  port [0-9]*: \([^ ]*\).*/\1/p' | sort | paste -sd' '; }
until_ok 50 eval '[[ "$(port_names oxdpctl show netdev@ovs-system)" == *"$BR2"* ]]' ||
    fail "bridge $BR2's port not in the datapath: $(oxdpctl show netdev@ovs-system)"
ovs-vsctl del-br "$BR"
want=$(printf '%s\n' ovs-system "$BR2" | sort | paste -sd' ')
until_ok 50 eval '[ "$(port_names oxdpctl show netdev@ovs-system)" = "$want" ]' ||
    fail "oxvs-dpctl show after del-br: $(oxdpctl show netdev@ovs-system)"
got=$(port_names ovsdpctl show system@ovs-system)
[ "$got" = "$want" ] || fail "ovs-dpctl show after del-br lists '$got', not '$want'"
echo "   ports left (ovs-dpctl show and oxvs-dpctl show): $got"
# The daemon deletes the internal port's tap device right after the port.
until_ok 50 eval '! ip -n "$SW" link show "$BR" >/dev/null 2>&1' || fail "internal port $BR still exists"
nsx a ping -c 2 -i 0.2 -W 1 -q "$B" >/dev/null 2>&1 && fail "a still reaches b with the bridge deleted"
# With its last bridge, ovs-vswitchd deletes the datapath (close_dpif_backer).
[ "$(ovsdpctl dump-dps 2>/dev/null)" = system@ovs-system ] || fail "ovs-dpctl dump-dps: $(ovsdpctl dump-dps 2>&1)"
[ "$(oxdpctl dump-dps 2>/dev/null)" = netdev@ovs-system ] || fail "oxvs-dpctl dump-dps: $(oxdpctl dump-dps 2>&1)"
ovs-vsctl del-br "$BR2"
until_ok 50 eval '[ -z "$(oxdpctl dump-dps 2>/dev/null)" ]' || fail "datapath left: $(oxdpctl dump-dps)"
[ -z "$(ovsdpctl dump-dps 2>/dev/null)" ] || fail "ovs-dpctl dump-dps still lists $(ovsdpctl dump-dps 2>/dev/null)"
echo "   last bridge deleted: no datapath left (ovs-dpctl dump-dps and oxvs-dpctl dump-dps)"

echo "== f. logs"
# Allowed lines, with the reason:
#  - dpif "Dropped N log messages ... due to excessive rate": OVS takes a
#    token of dpif's WARN rate limiter for every failed flow put before it
#    looks at the probe flag (lib/dpif.c, log_flow_put_message), so its
#    feature probes that fail on a datapath without conntrack (ct_state,
#    ct_zone... as on a kernel without them) use up the burst; the next
#    flow error reports the probes as dropped. Allowed only for at most as
#    many messages as probes reported "does not support".
vswlog=$W/ovs-vswitchd.log
unsupported=$(grep -c "Datapath does not support" "$vswlog" || true)
allowed=""
bad=""
while IFS= read -r l; do
    if [[ $l =~ \|dpif(\([a-z0-9]+\))?\|WARN\|Dropped\ ([0-9]+)\ log\ messages\ in\ last\ [0-9]+\ seconds.*due\ to\ excessive\ rate$ ]] &&
        [ "${BASH_REMATCH[2]}" -le "$unsupported" ]; then
        allowed+="$l"$'\n'
    else
        bad+="$l"$'\n'
    fi
done < <(grep -E '\|(WARN|ERR|EMER)\|' "$vswlog" || true)
[ -z "$allowed" ] || printf '   allowed: %s' "$allowed"
[ -z "$bad" ] || fail "ovs-vswitchd logged warnings or errors:
$bad"
oxbad=$(grep -E '^\[[^]]* (WARN|ERROR) ' "$W/oxvsd.log" || true)
[ -z "$oxbad" ] || fail "oxvsd logged warnings or errors:
$oxbad"
echo "   ovs-vswitchd.log: $(wc -l <"$vswlog") lines, no unexplained WARN/ERR; oxvsd.log: no WARN/ERROR"

echo "PASS: ovs-e2e"
