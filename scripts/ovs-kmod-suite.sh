#!/usr/bin/env bash
# Runs Open vSwitch 3.1.0's own kernel-datapath test suite
# (tests/system-kmod-testsuite, what `make check-kernel` runs) against oxvs:
# an oxvsd of its own on a private socket plays the openvswitch module,
# the suite and everything it starts (ovs-vswitchd, ovs-dpctl, ...) run
# under oxvs-run, and the modprobe shim (dist/shim) comes first in PATH so
# that the suite's `modprobe openvswitch` succeeds.
#
#   sudo scripts/ovs-kmod-suite.sh              every test
#   sudo scripts/ovs-kmod-suite.sh --subset     a representative subset that passes (CI)
#   sudo scripts/ovs-kmod-suite.sh 1-10 31      tests by number, as in TESTSUITEFLAGS
#   sudo scripts/ovs-kmod-suite.sh -k mpls      tests by keyword
#   scripts/ovs-kmod-suite.sh --list            the tests, numbered
#   sudo scripts/ovs-kmod-suite.sh --module ... against the kernel's own
#                      openvswitch module instead (no oxvsd): the reference,
#                      e.g. in the kvm-ovs guest
#
# Open vSwitch is built once from its release tarball into a cache outside
# the checkout; the suite runs from the release, never copied here.
#
# Environment:
#   OVS_TARBALL=PATH   openvswitch-3.1.0.tar.{xz,gz} (default: ../shared/ovs/
#                      openvswitch-3.1.0.tar.xz beside the checkout); from
#                      https://www.openvswitch.org/releases/openvswitch-3.1.0.tar.gz
#   OVS_CACHE=DIR      where it is built (default ${XDG_CACHE_HOME:-~/.cache}/oxvs/ovs-3.1.0)
#   OVS_BUILD=DIR      use this existing build instead (configured and built,
#                      `make tests/system-kmod-testsuite` done)
#   REFERENCE=PATH     the suite's results on the kernel module, to compare with
#                      (default ../shared/ovs/kmod-suite-on-kernel-6.1.txt if
#                      present; REFERENCE= for none)
#   OUT=DIR            results (default target/ovs-kmod-suite): results.txt,
#                      report.txt, report.tsv, oxvsd.log, the suite's own
#                      run/system-kmod-testsuite.dir/NNN of each failed test
#   OXVSD_LOG_LEVEL    oxvsd's --log-level (default info)
#   OXVS_BIN=DIR       prebuilt oxvsd, oxvs-run and liboxvs_preload.so
#                      (default: cargo build --release)
#   INSTALL_TOOLS=0    do not install missing tools (tcpdump, nc, wget, curl,
#                      lftp, netstat; pyftpdlib and tftpy for the FTP and TFTP tests)
#
# Prints per-category counts, oxvs beside the module, and each test that
# passes on the module but not on oxvs with the reason it is expected to
# (a feature oxvs lacks: conntrack, NAT, tunnels, meters, IPsec; or one the
# host kernel lacks: VLAN devices, bonding). Exit status: 0 if every test
# expected to pass passed (or SKIP: no root, no tarball, no build tools);
# 1 if one failed; 2 for a setup failure.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

me=ovs-kmod-suite
skip() { echo "SKIP: $me: $*"; exit 0; }
die() { echo "ERROR: $me: $*" >&2; exit 2; }

# The subset for CI: tests across categories that pass on oxvs here, by
# title (numbers are looked up). About three minutes on two cores.
SUBSET=(
    "datapath - ping between two ports"
    "datapath - http between two ports"
    "datapath - ping6 between two ports"
    "datapath - ping6 between two ports IPv6 later fragments"
    "datapath - ping6 between two ports with header modify"
    "datapath - clone action"
    "datapath - mpls actions"
    "datapath - multiple mpls label pop"
    "datapath - encap decap mpls actions"
    "datapath - encap decap mpls_mc actions"
    "datapath - encap mpls pop mpls actions"
    "datapath - push mpls decap mpls actions"
    "datapath - basic truncate action"
    "datapath - configure cache size"
    "datapath - simulated flow action update"
    "mpls - encap header dp-support"
    "mpls_mc - encap header dp-support"
    "mpls - decap header dp-support"
    "mpls - decap header slow-path"
    "QoS - basic configuration"
    "IGMP - flood under normal action"
    "nsh - encap header"
    "nsh - decap header"
    "nsh - replace header"
    "nsh - forward"
    "interface - add delete add same interface"
    "interface - add route to br and verify clean-up"
)

