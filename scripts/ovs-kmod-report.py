#!/usr/bin/env python3
"""Report of a run of Open vSwitch's kernel-datapath test suite on oxvs.

Reads the suite's listing (`system-kmod-testsuite -l`), its results (the
lines it prints per test), the test sources (to see what each test needs)
and, if given, the results of the same suite against the kernel's
openvswitch module. Prints counts per category, oxvs beside the module,
and every test that passes on the module but not on oxvs, with why it is
expected to fail or not. Exits 1 if a test expected to pass failed: one
that passes on the module, needs no feature oxvs lacks, and needs nothing
the host kernel lacks.

Used by scripts/ovs-kmod-suite.sh; runs on its own too:

    ovs-kmod-report.py --listing L --results R --srcdir OVS/tests \
        [--reference REF] [--host-lacks vlan,bond] [--tsv OUT.tsv]
"""

import argparse
import re
import sys

# Categories, from the test's name: the first rule that matches.
CATEGORIES = [
    ("ipsec", r"^IPsec"),
    ("nat", r"^conntrack - .*(NAT|SNAT|DNAT|floating IP)"),
    ("ct", r"^conntrack - "),
    ("vlan/mpls", r"^802\.1ad - "),
    ("tunnels", r"(?i)tunnel|vxlan|geneve|\bgre\b|erspan|bareudp|^layer3 - "),
    ("meters", r"(?i)meter"),
    ("vlan/mpls", r"(?i)vlan|mpls"),
    ("datapath basics", r"^datapath - "),
    ("other", r""),
]
ORDER = [
    "datapath basics",
    "vlan/mpls",
    "ct",
    "nat",
    "tunnels",
    "meters",
    "ipsec",
    "other",
]

# Features oxvs does not have, as a test's source shows it needs them.
UNSUPPORTED = [
    ("ipsec", r"IPsec|ovs-monitor-ipsec|CHECK_LIBRESWAN"),
    # The host kernel's conntrack state of packets from its own stack,
    # which the kernel module sees on the skb: a userspace datapath cannot
    # (Open vSwitch's own userspace datapath skips these tests too).
    ("host conntrack of local traffic", r"CHECK_CONNTRACK_LOCAL_STACK"),
    (
        "tunnels",
        r"ADD_OVS_TUNNEL|ADD_NATIVE_TUNNEL|ADD_.*TUNNEL6?\(|"
        r"type=(vxlan|gre|geneve|erspan|ip6gre|ip6erspan|bareudp|gtpu|stt|lisp|srv6)\b",
    ),
    ("meters", r"add-meter|\bmeter[:=(]"),
]

# What the host kernel must provide, as a test's source shows it uses it.
HOST_NEEDS = [
    ("vlan", r"ADD_VLAN|ADD_SVLAN|ADD_CVLAN|type vlan\b"),
    ("bond", r"ADD_VETH_BOND|type bond\b"),
]

RESULT = re.compile(
    r"^\s*(\d+): (.*?)\s+(ok|FAILED \(.*\)|skipped \(.*\)|expected failure.*)$"
)
LISTING = re.compile(r"^\s*(\d+): (\S+?):(\d+)\s+(.*?)\s*$")


def category(title):
    for name, pattern in CATEGORIES:
        if re.search(pattern, title):
            return name
    return "other"


def outcome(text):
    if text == "ok":
        return "ok"
    if text.startswith("FAILED"):
        return "failed"
    if text.startswith("skipped"):
        return "skipped"
    return "xfail"


def read_results(path):
    """{title: (number, outcome, raw text)} from the suite's output."""
    out = {}
    with open(path, errors="replace") as f:
        for line in f:
            m = RESULT.match(line.rstrip("\n"))
            if m:
                out[m.group(2)] = (int(m.group(1)), outcome(m.group(3)), m.group(3))
    return out


def read_listing(path):
    """[(number, file, line, title)] from `system-kmod-testsuite -l`."""
    tests = []
    with open(path, errors="replace") as f:
        for line in f:
            m = LISTING.match(line.rstrip("\n"))
            if m and m.group(2).endswith(".at"):
                tests.append((int(m.group(1)), m.group(2), int(m.group(3)), m.group(4)))
    return tests


def test_body(srcdir, file, line, cache={}):
    """The lines of a test, from its AT_SETUP to its AT_CLEANUP."""
    if file not in cache:
        with open(f"{srcdir}/{file}", errors="replace") as f:
            cache[file] = f.read().split("\n")
    lines = cache[file]
    body = []
    for text in lines[line - 1 :]:
        body.append(text)
        if text.startswith("AT_CLEANUP"):
            break
    # Comments (dnl) say nothing about what the test runs.
    return "\n".join(t for t in body if not t.lstrip().startswith("dnl"))


