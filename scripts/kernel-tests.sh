#!/usr/bin/env bash
# Runs the dpif-netlink tests and dpctl's ovs-dpctl interop test against the real openvswitch kernel module,
# inside a throwaway VM (shared/tools/kvm-ovs/run-in-guest), in one boot.
#
#   scripts/kernel-tests.sh [TEST-FILTER...]
#
# Environment: KVM_OVS (path to run-in-guest; default ../shared/tools/kvm-ovs/run-in-guest
# beside the project), KVM_OVS_SETUP=1 to run its --setup first (installs qemu and
# fetches the guest kernel; needed once per machine).
set -euo pipefail
cd "$(dirname "$0")/.."

RUN="${KVM_OVS:-$PWD/../shared/tools/kvm-ovs/run-in-guest}"
if [ ! -x "$RUN" ]; then
    echo "kernel-tests: $RUN not found" >&2
    exit 1
fi
if [ "${KVM_OVS_SETUP:-0}" = 1 ]; then
    "$RUN" --setup
fi

# The interop test needs Debian's ovs-dpctl as a peer; --self-test unpacks one
# into the kvm-ovs cache when the host has none (the test SKIPs without it).
if [ -z "${OVS_DPCTL:-}" ] && ! command -v ovs-dpctl >/dev/null &&
    [ ! -x /var/cache/kvm-ovs/ovs/usr/bin/ovs-dpctl ]; then
    "$RUN" --self-test >/dev/null 2>&1 || echo "kernel-tests: no ovs-dpctl; interop test will skip"
fi

# Build the test binaries on the host; the guest sees the same filesystem.
# Test harness binaries only (profile "test": true), not the examples.
# dpif-netlink: all its test binaries; dpctl: the interop test beside
# ovs-dpctl, and the conntrack commands beside it (its other tests need no
# kernel and run on the host).
test_bins() {
    cargo test "$@" --no-run --message-format=json 2>/dev/null |
        grep '"test":true' | sed -n 's/.*"executable":"\([^"]*\)".*/\1/p'
}
# (The oxvs-dpctl binary that test needs is reported as testable too: skip it.)
mapfile -t bins < <(test_bins -p dpif-netlink; test_bins -p dpctl --test vm_interop | grep /vm_interop-;
    test_bins -p dpctl --test vm_conntrack | grep /vm_conntrack-)
if [ "${#bins[@]}" -lt 2 ]; then
    cargo test -p dpif-netlink --no-run   # show the build error
    cargo test -p dpctl --test vm_interop --no-run
    exit 1
fi

# One guest runs every binary in turn (all of them, even after a failure; the
# run fails if any did). One test at a time: the conformance tests name their
# ports p1, p2... and device names are global to the guest. The kernel tests run
# once more without privileges, for the EPERM paths.
script='rc=0
for b in "$@"; do echo "== $b"; "$b" --test-threads=1 ${FILTER} || rc=1; done
for b in "$@"; do
    case "$b" in */kernel-*)
        echo "== $b (unprivileged)"
        OXVS_UNPRIVILEGED=1 setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
            "$b" --test-threads=1 unprivileged || rc=1 ;;
    esac
done
exit $rc'
start=$(date +%s)
status=0
"$RUN" -q -e "FILTER=${*:-}" ${OVS_DPCTL:+-e "OVS_DPCTL=$OVS_DPCTL"} -- sh -c "$script" sh "${bins[@]}" || status=$?
echo "kernel-tests: guest run took $(( $(date +%s) - start )) s"
exit $status
