#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit/property/crash tests, then the end-to-end
# suites against the real binary with real clients. This is the README's test command.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== cargo fmt"; cargo fmt --all -- --check
echo "== cargo clippy"; cargo clippy --workspace --all-targets -- -D warnings
echo "== cargo test"; cargo test --workspace --release
echo "== build strom (release)"; cargo build --release -p strom
echo "== end-to-end"; STROM_BIN="$PWD/target/release/strom" python3 -m pytest -q tests/e2e "$@"