subset=0
list=0
module=0
args=()
while [ $# -gt 0 ]; do
    case $1 in
        --subset) subset=1 ;;
        --list) list=1 ;;
        --module) module=1 ;;
        -h | --help)
            sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
            exit 0
            ;;
        *) args+=("$1") ;;
    esac
    shift
done
if [ "$subset" = 1 ] && [ "${#args[@]}" -gt 0 ]; then
    die "--subset takes no test selection"
fi

# Everything this run creates is undone here; registered before anything
# is made.
daemon=""
lockfd=""
started=0
cleanup() {
    set +e
    if [ -n "$daemon" ]; then
        kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
        rm -f "${sock:-}"
    fi
    if [ "$started" = 1 ]; then
        # What the suite left behind (its tests clean up on exit; a
        # killed run may not have). None of these existed when the run
        # started; the daemon's own devices (br0, ovs-system) went with it.
        for l in $(suite_links | grep -E '^(ovs-p|ovs-at|patch[0-9]|p[0-9]+$|at_)'); do
            ip link del "$l" 2>/dev/null
        done
        for n in $(suite_netns); do
            ip netns del "$n" 2>/dev/null
        done
    fi
    [ -n "${probe_ns:-}" ] && ip netns del "$probe_ns" 2>/dev/null
    return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The names the suite gives what it creates in the root namespace and as
# namespaces (system-common-macros.at and the tests).
suite_links() {
    ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | sed 's/@.*//' |
        grep -E '^(ovs-|br[0-9]|br-|patch[0-9]|at_|p[0-9]+$|vxlan_sys|gre_sys|genev_sys|ovs-system$)' || true
}
suite_netns() {
    ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^at_ns' || true
}

[ "$list" = 1 ] || [ "$(id -u)" = 0 ] || skip "needs root (network namespaces, veths, the datapath)"

# ---- Open vSwitch 3.1.0, built once -----------------------------------

find_tarball() {
    if [ -n "${OVS_TARBALL:-}" ]; then
        [ -f "$OVS_TARBALL" ] || die "OVS_TARBALL=$OVS_TARBALL: no such file"
        echo "$OVS_TARBALL"
        return
    fi
    local d
    for d in "$root/.." "$root/../.." "$root/../../.."; do
        if [ -f "$d/shared/ovs/openvswitch-3.1.0.tar.xz" ]; then
            realpath "$d/shared/ovs/openvswitch-3.1.0.tar.xz"
            return 0
        fi
    done
    return 0
}

build_ok() {
    [ -x "$1/tests/system-kmod-testsuite" ] && [ -x "$1/vswitchd/ovs-vswitchd" ] &&
        [ -x "$1/ovsdb/ovsdb-server" ] && [ -f "$1/tests/atconfig" ] && [ -f "$1/tests/atlocal" ]
}

if [ -n "${OVS_BUILD:-}" ]; then
    build=$(realpath "$OVS_BUILD")
    build_ok "$build" || die "OVS_BUILD=$OVS_BUILD is not a built Open vSwitch tree with tests/system-kmod-testsuite"
else
    build="${OVS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/oxvs/ovs-3.1.0}"
    mkdir -p "$(dirname "$build")"
    exec {lockfd}>"$build.lock"
    flock "$lockfd"
    if [ ! -f "$build/.oxvs-built" ] || ! build_ok "$build"; then
        tarball=$(find_tarball)
        [ -n "$tarball" ] || skip "no Open vSwitch 3.1.0 source: set OVS_TARBALL to openvswitch-3.1.0.tar.gz (https://www.openvswitch.org/releases/openvswitch-3.1.0.tar.gz) or OVS_BUILD to a build"
        missing=()
        for t in gcc make autoreconf libtoolize python3 tar; do
            command -v "$t" >/dev/null || missing+=("$t")
        done
        [ "${#missing[@]}" = 0 ] || skip "no build tools for Open vSwitch: ${missing[*]} (apt-get install build-essential autoconf automake libtool python3)"
        echo "== building Open vSwitch 3.1.0 from $tarball into $build (once; several minutes)"
        rm -rf "$build"
        mkdir -p "$build"
        tar -xf "$tarball" -C "$build" --strip-components=1
        log="$build.build.log"
        if ! (cd "$build" && ./boot.sh && ./configure --disable-ssl &&
            make -j"$(nproc)" && make tests/system-kmod-testsuite) >"$log" 2>&1; then
            tail -20 "$log" >&2
            die "building Open vSwitch failed (log: $log)"
        fi
        touch "$build/.oxvs-built"
    fi
    flock -u "$lockfd"
fi
suite="$build/tests/system-kmod-testsuite"
version=$("$build/vswitchd/ovs-vswitchd" --version | head -1)
case $version in
    *" 3.1.0"*) ;;
    *) echo "WARNING: $me: $build is not Open vSwitch 3.1.0 ($version); the reference is 3.1.0's" >&2 ;;
