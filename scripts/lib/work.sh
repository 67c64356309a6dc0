# Sourced by the benchmark and demo scripts: builds the release binary (and
# the examples named in WORK_EXAMPLES), makes a work directory with a fresh
# mock PKI ($work/pki), kills every process whose pid is added to `pids`
# when the script exits, and writes the one scenario template they share.
build=(--bin chainstorm)
for ex in ${WORK_EXAMPLES:-}; do build+=(--example "$ex"); done
cargo build --release --quiet "${build[@]}"
work="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  if [ -n "${WORK_CLEANUP:-}" ]; then eval "$WORK_CLEANUP"; fi
  rm -rf "$work"
}
trap cleanup EXIT
./target/release/chainstorm pki init --out "$work/pki" >/dev/null

# scenario FILE NAME ADDRESS DEVICES RATE DURATION_S [KEY=VALUE...]
# One fleet group of ats-rsa-only devices against an external target at a
# constant arrival rate (DEVICES / RATE seconds of arrivals). Each
# KEY=VALUE goes into [[fleet]] (hold_s, keepalive_s, protocol), [run]
# (run.seed, run.drain_timeout_s) or [arrival] (arrival.max_in_flight).
scenario() {
  local file="$1" name="$2" addr="$3" devices="$4" rate="$5" dur="$6"; shift 6
  local run_extra="" fleet_extra="" arrival_extra="" kv
  for kv in "$@"; do
    case "$kv" in
      run.*) run_extra+="${kv#run.}"$'\n' ;;
      arrival.*) arrival_extra+="${kv#arrival.}"$'\n' ;;
      *) fleet_extra+="$kv"$'\n' ;;
    esac
  done
  local arrive
  arrive=$(awk -v n="$devices" -v r="$rate" 'BEGIN { printf "%.1f", n / r }')
  cat > "$file" <<EOT
[run]
name = "$name"
duration_s = $dur
output_dir = "$work/results"
${run_extra}[target]
kind = "external"
addresses = ["$addr"]
pki = "$work/pki"
[[fleet]]
name = "fleet"
devices = $devices
profile = "ats-rsa-only"
endpoint = "ats"
${fleet_extra}[arrival]
mode = "rate"
start_rate = $rate
stages = [{ to_rate = $rate, over_s = $arrive }]
${arrival_extra}
EOT
}
