"""The shipped webhook alert rules (deploy/prometheus/strom-alerts.yml) pass `promtool check
rules` and fire in `promtool test rules` on input series converted by
deploy/prometheus/metrics_to_series.py from `/metrics` scrapes of a real failing-receiver run:
a receiver that always fails (dead letters grow), one that answers 410 (disabled) and one that
blocks a partition."""

import json
import subprocess
import sys

import requests

from conftest import ROOT
from test_webhooks import create_topic, metric, produce, subscribe
from webhook_receiver import Receiver, wait_for

RULES = ROOT / "deploy" / "prometheus" / "strom-alerts.yml"
CONVERT = ROOT / "deploy" / "prometheus" / "metrics_to_series.py"


def alert(name, sub, severity, summary, description=None, **labels):
    annotations = {"summary": summary}
    if description:
        annotations["description"] = description
    return {"exp_labels": {"severity": severity, "subscription": sub, **labels},
            "exp_annotations": annotations}


def test_alert_rules_fire_on_recorded_metrics(strom, tmp_path):
    check = subprocess.run(["promtool", "check", "rules", str(RULES)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    failing = Receiver(lambda r: (500, {}, b"down"))
    gone = Receiver(lambda r: (410, {}, b""))
    picky = Receiver(lambda r: (500, {}, b"no"))
    create_topic(strom, "alerts")
    subscribe(strom, failing, "fail-hook", ["alerts"], retry_schedule_ms=[0, 20])
    subscribe(strom, gone, "gone-hook", ["alerts"])
    subscribe(strom, picky, "block-hook", ["alerts"], retry_schedule_ms=[0, 20],
              failure_policy="block")
    scrapes = []

    def scrape():
        path = tmp_path / f"scrape{len(scrapes)}.txt"
        path.write_text(requests.get(f"{strom.http}/metrics").text)
        scrapes.append(str(path))

    scrape()
    for round_ in range(1, 6):
        produce(strom, "alerts", 2, start=round_ * 10)
        wait_for(lambda: metric(strom, "strom_webhook_dead_letter_records", "fail-hook")
                 == 2 * round_, what="dead letters")
        wait_for(lambda: metric(strom, "strom_webhook_blocked_partitions", "block-hook") == 1,
                 what="blocked")
        wait_for(lambda: requests.get(f"{strom.http}/v1/webhooks/gone-hook").json()["state"]
                 == "disabled", what="disabled")
        scrape()
    series = subprocess.run([sys.executable, str(CONVERT), *scrapes], capture_output=True,
                            text=True, check=True).stdout
    doc = {
        "rule_files": [str(RULES)],
        "evaluation_interval": "1m",
        "tests": [{
            "interval": "1m",
            "input_series": json.loads(series),
            "alert_rule_test": [
                {"eval_time": "5m", "alertname": "StromWebhookDeadLettersGrowing", "exp_alerts": [
                    alert("StromWebhookDeadLettersGrowing", "fail-hook", "warning",
                          "Webhook fail-hook is dead-lettering events",
                          "Events went to its dead-letter topic in the last 5 minutes; "
                          "see GET /v1/webhooks/<name>/dead-letters.")]},
                {"eval_time": "5m", "alertname": "StromWebhookBlocked", "exp_alerts": [
                    alert("StromWebhookBlocked", "block-hook", "critical",
                          "Webhook block-hook is blocked at a failing event",
                          "A partition stopped (failure_policy block); fix the receiver or "
                          "POST /v1/webhooks/<name>/skip.")]},
                {"eval_time": "5m", "alertname": "StromWebhookEndpointDisabled", "exp_alerts": [
                    alert("StromWebhookEndpointDisabled", "gone-hook", "critical",
                          "Webhook gone-hook endpoint disabled (410 Gone)",
                          "Resume it once the endpoint is back: POST /v1/webhooks/<name>/resume.",
                          state="disabled")]},
                {"eval_time": "5m", "alertname": "StromWebhookLagHigh", "exp_alerts": []},
            ],
        }],
    }
    test_file = tmp_path / "alerts-test.yml"
    test_file.write_text(json.dumps(doc, indent=1))
    run = subprocess.run(["promtool", "test", "rules", str(test_file)], capture_output=True,
                         text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    for r in (failing, gone, picky):
        r.close()
