#!/usr/bin/env python3
"""Prints Strata's results beside PyTorch's, record by record (stdlib only).

Usage: python3 Benchmarks/compare_bench.py bench-results.json bench-results-pytorch.json [--markdown]

The ratio column is always "higher is better for Strata":
  - time units (ms, us, s):               PyTorch time / Strata time
  - rate units (GFLOP/s, steps/s, ...):   Strata rate / PyTorch rate
Both are ratios of medians. "% peak" is GFLOP/s over the sgemm peak and
"% bw" GB/s of compulsory traffic over the streaming bandwidth, at the same
thread count, for both sides: every record with GFLOP/s (gemm, linear, the
convolutions, ResNet-20) and every record with GB/s (bn2d, bn1d). The limits
are each run's own limit:* records; a run without them (the PyTorch side
measures none) is compared with strata-bench's.
"""
import json
import sys

TIME_UNITS = {"ms", "us", "s"}
# Report order: WORKLOADS.md's.
CANONICAL = ["gemm", "gemm:raw-sgemm", "linear", "conv1", "conv2:fwd", "conv2:fwd-bwd", "bn2d:train-fwd",
             "bn2d:train-fwd-bwd", "bn2d:eval-fwd", "bn1d", "mlp-step", "cnn-step", "cnn-epoch",
             # issue 14's, after WORKLOADS.md's
             "resnet20-step", "resnet20-eval", "resnet20-eval:folded", "conv3x3-16", "conv3x3-64"]


def load(path):
    with open(path) as f:
        return json.load(f)


def limits(records):
    peak, bw = {}, {}
    for r in records:
        if r["id"] == "limit:sgemm-peak":
            peak[r["threads"]] = r["median"]
        if r["id"] in ("limit:bw-copy", "limit:bw-triad"):
            bw[r["threads"]] = max(bw.get(r["threads"], 0), r["median"])
    return peak, bw


def fraction(r, peak, bw):
    if r is None:
        return ""
    if r.get("gflops") is not None and r["threads"] in peak:
        return f"{100 * r['gflops'] / peak[r['threads']]:.0f}% peak"
    if r.get("gbps") is not None and r["threads"] in bw:
        return f"{100 * r['gbps'] / bw[r['threads']]:.0f}% bw"
    return ""


def ratio(s, t):
    """Strata against PyTorch for one record, higher: Strata better (times:
    PyTorch's over Strata's; rates: Strata's over PyTorch's); None without
    two positive medians."""
    if not s or not t or s["median"] <= 0 or t["median"] <= 0:
        return None
    return t["median"] / s["median"] if s["unit"] in TIME_UNITS else s["median"] / t["median"]


def load_text(m):
    """The load a run saw: load averages, and the cores other processes kept
    busy during it (the figure its busy flag is taken from)."""
    text = f"load {m.get('loadavg_start')} -> {m.get('loadavg_end')}"
    if m.get("other_cpu") is not None:
        text += f", others {m['other_cpu']:.2f} cores, steal {m.get('steal_cpu') or 0:.2f}"
    return text + (", BUSY" if m.get("busy") else "")


def fmt(v):
    if v is None:
        return "-"
    a = abs(v)
    if a >= 1000:
        return f"{v:.0f}"
    if a >= 100:
        return f"{v:.1f}"
    if a >= 10:
        return f"{v:.2f}"
    return f"{v:.3f}"


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    markdown = "--markdown" in sys.argv
    if len(args) != 2:
        sys.exit(__doc__)
    strata, torch = load(args[0]), load(args[1])
    peak, bw = limits(strata["records"])
    # PyTorch's own limits when its JSON has them, else strata-bench's (per thread count).
    t_peak, t_bw = limits(torch["records"])
    t_peak, t_bw = {**peak, **t_peak}, {**bw, **t_bw}
    s_by = {(r["id"], r["threads"]): r for r in strata["records"]}
    t_by = {(r["id"], r["threads"]): r for r in torch["records"]}
    keys = []
    for r in strata["records"] + torch["records"]:
        k = (r["id"], r["threads"])
        if k not in keys and not r["id"].startswith("limit:") and r["unit"] != "x":
            keys.append(k)
    order = {rid: i for i, rid in enumerate(CANONICAL)}
    for rid, _ in keys:
        order.setdefault(rid, len(order))
    keys.sort(key=lambda k: (order[k[0]], k[1]))

    sm, tm = strata["machine"], torch["machine"]
    print(f"Strata run {sm.get('date')} ({load_text(sm)}); PyTorch {tm.get('torch_version')} run {tm.get('date')}"
          f" ({load_text(tm)}){'; interleaved workload by workload' if sm.get('interleaved') else ''}")
    print(f"cpu: {sm.get('cpu_model')}, {sm.get('cores')} cores; OpenBLAS: {sm.get('openblas_config')}")
    if "quick" in str(sm.get("timing")) or "quick" in str(tm.get("timing")):
        print("NOTE: a --quick run: smoke test only, not for reporting.")
    print("ratio > 1: Strata better (times: PyTorch time / Strata time; rates: Strata rate / PyTorch rate; medians)")
    print()
    header = ["id", "thr", "unit", "Strata", "PyTorch", "ratio", "Strata vs limit", "PyTorch vs limit"]
    rows = []
    for k in keys:
        s, t = s_by.get(k), t_by.get(k)
        unit = (s or t)["unit"]
        q = ratio(s, t)
        rows.append([k[0], str(k[1]), unit, fmt(s and s["median"]), fmt(t and t["median"]),
                     f"{q:.2f}x" if q is not None else "-", fraction(s, peak, bw), fraction(t, t_peak, t_bw)])
    if markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for r in rows:
            print("| " + " | ".join(r) + " |")
    else:
        widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
        print("  ".join(h.ljust(w) if i < 3 else h.rjust(w) for i, (h, w) in enumerate(zip(header, widths))))
        print("-" * (sum(widths) + 2 * (len(widths) - 1)))
        for r in rows:
            print("  ".join(c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))))
    print()
    for name, data in (("strata-bench", strata), ("pytorch_bench", torch)):
        lim = [r for r in data["records"] if r["id"].startswith("limit:")]
        if lim:
            print(f"Limits ({name}): " + "; ".join(f"{r['id']} {r['threads']}t {fmt(r['median'])} {r['unit']}" for r in lim))
    if not peak:
        print("No limit:sgemm-peak in the Strata run: no % peak column (run strata-bench with --filter ...,limit).")
    for name, data in (("Strata", strata), ("PyTorch", torch)):
        for r in data["records"]:
            if r["id"] == "gemm:ratio":
                print(f"{name} gemm:ratio {r['threads']}t = {r['median']:.3f} ({r.get('note', '')})")
    for name, data in (("Strata", strata), ("PyTorch", torch)):
        for r in data["records"]:
            if "peak_rss_mb" in r:
                print(f"{name} cnn-epoch {r['threads']}t peak RSS (ru_maxrss, whole process): {r['peak_rss_mb']:.0f} MB")
    if strata.get("not_measured"):
        print("Not measured by Strata in this build: " + ", ".join(strata["not_measured"]))


if __name__ == "__main__":
    main()
