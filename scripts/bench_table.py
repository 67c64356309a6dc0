#!/usr/bin/env python3
"""Prints criterion's median estimates (target/criterion/**/new/estimates.json)
as a markdown table: `python3 scripts/bench_table.py [GROUP...]`."""
import json
import pathlib
import sys

root = pathlib.Path(__file__).resolve().parent.parent / "target" / "criterion"
groups = sys.argv[1:]
rows = []
for est in sorted(root.glob("**/new/estimates.json")):
    bench = json.loads((est.parent / "benchmark.json").read_text())
    if groups and bench["group_id"] not in groups:
        continue
    e = json.loads(est.read_text())
    med = e["median"]
    rows.append((bench["full_id"], med["point_estimate"], med["confidence_interval"]))
print("| benchmark | median | 95% CI |")
print("|---|---:|---|")
def fmt(ns):
    return f"{ns:.1f} ns" if ns < 1000 else f"{ns / 1000:.1f} µs"
for name, point, ci in rows:
    print(f"| {name} | {fmt(point)} | {fmt(ci['lower_bound'])} – {fmt(ci['upper_bound'])} |")
