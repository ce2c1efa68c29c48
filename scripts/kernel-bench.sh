#!/usr/bin/env bash
# Flow install / dump / delete rates of the system provider beside ovs-dpctl's,
# inside the kvm-ovs guest (a benchmark, not a test; numbers for BENCHMARKS.md).
#
#   scripts/kernel-bench.sh [N]        (default 100000 flows)
#
# Needs Debian's ovs-dpctl: $OVS_DPCTL, the host's, or the copy run-in-guest
# --self-test unpacks into its cache.
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-100000}"
RUN="${KVM_OVS:-$PWD/../shared/tools/kvm-ovs/run-in-guest}"
D="${OVS_DPCTL:-$(command -v ovs-dpctl || echo /var/cache/kvm-ovs/ovs/usr/bin/ovs-dpctl)}"
[ -x "$D" ] || "$RUN" --self-test >/dev/null
cargo build --release -q -p dpif-netlink --example flow_rate
script='
set -e
N=$1 D=$2
now() { date +%s.%N; }
rate() { echo "$N / ($2 - $1)" | bc -l | cut -d. -f1; }
target/release/examples/flow_rate "$N" /tmp/flows.txt
"$D" add-dp obench
t0=$(now); "$D" add-flows obench /tmp/flows.txt; t1=$(now)
echo "ovs-dpctl add-flows:      $(rate "$t0" "$t1")/s"
t0=$(now); "$D" dump-flows obench > /tmp/dump.txt; t1=$(now)
echo "ovs-dpctl dump-flows:     $(rate "$t0" "$t1")/s ($(wc -l < /tmp/dump.txt) flows)"
t0=$(now); "$D" del-flows obench /tmp/flows.txt.del; t1=$(now)
echo "ovs-dpctl del-flows FILE: $(rate "$t0" "$t1")/s"
"$D" del-dp obench
'
"$RUN" -q -t 900 -- sh -c "$script" sh "$N" "$D" 2>&1 | grep -v '|INFO|'