def needs(body, table):
    return [name for name, pattern in table if re.search(pattern, body)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--listing", required=True)
    ap.add_argument("--results", required=True)
    ap.add_argument("--srcdir", required=True)
    ap.add_argument("--reference")
    ap.add_argument("--host-lacks", default="")
    ap.add_argument("--tsv")
    args = ap.parse_args()

    listing = read_listing(args.listing)
    if not listing:
        sys.exit(f"ovs-kmod-report: no tests in {args.listing}")
    results = read_results(args.results)
    reference = read_results(args.reference) if args.reference else {}
    host_lacks = {x for x in args.host_lacks.split(",") if x}

    rows = []
    for number, file, line, title in listing:
        if title not in results:
            continue
        body = test_body(args.srcdir, file, line)
        unsupported = needs(body, UNSUPPORTED)
        lacking = [n for n in needs(body, HOST_NEEDS) if n in host_lacks]
        ours = results[title][1]
        theirs = reference[title][1] if title in reference else None
        rows.append(
            {
                "number": number,
                "title": title,
                "category": category(title),
                "oxvs": ours,
                "oxvs_text": results[title][2],
                "module": theirs,
                "unsupported": unsupported,
                "host": lacking,
                "expected": theirs == "ok" and not unsupported and not lacking,
            }
        )
    if not rows:
        sys.exit(f"ovs-kmod-report: no results in {args.results}")

    def counts(rs, key):
        c = {"ok": 0, "failed": 0, "skipped": 0, "xfail": 0, None: 0}
        for r in rs:
            c[r[key]] += 1
        return c

    print()
    print("== Open vSwitch kernel-datapath suite on oxvs")
    have_ref = bool(reference)
    head = f"{'category':<16} {'tests':>5}   {'oxvs ok/fail/skip':>17}"
    if have_ref:
        head += f"   {'module ok/fail/skip':>19}   {'ok on module, not oxvs':>22}"
    print(head)
    total = []
    for cat in ORDER:
        rs = [r for r in rows if r["category"] == cat]
        total += rs
        print(line_of(cat, rs, counts, have_ref))
    print(line_of("all", total, counts, have_ref))

    regressions = [r for r in rows if r["module"] == "ok" and r["oxvs"] != "ok"]
    unexpected = [r for r in regressions if r["expected"]]
    if have_ref:
        print()
        print(f"== Pass on the module, not on oxvs: {len(regressions)}")
        for r in regressions:
            if r["unsupported"]:
                why = "needs " + ", ".join(r["unsupported"]) + " (unsupported on oxvs)"
            elif r["host"]:
                why = "host kernel lacks " + ", ".join(r["host"])
            else:
                why = "UNEXPECTED"
            print(f"  {r['number']:>3}: {r['title']}: {r['oxvs_text']}: {why}")
        better = [r for r in rows if r["oxvs"] == "ok" and r["module"] not in ("ok", None)]
        if better:
            print()
            print(f"== Pass on oxvs, not on the module: {len(better)}")
            for r in better:
                print(f"  {r['number']:>3}: {r['title']} (module: {r['module']})")
    else:
        failed = [r for r in rows if r["oxvs"] == "failed"]
        print()
        print(f"== Failed on oxvs: {len(failed)} (no reference given: none is judged)")
        for r in failed:
            print(f"  {r['number']:>3}: {r['title']}: {r['oxvs_text']}")

    if args.tsv:
        with open(args.tsv, "w") as f:
            f.write("number\ttitle\tcategory\toxvs\tmodule\tunsupported\thost_lacks\texpected\n")
            for r in rows:
                f.write(
                    f"{r['number']}\t{r['title']}\t{r['category']}\t{r['oxvs']}\t"
                    f"{r['module'] or '-'}\t{','.join(r['unsupported']) or '-'}\t"
                    f"{','.join(r['host']) or '-'}\t{'yes' if r['expected'] else 'no'}\n"
                )

    print()
    if unexpected:
        print(f"FAIL: {len(unexpected)} test(s) expected to pass failed:")
        for r in unexpected:
            print(f"  {r['number']:>3}: {r['title']}")
        sys.exit(1)
    n_expected = sum(r["expected"] for r in rows)
    print(f"PASS: all {n_expected} test(s) expected to pass passed")


def line_of(cat, rs, counts, have_ref):
    o = counts(rs, "oxvs")
    ours = f"{o['ok']}/{o['failed']}/{o['skipped']}"
    text = f"{cat:<16} {len(rs):>5}   {ours:>17}"
    if have_ref:
        m = counts(rs, "module")
        theirs = f"{m['ok']}/{m['failed']}/{m['skipped']}"
        worse = sum(1 for r in rs if r["module"] == "ok" and r["oxvs"] != "ok")
        text += f"   {theirs:>19}   {worse:>22}"
    return text

if __name__ == "__main__":
    main()
