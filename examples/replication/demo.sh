#!/usr/bin/env bash
# The replica built from the feed equals the CRM's view, deletes included.
set -euo pipefail
cd "$(dirname "$0")"
server="${STROM_SERVER:-http://localhost:8080}"
curl -sf -X POST "$server/v1/topics" -H 'content-type: application/json' \
     -d '{"name":"customers","partitions":1,"configs":{"cleanup.policy":"compact"}}' >/dev/null
crm="$(python3 crm.py)"
replica="$(python3 billing_replica.py)"
echo "crm:     $crm"
echo "replica: $replica"
[ "$crm" = "$replica" ]
[[ "$replica" != *'"c3"'* && "$replica" != *'"c5"'* ]]
echo "replication: OK"
