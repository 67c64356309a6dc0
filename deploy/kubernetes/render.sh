#!/usr/bin/env bash
# Renders the manifests of one distributed run, so shards, rates, the
# scenario, the image and the storage class are parameters, not hand edits.
#
#   deploy/kubernetes/render.sh run   [options] > run.yaml     # ConfigMap, PKI Secret, PVC, shards Job
#   deploy/kubernetes/render.sh merge [options] > merge.yaml   # merge Job (its exit code is the verdict)
#   deploy/kubernetes/render.sh collect [options] > collect.yaml  # a pod to kubectl cp the results from
#   deploy/kubernetes/render.sh endpoint [options] > endpoint.yaml  # the mock endpoint (Deployment + Service)
#   deploy/kubernetes/render.sh monitor [options] > monitor.yaml    # PodMonitor for the Prometheus Operator
#
# Options (defaults in brackets):
#   --run-id ID         shared by every shard and the merge [chainstorm-<UTC time>]
#   --shards N          pods, one shard each [4]
#   --max-rate R        per-shard arrival-rate ceiling, /s (remote targets need it) [200]
#   --devices N         devices in the whole fleet, for sizing memory [10000]
#   --scenario FILE     the scenario every shard runs [deploy/kubernetes/k8s-fleet.toml]
#   --pki DIR           a `chainstorm pki init` directory, shipped as a Secret [none: the pods' own cache]
#   --image IMAGE       [chainstorm:0.1.0]
#   --storage-class SC  for the results volume (ReadWriteMany) [the cluster default]
#   --namespace NS      [default]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
what="${1:-}"; shift || true
run_id="chainstorm-$(date -u +%Y%m%dt%H%M%S)"
shards=4; max_rate=200; devices=10000; scenario="$here/k8s-fleet.toml"
pki=""; image="chainstorm:0.1.0"; storage_class=""; namespace="default"
while (($#)); do
  case "$1" in
    --run-id) run_id="$2"; shift 2 ;;
    --shards) shards="$2"; shift 2 ;;
    --max-rate) max_rate="$2"; shift 2 ;;
    --devices) devices="$2"; shift 2 ;;
    --scenario) scenario="$2"; shift 2 ;;
    --pki) pki="$2"; shift 2 ;;
    --image) image="$2"; shift 2 ;;
    --storage-class) storage_class="$2"; shift 2 ;;
    --namespace) namespace="$2"; shift 2 ;;
    *) echo "render.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
case "$shards" in ''|*[!0-9]*|0) echo "render.sh: --shards must be a whole number >= 1" >&2; exit 2 ;; esac
case "$devices" in ''|*[!0-9]*) echo "render.sh: --devices must be a whole number" >&2; exit 2 ;; esac
[[ "$run_id" =~ ^[a-z0-9]([-a-z0-9]{0,40}[a-z0-9])?$ ]] || {
  echo "render.sh: --run-id must be a DNS label (lowercase letters, digits, '-'), at most 42 characters" >&2; exit 2; }

# Sizing from the measured figures (deploy/kubernetes/README.md): ~14 KiB
# per held device plus ~20 MiB base (doubled for headroom); ~0.4 CPU per
# 1,000 handshakes/s plus a tenth of a core.
per_shard=$(( (devices + shards - 1) / shards ))
mem_mi=$(( (per_shard * 14 * 2) / 1024 + 64 ))
cpu_m=$(awk -v r="$max_rate" 'BEGIN { printf "%d", r * 0.4 + 100 }')

fill() {
  sed -e "s|__RUN_ID__|$run_id|g" -e "s|__SHARDS__|$shards|g" -e "s|__MAX_RATE__|$max_rate|g" \
      -e "s|__IMAGE__|$image|g" -e "s|__NAMESPACE__|$namespace|g" \
      -e "s|__MEMORY__|${mem_mi}Mi|g" -e "s|__MEMORY_LIMIT__|$((mem_mi * 2))Mi|g" -e "s|__CPU__|${cpu_m}m|g" \
      "$here/templates/$1"
}
storage() {
  if [ -n "$storage_class" ]; then echo "  storageClassName: $storage_class"; fi
}

case "$what" in
  run)
    echo "# chainstorm run $run_id: $shards shards (rendered by deploy/kubernetes/render.sh)"
    fill scenario-configmap.yaml
    sed 's/^/    /' "$scenario"
    if [ -n "$pki" ]; then
      echo "---"
      fill pki-secret.yaml
      for f in "$pki"/*.pem "$pki"/*.key "$pki"/manifest.json; do
        [ -f "$f" ] || continue
        printf '  %s: %s\n' "$(basename "$f")" "$(base64 -w0 < "$f")"
      done
    fi
    echo "---"
    fill results-pvc.yaml
    storage
    echo "---"
    if [ -n "$pki" ]; then fill shards-job.yaml; else fill shards-job.yaml | sed '/# pki-only/d'; fi
    ;;
  merge) fill merge-job.yaml ;;
  collect) fill collect-pod.yaml ;;
  endpoint) fill endpoint.yaml ;;
  monitor) fill podmonitor.yaml ;;
  *) echo "render.sh: usage: render.sh run|merge|collect|endpoint|monitor [options]" >&2; exit 2 ;;
esac
