"""Atom documents against RFC 4287 §4.1.3.3 with real tools: `xmllint` checks that every
document is well-formed XML, `feedparser` reads it as a feed reader would, and JSON, text and
binary values come back byte for byte (JSON and binary Base64-encoded, text as text)."""

import base64
import subprocess

import feedparser
import requests

VALUES = [
    b'{"order": 7, "note": "<b> & \\u00e9"}',   # JSON: a media type that is neither text nor XML
    b"plain text <with> markup & an \xc3\xa9",  # text XML can carry
    bytes([0, 1, 2, 3]),                        # valid UTF-8, but XML 1.0 cannot carry it
    bytes([0xFF, 0xFE, 0x00, 0x80]),            # not UTF-8 at all
]


def xmllint(document: bytes) -> None:
    done = subprocess.run(["xmllint", "--noout", "-"], input=document, capture_output=True, timeout=30)
    assert done.returncode == 0, done.stderr.decode(errors="replace")


def test_atom_carries_json_text_and_binary_values(strom):
    r = requests.post(f"{strom.http}/v1/topics", json={"name": "atomic", "partitions": 1}, timeout=10)
    assert r.status_code == 201, r.text
    records = [{"value_base64": base64.b64encode(v).decode()} for v in VALUES]
    r = requests.post(f"{strom.http}/v1/topics/atomic/records", json={"records": records}, timeout=10)
    assert r.status_code == 200, r.text

    r = requests.get(f"{strom.http}/feeds/atomic", headers={"accept": "application/atom+xml"}, timeout=10)
    assert r.status_code == 200, r.text
    xmllint(r.content)
    feed = feedparser.parse(r.content)
    assert not feed.bozo, feed.get("bozo_exception")
    # Atom lists newest first.
    entries = list(reversed(feed.entries))
    assert len(entries) == len(VALUES)
    kinds = [e.content[0]["type"] for e in entries]
    assert kinds == ["application/json", "text/plain", "application/octet-stream",
                     "application/octet-stream"], kinds
    assert entries[0].content[0]["value"].encode() == VALUES[0]
    assert entries[1].content[0]["value"].encode() == VALUES[1]
    # feedparser hands Base64 content of a non-text type back as given: decode it ourselves.
    raw = r.text
    for v in VALUES[2:]:
        assert f">{base64.b64encode(v).decode()}</content>" in raw
    assert "\ufffd" not in raw
