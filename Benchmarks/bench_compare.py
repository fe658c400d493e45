#!/usr/bin/env python3
"""Runs strata-bench and pytorch_bench.py interleaved, workload by workload.

Usage: python3 Benchmarks/bench_compare.py --strata .build/release/strata-bench
           [--rounds N] [--filter ID ...] [--threads 1,2] [--quick] [--epoch-reps N]
           [--json-strata bench-results.json] [--json-pytorch bench-results-pytorch.json]

`make bench-compare` runs this with the interpreter that has torch. Each
workload (a line of `strata-bench --list`) runs on one side and then on the
other, so the two figures of a ratio are taken seconds apart instead of one
whole suite apart: on this shared machine a side's figures drift by more
than the margins being measured from one minute to the next (PyTorch's
resnet20-step read 348 and 448 images/s in two suites 9 minutes apart).
Rounds alternate which side goes first. With --rounds 1 the two JSON files
are the runs' records; with more, each round's files are kept beside them
(`<json>.round<i>.json`), the two files hold for each record the round
whose median is the median of the rounds' (the lower middle one for an
even count), and a table of the ratio in each round and their median
follows the side-by-side table.

Both sides run with glibc's mmap and trim thresholds raised (the
environment's own values win). PyTorch's CPU tensors come straight from
malloc, and a fresh process that allocates activations of 8 MB and more
has them mapped and unmapped (page faults every step) until glibc's
thresholds have grown, which a process running one workload may never
reach: PyTorch's conv3x3-16 read 23.5 and 30.0 ms at 2 threads alone in
a fresh process, 15.1 and 16.0 ms after resnet20-step in the same process
(as in a whole-suite run), and 16.9 and 16.3 ms alone with these settings.
Strata's tensors come from its own buffer pool and do not depend on them.

Only the standard library is used here; the PyTorch side needs torch and
numpy in this interpreter.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from compare_bench import ratio  # noqa: E402  (the table's own rule)


def groups(strata):
    """(name, [record ids]) per workload, from `strata-bench --list`."""
    out = subprocess.run([strata, "--list"], check=True, capture_output=True, text=True).stdout
    result = []
    for line in out.splitlines():
        name, _, ids = line.partition(":")
        if ids:
            result.append((name.strip(), [i.strip() for i in ids.split(",") if i.strip()]))
    return result


def wanted(ids, filters):
    """The ids a --filter list selects (record-id prefixes; none selects all)."""
    return [i for i in ids if not filters or any(i.startswith(f) for f in filters)]


# glibc's M_MMAP_THRESHOLD and M_TRIM_THRESHOLD for both sides (see above).
MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": str(1 << 30), "MALLOC_TRIM_THRESHOLD_": str(1 << 32)}


def run_side(cmd, json_path):
    """Runs one side on one workload, passing its output through; its JSON."""
    env = {**MALLOC_ENV, **os.environ}
    subprocess.run(cmd + ["--json", json_path], check=True, env=env)
    with open(json_path) as f:
        return json.load(f)


def merge(parts, tool):
    """One side's runs of a round as one results file: the first run's
    machine block (load at the first start and the last end, busy if any
    run was), every run's records."""
    if not parts:
        return {"machine": {}, "records": [], "not_measured": [], "tool": tool}
    machine = dict(parts[0]["machine"])
    machine["loadavg_end"] = parts[-1]["machine"].get("loadavg_end", [])
    machine["busy"] = any(p["machine"].get("busy") for p in parts)
    others = [p["machine"].get("other_cpu") for p in parts if p["machine"].get("other_cpu") is not None]
    if others:
        machine["other_cpu"] = max(others)
    machine["interleaved"] = True
    not_measured = sorted({m for p in parts for m in p.get("not_measured", [])})
    return {"machine": machine, "records": [r for p in parts for r in p["records"]],
            "not_measured": not_measured, "tool": tool}


