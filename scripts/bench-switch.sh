#!/bin/sh
# SWITCH_CMD plug-in for netns-switch-bench.sh: runs oxvsd as a learning
# switch between the two interfaces it is given, until SIGTERM.
#
#   SWITCH_CMD=$PWD/scripts/bench-switch.sh SWITCH_NAME=oxvsd \
#       SWITCHES="linux-bridge custom" ../shared/bench/netns-switch-bench.sh
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p /run/oxvs
exec "$here/target/release/oxvsd" --socket "/run/oxvs/bench-$$.sock" --dp oxvsbench \
    --port "$1" --port "$2"
