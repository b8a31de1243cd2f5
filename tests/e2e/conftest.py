"""Shared fixtures for the end-to-end suites: start the real `strom` binary on ephemeral ports
with a fresh data directory, wait until it is ready, and stop it (SIGTERM, or SIGKILL on demand).

Two suite-wide rules live here too: every test has a time limit (pytest-timeout, required), so a
hang fails instead of stalling CI; and under `CI=true` a skipped test is reported as a failure, so
a missing client (kcat, kafkajs) or a probe that gives up cannot turn into a green run."""

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import pytest_timeout  # noqa: F401  (required: a hang must fail, see DEFAULT_TIMEOUT)

ROOT = Path(__file__).resolve().parents[2]

# Seconds a test may run unless it sets its own `@pytest.mark.timeout` (STROM_E2E_TIMEOUT overrides).
DEFAULT_TIMEOUT = int(os.environ.get("STROM_E2E_TIMEOUT", "300"))


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(DEFAULT_TIMEOUT))


def _skip_reason(report) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2])
    return str(longrepr)


def _fail_skips_in_ci(report):
    if in_ci() and report.skipped and not hasattr(report, "wasxfail"):
        reason = _skip_reason(report)
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true, which counts as a failure: {reason}"
    return report


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    return _fail_skips_in_ci((yield))


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector):
    return _fail_skips_in_ci((yield))


def strom_binary() -> str:
    explicit = os.environ.get("STROM_BIN")
    if explicit:
        return explicit
    for profile in ("release", "debug"):
        candidate = ROOT / "target" / profile / "strom"
        if candidate.exists():
            return str(candidate)
    raise RuntimeError("strom binary not found: run `cargo build --release` or set STROM_BIN")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"strom exited early with code {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"strom did not listen on {port} within {timeout}s")


class Strom:
    """One running strom server; `restart()` keeps the data directory."""

    def __init__(self, data_dir: Path, extra_args=None, env=None, wrapper=None):
        self.data_dir = data_dir
        self.extra_args = list(extra_args or [])
        # A command the binary runs under, e.g. ["prlimit", "--as=3221225472", "--"].
        self.wrapper = list(wrapper or [])
        self.env = dict(env or {})
        self.kafka_port = free_port()
        self.http_port = free_port()
        self.proc = None
        self.log_path = data_dir.parent / f"{data_dir.name}-strom.log"

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def start(self):
        args = [
            *self.wrapper, strom_binary(), "serve",
            "--data-dir", str(self.data_dir),
            "--kafka-listen", f"127.0.0.1:{self.kafka_port}",
            "--http-listen", f"127.0.0.1:{self.http_port}",
            *self.extra_args,
        ]
        env = {**os.environ, "STROM_LOG": os.environ.get("STROM_LOG", "info"), **self.env}
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env)
        wait_for_port(self.kafka_port, self.proc)
        wait_for_port(self.http_port, self.proc)
        return self

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if self.proc is None or self.proc.poll() is not None:
            return None
        self.proc.send_signal(sig)
        code = self.proc.wait(timeout=timeout)
        self.proc = None
        return code

    def kill(self):
        return self.stop(signal.SIGKILL)

    def restart(self, sig=signal.SIGTERM):
        self.stop(sig)
        return self.start()

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""


@pytest.fixture
def strom(tmp_path):
    server = Strom(tmp_path / "data").start()
    yield server
    code = server.stop()
    if code not in (None, 0):
        print(server.log_text())
    assert code in (None, 0), f"strom exited with {code} on SIGTERM"


@pytest.fixture
def strom_factory(tmp_path):
    servers = []

    def make(extra_args=None, env=None, name="data", wrapper=None):
        server = Strom(tmp_path / name, extra_args=extra_args, env=env, wrapper=wrapper)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop(signal.SIGKILL)
