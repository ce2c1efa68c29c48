#!/usr/bin/env bash
# Open vSwitch on oxvsd against Open vSwitch on its own userspace datapath,
# in the shared namespace benchmark (netns-switch-bench.sh, on our
# development machines next to this repository in ../shared/bench/).
#
#   sudo scripts/bench-ovs.sh run          # the whole race, results in BENCH_RESULTS
#   scripts/bench-ovs.sh IF1 IF2           # the SWITCH_CMD plug-in (the harness calls it)
#
# As a plug-in (two interface names): starts, in the current network
# namespace, a private oxvsd, ovsdb-server and ovs-vswitchd under oxvs-run
# (run directory $BENCH_OVS_RUN, default /tmp/bench-ovs), a bridge of IF1 and
# IF2 (OpenFlow ports 1 and 2, port type system) with the default NORMAL
# flow, and forwards until SIGTERM. Every daemon is a child of this script,
# so the harness counts the CPU of all three as the switch's.
#
# `run`: builds the binaries, then in one harness run (same namespaces and
# veths, default offloads, REPS repetitions of TCP 1 and 4 streams, 64-byte
# UDP, ping) races
#   ovs-oxvsd          ovs-vswitchd (NORMAL) on oxvsd (this plug-in),
#   ovs-system-normal  ovs-vswitchd, datapath_type=netdev, NORMAL,
#   ovs-tso-normal     the same with other_config:userspace-tso-enable=true;
# then the flow-setup test on each of the three (the harness's `setup` mode
# builds the same topology and starts the switch): megaflows off
# (`ovs-appctl upcall/disable-megaflows`, so that every new 5-tuple is an
# upcall and an exact-match flow), bursts of FLOWS new UDP 5-tuples from ns1
# at each offered rate of FLOW_RATES (trafgen), FLOWS kept under
# ovs-vswitchd's flow limit (checked). For each burst: packets sent,
# packets the datapath looked up (`dpctl/show` hit + missed: the others
# were dropped by the port before the datapath saw them), packets
# delivered to ns2, upcalls lost (`dpctl/show` lost counter),
# flows installed (`dpctl/show` flows) and the set-up rate: flows installed
# divided by the time from the burst's start until the last flow appeared.
# Results: BENCH_RESULTS/summary.md (the harness's) and flow-setup.tsv/.md.
#
# Knobs: REPS [3], TCP_DURATION [10], FLOWS [8000], FLOW_REPS [3] bursts
# per rate (medians reported), FLOW_RATES ["10000 50000 100000 200000"],
# BENCH_RESULTS [/tmp/bench-ovs-results/<UTC
# time>], BENCH [../shared/bench/netns-switch-bench.sh], SKIP_RACE=1 /
# SKIP_SETUP=1 to run one part only.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
bin=$here/target/release
run_dir=${BENCH_OVS_RUN:-/tmp/bench-ovs}

