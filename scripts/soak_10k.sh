#!/usr/bin/env bash
# 10,000 MQTT devices held with keep alive against `chainstorm serve` in a
# second process; reports client and server RSS per held device (sampled
# from /proc at the peak) and the run's scheduler lag.
# SUMMARY_OUT=FILE keeps the run's summary.json there.
# Usage: scripts/soak_10k.sh [DEVICES] [RATE] [HOLD_S]
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-10000}"; RATE="${2:-400}"; HOLD="${3:-40}"
. scripts/lib/work.sh
./target/release/chainstorm serve --pki "$work/pki" --listen 127.0.0.1:28884 --interval-s 3600 >/dev/null 2>&1 &
spid=$!; pids+=("$spid")
sleep 1
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
s_base=$(rss "$spid")
ARRIVE=$(awk -v n="$N" -v r="$RATE" 'BEGIN { printf "%.1f", n / r }')
DUR=$(awk -v a="$ARRIVE" -v h="$HOLD" 'BEGIN { printf "%.0f", a + h }')
scenario "$work/s.toml" soak 127.0.0.1:28884 "$N" "$RATE" "$DUR" keepalive_s=30 "hold_s=$DUR" run.drain_timeout_s=10
./target/release/chainstorm run "$work/s.toml" --quiet --json > "$work/summary.json" 2>"$work/err" &
cpid=$!
sleep 0.5
c_base=$(rss "$cpid")
c_peak=0; s_peak=0
while kill -0 "$cpid" 2>/dev/null; do
  c=$(rss "$cpid"); s=$(rss "$spid")
  [ "$c" -gt "$c_peak" ] && c_peak=$c
  [ "$s" -gt "$s_peak" ] && s_peak=$s
  sleep 1
done
wait "$cpid" || true
if [ -n "${SUMMARY_OUT:-}" ]; then cp "$work/summary.json" "$SUMMARY_OUT"; fi
python3 - "$work/summary.json" "$N" "$c_base" "$c_peak" "$s_base" "$s_peak" <<'PY'
import json, sys
s = json.load(open(sys.argv[1])); n = int(sys.argv[2])
cb, cp, sb, sp = map(int, sys.argv[3:7])
t = s["totals"]
lag = next(p for p in s["phases"] if p["phase"] == "scheduler_lag")
ct = next(p for p in s["phases"] if p["phase"] == "connect_total")
print(f"devices {n}: attempted {t['attempted']} succeeded {t['succeeded']} failed {t['failed']} hold failures {t['hold_failures']}")
print(f"client RSS {cb} KiB at start, {cp} KiB peak: {(cp - cb) / n:.1f} KiB per held device")
print(f"server RSS {sb} KiB at start, {sp} KiB peak: {(sp - sb) / n:.1f} KiB per held device")
print(f"scheduler lag p50 {lag['p50']/1e3:.0f} us, p99 {lag['p99']/1e3:.0f} us, max {lag['max']/1e3:.0f} us; connect_total p99 {ct['p99']/1e6:.2f} ms")
PY
