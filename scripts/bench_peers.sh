#!/usr/bin/env bash
# Client CPU per full TLS 1.3 handshake, side by side in one run:
# `chainstorm run` (verifying every chain, timed), oha with --insecure and
# with --cacert (verifying), openssl s_time -new, and the floor — the
# client's unavoidable crypto (criterion: CertificateVerify RSA-PSS check,
# X25519, the chain's two signature checks) plus a bare TCP connect/close
# (`chainstorm run` with protocol = "tcp") — against `openssl s_server -www`
# and against `chainstorm serve --listen-tls-only`, both serving the ATS RSA
# chain. Server pinned to core 1, clients to core 0; CPU = user + sys of the
# client process. Prints one Markdown table (medians over RUNS runs).
# Installs oha with `cargo install --locked oha` when it is missing.
# With PERF=1, also records one chainstorm run against s_server with
# `perf record -g` and prints the top symbols (where the client's time goes).
# Usage: [PERF=1] scripts/bench_peers.sh [SECONDS] [RATE] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
SECS="${1:-10}"; RATE="${2:-600}"; RUNS="${3:-3}"
command -v openssl >/dev/null || { echo "openssl is not installed" >&2; exit 2; }
command -v oha >/dev/null || cargo install --locked --quiet oha
. scripts/lib/work.sh
P="$work/pki"
HOST="a1b2c3-ats.iot.us-east-1.amazonaws.com"
cat "$P/ats-rsa-intermediate.pem" "$P/ats-rsa-cross-signed.pem" > "$work/chain.pem"
S1=29551; S2=29552
taskset -c 1 openssl s_server -accept "127.0.0.1:$S1" -cert "$P/ats-rsa-leaf.pem" -key "$P/ats-rsa-leaf.key" \
  -cert_chain "$work/chain.pem" -www -tls1_3 -quiet < /dev/null > /dev/null 2>&1 &
pids+=($!)
taskset -c 1 ./target/release/chainstorm serve --pki "$P" --listen-tls-only "127.0.0.1:$S2" --allow-no-sni --interval-s 3600 >/dev/null 2>&1 &
pids+=($!)
sleep 1
N=$(awk -v s="$SECS" -v r="$RATE" 'BEGIN { printf "%d", s * r }')
peers() { # PORT PROTOCOL: the client's scenario, at most 64 attempts in flight
  scenario "$work/s.toml" peers "127.0.0.1:$1" "$N" "$RATE" "$SECS" "protocol = \"$2\"" run.drain_timeout_s=5 arrival.max_in_flight=64
}

TIMEFORMAT='%U %S'
cpu_of() { awk '{ print $1 + $2 }' <<< "$1"; }
# Each measure prints "COUNT CPU".
m_chainstorm() { # PORT PROTOCOL
  peers "$1" "$2"
  local t; t=$( { time taskset -c 0 ./target/release/chainstorm run "$work/s.toml" --quiet --json > "$work/sum.json" 2>/dev/null; } 2>&1 )
  echo "$(python3 -c "import json; print(json.load(open('$work/sum.json'))['totals']['succeeded'])") $(cpu_of "$t")"
}
m_oha() { # PORT EXTRA...
  local port=$1; shift
  local t; t=$( { time taskset -c 0 oha -n "$N" -c 64 -q "$RATE" --disable-keepalive --no-tui --output-format json \
      --connect-to "$HOST:$port:127.0.0.1:$port" "$@" "https://$HOST:$port/" > "$work/oha.json" 2>/dev/null; } 2>&1 )
  # Every request is a new connection and a full handshake (the tls-only
  # server answers no HTTP: those requests end in an error after the
  # handshake, which still counts).
  echo "$(python3 -c "
import json
d = json.load(open('$work/oha.json'))
print(sum(d.get('statusCodeDistribution', {}).values()) + sum(d.get('errorDistribution', {}).values()))") $(cpu_of "$t")"
}
m_stime() { # PORT
  local t; t=$( { time taskset -c 0 openssl s_time -connect "127.0.0.1:$1" -new -time "$SECS" > "$work/st.out" 2>&1 < /dev/null; } 2>&1 )
  echo "$(sed -n 's/^\([0-9]*\) connections in [0-9.]*s;.*/\1/p' "$work/st.out" | head -1) $(cpu_of "$t")"
}

