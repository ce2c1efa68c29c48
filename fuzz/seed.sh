#!/usr/bin/env bash
# Fills corpus/<target>/ with seeds taken from the conformance corpus.
set -euo pipefail
cd "$(dirname "$0")"
data=../crates/odp/tests/data/conformance
python3 - "$data" <<'PY'
import hashlib, os, sys
data = sys.argv[1]
def put(target, blob):
    d = os.path.join("corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, hashlib.sha1(blob).hexdigest()), "wb") as f:
        f.write(blob)
def cases(name):
    for line in open(os.path.join(data, name), encoding="utf-8"):
        line = line.rstrip("\n")
        if line and not line.startswith("#") and len(line) < 4096:
            yield line
for f in ["keys.in", "wc-keys.in", "wc-keys-extra.in", "filter-base.in", "filter-vlan-base.in"]:
    for l in cases(f):
        put("text_key", l.encode())
for f in ["actions.in", "actions-invalid.in"]:
    for l in cases(f):
        put("text_actions", l.encode())
for f in ["keys.hex", "wc-keys.hex", "wc-keys-extra.hex", "filter-base.hex", "filter-vlan-base.hex"]:
    for l in cases(f):
        for word in l.split():
            k, _, v = word.partition("=")
            if k in ("key", "mask", "flowkey") and v and v != "error":
                put("nl_key", bytes.fromhex(v))
for f in ["actions.hex"]:
    for l in cases(f):
        k, _, v = l.partition("=")
        if k == "actions" and v:
            put("nl_actions", bytes.fromhex(v))
PY
echo "seeded: $(ls corpus | tr '\n' ' ')"

# The daemon's requests: valid requests of every family, from the daemon's
# own seed list.
OXVS_FUZZ_CORPUS="$PWD/corpus/daemon_requests" \
    cargo test -q --manifest-path ../Cargo.toml -p oxvsd --test fuzz_seeds >/dev/null
