#!/usr/bin/env bash
# Client CPU per full TLS 1.3 handshake: `chainstorm run` (verifying every
# chain with the timed verifier) vs `openssl s_time -new` (verifying nothing),
# both against the same `chainstorm serve --listen-tls-only` in the same run.
# Server pinned to core 1, clients to core 0; CPU = user + sys of the client.
# Usage: scripts/bench_client_cpu.sh [SECONDS] [RATE]
set -euo pipefail
cd "$(dirname "$0")/.."
SECS="${1:-10}"
RATE="${2:-700}"
command -v openssl >/dev/null || { echo "openssl is not installed" >&2; exit 2; }
cargo build --release --quiet --bin chainstorm
work="$(mktemp -d)"
spid=""
cleanup() { [ -n "$spid" ] && kill "$spid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
./target/release/chainstorm pki init --out "$work/pki" >/dev/null
PORT=29443
taskset -c 1 ./target/release/chainstorm serve --pki "$work/pki" --listen-tls-only "127.0.0.1:$PORT" --allow-no-sni --interval-s 3600 >/dev/null 2>&1 &
spid=$!
sleep 1
DEVICES=$(awk -v s="$SECS" -v r="$RATE" 'BEGIN { printf "%d", s * r }')
cat > "$work/s.toml" <<EOT
[run]
name = "client-cpu"
duration_s = $SECS
drain_timeout_s = 5
output_dir = "$work/results"
[target]
kind = "external"
addresses = ["127.0.0.1:$PORT"]
pki = "$work/pki"
[[fleet]]
name = "rsa"
devices = $DEVICES
profile = "ats-rsa-only"
protocol = "tls"
endpoint = "ats"
[arrival]
mode = "rate"
start_rate = $RATE
stages = [{ to_rate = $RATE, over_s = $SECS }]
max_in_flight = 64
EOT
TIMEFORMAT='%U %S'
cs_cpu=$( { time taskset -c 0 ./target/release/chainstorm run "$work/s.toml" --quiet --json > "$work/summary.json" 2>/dev/null; } 2>&1 )
cs_ok=$(python3 -c "import json,sys; print(json.load(open('$work/summary.json'))['totals']['succeeded'])")
cs_failed=$(python3 -c "import json,sys; print(json.load(open('$work/summary.json'))['totals']['failed'])")
st_cpu=$( { time taskset -c 0 openssl s_time -connect "127.0.0.1:$PORT" -new -time "$SECS" > "$work/st.out" 2>&1 < /dev/null; } 2>&1 )
st_ok=$(sed -n 's/^\([0-9]*\) connections in [0-9.]*s;.*/\1/p' "$work/st.out" | head -1)
st_user_rate=$(sed -n 's/^[0-9]* connections in [0-9.]*s; \([0-9.]*\) connections\/user sec.*/\1/p' "$work/st.out" | head -1)
echo "| client | handshakes | failed | client user+sys CPU s | handshakes per client CPU-s |"
echo "|---|---:|---:|---:|---:|"
awk -v n="$cs_ok" -v f="$cs_failed" -v c="$cs_cpu" 'BEGIN { split(c, a, " "); cpu = a[1] + a[2];
  printf "| chainstorm run (verifies every chain, timed) | %d | %d | %.2f | %.0f |\n", n, f, cpu, n / cpu }'
awk -v n="$st_ok" -v c="$st_cpu" -v u="$st_user_rate" 'BEGIN { split(c, a, " "); cpu = a[1] + a[2];
  printf "| openssl s_time -new (no verification) | %d | 0 | %.2f | %.0f (s_time reports %s per user-CPU s) |\n", n, cpu, n / cpu, u }'
