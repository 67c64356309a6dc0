#!/usr/bin/env bash
# The endpoint survives a large fuzz campaign while serving a legitimate
# fleet: `chainstorm serve` on 127.0.0.1:8893, a fuzz campaign of CASES
# (default 1,000,000) against it, and scenarios/fuzz-survival.toml (20
# legitimate MQTT connects/s) at the same time. Exits non-zero if the
# campaign records a target-down finding, the fleet misses its threshold,
# or the endpoint process died.
set -euo pipefail
cd "$(dirname "$0")/.."
CASES=${CASES:-1000000}
OUT=${OUT:-results/fuzz-survival}
mkdir -p "$OUT"
ulimit -n 20000
. scripts/lib/work.sh
bin=target/release/chainstorm
$bin serve --listen 127.0.0.1:8893 >"$OUT/serve.log" 2>&1 &
serve=$!; pids+=("$serve")
sleep 2
$bin run scenarios/fuzz-survival.toml --output "$OUT" >"$OUT/fleet.log" 2>&1 &
fleet=$!
set +e
# FUZZ_ARGS adds campaign options, e.g. FUZZ_ARGS=--mqtt.
$bin fuzz --target 127.0.0.1:8893 --cases "$CASES" --no-tui --output "$OUT" ${FUZZ_ARGS:-} | tee "$OUT/fuzz.log"
fuzz_rc=${PIPESTATUS[0]}
# The fleet is stopped when the campaign ends; Ctrl-C writes its results.
kill -INT $fleet 2>/dev/null
wait $fleet
summary=$(ls -td "$OUT"/fuzz-survival-*/ | head -1)summary.json
python3 - "$summary" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))["totals"]
print(f"legitimate fleet during the campaign: {t['attempted']} attempted, {t['succeeded']} succeeded, {t['failed']} failed")
sys.exit(0 if t["attempted"] > 0 and t["failed"] == 0 else 1)
PY
fleet_rc=$?
kill -0 $serve 2>/dev/null
alive=$?
set -e
echo "fuzz exit $fuzz_rc, fleet exit $fleet_rc, endpoint alive: $([ $alive = 0 ] && echo yes || echo NO)"
tail -5 "$OUT/fleet.log"
[ "$fuzz_rc" = 0 ] && [ "$fleet_rc" = 0 ] && [ "$alive" = 0 ]
