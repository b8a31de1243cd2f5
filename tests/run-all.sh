#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit/property/crash tests, then the end-to-end
# suites against the real binary with real clients. This is the README's test command.
#
# Nothing may pass without running:
# - Tests that need root (tmpfs mounts for read-only and full-disk errors) are `#[ignore]`d in
#   `cargo test`; with STROM_REQUIRE_ROOT_TESTS=1 (CI, which runs as root) they run here, and a
#   mount that fails is a failure. Without it they run only if this shell is root; as a normal
#   user the unprivileged read-only twin runs instead.
# - pytest runs with `-rs` (every skip is listed with its reason) and pytest-timeout (a hang
#   fails); under CI=true a skip is a failure (tests/e2e/conftest.py).
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-$PWD/target}"
# Every phase header carries the minutes since the start, so a slow run says where.
stamp() { printf '== [%d:%02d] %s\n' $((SECONDS / 60)) $((SECONDS % 60)) "$*"; }
stamp "cargo fmt"; cargo fmt --all -- --check
stamp "cargo clippy"; cargo clippy --workspace --all-targets -- -D warnings
stamp "cargo test"; cargo test --workspace --release --no-fail-fast
# `--workspace` (not `-p strom-log`) keeps the features of the build above, so nothing recompiles.
disk_errors=(cargo test --workspace --release --test disk_errors -- --ignored)
if [ "${STROM_REQUIRE_ROOT_TESTS:-0}" = 1 ] || [ "$(id -u)" = 0 ]; then
  stamp "disk-error tests that need root (tmpfs)"
  "${disk_errors[@]}" tmpfs full_disk
elif [ "${CI:-}" = true ]; then
  echo "CI=true but not root: the tmpfs disk-error tests cannot run" >&2; exit 1
else
  stamp "disk-error tests for a non-root user"
  "${disk_errors[@]}" read_only_permissions
fi
# The binary the end-to-end suites run is the one `cargo install --path crates/strom --locked`
# builds: `-p strom` alone. Its features are the workspace test build's (tokio's `test-util` is
# on in every build, Cargo.toml), so this finds it already built, and test_packaging.py's
# `cargo install` reuses every artifact.
stamp "build strom (release, as cargo install builds it)"; cargo build --release --locked -p strom
# The end-to-end suite and librdkafka's suite run at the same time (separate servers, ports and
# directories); librdkafka's output goes to a file, printed when it ends; both must pass.
# STROM_SUITES_SERIAL=1 runs them one after the other instead.
rdk_log=$(mktemp "${TMPDIR:-/tmp}/strom-rdkafka-suite.XXXXXX")
rdk_suite=(env STROM_BIN="$target/release/strom" tests/rdkafka/run.sh)
rdk_pid=""
# Its own process group, so an interrupted run stops its servers and runners too.
trap '[ -z "$rdk_pid" ] || kill -- -"$rdk_pid" 2>/dev/null || true' EXIT
if [ "${STROM_SUITES_SERIAL:-0}" != 1 ]; then
  stamp "librdkafka's own test suite (tests/rdkafka) started beside the end-to-end suite; output: $rdk_log"
  setsid -w "${rdk_suite[@]}" >"$rdk_log" 2>&1 &
  rdk_pid=$!
fi
stamp "end-to-end"
e2e_status=0
STROM_BIN="$target/release/strom" python3 -m pytest -q -rs --durations=20 tests/e2e "$@" || e2e_status=$?
stamp "end-to-end finished"
rdk_status=0
if [ -n "$rdk_pid" ]; then
  wait "$rdk_pid" || rdk_status=$?
  rdk_pid=""
  stamp "librdkafka's own test suite (tests/rdkafka), run beside the end-to-end suite"
  cat "$rdk_log"
else
  stamp "librdkafka's own test suite (tests/rdkafka)"
  "${rdk_suite[@]}" || rdk_status=$?
fi
rm -f "$rdk_log"
[ "$e2e_status" = 0 ] || stamp "the end-to-end suite failed (exit $e2e_status)" >&2
[ "$rdk_status" = 0 ] || stamp "librdkafka's test suite failed (exit $rdk_status)" >&2
[ "$e2e_status" = 0 ] && [ "$rdk_status" = 0 ]
