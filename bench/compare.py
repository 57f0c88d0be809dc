#!/usr/bin/env python3
"""Sets MoeOpGen's bench results beside the PyTorch peers': one markdown table of ratios for docs/benchmarks.md.

Rows are matched on (model, dtype, case); "case" ("family variant op", e.g. "swiglu weighted fwd+bwd") is written by
both the .NET bench (bench/MoeOpGen.Bench: ops.json, routing.json) and bench/peers/moe_utils_peers.py. A ratio
"x" is the peer's time over ours (2.0 = MoeOpGen twice as fast). Standard library only; a missing or broken file
is reported in the output, not fatal.

Usage: python3 compare.py --ours ops.json routing.json --peers moe_utils_peers.json [--out compare.md]
"""

import argparse
import json
import os
import sys

OURS_IMPLS = ("moeopgen", "moeopgen-fused")
PEER_IMPLS = ("compile", "eager")


def load(path, problems):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as exc:
        problems.append(f"{path}: {exc}")
        return None


def index(reports):
    """{(model, dtype, case): {impl: row}} over every report's results."""
    table = {}
    for report in reports:
        for row in report.get("results", []):
            if "case" not in row:
                continue  # a peers file from before the case keys: nothing to match on
            table.setdefault((row["model"], row["dtype"], row["case"]), {})[row["impl"]] = row
    return table


def us(row):
    if row is None:
        return ""
    if row.get("us") is None:
        return "n/a" if str(row.get("error", "")).startswith("not available") else "error"
    return f"{row['us']:.1f}"


def ratio(peer, ours):
    if not peer or not ours or not peer.get("us") or not ours.get("us"):
        return ""
    return f"{peer['us'] / ours['us']:.2f}"


def mib(row, key="peak_mem_bytes"):
    value = row and row.get(key)
    return f"{value / 2**20:.0f}" if value else ""


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ours", nargs="+", required=True, help="JSON files of the .NET bench (ops.json, routing.json)")
    parser.add_argument("--peers", required=True, help="JSON file of moe_utils_peers.py")
    parser.add_argument("--out", help="markdown file to write (default: print only)")
    args = parser.parse_args()

    problems = []
    ours = [r for r in (load(p, problems) for p in args.ours) if r]
    peers = load(args.peers, problems)
    ours_table, peer_table = index(ours), index([peers] if peers else [])

    lines = ["# MoeOpGen against the PyTorch peers", ""]
    for r in ours:
        lines.append(f"- MoeOpGen `{r.get('command')}`: {r.get('device')}, {r.get('date')}, "
                     f"copy {r.get('copy_gbps')} GB/s, {r.get('settings')}")
    if peers:
        lines.append(f"- peers: {peers.get('device')}, torch {peers.get('torch')}, {peers.get('date')}, "
                     f"copy {peers.get('copy_gbps')} GB/s, {peers.get('settings')}")
        for form, failures in (peers.get("check_failures") or {}).items():
            if failures:
                lines.append(f"- peers' {form} form FAILED {len(failures)} checks: do not trust its rows")
        for err in peers.get("block_errors", []):
            lines.append(f"- peers block failed: {err}")
        if peers.get("skipped_for_time"):
            lines.append(f"- peers skipped for time: {', '.join(peers['skipped_for_time'])}")
    lines += ["", "x = peer µs / MoeOpGen µs (above 1: MoeOpGen faster). % copy: of the copy bandwidth of the same run.",
              "Peak MiB: both sides by the driver's free-memory query around one step (reservations, the step's results "
              "held); the last column is torch.compile's torch.cuda.max_memory_allocated growth (allocations only).", "",
              "| model | dtype | case | MoeOpGen µs | % copy | fused µs | % copy | torch.compile µs | x | eager µs | x "
              "| peak MiB ours | peak MiB compile | compile allocated MiB |",
              "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    matched = 0
    for key in sorted(ours_table, key=lambda k: (k[0], k[1], k[2])):
        peer = peer_table.get(key)
        if not peer:
            continue
        matched += 1
        mine = ours_table[key]
        plain, fused = mine.get("moeopgen"), mine.get("moeopgen-fused")
        comp, eager = peer.get("compile"), peer.get("eager")
        lines.append(f"| {key[0]} | {key[1]} | {key[2]} | {us(plain)} | {(plain or {}).get('pct_copy') or ''} "
                     f"| {us(fused)} | {(fused or {}).get('pct_copy') or ''} "
                     f"| {us(comp)} | {ratio(comp, plain)} | {us(eager)} | {ratio(eager, plain)} "
                     f"| {mib(plain)} | {mib(comp, 'peak_reserved_bytes')} | {mib(comp)} |")
    only_ours = sum(1 for k in ours_table if k not in peer_table)
    lines += ["", f"{matched} matched cases; {only_ours} MoeOpGen cases have no peer (see ops.md / routing.md); "
              f"{sum(1 for k in peer_table if k not in ours_table)} peer cases have no MoeOpGen row."]
    if problems:
        lines += ["", "Problems reading the inputs:", ""] + [f"- {p}" for p in problems]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        tmp = args.out + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, args.out)
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
