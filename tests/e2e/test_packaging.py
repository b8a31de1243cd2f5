"""Packaging: `packaging/deb/build.sh` builds a .deb with dpkg-deb; its contents, control file
and conffiles are right; unpacked into a temporary root (`dpkg-deb -x`, harmless on a dev box),
the installed binary starts with the installed default config and serves clients; the systemd
unit passes `systemd-analyze verify`."""

import os
import shutil
import subprocess
from pathlib import Path

import requests

from conftest import ROOT, free_port, strom_binary, wait_for_port


def build_deb(tmp_path) -> Path:
    out = subprocess.run(["bash", str(ROOT / "packaging" / "deb" / "build.sh"), "--binary", strom_binary(),
                          "--out", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    deb = Path(out.stdout.strip().splitlines()[-1])
    assert deb.is_file() and deb.suffix == ".deb", out.stdout
    return deb


def test_deb_installs_and_the_installed_server_runs(tmp_path):
    deb = build_deb(tmp_path)
    listing = subprocess.run(["dpkg-deb", "-c", str(deb)], capture_output=True, text=True, check=True).stdout
    for path in ("./usr/bin/strom", "./lib/systemd/system/strom.service", "./etc/strom/strom.toml"):
        assert path in listing, listing
    info = subprocess.run(["dpkg-deb", "-I", str(deb)], capture_output=True, text=True, check=True).stdout
    assert "Package: strom" in info and "postinst" in info, info
    control = tmp_path / "control"
    subprocess.run(["dpkg-deb", "-e", str(deb), str(control)], check=True)
    assert (control / "conffiles").read_text().split() == ["/etc/strom/strom.toml"]

    root = tmp_path / "root"
    subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    installed = root / "usr" / "bin" / "strom"
    config = root / "etc" / "strom" / "strom.toml"
    assert "/var/lib/strom" in config.read_text()
    # The installed binary with the installed config; only where the data lives and the ports
    # are redirected, so a dev box's /var/lib and :9092 stay untouched.
    kafka, http = free_port(), free_port()
    log = open(tmp_path / "serve.log", "wb")
    proc = subprocess.Popen([str(installed), "serve", "--config", str(config), "--data-dir", str(tmp_path / "data"),
                             "--kafka-listen", f"127.0.0.1:{kafka}", "--http-listen", f"127.0.0.1:{http}"],
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_port(http, proc)
        wait_for_port(kafka, proc)
        server = f"http://127.0.0.1:{http}"
        subprocess.run([str(installed), "produce", "pkg", "--server", server], input="hello\n", text=True,
                       check=True, timeout=60)
        out = subprocess.run([str(installed), "consume", "pkg", "--from-beginning", "--server", server],
                             capture_output=True, text=True, check=True, timeout=60)
        assert out.stdout == "hello\n"
        assert requests.get(f"{server}/healthz", timeout=10).json()["status"] == "ok"
    finally:
        proc.terminate()
        assert proc.wait(timeout=30) == 0, (tmp_path / "serve.log").read_text()

    # The unit, with ExecStart pointing at the unpacked binary (verify checks it exists).
    assert shutil.which("systemd-analyze"), "systemd-analyze is missing (apt-get install systemd)"
    unit = tmp_path / "strom.service"
    text = (root / "lib" / "systemd" / "system" / "strom.service").read_text()
    assert "ExecStart=/usr/bin/strom serve --config /etc/strom/strom.toml" in text
    unit.write_text(text.replace("/usr/bin/strom", str(installed)).replace("/etc/strom/strom.toml", str(config)))
    verify = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "SYSTEMD_LOG_LEVEL": "warning"})
    problems = [l for l in verify.stderr.splitlines() if "strom.service" in l]
    assert verify.returncode == 0 and not problems, verify.stderr


def test_cargo_install_from_the_repository(tmp_path):
    # With the target directory the tested binary was built in, `cargo install` reuses its
    # artifacts: this checks the install path works without a second build. It reuses them all
    # when that binary was built as `cargo install` builds it, `-p strom` alone (tests/run-all.sh
    # does); a binary from a workspace build has other features (tokio's `test-util`, a
    # dev-dependency), and then most crates are compiled again (minutes).
    target = Path(strom_binary()).resolve().parent.parent
    out = subprocess.run(["cargo", "install", "--locked", "--path", str(ROOT / "crates" / "strom"),
                          "--root", str(tmp_path / "inst")], capture_output=True, text=True, timeout=1800,
                         env={**os.environ, "CARGO_TARGET_DIR": str(target)})
    assert out.returncode == 0, out.stderr
    version = subprocess.run([str(tmp_path / "inst" / "bin" / "strom"), "version"], capture_output=True, text=True,
                             check=True)
    assert version.stdout.startswith("strom "), version.stdout
