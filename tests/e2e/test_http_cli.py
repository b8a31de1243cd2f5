"""The `strom` CLI client against a running server over HTTP."""

import json
import subprocess

from conftest import strom_binary


def cli(strom, *args, stdin=None, check=True):
    out = subprocess.run([strom_binary(), *args, "--server", strom.http], input=stdin,
                         capture_output=True, text=True, timeout=60)
    if check:
        assert out.returncode == 0, out.stderr
    return out


def test_topic_produce_consume(strom):
    cli(strom, "topic", "create", "cli", "--partitions", "2", "--config", "retention.ms=3600000")
    assert "cli" in cli(strom, "topic", "list").stdout
    cli(strom, "produce", "cli", "--key-separator", ":", stdin="a:one\nb:two\na:three\n")
    out = cli(strom, "consume", "cli", "--from-beginning", "--print-key").stdout.splitlines()
    assert sorted(out) == ["a\tone", "a\tthree", "b\ttwo"]
    # Same key, same partition, in order.
    assert [l for l in out if l.startswith("a")] == ["a\tone", "a\tthree"]
    rows = [json.loads(l) for l in cli(strom, "consume", "cli", "--from-beginning", "--json").stdout.splitlines()]
    assert len(rows) == 3 and all("offset" in r for r in rows)
    desc = json.loads(cli(strom, "topic", "describe", "cli", "--json").stdout)
    assert sum(p["high_watermark"] for p in desc["partitions"]) == 3
    assert "PARTITION" in cli(strom, "topic", "describe", "cli").stdout
    bad = cli(strom, "consume", "missing", "--from-beginning", check=False)
    assert bad.returncode != 0 and "not found" in bad.stderr
    cli(strom, "topic", "delete", "cli")
    assert json.loads(cli(strom, "topic", "list", "--json").stdout) == []


def test_consume_with_group_commits_progress(strom):
    cli(strom, "topic", "create", "grp", "--partitions", "2")
    cli(strom, "produce", "grp", stdin="".join(f"m{i}\n" for i in range(6)))
    first = cli(strom, "consume", "grp", "--group", "g", "--from-beginning", "--max-messages", "4").stdout.split()
    assert len(first) == 4
    # The group committed what was printed: a second member of the group gets the rest.
    rest = cli(strom, "consume", "grp", "--group", "g", "--from-beginning").stdout.split()
    assert sorted(first + rest) == [f"m{i}" for i in range(6)]
