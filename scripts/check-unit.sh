#!/usr/bin/env bash
# Verifies the systemd unit and keeps its sandbox tight: exposure score must stay at or below 2.0.
set -euo pipefail
unit="$(dirname "$0")/../systemd/quota-pilot.service"
systemd-analyze verify "$unit"
score=$(systemd-analyze security --offline=yes "$unit" 2>/dev/null | sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p')
echo "exposure score: ${score:-unknown}"
[ -n "$score" ] || { echo "could not read the exposure score"; exit 1; }
awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }' || { echo "exposure score $score is above 2.0"; exit 1; }