def median_round(rounds):
    """Per (id, threads), the record of the round with the median median."""
    by = {}
    for data in rounds:
        for r in data["records"]:
            by.setdefault((r["id"], r["threads"]), []).append(r)
    records = []
    for rs in by.values():
        ordered = sorted(rs, key=lambda r: r["median"])
        records.append(ordered[(len(ordered) - 1) // 2])
    merged = dict(rounds[0])
    merged["records"] = records
    return merged


def round_table(strata_rounds, torch_rounds):
    """The ratio (higher: Strata better) of each record in each round, and their median."""
    keys = []
    for data in strata_rounds:
        for r in data["records"]:
            k = (r["id"], r["threads"])
            if k not in keys and not r["id"].startswith("limit:") and r["unit"] != "x":
                keys.append(k)
    def index(data):
        return {(r["id"], r["threads"]): r for r in data["records"]}
    indexed = [(index(s), index(t)) for s, t in zip(strata_rounds, torch_rounds)]
    print("Ratio in each round (Strata vs PyTorch, higher: Strata better), and their median:")
    print()
    print("| id | thr | unit | ratios per round | median |")
    print("|---|---|---|---|---|")
    for k in keys:
        ratios = []
        unit = ""
        for s_by, t_by in indexed:
            s, t = s_by.get(k), t_by.get(k)
            unit = s["unit"] if s else unit
            q = ratio(s, t)
            if q is not None:
                ratios.append(q)
        if ratios:
            per = ", ".join(f"{q:.2f}" for q in ratios)
            print(f"| {k[0]} | {k[1]} | {unit} | {per} | {statistics.median(ratios):.2f}x |")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--strata", required=True, help="the strata-bench executable (release build)")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--filter", action="append", default=[], help="record id prefix (repeatable, comma-separated)")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--epoch-reps", type=int, default=1)
    ap.add_argument("--json-strata", default="bench-results.json")
    ap.add_argument("--json-pytorch", default="bench-results-pytorch.json")
    args = ap.parse_args()
    if args.rounds < 1:
        ap.error(f"--rounds must be at least 1, got {args.rounds}")
    filters = [f for item in args.filter for f in item.split(",") if f]
    selected = [(name, wanted(ids, filters)) for name, ids in groups(args.strata)]
    selected = [(name, ids) for name, ids in selected if ids]
    if not selected:
        sys.exit(f"bench_compare: no workload matches --filter {filters}")
    common = ["--threads", args.threads, "--epoch-reps", str(args.epoch_reps)] + (["--quick"] if args.quick else [])
    strata_rounds, torch_rounds = [], []
    for rnd in range(args.rounds):
        s_parts, t_parts = [], []
        for name, ids in selected:
            tmp_s = f"{args.json_strata}.part.json"
            tmp_t = f"{args.json_pytorch}.part.json"
            sides = [
                ("strata", [args.strata, "--filter", ",".join(ids)] + common, tmp_s, s_parts),
                ("pytorch", [sys.executable, os.path.join(HERE, "pytorch_bench.py"), "--filter", ",".join(ids)]
                 + common, tmp_t, t_parts),
            ]
            if rnd % 2 == 1:
                sides.reverse()
            for side, cmd, path, parts in sides:
                print(f"== round {rnd + 1}/{args.rounds}, {name}: {side}", flush=True)
                parts.append(run_side(cmd, path))
                os.remove(path)
        strata_rounds.append(merge(s_parts, "strata"))
        torch_rounds.append(merge(t_parts, "pytorch"))
    if args.rounds == 1:
        strata, torch = strata_rounds[0], torch_rounds[0]
    else:
        for i, (s, t) in enumerate(zip(strata_rounds, torch_rounds)):
            for data, path in ((s, args.json_strata), (t, args.json_pytorch)):
                with open(f"{path}.round{i + 1}.json", "w") as f:
                    json.dump(data, f, indent=2)
        strata, torch = median_round(strata_rounds), median_round(torch_rounds)
    for data, path in ((strata, args.json_strata), (torch, args.json_pytorch)):
        with open(path, "w") as f:
            json.dump(data, f, indent=2)
        print(f"wrote {path}")
    print()
    subprocess.run([sys.executable, os.path.join(HERE, "compare_bench.py"), args.json_strata, args.json_pytorch],
                   check=True)
    if args.rounds > 1:
        print()
        round_table(strata_rounds, torch_rounds)


if __name__ == "__main__":
    main()
