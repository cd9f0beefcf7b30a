"""payment-service: the service order-service charges. POST /charge succeeds in a few
milliseconds, unless failures are injected (POST /admin/failures?rate=0.3&delay=1.5):
then that share of charges wait `delay` seconds and fail with a card processor timeout.
Instrumented as the seed's service is (observability.py), with a queue_depth gauge that
counts charges waiting.

Environment: PORT (default 5001), and those of observability.py.
"""
import os
import random
import threading
import time

from flask import Flask, g, jsonify, request
from opentelemetry.trace import Status, StatusCode
from prometheus_client import Gauge

from observability import active_connections, exemplar, request_duration, requests_total, setup, tracer

os.environ.setdefault("SERVICE_NAME", "payment-service")
app = Flask(__name__)
setup(app)
queue_depth = Gauge("queue_depth", "Charges waiting for the card processor")
failures = {"rate": 0.0, "delay": 1.5}
lock = threading.Lock()


@app.route("/admin/failures", methods=["POST"])
def inject():
    with lock:
        failures["rate"] = float(request.args.get("rate", "0"))
        failures["delay"] = float(request.args.get("delay", "1.5"))
    return jsonify(failures)


@app.route("/charge", methods=["POST"])
def charge():
    active_connections.inc()
    queue_depth.inc()
    started = time.perf_counter()
    status = 200
    with lock:
        rate, delay = failures["rate"], failures["delay"]
    try:
        with tracer.start_as_current_span("charge_card") as span:
            amount = (request.json or {}).get("total", 0)
            span.set_attribute("payment.amount", amount)
            if random.random() < rate:
                time.sleep(delay)
                status = 504
                span.set_status(Status(StatusCode.ERROR, "card processor timed out"))
                g.log.error("payment_failed", error="card processor timed out", error_code="TIMEOUT", amount=amount)
                return jsonify({"error": "card processor timed out", "code": "TIMEOUT"}), status
            time.sleep(random.uniform(0.005, 0.02))
            g.log.info("payment_succeeded", amount=amount)
            return jsonify({"status": "success"})
    finally:
        request_duration.labels(method="POST", endpoint="charge").observe(time.perf_counter() - started, exemplar=exemplar())
        requests_total.labels(method="POST", endpoint="charge", status=status).inc()
        queue_depth.dec()
        active_connections.dec()


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(os.environ.get("PORT", "5001")), threaded=True)
