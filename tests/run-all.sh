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
echo "== cargo fmt"; cargo fmt --all -- --check
echo "== cargo clippy"; cargo clippy --workspace --all-targets -- -D warnings
echo "== cargo test"; cargo test --workspace --release --no-fail-fast
disk_errors=(cargo test --release -p strom-log --test disk_errors -- --ignored)
if [ "${STROM_REQUIRE_ROOT_TESTS:-0}" = 1 ] || [ "$(id -u)" = 0 ]; then
  echo "== disk-error tests that need root (tmpfs)"
  "${disk_errors[@]}" tmpfs full_disk
elif [ "${CI:-}" = true ]; then
  echo "CI=true but not root: the tmpfs disk-error tests cannot run" >&2; exit 1
else
  echo "== disk-error tests for a non-root user"
  "${disk_errors[@]}" read_only_permissions
fi
# `cargo test` built every target already; the same feature set makes this a no-op that
# guarantees the binary the end-to-end tests run is the tested one.
echo "== build strom (release)"; cargo build --release --workspace --all-targets
echo "== end-to-end"
STROM_BIN="$target/release/strom" python3 -m pytest -q -rs tests/e2e "$@"
echo "== librdkafka's own test suite (tests/rdkafka)"
STROM_BIN="$target/release/strom" tests/rdkafka/run.sh
