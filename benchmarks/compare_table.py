#!/usr/bin/env python3
"""Prints compare.sh's table from the JSON lines of one run: each side's best over the rounds (and, for the peers, over
their thread settings), and the ratios (higher is better for us). Usage: compare_table.py RESULTS.jsonl THREADS"""
import json, sys

rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip().startswith("{")]
n = int(sys.argv[2])
def side(r):
    impl = r["impl"]
    if impl.startswith("rnn-mlnet"):
        kind = r.get("reduced_precision")
        return "ours" if not kind else "ours-int8" if kind.startswith("int8") else "ours-bf16"
    return "ort" if impl == "onnxruntime" else "torch"
def best(name, mode, who, key, higher, threads=None):
    vals = [r[key] for r in rows if r["name"] == name and r["mode"] == mode and side(r) == who and key in r
            and (threads is None or r.get("threads") == threads)]
    return (max(vals) if higher else min(vals)) if vals else None
def rss(name, mode, who, key="peak_rss_mb", threads=None):
    vals = [r[key] for r in rows if r["name"] == name and r["mode"] == mode and side(r) == who and key in r
            and (threads is None or r.get("threads") == threads)]
    return max(vals) if vals else None
def f(x, unit=""):
    return f"{x:,.1f}{unit}" if x is not None else "-"
def ratio(a, b):
    return f"{a / b:.2f}x" if a and b else "-"

keys = list(dict.fromkeys((r["name"], r["mode"]) for r in rows))
fresh = any(r.get("fresh_sequences") for r in rows if side(r) == "ours" and r["mode"] == "latency")
print(f"{'config':16} {'row':22} {'value':>16} {'vs PyTorch':>11} {'vs ORT':>8} {'peak RSS':>9}")
for name, mode in keys:
    if mode == "train":
        torch = best(name, mode, "torch", "tokens_per_s", True)
        for t in sorted({1, n}):
            a = best(name, mode, "ours", "tokens_per_s", True, threads=t)
            if a: print(f"{name:16} {f'ours, {t} thread(s)':22} {f(a, ' tok/s'):>16} {ratio(a, torch):>11} {'':>8} {f(rss(name, mode, 'ours', threads=t), 'M'):>9}")
        print(f"{name:16} {'PyTorch (best)':22} {f(torch, ' tok/s'):>16} {'':>11} {'':>8} {f(rss(name, mode, 'torch'), 'M'):>9}")
    elif mode == "latency":
        a = best(name, mode, "ours", "us_per_seq", False)
        pe = best(name, mode, "ours", "prediction_engine_us_per_seq", False)
        ort = best(name, mode, "ort", "us_per_seq", False)
        torch = best(name, mode, "torch", "us_per_seq", False)
        label = "ours" + (" (fresh seqs)" if fresh else "")
        print(f"{name:16} {label:22} {f(a, ' us'):>16} {ratio(torch, a):>11} {ratio(ort, a):>8} {f(rss(name, mode, 'ours'), 'M'):>9}")
        print(f"{name:16} {'PredictionEngine':22} {f(pe, ' us'):>16} {ratio(torch, pe):>11} {ratio(ort, pe):>8} {f(rss(name, mode, 'ours', 'prediction_engine_peak_rss_mb'), 'M'):>9}")
        for who, label in (("ours-bf16", "bf16 W_hh"), ("ours-int8", "int8 weights")):
            r16 = best(name, mode, who, "us_per_seq", False)
            if r16:
                pe16 = best(name, mode, who, "prediction_engine_us_per_seq", False)
                print(f"{name:16} {'ours, ' + label + ' opt-in':22} {f(r16, ' us'):>16} {ratio(torch, r16):>11} {ratio(ort, r16):>8} {f(rss(name, mode, who), 'M'):>9}")
                print(f"{name:16} {'PredictionEngine, ' + label.split()[0]:22} {f(pe16, ' us'):>16} {ratio(torch, pe16):>11} {ratio(ort, pe16):>8} {f(rss(name, mode, who, 'prediction_engine_peak_rss_mb'), 'M'):>9}")
        print(f"{name:16} {'ONNX Runtime (best)':22} {f(ort, ' us'):>16} {'':>11} {'':>8} {f(rss(name, mode, 'ort'), 'M'):>9}")
        print(f"{name:16} {'PyTorch (best)':22} {f(torch, ' us'):>16} {'':>11} {'':>8} {f(rss(name, mode, 'torch'), 'M'):>9}")
    elif mode == "batch":
        a = best(name, mode, "ours", "seqs_per_s", True)
        ort = best(name, mode, "ort", "seqs_per_s", True)
        size = next((r["batch"] for r in rows if r["name"] == name and r["mode"] == mode), "?")
        def at_best(who):
            return next((r for r in rows if r["name"] == name and r["mode"] == mode and side(r) == who
                         and r["seqs_per_s"] == best(name, mode, who, "seqs_per_s", True)), {})
        ours_best, ort_best = at_best("ours"), at_best("ort")
        ours_label = f"ours, batch {size}, {ours_best.get('threads', '?')} thr"
        ort_label = f"ORT batch {size}, {ort_best.get('threads', '?')} thr"
        print(f"{name:16} {ours_label:22} {f(a, ' seq/s'):>16} {'':>11} {ratio(a, ort):>8} {f(ours_best.get('peak_rss_mb'), 'M'):>9}")
        a8 = best(name, mode, "ours-int8", "seqs_per_s", True)
        if a8:
            best8 = at_best("ours-int8")
            label8 = f"ours int8, {best8.get('threads', '?')} thr"
            print(f"{name:16} {label8:22} {f(a8, ' seq/s'):>16} {'':>11} {ratio(a8, ort):>8} {f(best8.get('peak_rss_mb'), 'M'):>9}")
        print(f"{name:16} {ort_label:22} {f(ort, ' seq/s'):>16} {'':>11} {'':>8} {f(ort_best.get('peak_rss_mb'), 'M'):>9}")
print("ratios: ours / peer for throughput, peer / ours for latency (higher is better for us); peers at their best thread setting")
