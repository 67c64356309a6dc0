# Sourced by the benchmark and demo scripts: builds the release binary,
# makes a work directory with a fresh mock PKI ($work/pki), and kills every
# process whose pid is added to `pids` when the script exits.
cargo build --release --quiet --bin chainstorm
work="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
./target/release/chainstorm pki init --out "$work/pki" >/dev/null
