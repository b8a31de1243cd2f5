#!/usr/bin/env bash
# The till sells while the shop is down; the shop catches up exactly, twice.
set -euo pipefail
cd "$(dirname "$0")"
state="$(mktemp -d)/shop-state.json"
python3 shop.py "$state"                      # shop up, nothing sold yet
python3 till.py morning 5                     # shop down, till sells
out="$(python3 shop.py "$state")"; echo "$out"
[[ "$out" == *"learnt 5 new voucher(s), knows 5"* ]]
python3 till.py noon 3                        # shop down again
out="$(python3 shop.py "$state")"; echo "$out"
[[ "$out" == *"learnt 3 new voucher(s), knows 8"* ]]
echo "vouchers: OK"
