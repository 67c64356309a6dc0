#!/usr/bin/env bash
# 100,000 held MQTT devices on this 2-core machine: 6 client shards x
# 16,667 against 7 `serve` processes (~14,300 connections each, under the
# 20,000 open-files limit), keep alive 30 s, held >= 60 s after the last
# arrival (scripts/demo_held.sh does the work).
# Usage: scripts/demo_100k.sh [DEVICES_PER_SHARD] [RATE_PER_SHARD] [HOLD_S]
exec "$(dirname "$0")/demo_held.sh" 6 7 "${1:-16667}" "${2:-120}" "${3:-70}"
