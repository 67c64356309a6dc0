#!/usr/bin/env bash
# Scheduler lag at 80 % of the achievable connect rate, on this machine.
# Achievable: the highest rate of a ladder at which every MQTT device
# connects and connect_total p99 stays under 50 ms (the run keeps up
# instead of queueing). Then RUNS runs at 80 % of it; prints each run's
# scheduler lag p99 and the median. Client and `chainstorm serve` share the
# machine, as in soak_10k.sh (which each step runs).
# Usage: scripts/scheduler_lag.sh [DEVICES] [RUNS] [RATES...]
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-6000}"; RUNS="${2:-3}"; shift 2 2>/dev/null || shift $#
RATES=("$@"); [ ${#RATES[@]} -gt 0 ] || RATES=(800 1200 1600 2000 2400 3000)
sum="$(mktemp)"; trap 'rm -f "$sum"' EXIT
# One step: a soak run at RATE; prints "succeeded failed connect_total.p99_ms
# scheduler_lag.p99_us" from its summary.json.
step() {
  SUMMARY_OUT="$sum" scripts/soak_10k.sh "$N" "$1" 3 > /dev/null 2>&1 || true
  python3 - "$sum" <<'PY'
import json, sys
try:
    s = json.load(open(sys.argv[1]))
except (OSError, ValueError):
    print("0 0 0 0")  # the run wrote no summary: a step that did not keep up
    sys.exit()
p = {k["phase"]: k for k in s["phases"]}
t = s["totals"]
print(t["succeeded"], t["failed"], p["connect_total"]["p99"] / 1e6, round(p["scheduler_lag"]["p99"] / 1e3))
PY
}
best=0
for r in "${RATES[@]}"; do
  read -r ok failed ct lag < <(step "$r")
  echo "rate $r/s: succeeded $ok/$N, failed $failed, connect_total p99 $ct ms, scheduler lag p99 $lag us"
  if [ "$ok" -eq "$N" ] && [ "$failed" -eq 0 ] && awk -v c="$ct" 'BEGIN { exit !(c < 50) }'; then
    best=$r
  else
    break
  fi
done
[ "$best" -gt 0 ] || { echo "no rate of the ladder kept up" >&2; exit 1; }
at=$(( best * 8 / 10 ))
echo "achievable: $best/s; measuring at 80 %: $at/s, $RUNS runs"
lags=()
for _ in $(seq "$RUNS"); do
  read -r ok failed ct lag < <(step "$at")
  echo "  $at/s: succeeded $ok/$N, scheduler lag p99 $lag us, connect_total p99 $ct ms"
  lags+=("$lag")
done
printf '%s\n' "${lags[@]}" | sort -n | awk '{ v[NR] = $1 } END { printf "scheduler lag p99 at %s/s (80 %% of %s/s): median %d us over %d runs\n", "'"$at"'", "'"$best"'", v[int((NR + 1) / 2)], NR }'
