#!/usr/bin/env bash
# Installs oxvs under PREFIX (default /usr/local): oxvsd, oxvs-dpctl,
# oxvs-run with its preload library and modprobe shim, and, where systemd
# is the init system, the oxvsd unit and the drop-in that runs Debian's
# ovs-vswitchd on oxvs. Then `systemctl start openvswitch-switch` runs
# Open vSwitch on oxvs.
#
#   sudo scripts/install.sh            # build (release) and install
#   sudo scripts/install.sh --uninstall
set -euo pipefail
cd "$(dirname "$0")/.."

PREFIX=${PREFIX:-/usr/local}
UNITDIR=${UNITDIR:-/etc/systemd/system}

files=(
    "$PREFIX/sbin/oxvsd"
    "$PREFIX/bin/oxvs-dpctl"
    "$PREFIX/bin/oxvs-run"
    "$PREFIX/lib/oxvs/liboxvs_preload.so"
    "$PREFIX/lib/oxvs/shim/modprobe"
    "$UNITDIR/oxvsd.service"
    "$UNITDIR/ovs-vswitchd.service.d/oxvs.conf"
)

if [ "${1:-}" = --uninstall ]; then
    rm -f "${files[@]}"
    rmdir "$PREFIX/lib/oxvs/shim" "$PREFIX/lib/oxvs" "$UNITDIR/ovs-vswitchd.service.d" 2>/dev/null || true
    if [ -d /run/systemd/system ]; then systemctl daemon-reload; fi
    echo "oxvs uninstalled"
    exit 0
fi

if [ "$(id -u)" != 0 ]; then
    echo "install.sh: run as root (it writes to $PREFIX and $UNITDIR)" >&2
    exit 1
fi

# Build as the user who owns the checkout, so target/ stays theirs.
owner=$(stat -c %U .)
if [ "$owner" != root ] && command -v runuser >/dev/null; then
    runuser -u "$owner" -- cargo build --release -p oxvsd -p dpctl -p oxvs-run
else
    cargo build --release -p oxvsd -p dpctl -p oxvs-run
fi

install -D -m 0755 target/release/oxvsd "$PREFIX/sbin/oxvsd"
install -D -m 0755 target/release/oxvs-dpctl "$PREFIX/bin/oxvs-dpctl"
install -D -m 0755 target/release/oxvs-run "$PREFIX/bin/oxvs-run"
install -D -m 0644 target/release/liboxvs_preload.so "$PREFIX/lib/oxvs/liboxvs_preload.so"
install -D -m 0755 dist/shim/modprobe "$PREFIX/lib/oxvs/shim/modprobe"
# The units name /usr/local; follow PREFIX.
sed "s,/usr/local,$PREFIX,g" dist/systemd/oxvsd.service |
    install -D -m 0644 /dev/stdin "$UNITDIR/oxvsd.service"
sed "s,/usr/local,$PREFIX,g" dist/systemd/ovs-vswitchd.service.d/oxvs.conf |
    install -D -m 0644 /dev/stdin "$UNITDIR/ovs-vswitchd.service.d/oxvs.conf"
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload
fi
echo "oxvs installed under $PREFIX; start Open vSwitch on it with: systemctl start openvswitch-switch"
