"""Webhook failure handling against the real binary: an endpoint failing continuously for
`disable_after_ms` is disabled (state, reason, metric, log line), receives nothing until
resumed and then gets the events it missed; `Retry-After` given as an HTTP-date is honoured."""

import time
from email.utils import formatdate

import requests

from test_webhooks import create_topic, metric, produce, subscribe
from webhook_receiver import Receiver, wait_for


def test_continuous_failure_disables_the_endpoint_until_resumed(strom):
    state = {"up": False}
    receiver = Receiver(lambda r: (200, {}, b"ok") if state["up"] else (500, {}, b"down"))
    create_topic(strom, "down")
    subscribe(strom, receiver, "down-hook", ["down"], retry_schedule_ms=[0] + [200] * 19,
              disable_after_ms=1500)
    produce(strom, "down", 2)
    url = f"{strom.http}/v1/webhooks/down-hook"
    wait_for(lambda: requests.get(url).json()["state"] == "disabled", what="disabled")
    shown = requests.get(url).json()
    assert "failing continuously" in shown["disabled_reason"], shown
    assert shown["disable_after_ms"] == 1500
    assert metric(strom, "strom_webhook_auto_disabled_total", "down-hook") == 1
    text = requests.get(f"{strom.http}/metrics").text
    assert 'strom_webhook_endpoint_state{subscription="down-hook",state="disabled"} 1' in text
    wait_for(lambda: "webhook endpoint disabled" in strom.log_text(), what="the log line")
    seen = len(receiver.delivered())
    time.sleep(0.5)
    assert len(receiver.delivered()) == seen, "attempts went on while disabled"
    state["up"] = True
    resumed = requests.post(f"{url}/resume").json()
    assert resumed["state"] == "active" and "disabled_reason" not in resumed
    wait_for(lambda: {0, 1} <= {r.json()["data"]["n"] for r in receiver.delivered()[seen:]},
             what="the missed events after resume")
    assert metric(strom, "strom_webhook_dead_lettered_total", "down-hook") == 0
    receiver.close()


def test_retry_after_as_an_http_date_is_honoured(strom):
    state = {}

    def later(_request):
        if "until" in state:
            return 200, {}, b"ok"
        state["until"] = int(time.time()) + 2
        return 503, {"retry-after": formatdate(state["until"], usegmt=True)}, b"later"

    receiver = Receiver(later)
    create_topic(strom, "ra")
    subscribe(strom, receiver, "ra-hook", ["ra"], retry_schedule_ms=[0, 10, 10])
    produce(strom, "ra", 1)
    wait_for(lambda: len(receiver.delivered()) == 2, what="the retry")
    first, second = receiver.delivered()
    assert first.id == second.id
    assert second.at >= state["until"] - 0.01, "retried before the Retry-After date"
    attempts = requests.get(f"{strom.http}/v1/webhooks/ra-hook/attempts").json()
    assert [a["result"] for a in attempts] == ["delivered", "http_5xx"]
    receiver.close()
