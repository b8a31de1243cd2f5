#!/usr/bin/env bash
# Two WebSocket clients and an SSE display in one room; the topic is created on first use.
set -euo pipefail
cd "$(dirname "$0")"
python3 chat.py
