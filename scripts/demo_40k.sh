#!/usr/bin/env bash
# 40,000 concurrently connected MQTT devices on one 2-core machine: four
# shard processes x 10,000 devices against three `chainstorm serve`
# processes sharing one port (SO_REUSEPORT); no single process goes near
# the 20,000 open-files limit. Prints the merged summary and the memory
# per device on both sides.
# Usage: scripts/demo_40k.sh [DEVICES_PER_SHARD] [RATE_PER_SHARD] [HOLD_S]
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-10000}"; RATE="${2:-120}"; HOLD="${3:-40}"
cargo build --release --quiet --bin chainstorm
work="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
./target/release/chainstorm pki init --out "$work/pki" >/dev/null
for s in 1 2 3; do
  ./target/release/chainstorm serve --pki "$work/pki" --listen 127.0.0.1:28886 --reuse-port --interval-s 3600 >/dev/null 2>&1 &
  pids+=($!)
done
servers=("${pids[@]}")
sleep 1
ARRIVE=$(awk -v n="$N" -v r="$RATE" 'BEGIN { printf "%.1f", n / r }')
DUR=$(awk -v a="$ARRIVE" -v h="$HOLD" 'BEGIN { printf "%.0f", a + h }')
cat > "$work/s.toml" <<EOT
[run]
name = "demo-40k"
seed = 40
duration_s = $DUR
drain_timeout_s = 15
[target]
kind = "external"
addresses = ["127.0.0.1:28886"]
pki = "$work/pki"
[[fleet]]
name = "fleet"
devices = $((N * 4))
profile = "ats-rsa-only"
endpoint = "ats"
keepalive_s = 60
hold_s = $DUR
[arrival]
mode = "rate"
start_rate = $((RATE * 4))
stages = [{ to_rate = $((RATE * 4)), over_s = $ARRIVE }]
EOT
clients=()
for i in 0 1 2 3; do
  ./target/release/chainstorm run "$work/s.toml" --quiet --shard "$i/4" --output "$work/results" > /dev/null 2>"$work/err$i" &
  clients+=($!); pids+=($!)
done
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
peak_c=0; peak_s=0; peak_conn=0
sleep 1
base_c=0; for p in "${clients[@]}"; do base_c=$((base_c + $(rss "$p"))); done
base_s=0; for p in "${servers[@]}"; do base_s=$((base_s + $(rss "$p"))); done
while :; do
  alive=0; c=0; for p in "${clients[@]}"; do if kill -0 "$p" 2>/dev/null; then alive=1; c=$((c + $(rss "$p"))); fi; done
  [ "$alive" = 0 ] && break
  s=0; for p in "${servers[@]}"; do s=$((s + $(rss "$p"))); done
  conn=$(ss -tn state established '( sport = :28886 )' 2>/dev/null | tail -n +2 | wc -l)
  if [ "$conn" -gt "$peak_conn" ]; then peak_conn=$conn; peak_c=$c; peak_s=$s; fi
  sleep 2
done
./target/release/chainstorm merge "$work"/results/demo-40k-shard* --output "$work/results" | head -3
echo "peak established connections on the serve port: $peak_conn"
awk -v c="$peak_c" -v bc="$base_c" -v s="$peak_s" -v bs="$base_s" -v n="$peak_conn" 'BEGIN {
  printf "at that peak: clients %d KiB (%.1f KiB per connected device), servers %d KiB (%.1f KiB per connection)\n",
    c, (c - bc) / n, s, (s - bs) / n }'
