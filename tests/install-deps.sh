#!/usr/bin/env bash
# Installs what the end-to-end suites need: real Kafka clients (kcat, confluent-kafka with its
# bundled librdkafka, kafka-python with its lz4 and snappy codecs, kafkajs), pytest, curl,
# schemathesis, chromium for the browser CORS test, prlimit (util-linux) for the tests that cap
# a server's memory, and promtool (Debian's prometheus package) to check the /metrics exposition.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
need_apt=()
command -v kcat >/dev/null 2>&1 || need_apt+=(kcat)
command -v curl >/dev/null 2>&1 || need_apt+=(curl)
command -v prlimit >/dev/null 2>&1 || need_apt+=(util-linux)
command -v promtool >/dev/null 2>&1 || need_apt+=(prometheus)
# xmllint checks the Atom documents (test_http_atom.py).
command -v xmllint >/dev/null 2>&1 || need_apt+=(libxml2-utils)
# kafkajs and playwright-core (tests/e2e/node) need node and npm.
command -v npm >/dev/null 2>&1 || need_apt+=(nodejs npm)
# The browser CORS test (test_http_auth.py) drives Debian's chromium with playwright-core.
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
if [ ${#need_apt[@]} -gt 0 ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
python3 -m pip install -q --disable-pip-version-check -r "$here/e2e/requirements.txt"
if [ -f "$here/e2e/node/package.json" ]; then
  (cd "$here/e2e/node" && npm install --silent --no-audit --no-fund)
fi