log() { printf '[%s] bench-ovs: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "FATAL: $*"; exit 1; }

# ---------------------------------------------------------------- plug-in --
plugin() {
    local if1=$1 if2=$2 oxvsd_pid="" ovsdb_pid="" vsw_pid="" i
    stop_all() {
        set +e
        # Deleting the bridge first: ovs-vswitchd removes the ports.
        [ -n "$vsw_pid" ] && timeout 10 ovs-vsctl --timeout=5 --if-exists del-br br0 >/dev/null 2>&1
        for p in $vsw_pid $ovsdb_pid $oxvsd_pid; do
            kill "$p" 2>/dev/null
            wait "$p" 2>/dev/null
        done
        rm -f "$run_dir/plugin.pid"
    }
    trap 'stop_all; exit 0' TERM INT
    trap stop_all EXIT
    rm -rf "$run_dir"
    mkdir -p "$run_dir"
    echo $$ >"$run_dir/plugin.pid"
    export OVS_RUNDIR=$run_dir OVS_LOGDIR=$run_dir OVS_DBDIR=$run_dir OVS_SYSCONFDIR=$run_dir
    "$bin/oxvsd" --socket "$run_dir/oxvsd.sock" >"$run_dir/oxvsd.log" 2>&1 &
    oxvsd_pid=$!
    for i in $(seq 100); do [ -S "$run_dir/oxvsd.sock" ] && break; sleep 0.05; done
    [ -S "$run_dir/oxvsd.sock" ] || die "oxvsd did not start: $(cat "$run_dir/oxvsd.log")"
    ovsdb-tool create "$run_dir/conf.db" /usr/share/openvswitch/vswitch.ovsschema
    ovsdb-server "$run_dir/conf.db" --remote="punix:$run_dir/db.sock" \
        --pidfile="$run_dir/ovsdb-server.pid" --unixctl="$run_dir/ovsdb-server.ctl" \
        --no-chdir --log-file="$run_dir/ovsdb-server.log" -vconsole:off >/dev/null 2>&1 &
    ovsdb_pid=$!
    for i in $(seq 100); do [ -S "$run_dir/db.sock" ] && break; sleep 0.05; done
    ovs-vsctl --no-wait init
    "$bin/oxvs-run" --socket "$run_dir/oxvsd.sock" -- ovs-vswitchd "unix:$run_dir/db.sock" \
        --pidfile="$run_dir/ovs-vswitchd.pid" --unixctl="$run_dir/ovs-vswitchd.ctl" \
        --no-chdir --log-file="$run_dir/ovs-vswitchd.log" -vconsole:off >/dev/null 2>&1 &
    vsw_pid=$!
    ovs-vsctl --timeout=30 add-br br0 \
        -- add-port br0 "$if1" -- set interface "$if1" ofport_request=1 \
        -- add-port br0 "$if2" -- set interface "$if2" ofport_request=2
    log "ovs-vswitchd $vsw_pid on oxvsd $oxvsd_pid: br0 = $if1 + $if2 (NORMAL), run dir $run_dir"
    while kill -0 "$vsw_pid" 2>/dev/null && kill -0 "$oxvsd_pid" 2>/dev/null; do
        sleep 1 &
        wait $! || true
    done
    die "a daemon exited (see $run_dir)"
}

if [ $# = 2 ]; then
    plugin "$1" "$2"
    exit 0
fi
[ "${1:-}" = run ] || { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }

# ------------------------------------------------------------------ driver --
[ "$(id -u)" = 0 ] || die "must run as root"
BENCH=${BENCH:-$here/../shared/bench/netns-switch-bench.sh}
[ -x "$BENCH" ] || die "no harness at $BENCH (set BENCH)"
BENCH=$(cd "$(dirname "$BENCH")" && pwd)/$(basename "$BENCH")
: "${REPS:=3}" "${TCP_DURATION:=10}" "${FLOWS:=8000}" "${FLOW_REPS:=3}"
: "${FLOW_RATES:=10000 50000 100000 200000}"
: "${BENCH_RESULTS:=/tmp/bench-ovs-results/$(date -u +%Y%m%dT%H%M%SZ)}"
export REPS TCP_DURATION
export BENCH_OVS_RUN=$run_dir
mkdir -p "$BENCH_RESULTS"
command -v trafgen >/dev/null && command -v iperf3 >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
    --no-install-recommends netsniff-ng iperf3 >&2
(cd "$here" && cargo build --release -q -p oxvsd -p oxvs-run -p dpctl)

# The harness's defaults (its namespaces, addresses, work directory).
NS1=ns1 NS2=ns2 SWNS=nsw IF1=veth1 IF2=veth2 IP1=198.18.0.1 IP2=198.18.0.2
HWORK=/tmp/netns-bench
PLUGIN="$here/scripts/bench-ovs.sh"

stop_plugin() {
    local p
    [ -f "$run_dir/plugin.pid" ] || return 0
    p=$(cat "$run_dir/plugin.pid")
    kill "$p" 2>/dev/null || return 0
    for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || return 0; sleep 0.1; done
    log "plug-in $p still running"
}
trap 'stop_plugin; "$BENCH" cleanup >/dev/null 2>&1 || true' EXIT

if [ "${SKIP_RACE:-0}" != 1 ]; then
    log "race: REPS=$REPS TCP_DURATION=$TCP_DURATION, results in $BENCH_RESULTS"
    SWITCH_CMD="$PLUGIN" SWITCH_NAME=ovs-oxvsd RESULTS_DIR="$BENCH_RESULTS/race" \
        CONFIGS="custom:default ovs-system-normal:default ovs-tso-normal:default" \
        "$BENCH" run
fi
[ "${SKIP_SETUP:-0}" = 1 ] && exit 0

# ------------------------------------------------------------- flow setup --
# counters NS IF: "tx rx" packets of a veth.
counters() {
    ip netns exec "$1" cat "/sys/class/net/$2/statistics/tx_packets" \
        "/sys/class/net/$2/statistics/rx_packets" | paste -sd' '
}
# dp_stat A FIELD: from ovs-appctl dpctl/show: "lost" (upcalls lost),
# "flows", or "seen" (packets the datapath looked up: hit + missed).
dp_stat() {
    case $2 in
    lost) $1 dpctl/show | sed -n 's/.*lost:\([0-9]*\).*/\1/p' | head -1 ;;
    flows) $1 dpctl/show | sed -n 's/^ *flows: *\([0-9]*\).*/\1/p' | head -1 ;;
    seen) $1 dpctl/show | sed -n 's/.*hit:\([0-9]*\) missed:\([0-9]*\).*/\1 \2/p' | head -1 |
        awk '{ print $1 + $2 }' ;;
    esac
}

