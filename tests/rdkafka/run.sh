#!/usr/bin/env bash
# librdkafka's own test suite (its tests/ directory) against the real strom binary.
#
# Builds librdkafka and its test-runner once (build.sh, cached outside the repository), then per
# scenario starts strom on loopback ports with a fresh data directory, writes the suite's
# test.conf and runs the tests listed in tests.txt for that scenario:
#   default       auto-create on, 4 partitions per auto-created topic (what the suite expects)
#   noautocreate  auto-create off
#   sasl_ssl      as default, but over a SASL_SSL listener (SCRAM-SHA-512, certificates made
#                 at test time)
#   consumer      as default, with TEST_CONSUMER_GROUP_PROTOCOL=consumer: the suite's group
#                 tests use KIP-848's consumer group protocol
# Each listed test must PASS in the runner's report (check.py): a test that is skipped, fails
# or never reports is a failure of this script. The runner runs every test of a number (all
# 0045_* together); a third column names a sub-test to run alone (the runner's SUBTESTS, a
# substring of the sub-test's "function:line: title"): such a test runs in a runner of its own
# and must also print that sub-test's PASS line. excluded.txt names the suite's other broker
# tests with the reason each one does not run. See README.md.
#
# Environment:
#   STROM_BIN              strom binary [default: $CARGO_TARGET_DIR or ./target, release]
#   STROM_RDKAFKA_MODE     full (default) or quick (the suite's -Q: fewer messages and rounds)
#   STROM_RDKAFKA_TESTS    comma-separated test names to run instead of tests.txt, each
#                          optionally :<scenario>[:<sub-test>] (e.g. 0001_multiobj:sasl_ssl,
#                          0045_resubscribe_with_regex:consumer:do_test_resubscribe_with_regex)
#   STROM_RDKAFKA_PAR      tests run in parallel [default: 4]
#   STROM_CACHE_DIR        build cache [default: ~/.cache/strom]
# `run.sh --build-only` builds (or finds) librdkafka and its test-runner and stops there.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# The newest npm package that ships librdkafka with its tests/ (node-rdkafka 3.6.1 has 2.12).
rdk_version=2.15.1
rdk_package=@confluentinc/kafka-javascript@1.10.1
cache=${STROM_CACHE_DIR:-$HOME/.cache/strom}/librdkafka-$rdk_version
strom_bin=${STROM_BIN:-${CARGO_TARGET_DIR:-$root/target}/release/strom}
mode=${STROM_RDKAFKA_MODE:-full}
par=${STROM_RDKAFKA_PAR:-4}
# Tests that take minutes; each scenario runs them in a runner of their own (run_scenario).
long_tests="0113_cooperative_rebalance"
# Tests the suite itself skips when CI is set (its latency bounds are not reliable on a shared
# machine); under CI they are left out of the list, said so, rather than reported as skipped.
ci_skipped="0055_producer_latency"
# The broker version the suite assumes: it gates features and expectations on it.
export TEST_KAFKA_VERSION=4.0.0

"$here/build.sh" "$cache" "$rdk_package" "$rdk_version"
[ "${1:-}" != --build-only ] || exit 0
[ -x "$strom_bin" ] || { echo "strom binary not found: $strom_bin (cargo build --release -p strom)" >&2; exit 1; }

# "name scenario [sub-test]" lines without comments.
entries() { sed -e 's/#.*//' "$1" | awk 'NF { print $1, ($2 == "" ? "default" : $2), $3 }'; }
both=$(comm -12 <(entries "$here/tests.txt" | cut -d' ' -f1 | sort) \
  <(sed -e 's/#.*//' "$here/excluded.txt" | awk 'NF { print $1 }' | sort))