esac

OUT=${OUT:-$root/target/ovs-kmod-suite}
mkdir -p "$OUT"
OUT=$(realpath "$OUT")
"$suite" -C "$build/tests" -l >"$OUT/listing.txt"

if [ "$list" = 1 ]; then
    cat "$OUT/listing.txt"
    exit 0
fi

if [ "$subset" = 1 ]; then
    for t in "${SUBSET[@]}"; do
        n=$(awk -v t="$t" '{ line = $0; sub(/^ *[0-9]+: [^ ]+ +/, "", line); sub(/ +$/, "", line) }
                           line == t { sub(/:.*/, "", $1); print $1 }' "$OUT/listing.txt")
        [ -n "$n" ] || die "subset test not in this suite: $t"
        args+=("$n")
    done
fi

# ---- tools the tests use -----------------------------------------------

declare -A pkg_of=([tcpdump]=tcpdump [nc]=netcat-openbsd [wget]=wget [curl]=curl [ping]=iputils-ping
    [ip]=iproute2 [tc]=iproute2 [lftp]=lftp [netstat]=net-tools)
want=()
for t in "${!pkg_of[@]}"; do
    command -v "$t" >/dev/null || want+=("${pkg_of[$t]}")
done
if [ "${#want[@]}" -gt 0 ] && [ "${INSTALL_TOOLS:-1}" != 0 ] && command -v apt-get >/dev/null; then
    echo "== installing what the tests use: ${want[*]}"
    apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${want[@]}" >/dev/null ||
        echo "WARNING: $me: could not install ${want[*]}" >&2
fi
for t in "${!pkg_of[@]}"; do
    command -v "$t" >/dev/null || echo "WARNING: $me: no $t: the tests that use it will skip or fail" >&2
done
# The FTP and TFTP tests' servers are pyftpdlib and tftpy, in the Python
# the build was configured with (tftpy has no Debian package: pip).
py=$(sed -n "s/^PYTHON3='\(.*\)'$/\1/p" "$build/tests/atlocal")
py=${py:-python3}
for mod in pyftpdlib:python3-pyftpdlib tftpy:; do
    lib=${mod%%:*} deb=${mod#*:}
    if ! "$py" -c "import $lib" 2>/dev/null && [ "${INSTALL_TOOLS:-1}" != 0 ]; then
        echo "== installing $lib for $py"
        if [ -n "$deb" ] && [ "$(realpath "$(command -v "$py")")" = "$(realpath /usr/bin/python3 2>/dev/null)" ]; then
            DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$deb" >/dev/null 2>&1 || true
        else
            "$py" -m pip install -q "$lib" >/dev/null 2>&1 || true
        fi
    fi
    "$py" -c "import $lib" 2>/dev/null ||
        echo "WARNING: $me: no $lib for $py: the tests that use it will skip" >&2
done

# ---- what the host kernel can do ---------------------------------------

# Tests create VLAN and bond devices in their namespaces; a kernel without
# 8021q or bonding fails them whatever the datapath. Probed in a namespace
# of our own.
probe_ns="oxks$$"
host_lacks=()
ip netns add "$probe_ns"
ip -n "$probe_ns" link add oxksa type veth peer name oxksb
ip -n "$probe_ns" link add link oxksa name oxksa.5 type vlan id 5 2>/dev/null || host_lacks+=(vlan)
ip -n "$probe_ns" link add oxksbond type bond 2>/dev/null || host_lacks+=(bond)
ip netns del "$probe_ns"
probe_ns=""
host_lacks_csv=$(IFS=,; echo "${host_lacks[*]}")
if [ -n "$host_lacks_csv" ]; then
    echo "NOTE: $me: this kernel has no $host_lacks_csv devices: tests that make them cannot pass here"
fi

# ---- oxvs ---------------------------------------------------------------

if [ "$module" = 1 ]; then
    [ -d /sys/module/openvswitch ] || modprobe openvswitch 2>/dev/null ||
        die "--module: the kernel has no openvswitch module"
elif [ -n "${OXVS_BIN:-}" ]; then
    bin=$(realpath "$OXVS_BIN")
else
    echo "== building oxvsd and oxvs-run"
    cargo build --release -q -p oxvsd -p oxvs-run
    bin="$root/target/release"
fi
if [ "$module" = 0 ]; then
    for f in oxvsd oxvs-run liboxvs_preload.so; do
        [ -e "$bin/$f" ] || die "$bin/$f missing"
    done
fi

# One run at a time on a host: the suite's names (br0, ovs-p0, at_ns0...)
# are fixed.
exec {runlock}>/run/oxvs-kmod-suite.lock
flock -n "$runlock" || die "another run of the suite holds /run/oxvs-kmod-suite.lock"
leftover_links=$(suite_links)
leftover_netns=$(suite_netns)
if [ -n "$leftover_links$leftover_netns" ]; then
    die "names the suite uses exist already (another run, or left over; remove them first):" \
        $leftover_links $leftover_netns
fi
started=1
# A userspace datapath of OVS's own elsewhere on the host holds the tap
# device "ovs-netdev", which the suite's datapath_type=netdev bridges need.
if ip link show ovs-netdev >/dev/null 2>&1; then
    echo "WARNING: $me: ovs-netdev exists (another Open vSwitch's userspace datapath): \"interface - add route to br and verify clean-up\" will fail" >&2
fi

if [ "$module" = 0 ]; then
    sock="$OUT/oxvsd.sock"
    rm -f "$sock"
    "$bin/oxvsd" --socket "$sock" --log-level "${OXVSD_LOG_LEVEL:-info}" >"$OUT/oxvsd.log" 2>&1 &
    daemon=$!
    for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
    [ -S "$sock" ] || die "oxvsd did not start: $(cat "$OUT/oxvsd.log")"
    # Everything the suite starts reaches that oxvsd; the modprobe shim
    # answers its `modprobe openvswitch`.
    runner=(env PATH="$root/dist/shim:$PATH" "$bin/oxvs-run" --socket "$sock" --)
    target=oxvsd
else
    runner=()
    target="the kernel's openvswitch module"
fi

# The suite runs from a directory of its own holding the build's atconfig,
# atlocal and helper scripts (as `make check-kernel` runs it from tests/).
run="$OUT/run"
rm -rf "$run"
mkdir -p "$run"
cp "$build/tests/atconfig" "$build/tests/atlocal" "$build"/tests/*.py "$run/"
autotest_path="$build/utilities:$build/vswitchd:$build/ovsdb:$build/vtep:$build/tests:$build/ipsec"

echo "== running $suite ${args[*]:-(all)} against $target (results in $OUT)"
start=$(date +%s)
set +e
# shellcheck disable=SC2086
"${runner[@]}" "$suite" -C "$run" AUTOTEST_PATH="$autotest_path" ${TESTSUITEFLAGS:-} "${args[@]}" |
    tee "$OUT/results.txt"
set -e
elapsed=$(($(date +%s) - start))

if [ -n "$daemon" ] && ! kill -0 "$daemon" 2>/dev/null; then
    tail -20 "$OUT/oxvsd.log" >&2
    daemon=""
    echo "FAIL: $me: oxvsd exited during the run (log: $OUT/oxvsd.log)" >&2
    exit 1
fi

reference=${REFERENCE-}
if [ -z "${REFERENCE+x}" ]; then
    for d in "$root/.." "$root/../.." "$root/../../.."; do
        if [ -f "$d/shared/ovs/kmod-suite-on-kernel-6.1.txt" ]; then
            reference=$(realpath "$d/shared/ovs/kmod-suite-on-kernel-6.1.txt")
            break
        fi
    done
fi
echo "== $elapsed s; reference: ${reference:-none}"
set +e
python3 "$root/scripts/ovs-kmod-report.py" --listing "$OUT/listing.txt" \
    --results "$OUT/results.txt" --srcdir "$build/tests" \
    ${reference:+--reference "$reference"} --host-lacks "$host_lacks_csv" \
    --tsv "$OUT/report.tsv" | tee "$OUT/report.txt"
status=${PIPESTATUS[0]}
set -e
exit "$status"
