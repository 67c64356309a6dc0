#!/usr/bin/env bash
# Example CI job: run the short fixed scenario and compare it with the
# committed baselines; exit 1 on a regression. Writes compare.md (for a PR
# comment) and compare.xml (JUnit) into the run directory, under OUT
# (default results/ci-gate).
# Usage: scripts/ci_perf_gate.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/work.sh
out="${OUT:-results/ci-gate}"
./target/release/chainstorm run scenarios/ci-short.toml --quiet --output "$out" > /dev/null
new=$(ls -d "$out"/ci-short-*)
rules=(--max-regression connect_total.p99=25% --max-regression chain_validation.p50=15% --max-failure-rate 0.5% --noise-aware)
bases=(results/baselines/ci-short-*)
./target/release/chainstorm compare "${bases[@]}" "$new" "${rules[@]}" --format md > "$new/compare.md" || true
./target/release/chainstorm compare "${bases[@]}" "$new" "${rules[@]}" --format junit > "$new/compare.xml" || true
echo "run and comparison: $new"
./target/release/chainstorm compare "${bases[@]}" "$new" "${rules[@]}"
