"""order-service: the seed's instrumented Flask service. POST /api/orders makes the
seed's manual spans (create_order, validate_order, process_payment, create_fulfillment)
and charges payment-service over HTTP, passing the X-Request-ID on; GET /api/<endpoint>
is the seed's metrics example as written.

Environment: PORT (default 5000), PAYMENT_URL (default http://127.0.0.1:5001), and those
of observability.py.
"""
import os
import time
import uuid

import requests
from flask import Flask, g, jsonify, request

from observability import active_connections, exemplar, request_duration, requests_total, setup, tracer

os.environ.setdefault("SERVICE_NAME", "order-service")
app = Flask(__name__)
setup(app)
PAYMENT_URL = os.environ.get("PAYMENT_URL", "http://127.0.0.1:5001")


class PaymentError(Exception):
    def __init__(self, message, code):
        super().__init__(message)
        self.code = code


class Order:
    def __init__(self, body):
        self.id = "ord-" + uuid.uuid4().hex[:8]
        self.items = body.get("items", [])
        self.total = round(9.5 * len(self.items), 2)

    def to_dict(self):
        return {"id": self.id, "items": self.items, "total": self.total}


class PaymentService:
    def charge(self, order):
        try:
            r = requests.post(f"{PAYMENT_URL}/charge", json=order.to_dict(),
                              headers={"X-Request-ID": g.request_id}, timeout=5)
        except requests.Timeout:
            raise PaymentError("connection timeout to payment-service", "TIMEOUT")
        if r.status_code >= 400:
            body = r.json() if r.headers.get("content-type", "").startswith("application/json") else {}
            raise PaymentError(body.get("error", f"payment-service answered {r.status_code}"), body.get("code", "PAYMENT_ERROR"))
        return type("Charge", (), r.json())


class FulfillmentService:
    def create(self, order):
        time.sleep(0.002)


payment_service = PaymentService()
fulfillment_service = FulfillmentService()


def process_request():
    return "ok"


def validate(body):
    if not body or not body.get("items"):
        raise ValueError("an order needs items")


# Usage (the seed's metrics example, as written)
@app.route("/api/<endpoint>")
def handle_request(endpoint):
    active_connections.inc()
    with request_duration.labels(
        method=request.method,
        endpoint=endpoint
    ).time():
        result = process_request()
    requests_total.labels(
        method=request.method,
        endpoint=endpoint,
        status=200
    ).inc()
    active_connections.dec()
    return result


# Manual spans for business logic
@app.route("/api/orders", methods=["POST"])
def create_order():
    active_connections.inc()
    started = time.perf_counter()
    status = 200
    user_id = request.headers.get("X-User-ID", "user-456")
    log = g.log.bind(user_id=user_id)
    try:
        with tracer.start_as_current_span("create_order") as span:
            span.set_attribute("user.id", user_id)
            span.set_attribute("request_id", g.request_id)
            log.info("request_started", path=request.path)
            # Child span for validation
            with tracer.start_as_current_span("validate_order"):
                validate(request.json)
            order = Order(request.json)
            try:
                # Child span for payment
                with tracer.start_as_current_span("process_payment") as payment_span:
                    payment_span.set_attribute("payment.amount", order.total)
                    result = payment_service.charge(order)
                    payment_span.set_attribute("payment.status", result.status)
            except PaymentError as e:
                status = 502
                log.error("payment_failed", error=str(e), error_code=e.code, order_id=order.id)
                return jsonify({"error": str(e), "code": e.code}), status
            # Child span for fulfillment
            with tracer.start_as_current_span("create_fulfillment"):
                fulfillment_service.create(order)
            log.info("request_completed", order_id=order.id, items=len(order.items))
            return jsonify(order.to_dict())
    except ValueError as e:
        status = 400
        log.warning("request_rejected", error=str(e))
        return jsonify({"error": str(e)}), status
    finally:
        request_duration.labels(method=request.method, endpoint="orders").observe(
            time.perf_counter() - started, exemplar=exemplar())
        requests_total.labels(method=request.method, endpoint="orders", status=status).inc()
        active_connections.dec()


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(os.environ.get("PORT", "5000")), threaded=True)