[ -z "$both" ] || { echo "listed as run and as excluded: $both" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/strom-rdkafka.XXXXXX")
strom_pid=""
stop_strom() {
  if [ -n "$strom_pid" ]; then kill "$strom_pid" 2>/dev/null || true; wait "$strom_pid" 2>/dev/null || true; fi
  strom_pid=""
}
trap 'stop_strom; rm -rf "$work"' EXIT
if [ -n "${STROM_RDKAFKA_TESTS:-}" ]; then
  tr ',' '\n' <<<"$STROM_RDKAFKA_TESTS" | awk -F: 'NF { print $1, ($2 == "" ? "default" : $2), $3 }' >"$work/all.txt"
else entries "$here/tests.txt" >"$work/all.txt"; fi
if [ -n "${CI:-}" ]; then
  for t in $ci_skipped; do
    if grep -q "^$t " "$work/all.txt"; then
      echo "== $t not run: CI is set, and librdkafka skips its timing checks on CI (run without CI to include it)"
      grep -v "^$t " "$work/all.txt" >"$work/all.tmp" || true
      mv "$work/all.tmp" "$work/all.txt"
    fi
  done
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
start_strom() { # <dir> <auto-create> [sasl_ssl]: starts strom and writes <dir>/test.conf
  local port http
  port=$(free_port) http=$(free_port)
  # Kafka's default group.initial.rebalance.delay.ms (Strom's is 0): the suite's group tests
  # expect members that join together to land in one generation.
  echo "group_initial_rebalance_delay_ms = 3000" >"$1/strom.toml"
  if [ "${3:-}" = sasl_ssl ]; then
    # A SASL_SSL listener with certificates made now (tests/e2e/tls_support.py) and a SCRAM
    # user; the suite connects only to it. The PLAINTEXT listener stays for nothing.
    local sasl_port
    sasl_port=$(free_port)
    python3 - "$1/pki" "$root/tests/e2e" <<'PY'
import sys
from pathlib import Path
sys.path.insert(0, sys.argv[2])
from tls_support import Pki
Pki(Path(sys.argv[1]))
PY
    cat >>"$1/strom.toml" <<TOML
[[kafka_listeners]]
name = "SASL_SSL"
protocol = "SASL_SSL"
listen = "127.0.0.1:$sasl_port"
ssl = { cert_file = "$1/pki/server.pem", key_file = "$1/pki/server.key" }
TOML
    export STROM_BOOTSTRAP_USER="rdkafka:rdkafka-secret:SCRAM-SHA-512"
  fi
  STROM_LOG=${STROM_LOG:-warn} "$strom_bin" serve --data-dir "$1/data" \
    --kafka-listen "127.0.0.1:$port" --http-listen "127.0.0.1:$http" \
    --default-partitions 4 --auto-create-topics "$2" --config "$1/strom.toml" >"$1/strom.log" 2>&1 &
  strom_pid=$!
  unset STROM_BOOTSTRAP_USER
  [ "${3:-}" = sasl_ssl ] && port=$sasl_port
  for _ in $(seq 1 300); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    kill -0 "$strom_pid" 2>/dev/null || { cat "$1/strom.log" >&2; echo "strom exited" >&2; exit 1; }
    sleep 0.1
  done
  echo "bootstrap.servers=127.0.0.1:$port" >"$1/test.conf"
  if [ "${3:-}" = sasl_ssl ]; then
    cat >>"$1/test.conf" <<CONF
security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-512
sasl.username=rdkafka
sasl.password=rdkafka-secret
ssl.ca.location=$1/pki/ca.pem
CONF
  fi
}

# Runs the test-runner on the names in <list> against <dir>'s server; writes <out>.report.json
# and <out>.log. Usage: run_suite <dir> <scenario> <list> <out> <parallel> [<sub-test>]
run_suite() {
  local tests args
  # The runner matches TESTS against test numbers.
  tests=$(cut -c1-4 "$3" | sort -u | paste -sd, -)
  # The suite knows the scenarios default and noautocreate; sasl_ssl is the default one over
  # SASL_SSL, consumer the default one with KIP-848 consumer groups.
  args=(-L "-p$5" -s "$(case "$2" in sasl_ssl | consumer) echo default ;; *) echo "$2" ;; esac)")
  local protocol=()
  [ "$2" = consumer ] && protocol=(TEST_CONSUMER_GROUP_PROTOCOL=consumer)
  [ -n "${6:-}" ] && protocol+=("SUBTESTS=$6")
  [ "$mode" = quick ] && args+=(-Q)
  (cd "$cache/tests" && LD_LIBRARY_PATH="../src:../src-cpp" RDKAFKA_TEST_CONF="$1/test.conf" \
    TESTS="$tests" TEST_REPORT="$4.report.json" env "${protocol[@]}" ./test-runner "${args[@]}") >"$4.log" 2>&1
}

# A long test that fails runs once more in a runner of its own (the other runners go on), and
# must pass then; the first run's failing lines are printed with the results. Why: 0113's
# sub-tests count rebalance callbacks and wait until the counts are the ones they expect. On a
# busy machine (CI runs the end-to-end suite beside this one on two cores) a follower's SyncGroup
# can reach the coordinator after the leader has already rejoined for the next generation; it is
# answered REBALANCE_IN_PROGRESS, as Kafka answers it, the follower misses one (empty)
# assignment, and the test waits for a count that never comes until it times out. Seen once in
# CI; reproduced with competing processes about once in ten runs, never in 33 with them at a
# lower priority (docs/kafka.md, "librdkafka's test suite").
run_long() { # <dir> <scenario>
  run_suite "$1" "$2" "$1/long.txt" "$1/long" 1 || true
  python3 "$here/check.py" "$1/long.txt" "$1/long.report.json" >/dev/null 2>&1 && return 0
  {
    echo "== scenario $2: $(paste -sd' ' "$1/long.txt") failed on its first run, and ran once more:"
    grep -aE '### Test' "$1/long.log" | tail -5
  } >"$1/long.first"
  mv "$1/long.log" "$1/long.first.log"
  run_suite "$1" "$2" "$1/long.txt" "$1/long" 1
}

run_scenario() { # <scenario> <auto-create> [sasl_ssl]; non-zero if a listed test did not pass
  local dir="$work/$1" status=0 long_pid="" part
  awk -v s="$1" '$2 == s && $3 == "" { print $1 }' "$work/all.txt" >"$work/$1.txt"
  awk -v s="$1" '$2 == s && $3 != "" { print $1, $3 }' "$work/all.txt" >"$work/$1.single.txt"
  [ -s "$work/$1.txt" ] || [ -s "$work/$1.single.txt" ] || return 0
  # A runner runs every test of a number: a number with a sub-test entry has only such entries.
  local mixed
  mixed=$(comm -12 <(cut -c1-4 "$work/$1.txt" | sort -u) <(cut -c1-4 "$work/$1.single.txt" | sort -u))
  [ -z "$mixed" ] || { echo "scenario $1: tests $mixed listed with and without a sub-test" >&2; return 1; }
  mkdir -p "$dir"
  start_strom "$dir" "$2" "${3:-}"
  echo "== scenario $1: $(cat "$work/$1.txt" "$work/$1.single.txt" | wc -l) tests"
  # The long tests (0113 alone takes minutes) get their own runner from the start, beside the
  # others, so they do not begin last and set the wall time.
  grep -xF -f <(printf '%s\n' $long_tests) "$work/$1.txt" >"$dir/long.txt" || true
  grep -vxF -f <(printf '%s\n' $long_tests) "$work/$1.txt" >"$dir/rest.txt" || true
  if [ -s "$dir/long.txt" ]; then
    run_long "$dir" "$1" &
    long_pid=$!
  fi
  # Each sub-test entry: a runner of its own beside the others, with SUBTESTS set.
  local single_pids=() n=0 name sub
  while read -r name sub; do
    n=$((n + 1))
    echo "$name" >"$dir/single$n.txt"
    echo "$sub" >"$dir/single$n.sub"
    run_suite "$dir" "$1" "$dir/single$n.txt" "$dir/single$n" 1 "$sub" &
    single_pids+=($!)
  done <"$work/$1.single.txt"
  if [ -s "$dir/rest.txt" ]; then run_suite "$dir" "$1" "$dir/rest.txt" "$dir/rest" "$par" || status=$?; fi
  if [ -n "$long_pid" ]; then wait "$long_pid" || status=$?; fi
  for pid in "${single_pids[@]}"; do wait "$pid" || status=$?; done
  stop_strom
  for part in long rest $(seq -f 'single%g' 1 "$n"); do
    [ -s "$dir/$part.txt" ] || continue
    [ ! -f "$dir/$part.first" ] || cat "$dir/$part.first"
    python3 "$here/check.py" "$dir/$part.txt" "$dir/$part.report.json" || status=1
    if [ -f "$dir/$part.sub" ]; then
      # The test passes even when the filter matches no sub-test: its PASS line must be there.
      sub=$(cat "$dir/$part.sub")
      grep -a ": PASS (" "$dir/$part.log" | grep -F "$sub" >/dev/null ||
        { echo "   $(cat "$dir/$part.txt"): no sub-test matching '$sub' passed" >&2; status=1; }
    fi
  done
  if [ "$status" != 0 ]; then
    echo "== scenario $1 failed (runner exit $status); the runner's failures:" >&2
    cat "$dir"/*.log >"$dir/suite.log"
    grep -aE '### Test|FAILED' "$dir/suite.log" | tail -40 >&2 || true
    echo "== strom log (tail)" >&2; tail -40 "$dir/strom.log" >&2
    cp "$dir/suite.log" "${TMPDIR:-/tmp}/strom-rdkafka-$1.log" &&
      echo "full runner output: ${TMPDIR:-/tmp}/strom-rdkafka-$1.log" >&2
    return 1
  fi
}

echo "== librdkafka $rdk_version test suite ($mode mode, TEST_KAFKA_VERSION=$TEST_KAFKA_VERSION) against $strom_bin"
status=0
run_scenario default true || status=1
run_scenario noautocreate false || status=1
run_scenario sasl_ssl true sasl_ssl || status=1
run_scenario consumer true || status=1
exit "$status"
