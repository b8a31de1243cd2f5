"""The label service: Strom calls it for every paid order (a webhook); it prints a shipping
label. It verifies each call's Standard Webhooks signature, handles every order once however
often it is called (idempotent on `webhook-id`), and answers 422 for an order it cannot
handle: version 1 knows no carrier for Iceland. `--fixed` is version 2, which does."""
import argparse
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from standardwebhooks.webhooks import Webhook

ap = argparse.ArgumentParser()
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--state", required=True, help="JSON file of the labels printed so far")
ap.add_argument("--ready", help="file created once the service listens")
ap.add_argument("--fixed", action="store_true", help="version 2: knows a carrier for Iceland")
args = ap.parse_args()

CARRIERS = {"DE": "DHL", "FR": "Colissimo", "NL": "PostNL"}
if args.fixed:
    CARRIERS["IS"] = "Posturinn"
webhook = Webhook(os.environ["WEBHOOK_SECRET"])
state_file = Path(args.state)
lock = threading.Lock()


def load():
    return json.loads(state_file.read_text()) if state_file.exists() else {"labels": {}}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *_):
        pass

    def answer(self, status, text=b""):
        self.send_response(status)
        self.send_header("content-length", str(len(text)))
        self.end_headers()
        self.wfile.write(text)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            webhook.verify(body, headers)
        except Exception:  # noqa: BLE001 (any verification failure is a 401)
            return self.answer(401, b"bad signature")
        order = json.loads(body)["data"]
        carrier = CARRIERS.get(order["country"])
        if carrier is None:
            return self.answer(422, f"no carrier for country {order['country']}".encode())
        with lock:
            state = load()
            event_id = headers["webhook-id"]
            if event_id not in state["labels"]:  # at least once: the same id may come again
                state["labels"][event_id] = {"order": order["order"], "carrier": carrier}
                tmp = state_file.with_suffix(".tmp")
                tmp.write_text(json.dumps(state))
                tmp.replace(state_file)  # whole or not at all
                print(f"labels: {order['order']} to {order['country']} via {carrier}", flush=True)
        self.answer(204)


server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
if args.ready:
    Path(args.ready).touch()
server.serve_forever()