flow_setup() {   # flow_setup LABEL APPCTL...
    local label=$1 rate limit t0 t1 tdone f0 f last lost0 lost1 seen0 seen1 sent rx c0 c1 n i dport=20000
    shift
    local A="$*"
    $A upcall/disable-megaflows >/dev/null
    limit=$($A upcall/show | sed -n 's/.*(limit \([0-9]*\)).*/\1/p' | head -1)
    [ -n "$limit" ] && [ "$FLOWS" -lt "$limit" ] ||
        die "$label: $FLOWS flows per burst is not under ovs-vswitchd's flow limit ($limit)"
    local mac1 mac2
    mac1=$(ip netns exec $NS1 cat /sys/class/net/$IF1/address)
    mac2=$(ip netns exec $NS2 cat /sys/class/net/$IF2/address)
    local rep
    for rep in $(seq "$FLOW_REPS"); do for rate in $FLOW_RATES; do
        dport=$((dport + 1))
        $A dpctl/del-flows >/dev/null
        # The neighbours and the warm-up ping's flows, then quiet.
        ip netns exec $NS1 ping -c 1 -W 1 -q $IP2 >/dev/null 2>&1 || true
        sleep 0.5
        f0=$(dp_stat "$A" flows)
        lost0=$(dp_stat "$A" lost)
        seen0=$(dp_stat "$A" seen)
        c0=$(counters $NS1 $IF1)" "$(counters $NS2 $IF2)
        # A paced sender (trafgen's rate options do not pace 8000-packet
        # bursts here): FLOWS frames, one per UDP source port, at `rate`.
        t0=$(date +%s.%N)
        ip netns exec $NS1 python3 - $IF1 "$mac1" "$mac2" $IP1 $IP2 "$FLOWS" "$rate" $dport \
            >"$BENCH_RESULTS/gen-$label-$rate.log" 2>&1 <<'PY' || die "sender failed: $(cat "$BENCH_RESULTS/gen-$label-$rate.log")"
import socket, struct, sys, time
dev, src, dst, sip, dip = sys.argv[1:6]
n, rate, dport = int(sys.argv[6]), float(sys.argv[7]), int(sys.argv[8])
mac = lambda m: bytes.fromhex(m.replace(":", ""))
def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b)); s = (s >> 16) + (s & 0xffff); s += s >> 16
    return ~s & 0xffff
frames = []
for i in range(n):
    udp = struct.pack("!HHHH", 1024 + i, dport, 8 + 18, 0) + bytes(18)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0x4000, 64, 17, 0,
                     socket.inet_aton(sip), socket.inet_aton(dip))
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    frames.append(mac(dst) + mac(src) + b"\x08\x00" + ip + udp)
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW); s.bind((dev, 0))
send, clock, gap = s.send, time.perf_counter, 1.0 / rate
t0 = clock()
for i, f in enumerate(frames):
    due = t0 + i * gap
    while clock() < due:
        pass
    send(f)
