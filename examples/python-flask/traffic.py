"""Drives orders through order-service with an X-Request-ID per request (as a gateway
or a client sends it), then injects payment failures half way.

Usage: traffic.py [--app URL] [--payment URL] [--duration S] [--fail-after S] [--rate RPS]
Prints one JSON line at the end: requests sent, failed, and one failed request's ID.
"""
import argparse
import json
import random
import time
import uuid

import requests

p = argparse.ArgumentParser()
p.add_argument("--app", default="http://127.0.0.1:5000")
p.add_argument("--payment", default="http://127.0.0.1:5001")
p.add_argument("--duration", type=float, default=120)
p.add_argument("--fail-after", type=float, default=60)
p.add_argument("--failure-rate", type=float, default=0.3)
p.add_argument("--rate", type=float, default=10)
a = p.parse_args()

start = time.time()
sent = failed = 0
failed_id = None
injected = False
while time.time() - start < a.duration:
    if not injected and time.time() - start >= a.fail_after:
        requests.post(f"{a.payment}/admin/failures", params={"rate": a.failure_rate, "delay": 1.5}, timeout=5)
        injected = True
        print(f"traffic: payment failures injected ({a.failure_rate:.0%} of charges time out)", flush=True)
    rid = "req-" + uuid.uuid4().hex[:12]
    items = random.sample(["book", "pen", "lamp", "mug", "desk"], random.randint(1, 3))
    try:
        r = requests.post(f"{a.app}/api/orders", json={"items": items},
                          headers={"X-Request-ID": rid, "X-User-ID": f"user-{random.randint(100, 999)}"}, timeout=10)
        assert r.headers.get("X-Request-ID") == rid, "the request ID comes back (the seed's after_request)"
        sent += 1
        if r.status_code >= 500:
            failed += 1
            failed_id = rid
    except requests.RequestException as e:
        print(f"traffic: {e}", flush=True)
    time.sleep(1 / a.rate)
requests.post(f"{a.payment}/admin/failures", params={"rate": 0}, timeout=5)
print(json.dumps({"sent": sent, "failed": failed, "failed_request_id": failed_id}), flush=True)
