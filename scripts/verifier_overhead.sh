#!/usr/bin/env bash
# Instructions per chain validation, bare webpki (what rustls' own verifier
# does) vs chainstorm's TimedVerifier (the same + distrust policies + timing
# + probe), counted by callgrind inside the measured loop only.
# Usage: scripts/verifier_overhead.sh [N]   (needs valgrind)
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-200}"
command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install valgrind)" >&2; exit 2; }
WORK_EXAMPLES=verify_cost . scripts/lib/work.sh

count() { # mode profile chain -> instructions per validation
  valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" --toggle-collect='*measured_*' \
    ./target/release/examples/verify_cost "$work/pki" "$1" "$2" "$3" "$N" 2>&1 \
    | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}

echo "| profile | chain | bare webpki (instr) | timed verifier (instr) | overhead |"
echo "|---|---|---:|---:|---:|"
for case in dual:ats-rsa dual:legacy dual:ats-ecc starfield-only:ats-rsa-xsign \
            jdk-8u212:ats-rsa jdk-8u212:legacy chrome-70:ats-rsa chrome-70:legacy \
            firefox-64:ats-rsa firefox-64:legacy; do
  p="${case%%:*}"; c="${case##*:}"
  b=$(count bare "$p" "$c"); t=$(count timed "$p" "$c")
  awk -v p="$p" -v c="$c" -v b="$b" -v t="$t" -v n="$N" 'BEGIN {
    printf "| %s | %s | %.0f | %.0f | %+.2f%% |\n", p, c, b / n, t / n, (t - b) * 100 / b }'
done
