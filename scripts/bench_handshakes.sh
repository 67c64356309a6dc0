#!/usr/bin/env bash
# Full TLS 1.3 handshakes per server CPU-second: `chainstorm serve` vs
# `openssl s_server` serving the same chains, both driven by `openssl s_time -new`
# in the same run. Server and client are pinned to different cores; the
# server's user+sys CPU time is read from /proc before and after. The
# server's crypto floor is measured in the same run (criterion medians: one
# signature — RSA-PSS 2048 or ECDSA P-256 — plus an X25519 key exchange per
# handshake) and each server's figure is given as a share of it.
# Usage: scripts/bench_handshakes.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
SECS="${1:-10}"
command -v openssl >/dev/null || { echo "openssl is not installed" >&2; exit 2; }
. scripts/lib/work.sh
P="$work/pki"
cat "$P/ats-rsa-intermediate.pem" "$P/ats-rsa-cross-signed.pem" > "$work/rsa-extra.pem"
cp "$P/ats-ecc-intermediate.pem" "$work/ecc-extra.pem"
tck=$(getconf CLK_TCK)

cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }

run() { # label pid port floor -> prints a table row
  local label=$1 pid=$2 port=$3 floor=$4
  sleep 1
  local c0; c0=$(cpu "$pid")
  local out; out=$(taskset -c 0 openssl s_time -connect "127.0.0.1:$port" -new -time "$SECS" 2>&1 < /dev/null || true)
  local c1; c1=$(cpu "$pid")
  local conns; conns=$(echo "$out" | sed -n 's/^\([0-9]*\) connections in [0-9.]*s;.*/\1/p' | head -1)
  local real; real=$(echo "$out" | sed -n 's/^[0-9]* connections in \([0-9.]*\) real seconds.*/\1/p' | head -1)
  awk -v l="$label" -v n="$conns" -v r="$real" -v c0="$c0" -v c1="$c1" -v t="$tck" -v f="$floor" 'BEGIN {
    cpu = (c1 - c0) / t; if (cpu <= 0) cpu = 1 / t;
    printf "| %s | %d | %.1f | %.2f | %.0f | %.0f | %.0f %% |\n", l, n, r, cpu, n / r, n / cpu, 100 * n / cpu / f }'
}

# The server's unavoidable crypto per handshake, measured now.
cargo bench --quiet --bench handshake_crypto -- --warm-up-time 0.5 --measurement-time 2 "server/|both/x25519" > /dev/null 2>&1
est() { python3 -c "import json; print(json.load(open('target/criterion/$1/new/estimates.json'))['median']['point_estimate'])"; }
x=$(est both_x25519_keygen_and_agree)
floor_rsa=$(awk -v s="$(est server_rsa2048_pss_sign)" -v x="$x" 'BEGIN { printf "%.0f", 1e9 / (s + x) }')
floor_ecc=$(awk -v s="$(est server_ecdsa_p256_sign)" -v x="$x" 'BEGIN { printf "%.0f", 1e9 / (s + x) }')
echo "crypto floor, this run: RSA $floor_rsa, ECC $floor_ecc handshakes per server CPU-second"
echo
echo "| server | handshakes | wall s | server CPU s | handshakes/s | handshakes per server CPU-s | share of the floor |"
echo "|---|---:|---:|---:|---:|---:|---:|"
port=28443
for chain in rsa ecc; do
  extra=""; [ "$chain" = ecc ] && extra="--prefer-ecc"
  floor=$floor_rsa; [ "$chain" = ecc ] && floor=$floor_ecc
  taskset -c 1 ./target/release/chainstorm serve --pki "$P" --listen-tls-only "127.0.0.1:$port" --allow-no-sni $extra --interval-s 3600 >/dev/null 2>&1 &
  pids+=($!); run "chainstorm serve (ATS $chain)" "${pids[-1]}" "$port" "$floor"; kill "${pids[-1]}"; port=$((port + 1))
  leaf="ats-$chain-leaf"
  taskset -c 1 openssl s_server -accept "$port" -cert "$P/$leaf.pem" -key "$P/$leaf.key" -cert_chain "$work/$chain-extra.pem" -naccept 1000000 -quiet >/dev/null 2>&1 &
  pids+=($!); run "openssl s_server (ATS $chain)" "${pids[-1]}" "$port" "$floor"; kill "${pids[-1]}"; port=$((port + 1))
done
