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
# Let all four join before the orders arrive, so both instances of each service own partitions.
python3 wait_for_groups.py invoicing shipping
python3 order_service.py 30
for pid in "${pids[@]}"; do wait "$pid"; done
cat "$work"/*.out
for service in invoicing shipping; do
    rows="$(python3 -c "import sqlite3; print(sqlite3.connect('$work/$service.db').execute('SELECT COUNT(*), COUNT(DISTINCT order_id), COUNT(DISTINCT instance) FROM work').fetchone())")"
    echo "$service: (work rows, distinct orders, instances) = $rows"
    [ "$rows" = "(30, 30, 2)" ]
done
echo "orders: OK"
