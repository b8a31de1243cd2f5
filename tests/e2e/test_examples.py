"""Every example under `examples/` runs against the real binary, as a reader would run it
(`bash demo.sh` with STROM_BOOTSTRAP and STROM_SERVER pointing at the server)."""

import os
import subprocess

import pytest

from conftest import ROOT

EXAMPLES = ["vouchers", "orders", "replication", "chat"]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("example", EXAMPLES)
def test_example(strom, example):
    env = {**os.environ, "STROM_BOOTSTRAP": strom.bootstrap, "STROM_SERVER": strom.http}
    out = subprocess.run(["bash", str(ROOT / "examples" / example / "demo.sh")], env=env, capture_output=True,
                         text=True, timeout=110)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"{example}: OK" in out.stdout, out.stdout
