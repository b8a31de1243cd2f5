#!/usr/bin/env python3
"""HTTP requests/s with a Bearer JWT, with the verified-token cache on and off, in one run.

    cargo build --release -p strom && python3 tests/bench/bench_http_bearer.py [--requests 4000] [--passes 3]

Two servers from the same binary: one with the defaults (`[oauth] token_cache_ttl_ms = 60000`),
one with `token_cache_ttl_ms = 0` (every request verifies the signature). Both validate RS256
tokens (2048-bit key, JWKS file) and run `http_auth = "required"`. Per pass (order alternating)
`--clients` processes each send `--requests` keep-alive `GET /v1/topics` with the same token.
Printed: requests/s per server and pass, and the ratio of the medians (cached / uncached).
Not part of the test run: it starts its own servers on ephemeral ports.
"""

import argparse
import base64
import http.client
import json
import statistics
import sys
import tempfile
import time
from multiprocessing import Pool
from pathlib import Path

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "e2e"))
from conftest import Strom  # noqa: E402


def b64(n):
    return base64.urlsafe_b64encode(n.to_bytes((n.bit_length() + 7) // 8, "big")).rstrip(b"=").decode()


def server(tmp, name, jwks_path, cache_ttl_ms):
    config = tmp / f"{name}.toml"
    config.write_text(
        'http_auth = "required"\n[oauth]\n'
        f'jwks_file = "{jwks_path}"\nexpected_issuer = "iss"\nexpected_audience = "strom"\n'
        f"token_cache_ttl_ms = {cache_ttl_ms}\n"
    )
    return Strom(tmp / name, extra_args=["--config", str(config)]).start()


def client(job):
    port, token, n = job
    conn = http.client.HTTPConnection("127.0.0.1", port)
    headers = {"Authorization": f"Bearer {token}"}
    for _ in range(n):
        conn.request("GET", "/v1/topics", headers=headers)
        response = conn.getresponse()
        response.read()
        assert response.status == 200, response.status
    conn.close()


def rate(pool, port, token, clients, n):
    start = time.monotonic()
    pool.map(client, [(port, token, n)] * clients)
    return clients * n / (time.monotonic() - start)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--requests", type=int, default=4000)
    p.add_argument("--clients", type=int, default=2)
    p.add_argument("--passes", type=int, default=3)
    args = p.parse_args()
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    numbers = key.public_key().public_numbers()
    tmp = Path(tempfile.mkdtemp(prefix="strom-bearer-"))
    jwks = tmp / "jwks.json"
    jwks.write_text(json.dumps({"keys": [{"kty": "RSA", "kid": "k1", "alg": "RS256",
                                          "n": b64(numbers.n), "e": b64(numbers.e)}]}))
    now = int(time.time())
    token = jwt.encode({"sub": "bench", "iss": "iss", "aud": "strom", "iat": now, "exp": now + 3600},
                       key, algorithm="RS256", headers={"kid": "k1"})
    cached, uncached = server(tmp, "cached", jwks, 60000), server(tmp, "uncached", jwks, 0)
    results = {"cached": [], "uncached": []}
    try:
        with Pool(args.clients) as pool:
            for i in range(args.passes):
                order = [("cached", cached), ("uncached", uncached)]
                for name, s in order if i % 2 == 0 else reversed(order):
                    rate(pool, s.http_port, token, args.clients, 200)  # warm-up
                    r = rate(pool, s.http_port, token, args.clients, args.requests)
                    results[name].append(r)
                    print(f"pass {i + 1} {name:9s} {r:8.0f} requests/s", flush=True)
    finally:
        cached.stop()
        uncached.stop()
    c, u = statistics.median(results["cached"]), statistics.median(results["uncached"])
    print(f"median cached {c:.0f}/s, uncached {u:.0f}/s, ratio {c / u:.2f}")


if __name__ == "__main__":
    main()
