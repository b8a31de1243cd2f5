#!/usr/bin/env bash
# Two instances each of invoicing and shipping; every order handled exactly once per service.
set -euo pipefail
cd "$(dirname "$0")"
work="$(mktemp -d)"
server="${STROM_SERVER:-http://localhost:8080}"
curl -sf -X POST "$server/v1/topics" -H 'content-type: application/json' \
     -d '{"name":"orders","partitions":3}' >/dev/null
pids=()
for service in invoicing shipping; do
    for instance in 1 2; do
        python3 worker.py "$service" "$instance" "$work/$service.db" 30 > "$work/$service-$instance.out" &
        pids+=($!)
    done
done
# Let all four join before the orders arrive, so both instances of a service get partitions.
for _ in $(seq 1 100); do
    members="$(curl -sf "$server/v1/groups/invoicing" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["members"]))' 2>/dev/null || echo 0)"
    members2="$(curl -sf "$server/v1/groups/shipping" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["members"]))' 2>/dev/null || echo 0)"
    [ "$members" = 2 ] && [ "$members2" = 2 ] && break
    sleep 0.3
done
python3 order_service.py 30
for pid in "${pids[@]}"; do wait "$pid"; done
cat "$work"/*.out
for service in invoicing shipping; do
    rows="$(python3 -c "import sqlite3; print(sqlite3.connect('$work/$service.db').execute('SELECT COUNT(*), COUNT(DISTINCT order_id), COUNT(DISTINCT instance) FROM work').fetchone())")"
    echo "$service: (work rows, distinct orders, instances) = $rows"
    [ "$rows" = "(30, 30, 2)" ]
done
echo "orders: OK"
