#!/usr/bin/env bash
# CPU cost of the TUI: the same run (quickstart, 20 s) under tmux with the
# TUI and with --no-tui; the difference in process CPU (user+sys) over the
# wall time is the UI's share of one core. Usage: scripts/tui_cpu.sh
set -euo pipefail
cd "$(dirname "$0")/.."
WORK_CLEANUP='tmux kill-session -t cs-tui-cpu 2>/dev/null || true'
. scripts/lib/work.sh
for mode in tui headless; do
  flag=""; [ "$mode" = headless ] && flag="--no-tui --quiet"
  tmux new-session -d -s cs-tui-cpu -x 160 -y 48 \
    "bash -c 'TIMEFORMAT=\"%U %S %R\"; { time ./target/release/chainstorm run scenarios/quickstart.toml --duration-s 20 --output $work/r $flag > /dev/null; } 2> $work/$mode.time'"
  ui_ticks=0
  while tmux has-session -t cs-tui-cpu 2>/dev/null; do
    pid=$(pgrep -f "^./target/release/chainstorm run scenarios/quickstart.toml" | head -1 || true)
    if [ -n "$pid" ] && [ -r "/proc/$pid/task/$pid/stat" ]; then
      # The UI runs on the main thread (the run has its own threads).
      t=$(awk '{print $14 + $15}' "/proc/$pid/task/$pid/stat" 2>/dev/null || echo 0)
      [ -n "$t" ] && ui_ticks=$t
    fi
    sleep 0.5
  done
  echo "$ui_ticks" > "$work/$mode.main"
done
awk -v t="$(cat "$work/tui.main")" -v c="$(getconf CLK_TCK)" 'BEGIN {
  printf "UI (main) thread: %.2f s CPU over the 20 s run = %.2f %% of one core\n", t / c, 100 * t / c / 21.1 }'
read -r tu ts tr < <(tail -1 "$work/tui.time")
read -r hu hs hr < <(tail -1 "$work/headless.time")
awk -v tu="$tu" -v ts="$ts" -v tr="$tr" -v hu="$hu" -v hs="$hs" -v hr="$hr" 'BEGIN {
  printf "with TUI: %.2f s CPU over %.1f s; headless: %.2f s CPU over %.1f s\n", tu + ts, tr, hu + hs, hr;
  printf "TUI cost: %.2f s CPU = %.1f %% of one core\n", (tu + ts) - (hu + hs), 100 * ((tu + ts) - (hu + hs)) / tr }'
