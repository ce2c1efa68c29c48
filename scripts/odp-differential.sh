#!/usr/bin/env bash
# Random differential of the flow-language verbs: `oxvs-dpctl parse-keys`,
# `parse-wc-keys`, `parse-actions` and `parse-filter` against Open vSwitch's
# own parser and printer, `ovstest test-odp`, on random lines (the
# `odp_textgen` example of crates/odp: keys, masks, actions, filters, and
# malformed variants).
#
#   scripts/odp-differential.sh [-t OVS_TARBALL] [-r ROUNDS] [-n LINES] [-s SEED] [-k]
#   scripts/odp-differential.sh [-t OVS_TARBALL] --corpus DIR [-n LINES] [-s SEED]
#
#   -t  an OVS source release (`git archive` tarball, e.g.
#       openvswitch-3.7.1.tar.xz); default $OVS_TARBALL, else
#       ../shared/ovs/openvswitch-3.7.1.tar.xz beside the project. It is
#       built once (boot.sh, configure, make; a few minutes) into
#       $OXVS_CACHE/ovs-<version> (default ~/.cache/oxvs), or set OVS_BUILD
#       to an existing build tree.
#   -r  rounds (default 3); round i uses seed SEED+i (default SEED 1).
#   -n  lines per mode and round (default 2000); filter rounds take LINES/10
#       key lines under 10 filters.
#   -k  keep the work directory (inputs, both outputs) and print its path.
#   OXVS_DPCTL    the oxvs-dpctl to compare (default: built here, debug).
#   --corpus DIR  instead of comparing, write one round's inputs and
#       test-odp's outputs into DIR (the corpus crates/odp/tests/data/random
#       that `cargo test -p dpctl` checks; see its README.md).
#
# Prints each differing line (input, OVS's output, ours) and, per mode, the
# number of differing case lines out of those run. Exits 1 if any differ.
set -euo pipefail
cd "$(dirname "$0")/.."

tarball="${OVS_TARBALL:-$PWD/../shared/ovs/openvswitch-3.7.1.tar.xz}"
rounds=3
lines=2000
seed=1
keep=0
corpus=""
while [ $# -gt 0 ]; do
    case "$1" in
        -t) tarball="$2"; shift 2 ;;
        -r) rounds="$2"; shift 2 ;;
        -n) lines="$2"; shift 2 ;;
        -s) seed="$2"; shift 2 ;;
        -k) keep=1; shift ;;
        --corpus) corpus="$2"; rounds=1; shift 2 ;;
        -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "odp-differential: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done

# test-odp from the tarball, built once into the cache.
if [ -n "${OVS_BUILD:-}" ]; then
    build="$OVS_BUILD"
else
    [ -f "$tarball" ] || { echo "odp-differential: no OVS tarball at $tarball (-t)" >&2; exit 2; }
    name=$(basename "$tarball")
    version="${name#openvswitch-}"
    version="${version%.tar.*}"
    build="${OXVS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/oxvs}/ovs-$version"
fi
ovstest="$build/tests/ovstest"
if [ ! -x "$ovstest" ]; then
    [ -z "${OVS_BUILD:-}" ] || { echo "odp-differential: no $ovstest" >&2; exit 2; }
    echo "odp-differential: building OVS $version into $build (once; log in $build.log)" >&2
    for tool in autoreconf libtoolize make gcc python3; do
        command -v "$tool" >/dev/null ||
            { echo "odp-differential: needs $tool (apt-get install autoconf automake libtool build-essential python3)" >&2; exit 2; }
    done
    rm -rf "$build.tmp"
    mkdir -p "$build.tmp"
    tar xf "$tarball" -C "$build.tmp" --strip-components=1
    (cd "$build.tmp" && ./boot.sh && ./configure --disable-ssl && make -j"$(nproc)") >"$build.log" 2>&1 ||
        { echo "odp-differential: OVS build failed, see $build.log" >&2; exit 1; }
    rm -rf "$build"
    mv "$build.tmp" "$build"
    # Paths inside the build tree (libtool wrappers) name the build directory.
    [ -x "$ovstest" ] || { echo "odp-differential: the build has no $ovstest" >&2; exit 1; }
fi

if [ -z "${OXVS_DPCTL:-}" ]; then
    cargo build -q -p dpctl --bin oxvs-dpctl
fi
cargo build -q -p odp --example odp_textgen
ours="${OXVS_DPCTL:-$PWD/target/debug/oxvs-dpctl}"
gen="$PWD/target/debug/examples/odp_textgen"

work=$(mktemp -d)
if [ "$keep" = 1 ]; then
    echo "odp-differential: work directory $work" >&2
else
    trap 'rm -rf "$work"' EXIT
fi

# Runs `verb [arg]` on stdin file $1 through OVS (stdout to $2) and oxvs (to
# $3). A differing exit status is reported as a difference of its own.
run_both() {
    local in="$1" theirs="$2" mine="$3"; shift 3
    local st=0 so=0
    "$ovstest" test-odp "$@" <"$in" >"$theirs" 2>/dev/null || st=$?
    "$ours" "$@" <"$in" >"$mine" 2>/dev/null || so=$?
    if [ "$st" != "$so" ]; then
        echo "EXIT STATUS of $*: OVS $st, oxvs $so"
        return 1
    fi
}

