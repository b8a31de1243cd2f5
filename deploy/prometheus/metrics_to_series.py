#!/usr/bin/env python3
"""Converts `/metrics` scrapes recorded from a running Strom into `promtool test rules`
input_series: one series per metric and label set, one value per scrape (the scrapes are
taken as `interval` apart). Only metrics whose name starts with a given prefix are kept.

    metrics_to_series.py --prefix strom_webhook_ scrape1.txt scrape2.txt ... > series.yml

A series missing from a scrape gets `_` (no sample) there."""

import argparse
import json
import sys


def parse(text, prefix):
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#") or not line.startswith(prefix):
            continue
        series, value = line.rsplit(" ", 1)
        samples[series] = value
    return samples


def convert(scrapes, prefix):
    parsed = [parse(s, prefix) for s in scrapes]
    names = sorted({k for p in parsed for k in p})
    return [{"series": name, "values": " ".join(p.get(name, "_") for p in parsed)}
            for name in names]


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--prefix", default="strom_webhook_")
    ap.add_argument("scrapes", nargs="+")
    args = ap.parse_args()
    scrapes = [open(path, encoding="utf-8").read() for path in args.scrapes]
    # JSON is YAML: promtool reads it as the input_series list.
    json.dump(convert(scrapes, args.prefix), sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
