#!/usr/bin/env bash
# Server memory per idle MQTT connection: RSS of `chainstorm serve` before
# and after N idle MQTT 3.1.1 sessions (TLS 1.3, ATS RSA chain) are open.
# Usage: scripts/endpoint_memory.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-5000}"
WORK_EXAMPLES=idle_conns . scripts/lib/work.sh
./target/release/chainstorm serve --pki "$work/pki" --listen 127.0.0.1:28883 --interval-s 3600 >/dev/null 2>&1 &
spid=$!; pids+=($spid)
sleep 1
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
before=$(rss $spid)
./target/release/examples/idle_conns 127.0.0.1:28883 a1b2c3-ats.iot.us-east-1.amazonaws.com "$work/pki/ats-rsa-root.pem" "$N" 30 > "$work/client.out" &
cpid=$!; pids+=($cpid)
for _ in $(seq 1 600); do grep -q ready "$work/client.out" 2>/dev/null && break; sleep 0.2; done
grep -q ready "$work/client.out" || { echo "client did not get ready" >&2; exit 1; }
sleep 1
after=$(rss $spid)
crss=$(rss $cpid)
awk -v n="$N" -v b="$before" -v a="$after" -v c="$crss" 'BEGIN {
  printf "idle MQTT connections: %d\nserver RSS: %d KiB before, %d KiB after\nserver memory per idle connection: %.1f KiB\nclient RSS (example client): %d KiB\n", n, b, a, (a - b) / n, c }'
