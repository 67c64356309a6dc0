#!/usr/bin/env bash
# What link emulation costs the client. (1) HELD devices held on the
# nb-iot link against `chainstorm serve` in a second process: client RSS per
# held device at the peak and the run's scheduler lag (as soak_10k.sh does
# on loopback). (2) Client CPU per TLS handshake, PAIRS interleaved pairs
# (loopback, then an emulated link with rtt_ms = 20): user+sys CPU of the
# client process over the handshakes it completed, ratio per pair, median.
# Usage: scripts/link_cost.sh [HELD] [PAIRS] [HANDSHAKES]
set -euo pipefail
cd "$(dirname "$0")/.."
HELD="${1:-10000}"; PAIRS="${2:-3}"; HS="${3:-2000}"
. scripts/lib/work.sh
./target/release/chainstorm serve --pki "$work/pki" --listen 127.0.0.1:28887 --interval-s 3600 --handshake-timeout-s 300 >/dev/null 2>&1 &
spid=$!; pids+=("$spid")
sleep 1
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

# (1) Held on nb-iot: ~4 s per connect (837 ms RTT, 26 kbit/s down).
RATE=400
HOLD=30
DUR=$(awk -v n="$HELD" -v r="$RATE" -v h="$HOLD" 'BEGIN { printf "%.0f", n / r + h + 10 }')
scenario "$work/held.toml" held 127.0.0.1:28887 "$HELD" "$RATE" "$DUR" 'link = "nb-iot"' keepalive_s=60 "hold_s=$DUR" \
  tls_timeout_s=120 mqtt_timeout_s=120 dial_timeout_s=60 run.drain_timeout_s=30
./target/release/chainstorm run "$work/held.toml" --quiet --json > "$work/held.json" 2>"$work/err" &
cpid=$!
sleep 0.5
c_base=$(rss "$cpid"); c_peak=0
while kill -0 "$cpid" 2>/dev/null; do
  c=$(rss "$cpid"); [ "$c" -gt "$c_peak" ] && c_peak=$c
  sleep 1
done
wait "$cpid" || true
python3 - "$work/held.json" "$HELD" "$c_base" "$c_peak" <<'PY'
import json, sys
s = json.load(open(sys.argv[1])); n = int(sys.argv[2]); cb, cp = int(sys.argv[3]), int(sys.argv[4])
t = s["totals"]; p = {k["phase"]: k for k in s["phases"]}
print(f"held on nb-iot: {n} devices, {t['succeeded']} connected, {t['failed']} failed, {t['hold_failures']} hold failures")
print(f"client RSS {cb} KiB at start, {cp} KiB peak: {(cp - cb) / n:.1f} KiB per held device")
print(f"scheduler lag p99 {p['scheduler_lag']['p99']/1e3:.0f} us; connect_total p50 {p['connect_total']['p50']/1e9:.2f} s")
PY

# (2) CPU per handshake, loopback vs emulated, interleaved.
cpu_run() { # LINK_LINE -> "handshakes cpu_seconds"
  scenario "$work/cpu.toml" cpu 127.0.0.1:28887 "$HS" 400 "$(awk -v n="$HS" 'BEGIN { printf "%.0f", n / 400 + 2 }')" \
    'protocol = "tls"' "$1" run.drain_timeout_s=10 arrival.max_in_flight=64
  local t; t=$( { TIMEFORMAT='%U %S'; time ./target/release/chainstorm run "$work/cpu.toml" --quiet --json > "$work/cpu.json" 2>/dev/null; } 2>&1 )
  echo "$(python3 -c "import json; print(json.load(open('$work/cpu.json'))['totals']['succeeded'])") $(awk '{ print $1 + $2 }' <<< "$t")"
}
ratios=()
for i in $(seq "$PAIRS"); do
  read -r na ca < <(cpu_run '# loopback')
  read -r nb cb < <(cpu_run '[fleet.link]
rtt_ms = 20')
  r=$(awk -v na="$na" -v ca="$ca" -v nb="$nb" -v cb="$cb" 'BEGIN { printf "%.3f", (cb / nb) / (ca / na) }')
  awk -v i="$i" -v na="$na" -v ca="$ca" -v nb="$nb" -v cb="$cb" -v r="$r" 'BEGIN {
    printf "pair %d: loopback %d handshakes %.0f us CPU each; rtt 20 ms %d handshakes %.0f us CPU each; ratio %s\n", i, na, ca / na * 1e6, nb, cb / nb * 1e6, r }'
  ratios+=("$r")
done
printf '%s\n' "${ratios[@]}" | sort -n | awk '{ v[NR] = $1 } END { printf "client CPU per handshake, emulated / loopback: median %s (min %s, max %s) over %d pairs\n", v[int((NR + 1) / 2)], v[1], v[NR], NR }'
