#!/usr/bin/env bash
# Builds every cargo-fuzz target and runs each for a fixed number of runs
# from a copy of its committed corpus (the copy keeps new inputs out of
# the repository). RUNS (default 20000) and MAX_S (default 60 s per target)
# bound it. Installs cargo-fuzz when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-20000}
MAX_S=${MAX_S:-60}
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1
cargo fuzz build -s none
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for t in server_handshake mqtt_decode chain_verify scenario_parse clienthello_roundtrip record_count; do
    cp -r "fuzz/corpus/$t" "$work/$t"
    if ! cargo fuzz run -s none "$t" "$work/$t" -- -runs="$RUNS" -max_total_time="$MAX_S" >"$work/$t.log" 2>&1; then
        tail -40 "$work/$t.log"
        echo "fuzz $t: FAILED (crash input under fuzz/artifacts/$t/)"
        exit 1
    fi
    echo "fuzz $t: $(grep -E '^Done [0-9]+ runs' "$work/$t.log" | tail -1)"
done
