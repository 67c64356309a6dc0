#!/usr/bin/env bash
# Regenerates docs/report.png: a short quickstart run, its report, and a
# headless Chromium screenshot of report.html (README shows the picture).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/work.sh
./target/release/chainstorm run scenarios/quickstart.toml --quiet --no-tui --duration-s 12 --output "$work/results" >/dev/null
run="$(ls -d "$work"/results/*)"
./target/release/chainstorm report "$run" >/dev/null
mkdir -p docs
chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
  --disable-component-update --disable-sync --no-first-run --hide-scrollbars \
  --window-size=1100,3900 --user-data-dir="$work/chromium" \
  --screenshot="$PWD/docs/report.png" "file://$run/report.html" >/dev/null 2>&1
echo "wrote docs/report.png"
