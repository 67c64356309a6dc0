#!/usr/bin/env bash
# Many concurrently connected MQTT devices on one machine: SHARDS client
# shard processes x DEVICES_PER_SHARD devices against SERVERS `chainstorm
# serve` processes sharing one port (SO_REUSEPORT), so no process nears the
# 20,000 open-files limit; shards dial from disjoint loopback source
# addresses (16 per run), so no source address runs out of ephemeral ports.
# Keep alive flows while the devices are held. Prints the merged summary,
# the peak of established connections, memory per device on both sides,
# CPU (user + sys) of clients and servers, and the connect rate.
# Usage: scripts/demo_held.sh SHARDS SERVERS [DEVICES_PER_SHARD] [RATE_PER_SHARD] [HOLD_S]
set -euo pipefail
cd "$(dirname "$0")/.."
SHARDS="$1"; SERVERS="$2"
N="${3:-10000}"; RATE="${4:-120}"; HOLD="${5:-40}"
. scripts/lib/work.sh
for s in $(seq "$SERVERS"); do
  ./target/release/chainstorm serve --pki "$work/pki" --listen 127.0.0.1:28886 --reuse-port --interval-s 3600 >/dev/null 2>&1 &
  pids+=($!)
done
servers=("${pids[@]}")
sleep 1
ARRIVE=$(awk -v n="$N" -v r="$RATE" 'BEGIN { printf "%.1f", n / r }')
DUR=$(awk -v a="$ARRIVE" -v h="$HOLD" 'BEGIN { printf "%.0f", a + h }')
scenario "$work/s.toml" demo-held 127.0.0.1:28886 $((N * SHARDS)) $((RATE * SHARDS)) "$DUR" keepalive_s=30 "hold_s=$DUR" run.seed=40 run.drain_timeout_s=15
clients=()
for i in $(seq 0 $((SHARDS - 1))); do
  ./target/release/chainstorm run "$work/s.toml" --quiet --shard "$i/$SHARDS" --output "$work/results" > /dev/null 2>"$work/err$i" &
  clients+=($!); pids+=($!)
done
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
peak_c=0; peak_s=0; peak_conn=0
declare -A cpu
sleep 1
base_c=0; for p in "${clients[@]}"; do base_c=$((base_c + $(rss "$p"))); done
base_s=0; for p in "${servers[@]}"; do base_s=$((base_s + $(rss "$p"))); done
while :; do
  alive=0; c=0; for p in "${clients[@]}"; do if kill -0 "$p" 2>/dev/null; then alive=1; c=$((c + $(rss "$p"))); fi; done
  [ "$alive" = 0 ] && break
  s=0; for p in "${servers[@]}"; do s=$((s + $(rss "$p"))); done
  conn=$(ss -tn state established '( sport = :28886 )' 2>/dev/null | tail -n +2 | wc -l)
  if [ "$conn" -gt "$peak_conn" ]; then peak_conn=$conn; peak_c=$c; peak_s=$s; fi
  # CPU so far (utime + stime, clock ticks) of each process, kept until it exits.
  for p in "${clients[@]}" "${servers[@]}"; do
    t=$(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null) && [ -n "$t" ] && cpu[$p]=$t
  done
  sleep 2
done
tick=$(getconf CLK_TCK)
cpu_c=0; for p in "${clients[@]}"; do cpu_c=$((cpu_c + ${cpu[$p]:-0})); done
cpu_s=0; for p in "${servers[@]}"; do cpu_s=$((cpu_s + ${cpu[$p]:-0})); done
./target/release/chainstorm merge "$work"/results/demo-held-shard* --output "$work/results" > "$work/merged.txt"
head -3 "$work/merged.txt"
merged=$(ls -d "$work"/results/demo-held-merged* | head -1)
python3 - "$merged/summary.json" "$ARRIVE" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
t = s["totals"]
ct = next((k for k in s["phases"] if k["phase"] == "connect_total"), None)
print(f"attempted {t['attempted']} succeeded {t['succeeded']} failed {t['failed']} hold failures {t['hold_failures']}")
print(f"connect rate: {t['succeeded'] / float(sys.argv[2]):.0f}/s over the {sys.argv[2]} s arrival window;"
      f" connect_total p50 {ct['p50'] / 1e6:.2f} ms p99 {ct['p99'] / 1e6:.2f} ms")
PY
echo "peak established connections on the serve port: $peak_conn"
awk -v c="$peak_c" -v bc="$base_c" -v s="$peak_s" -v bs="$base_s" -v n="$peak_conn" 'BEGIN {
  printf "at that peak: clients %d KiB (%.1f KiB per connected device), servers %d KiB (%.1f KiB per connection)\n",
    c, (c - bc) / n, s, (s - bs) / n }'
awk -v cc="$cpu_c" -v cs="$cpu_s" -v t="$tick" -v d="$DUR" 'BEGIN {
  printf "CPU (user + sys): clients %.1f s, servers %.1f s over a %d s run (%.0f %% of the 2 cores)\n",
    cc / t, cs / t, d, 100 * (cc + cs) / t / d / 2 }'