total_bad=0
report() {
    # report MODE BAD CASES
    local pct
    pct=$(python3 -c "print(f'{100 * $2 / max($3, 1):.2f}')")
    echo "== $1: $2 of $3 lines differ ($pct%)"
    total_bad=$((total_bad + $2))
}

# Counts and prints differing lines of aligned input/outputs.
diff_aligned() {
    python3 - "$@" <<'PY'
import sys
inp, theirs, mine = (open(p, errors="replace").read().splitlines() for p in sys.argv[1:4])
mode = sys.argv[4]
bad = 0
n = max(len(theirs), len(mine))
for i in range(n):
    t = theirs[i] if i < len(theirs) else "<missing>"
    m = mine[i] if i < len(mine) else "<missing>"
    if t != m:
        bad += 1
        src = inp[i] if i < len(inp) else "?"
        print(f"--- {mode} line {i + 1}\n  input: {src}\n  OVS:   {t}\n  oxvs:  {m}")
print(f"BAD {bad} {len(inp)}")
PY
}

for ((round = 0; round < rounds; round++)); do
    s=$((seed + round))
    for mode in keys wc-keys actions; do
        in="$work/$mode.$s.in"
        "$gen" "$mode" "$s" "$lines" >"$in"
        if [ -n "$corpus" ]; then
            mkdir -p "$corpus"
            cp "$in" "$corpus/$mode.in"
            "$ovstest" test-odp "parse-$mode" <"$in" >"$corpus/$mode.out" 2>/dev/null || true
            continue
        fi
        run_both "$in" "$work/$mode.$s.ovs" "$work/$mode.$s.oxvs" "parse-$mode" || total_bad=$((total_bad + 1))
        out=$(diff_aligned "$in" "$work/$mode.$s.ovs" "$work/$mode.$s.oxvs" "$mode (seed $s)")
        printf '%s\n' "$out" | grep -v '^BAD ' || true
        set -- $(printf '%s\n' "$out" | grep '^BAD ')
        report "$mode (seed $s)" "$2" "$3"
    done

    # parse-filter: key lines, each after a `#N` marker comment (echoed by
    # both), under several filters.
    "$gen" filters "$s" 10 >"$work/filters.$s"
    "$gen" wc-keys "$((s + 1000000))" "$((lines / 10))" |
        awk '{ print "#" NR; print }' >"$work/filter.$s.in"
    if [ -n "$corpus" ]; then
        cp "$work/filters.$s" "$corpus/filters.txt"
        cp "$work/filter.$s.in" "$corpus/filter.in"
        : >"$corpus/filter.out"
        while IFS= read -r f; do
            echo "=== filter=$f" >>"$corpus/filter.out"
            "$ovstest" test-odp parse-filter "filter=$f" <"$work/filter.$s.in" >>"$corpus/filter.out" 2>/dev/null ||
                echo "=== exit status $?" >>"$corpus/filter.out"
        done <"$work/filters.$s"
        continue
    fi
    fbad=0
    fcases=0
    k=0
    while IFS= read -r f; do
        k=$((k + 1))
        t="$work/filter.$s.$k.ovs"
        m="$work/filter.$s.$k.oxvs"
        run_both "$work/filter.$s.in" "$t" "$m" parse-filter "filter=$f" || fbad=$((fbad + 1))
        # Group each output by its marker and compare the groups.
        out=$(python3 - "$work/filter.$s.in" "$t" "$m" "$f" <<'PY'
import sys
inp = [l for l in open(sys.argv[1]).read().splitlines() if not l.startswith("#")]
def groups(path):
    g, cur = {}, None
    for l in open(path, errors="replace").read().splitlines():
        if l.startswith("#") and l[1:].isdigit():
            cur = int(l[1:]); g[cur] = []
        elif cur is not None:
            g[cur].append(l)
    return g
t, m = groups(sys.argv[2]), groups(sys.argv[3])
bad = 0
for i in range(1, len(inp) + 1):
    if t.get(i) != m.get(i):
        bad += 1
        print(f"--- filter={sys.argv[4]} line {i}\n  input: {inp[i-1]}\n  OVS:   {t.get(i)}\n  oxvs:  {m.get(i)}")
print(f"BAD {bad} {len(inp)}")
PY
)
        printf '%s\n' "$out" | grep -v '^BAD ' || true
        set -- $(printf '%s\n' "$out" | grep '^BAD ')
        fbad=$((fbad + $2))
        fcases=$((fcases + $3))
    done <"$work/filters.$s"
    report "filter (seed $s, 10 filters)" "$fbad" "$fcases"
done

if [ -n "$corpus" ]; then
    echo "odp-differential: corpus written to $corpus (seed $seed, $lines lines per mode, OVS $build)"
    exit 0
fi
echo "== total: $total_bad differing lines"
[ "$total_bad" = 0 ]
