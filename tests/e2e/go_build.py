"""Go programs built against Debian's Sarama (golang-github-shopify-sarama-dev) with
GO111MODULE=off, once per source version: the binary is cached by source hash under
$STROM_CACHE_DIR/go (default ~/.cache/strom/go). Used by test_kafka_sarama.py and by the TLS
benchmark's second client (tests/bench/sarama_side.py)."""

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

GOPATH = "/usr/share/gocode"
SARAMA = Path(GOPATH) / "src/github.com/Shopify/sarama"


def sarama_available():
    return shutil.which("go") is not None and SARAMA.is_dir()


def build(source: Path) -> str:
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:16]
    cache = Path(os.environ.get("STROM_CACHE_DIR", Path.home() / ".cache/strom")) / "go"
    binary = cache / f"{source.stem}-{digest}"
    if not binary.exists():
        cache.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "GO111MODULE": "off", "GOPATH": GOPATH, "GOFLAGS": ""}
        env.setdefault("GOCACHE", str(cache / "build-cache"))
        tmp = binary.with_suffix(".tmp")
        subprocess.run(["go", "build", "-o", str(tmp), str(source)], env=env, check=True,
                       timeout=600, capture_output=True)
        tmp.rename(binary)
    return str(binary)
