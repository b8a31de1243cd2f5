#!/usr/bin/env bash
# Builds librdkafka and its test-runner from the npm package that ships its sources with tests/,
# once: the build lives in the cache directory given ($1) and is reused while its stamp exists.
# Needs npm, a C/C++ toolchain and Debian's libssl-dev, zlib1g-dev, libzstd-dev, liblz4-dev
# (tests/install-deps.sh). Usage: build.sh <cache-dir> <npm-package@version> <librdkafka-version>
set -euo pipefail
cache=$1 package=$2 version=$3
stamp="$cache/.strom-built"
[ -f "$stamp" ] && [ -x "$cache/tests/test-runner" ] && exit 0
echo "== building librdkafka $version and its test-runner in $cache (once)"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/strom-rdkafka-src.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "$package" >/dev/null && tar xzf ./*.tgz)
src="$tmp/package/deps/librdkafka"
grep -q "RD_KAFKA_VERSION  *0x$(printf '%02x%02x%02x' ${version//./ })ff" "$src/src/rdkafka.h" ||
  { echo "$package does not ship librdkafka $version" >&2; exit 1; }
rm -rf "$cache" && mkdir -p "$(dirname "$cache")" && cp -r "$src" "$cache"
cd "$cache"
# Only what Debian provides: OpenSSL, zlib, zstd, lz4; no libcurl (OIDC) and no GSSAPI. The
# output must not go to configure.<anything>: mklove loads such files as configure modules.
./configure --disable-curl --disable-gssapi --enable-ssl --enable-zlib --enable-zstd >strom-configure.out 2>&1 ||
  { tail -30 strom-configure.out >&2; exit 1; }
jobs=$(nproc 2>/dev/null || echo 2)
make -j"$jobs" libs >make.log 2>&1 || { tail -30 make.log >&2; exit 1; }
make -j"$jobs" -C tests test-runner >>make.log 2>&1 || { tail -30 make.log >&2; exit 1; }
touch "$stamp"
