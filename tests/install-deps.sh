#!/usr/bin/env bash
# Installs what the end-to-end suites need: real Kafka clients (kcat, confluent-kafka with its
# bundled librdkafka, kafka-python with its lz4 and snappy codecs, kafkajs), pytest, curl,
# schemathesis, Burrow with Debian's ZooKeeper, chromium for the browser tests (CORS, web console), prlimit (util-linux) for the tests that cap
# a server's memory, promtool (Debian's prometheus package) to check the /metrics exposition, Go
# with Debian's Sarama (tests/e2e/test_kafka_sarama.py), and what librdkafka's own test suite
# needs to build (tests/rdkafka: a C/C++ toolchain, OpenSSL, zlib, zstd and lz4 headers).
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
# The browser tests (test_http_auth.py's CORS test, test_console.py's web console) drive Debian's
# chromium with playwright-core and axe-core (tests/e2e/node/package.json).
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
# The Go client: Debian's Sarama 1.22.1, built with GO111MODULE=off against /usr/share/gocode.
command -v go >/dev/null 2>&1 || need_apt+=(golang-go)
[ -d /usr/share/gocode/src/github.com/Shopify/sarama ] || need_apt+=(golang-github-shopify-sarama-dev)
# Burrow 1.2.1 and the ZooKeeper (with its JRE) it coordinates through (tests/e2e/test_burrow.py).
command -v Burrow >/dev/null 2>&1 || need_apt+=(burrow)
[ -f /usr/share/java/zookeeper.jar ] || need_apt+=(zookeeper)
[ -f /usr/share/java/slf4j-simple.jar ] || need_apt+=(libslf4j-java)
# librdkafka and its test-runner (tests/rdkafka/build.sh).
for pkg in build-essential pkg-config libssl-dev zlib1g-dev libzstd-dev liblz4-dev; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
done

# The packaging test builds a .deb (dpkg-deb) and verifies its systemd unit (systemd-analyze).
command -v dpkg-deb >/dev/null 2>&1 || need_apt+=(dpkg)
command -v systemd-analyze >/dev/null 2>&1 || need_apt+=(systemd)
if [ ${#need_apt[@]} -gt 0 ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
python3 -m pip install -q --disable-pip-version-check -r "$here/e2e/requirements.txt"
# A kafka-python that uses fetch sessions (KIP-227, since 2.1), apart from the suite's 2.0.2:
# tests/e2e/test_kafka_fetch_sessions.py runs its consumer with this directory on PYTHONPATH.
python3 -m pip install -q --disable-pip-version-check --no-deps \
  --target "$here/e2e/.kafka-python-sessions" kafka-python==2.3.3
if [ -f "$here/e2e/node/package.json" ]; then
  (cd "$here/e2e/node" && npm install --silent --no-audit --no-fund)
fi
