#!/usr/bin/env bash
# A service cannot process some events: they land in the dead-letter topic after retries, an
# alert fires, the operator fixes the service and redrives; every order is handled once.
set -euo pipefail
cd "$(dirname "$0")"
strom="${STROM_BIN:-strom}"
work="$(mktemp -d)"
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
service=""
trap '[[ -n "$service" ]] && kill "$service" 2>/dev/null; true' EXIT
start_service() {                                   # labels.py [--fixed], waits until it listens
  rm -f "$work/ready"
  python3 labels.py --port "$port" --state "$work/labels.json" --ready "$work/ready" "$@" &
  service=$!
  for _ in $(seq 100); do [[ -e "$work/ready" ]] && return; sleep 0.1; done
  echo "the label service did not start"; exit 1
}

"$strom" topic create paid-orders --partitions 2 >/dev/null
created="$("$strom" webhook create labels --url "http://127.0.0.1:$port/labels" \
  --topic paid-orders --from-beginning --retry-schedule-ms 0,200,500 --json)"
export WEBHOOK_SECRET="$(python3 -c 'import json, sys; print(json.loads(sys.argv[1])["secret"])' "$created")"
start_service                                       # version 1: no carrier for Iceland
python3 shop.py 8                                   # o-4 and o-8 ship to Iceland
out="$(python3 alert.py labels 2)"; echo "$out"     # both dead-lettered after 3 attempts
[[ "$out" == *"labels has 2 dead letter(s)"* && "$out" == *"order o-4"* && "$out" == *"order o-8"* ]]
[[ "$out" == *"failed 3 times, last HTTP 422: no carrier for country IS"* ]]
out="$(python3 report.py "$work/labels.json" 6)"; echo "$out"
[[ "$out" == "report: 6 label(s): o-1 o-2 o-3 o-5 o-6 o-7" ]]

kill "$service"; wait "$service" 2>/dev/null || true
start_service --fixed                               # version 2 deployed
out="$("$strom" webhook redrive labels)"; echo "$out"
[[ "$out" == "delivered 2, produced 0, failed 0, not found 0" ]]
out="$(python3 report.py "$work/labels.json" 8)"; echo "$out"
[[ "$out" == "report: 8 label(s): o-1 o-2 o-3 o-4 o-5 o-6 o-7 o-8" ]]
echo "deadletters: OK"
