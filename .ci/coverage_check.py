#!/usr/bin/env python3
"""Per-crate line coverage from `cargo llvm-cov report --json --summary-only`.

Each source file is given to the workspace package whose directory is the
longest prefix of its path (the root package `weir` owns src/, the others
their own folders). Prints one line per crate and the least covered files;
exits 1 if a crate is below its floor in the floors file, or has none.
"""

import argparse
import json
import os
import sys


def read_floors(path):
    floors = {}
    with open(path) as f:
        for line in f:
            line = line.split("#", 1)[0].split()
            if not line:
                continue
            if len(line) != 2:
                sys.exit(f"{path}: expected 'crate floor', got {' '.join(line)!r}")
            floors[line[0]] = float(line[1])
    return floors


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("summary")
    ap.add_argument("metadata")
    ap.add_argument("floors")
    ap.add_argument("--worst", type=int, default=12)
    args = ap.parse_args()

    meta = json.load(open(args.metadata))
    root = meta["workspace_root"].rstrip("/") + "/"
    # Longest directory first, so that reactor/src/x.rs goes to weir-reactor,
    # not to the root package whose directory contains every other one.
    pkgs = sorted(
        ((os.path.dirname(p["manifest_path"]) + "/", p["name"]) for p in meta["packages"]),
        key=lambda d: -len(d[0]),
    )
    floors = read_floors(args.floors)

    totals = {name: [0, 0] for _, name in pkgs}
    files = []
    for f in json.load(open(args.summary))["data"][0]["files"]:
        name = f["filename"]
        owner = next((n for d, n in pkgs if name.startswith(d)), None)
        if owner is None:
            continue  # a dependency's file: not ours to measure
        lines = f["summary"]["lines"]
        totals[owner][0] += lines["covered"]
        totals[owner][1] += lines["count"]
        files.append((lines["percent"], lines["count"] - lines["covered"], name[len(root):]))

    failed = []
    print(f"{'crate':<14} {'lines':>13} {'cover':>7} {'floor':>6}")
    for _, name in sorted(pkgs, key=lambda d: d[1]):
        covered, count = totals[name]
        pct = 100.0 * covered / count if count else 0.0
        floor = floors.get(name)
        if floor is None:
            verdict = "NO FLOOR: add one to " + args.floors
            failed.append(name)
        elif pct < floor:
            verdict = "BELOW FLOOR"
            failed.append(name)
        else:
            verdict = "ok"
        floor_s = "-" if floor is None else f"{floor:.0f}%"
        print(f"{name:<14} {covered:>6}/{count:<6} {pct:6.1f}% {floor_s:>6}  {verdict}")
    for name in sorted(set(floors) - set(totals)):
        print(f"note: {args.floors} has a floor for {name}, which is not in the workspace")

    if args.worst > 0:
        print(f"-- the {args.worst} least covered files (lines missed):")
        for pct, missed, name in sorted(files)[: args.worst]:
            print(f"{pct:6.1f}% {missed:>5}  {name}")

    if failed:
        print(f"== coverage: below floor or without one: {', '.join(failed)}", file=sys.stderr)
        return 1
    print(f"== coverage: {len(totals)} crates at or above their floors")
    return 0


if __name__ == "__main__":
    sys.exit(main())