print(f"sent {n} in {clock() - t0:.4f} s")
PY
        t1=$(date +%s.%N)
        # The last flow: poll until the count stops growing for 1 s.
        last=$f0
        tdone=$t1
        for i in $(seq 200); do
            f=$(dp_stat "$A" flows)
            if [ "$f" -gt "$last" ]; then
                last=$f
                tdone=$(date +%s.%N)
            elif awk -v a="$(date +%s.%N)" -v b="$tdone" 'BEGIN { exit !(a - b > 1) }'; then
                break
            fi
            sleep 0.05
        done
        lost1=$(dp_stat "$A" lost)
        seen1=$(dp_stat "$A" seen)
        c1=$(counters $NS1 $IF1)" "$(counters $NS2 $IF2)
        read -r sent rx n <<<"$(awk -v a="$c0" -v b="$c1" 'BEGIN { split(a, x, " "); split(b, y, " ");
            print y[1] - x[1], y[4] - x[4], 0 }')"
        printf '%s\t%s\t%s\t%.3f\t%s\t%s\t%s\t%s\t%s\t%.0f\t%s\n' "$label" "$rate" "$FLOWS" \
            "$(sed -n 's/.* in \([0-9.]*\) s/\1/p' "$BENCH_RESULTS/gen-$label-$rate.log")" "$sent" \
            "$((seen1 - seen0))" "$rx" "$((lost1 - lost0))" "$((last - f0))" \
            "$(awk -v a="$t0" -v b="$tdone" -v n="$((last - f0))" 'BEGIN { print (b > a) ? n / (b - a) : 0 }')" \
            "$limit" | tee -a "$BENCH_RESULTS/flow-setup.tsv" >&2
    done; done
}

printf 'switch\toffered_pps\tflows\tsend_s\tsent\tdp_seen\tdelivered\tlost_upcalls\tflows_installed\tsetup_per_s\tflow_limit\n' \
    >"$BENCH_RESULTS/flow-setup.tsv"
for sw in custom ovs-system-normal ovs-tso-normal; do
    log "flow setup: $sw"
    SWITCH_CMD="$PLUGIN" WORK=$HWORK "$BENCH" setup "$sw" default >"$BENCH_RESULTS/setup-$sw.log" 2>&1 ||
        die "harness setup $sw failed: $(tail -5 "$BENCH_RESULTS/setup-$sw.log")"
    if [ "$sw" = custom ]; then
        for _ in $(seq 100); do [ -S "$run_dir/ovs-vswitchd.ctl" ] && break; sleep 0.1; done
        flow_setup ovs-oxvsd ovs-appctl -t "$run_dir/ovs-vswitchd.ctl"
        stop_plugin
    else
        flow_setup "$sw" ovs-appctl -t "$HWORK/ovs/ovs-vswitchd.ctl"
    fi
    "$BENCH" cleanup >/dev/null 2>&1
done

# Medians over the FLOW_REPS bursts of each (switch, offered rate).
python3 - "$BENCH_RESULTS/flow-setup.tsv" >"$BENCH_RESULTS/flow-setup.md" <<'PY'
import collections, statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])][1:]
groups = collections.OrderedDict()
for r in rows:
    groups.setdefault((r[0], r[1]), []).append(r)
print("| switch | offered new flows/s | bursts of | achieved offered /s | seen by the datapath | delivered | upcalls lost | flows installed | set-up flows/s |")
print("|---|---|---|---|---|---|---|---|---|")
for (sw, rate), rs in groups.items():
    med = lambda i: statistics.median(float(r[i]) for r in rs)
    print(f"| {sw} | {int(rate):,} | {rs[0][2]} | {med(4) / med(3):,.0f} | {med(5):.0f} | {med(6):.0f} | "
          f"{med(7):.0f} | {med(8):.0f} | {med(9):,.0f} |")
PY
cat "$BENCH_RESULTS/flow-setup.md"
log "done: $BENCH_RESULTS"
