"""Every example under `examples/` runs against the real binary, as a reader would run it
(`bash demo.sh` with STROM_BOOTSTRAP and STROM_SERVER pointing at the server, STROM_BIN at the
binary for the examples that use the CLI)."""

import os
import subprocess

import pytest

from conftest import ROOT, strom_binary

EXAMPLES = ["vouchers", "orders", "replication", "chat", "deadletters"]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("example", EXAMPLES)
def test_example(strom, example):
    env = {**os.environ, "STROM_BOOTSTRAP": strom.bootstrap, "STROM_SERVER": strom.http,
           "STROM_BIN": strom_binary()}
    out = subprocess.run(["bash", str(ROOT / "examples" / example / "demo.sh")], env=env, capture_output=True,
                         text=True, timeout=110)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"{example}: OK" in out.stdout, out.stdout
