"""Property-based fuzzing of the served OpenAPI document with schemathesis: no request,
however odd, may get a 5xx. Bounded so the run stays well under two minutes."""

import subprocess
import sys

import requests

ENTRY = "import sys; from schemathesis.cli import schemathesis; sys.argv[0] = 'schemathesis'; sys.exit(schemathesis())"


def test_openapi_fuzz_no_server_errors(strom, tmp_path):
    requests.post(f"{strom.http}/v1/topics", json={"name": "fuzz", "partitions": 2})
    requests.post(f"{strom.http}/v1/topics/fuzz/records", json={"records": [{"value": 1}]})
    out = subprocess.run(
        # The console script may not be on PATH; call its entry point with this interpreter.
        [sys.executable, "-c", ENTRY, "run", f"{strom.http}/openapi.json",
         "--checks", "not_a_server_error", "--max-examples", "15", "--seed", "1",
         "--request-timeout", "10", "--phases", "examples,coverage,fuzzing",
         # A WebSocket upgrade is not a request/response operation.
         "--exclude-path", "/v1/ws"],
        capture_output=True, text=True, timeout=400,
        # schemathesis keeps state in ./.schemathesis: not in the repository.
        cwd=tmp_path)
    print(out.stdout[-5000:])
    assert out.returncode == 0, out.stdout[-5000:] + out.stderr[-2000:]
    # The server is still healthy afterwards.
    assert requests.get(f"{strom.http}/healthz").status_code == 200
