#!/usr/bin/env bash
# 40,000 held MQTT devices: 4 client shards x 10,000 against 3 `serve`
# processes (scripts/demo_held.sh does the work).
# Usage: scripts/demo_40k.sh [DEVICES_PER_SHARD] [RATE_PER_SHARD] [HOLD_S]
exec "$(dirname "$0")/demo_held.sh" 4 3 "${1:-10000}" "${2:-120}" "${3:-40}"