median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
rate() { awk '{ printf "%.0f\n", $1 / $2 }' <<< "$1"; }

declare -A R
for server in s_server serve; do
  port=$S1; [ "$server" = serve ] && port=$S2
  for run in $(seq "$RUNS"); do
    R[$server,chainstorm]+="$(rate "$(m_chainstorm "$port" tls)") "
    R[$server,tcp]+="$(rate "$(m_chainstorm "$port" tcp)") "
    R[$server,oha_insecure]+="$(rate "$(m_oha "$port" --insecure)") "
    R[$server,oha_cacert]+="$(rate "$(m_oha "$port" --cacert "$P/ats-rsa-root.pem")") "
    R[$server,s_time]+="$(rate "$(m_stime "$port")") "
  done
done

if [ "${PERF:-0}" = 1 ]; then
  peers "$S1" tls
  taskset -c 0 perf record -q -g -o "$work/perf.data" ./target/release/chainstorm run "$work/s.toml" --quiet > /dev/null 2>&1
  echo "perf: top symbols of chainstorm run (protocol tls) against s_server, self time:"
  perf report -i "$work/perf.data" --no-children --sort dso,sym --stdio -g none 2>/dev/null | grep '%' | head -25
  echo
fi

# The client's unavoidable crypto per handshake, measured now (criterion
# medians, ns): CertificateVerify RSA-PSS check + X25519 + the chain's two
# RSA signature checks.
cargo bench --quiet --bench handshake_crypto -- --warm-up-time 0.5 --measurement-time 2 "client/rsa2048_pss_verify|both/x25519" > /dev/null 2>&1
cargo bench --quiet --bench chain_validation -- --warm-up-time 0.5 --measurement-time 2 "raw_signatures/ats-rsa$" > /dev/null 2>&1
est() { python3 -c "import json; print(json.load(open('target/criterion/$1/new/estimates.json'))['median']['point_estimate'])"; }
# (criterion writes a bench named "a/b" outside a group to "a_b".)
crypto_ns=$(awk -v a="$(est client_rsa2048_pss_verify)" -v b="$(est both_x25519_keygen_and_agree)" -v c="$(est raw_signatures/ats-rsa)" 'BEGIN { print a + b + c }')

med() { tr ' ' '\n' <<< "${R[$1]}" | grep . | median; }
all() { tr ' ' '\n' <<< "${R[$1]}" | grep . | paste -sd/; }
echo "Client handshakes per client CPU-second, ${SECS} s at ${RATE}/s, ${RUNS} runs (median; all runs):"
echo
echo "| client | vs openssl s_server -www | vs chainstorm serve --listen-tls-only |"
echo "|---|---:|---:|"
for c in chainstorm oha_insecure oha_cacert s_time tcp; do
  case $c in
    chainstorm) label='`chainstorm run` (protocol tls, verifies every chain, timed)';;
    oha_insecure) label='`oha --insecure` (verifies nothing)';;
    oha_cacert) label='`oha --cacert` (verifies)';;
    s_time) label='`openssl s_time -new` (verifies nothing)';;
    tcp) label='`chainstorm run` (protocol tcp: connect, close; per connection)';;
  esac
  echo "| $label | $(med s_server,$c) ($(all s_server,$c)) | $(med serve,$c) ($(all serve,$c)) |"
done
echo
for server in s_server serve; do
  cs=$(med $server,chainstorm); oi=$(med $server,oha_insecure); oc=$(med $server,oha_cacert); tcp=$(med $server,tcp)
  awk -v s="$server" -v cs="$cs" -v oi="$oi" -v oc="$oc" -v tcp="$tcp" -v cn="$crypto_ns" 'BEGIN {
    floor_us = cn / 1000 + 1e6 / tcp; cost_us = 1e6 / cs;
    printf "vs %s: chainstorm / oha --insecure = %.2fx, / oha --cacert = %.2fx; client cost %.0f us per handshake, floor %.0f us (crypto %.0f us + TCP %.0f us) = %.2fx the floor\n",
      s, cs / oi, cs / oc, cost_us, floor_us, cn / 1000, 1e6 / tcp, cost_us / floor_us }'
done
