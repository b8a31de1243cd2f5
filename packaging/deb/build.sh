#!/usr/bin/env bash
# Builds a Debian package of Strom with dpkg-deb: the release binary, a systemd unit and the
# default config /etc/strom/strom.toml (a conffile). Usage:
#   packaging/deb/build.sh [--build] [--binary PATH] [--out DIR]
# --build runs `cargo build --release -p strom` first; otherwise the binary is PATH or
# $CARGO_TARGET_DIR/release/strom (default target/release/strom). Prints the .deb's path.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
out="$target"
build=0
binary="$target/release/strom"
while [ $# -gt 0 ]; do
    case "$1" in
        --build) build=1 ;;
        --out) out="$2"; shift ;;
        --binary) binary="$2"; shift ;;
        *) echo "usage: $0 [--build] [--binary PATH] [--out DIR]" >&2; exit 2 ;;
    esac
    shift
done
if [ "$build" = 1 ]; then
    (cd "$root" && cargo build --release -p strom)
fi
[ -x "$binary" ] || { echo "no binary at $binary: build it or pass --build" >&2; exit 1; }
version="$(sed -n 's/^version = "\(.*\)"/\1/p' "$root/Cargo.toml" | head -n1)"
arch="$(dpkg --print-architecture)"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
# The package ships the binary without debug info (symbols stay, for backtraces).
install -d "$stage/usr/bin"
strip --strip-debug -o "$stage/usr/bin/strom" "$binary"
chmod 0755 "$stage/usr/bin/strom"
install -D -m 0644 "$here/strom.service" "$stage/lib/systemd/system/strom.service"
install -D -m 0644 "$here/strom.toml" "$stage/etc/strom/strom.toml"
install -D -m 0644 "$root/README.md" "$stage/usr/share/doc/strom/README.md"
install -D -m 0644 "$root/docs/operations.md" "$stage/usr/share/doc/strom/operations.md"
mkdir -p "$stage/DEBIAN"
install -m 0755 "$here/postinst" "$here/prerm" "$stage/DEBIAN/"
echo "/etc/strom/strom.toml" > "$stage/DEBIAN/conffiles"
size_kib="$(du -sk "$stage" | cut -f1)"
cat > "$stage/DEBIAN/control" <<CONTROL
Package: strom
Version: $version
Architecture: $arch
Maintainer: Strom developers <strom@localhost>
Installed-Size: $size_kib
Depends: libc6, adduser | passwd
Section: net
Priority: optional
Description: event-streaming server with Kafka protocol and HTTP front ends
 One binary: a durable, partitioned, replayable log served over the Kafka wire
 protocol (existing clients work unchanged) and over HTTP (REST, feeds, SSE,
 WebSocket, REST Proxy v2).
CONTROL
mkdir -p "$out"
deb="$out/strom_${version}_${arch}.deb"
# gzip: quick to build and to unpack, and every dpkg reads it.
dpkg-deb --root-owner-group -Zgzip --build "$stage" "$deb" >/dev/null
echo "$deb"
