"""The seed's traced service, exporting spans to Lantern with the OpenTelemetry SDK.

Usage: seed_traces.py grpc|http ENDPOINT SERVICE
A Flask app instrumented as in the seed (FlaskInstrumentor, RequestsInstrumentor,
BatchSpanProcessor + OTLPSpanExporter) serves POST /api/orders, whose handler makes the
seed's manual spans: create_order (user.id) with children validate_order,
process_payment (payment.amount, payment.status) and create_fulfillment. The payment is
charged over HTTP (requests) at a second Flask app, SERVICE-payment, served on a
loopback port with its own tracer provider: a client span and the server span it
called. One order is placed through Flask's test client; the script prints the trace id.
"""
import sys
import threading

import requests
from werkzeug.serving import make_server

from flask import Flask, jsonify, request
from opentelemetry import trace
from opentelemetry.instrumentation.flask import FlaskInstrumentor
from opentelemetry.instrumentation.requests import RequestsInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

transport, endpoint, service = sys.argv[1], sys.argv[2], sys.argv[3]
if transport == "grpc":
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

    def new_exporter():
        return OTLPSpanExporter(endpoint=endpoint, insecure=True)
else:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    def new_exporter():
        return OTLPSpanExporter(endpoint=endpoint)
exporter = new_exporter()

# The payment service: another process in real life, another tracer provider here.
payment_app = Flask("payment")
payment_provider = TracerProvider(resource=Resource.create({"service.name": service + "-payment"}))
payment_provider.add_span_processor(BatchSpanProcessor(new_exporter()))
FlaskInstrumentor().instrument_app(payment_app, tracer_provider=payment_provider)


@payment_app.route("/charge", methods=["POST"])
def charge():
    return jsonify({"status": "success"})


payment_server = make_server("127.0.0.1", 0, payment_app)
threading.Thread(target=payment_server.serve_forever, daemon=True).start()
payment_url = f"http://127.0.0.1:{payment_server.server_port}/charge"

app = Flask(__name__)

# Setup tracing
provider = TracerProvider(resource=Resource.create({"service.name": service}))
processor = BatchSpanProcessor(exporter)
provider.add_span_processor(processor)
trace.set_tracer_provider(provider)
tracer = trace.get_tracer(__name__)
# Auto-instrument frameworks
FlaskInstrumentor().instrument_app(app)
RequestsInstrumentor().instrument()


class User:
    id = "user-456"


class Order:
    total = 99.5

    def to_dict(self):
        return {"total": self.total}


class PaymentService:
    def charge(self, order):
        response = requests.post(payment_url, json=order.to_dict(), timeout=10)
        response.raise_for_status()
        return type("Charge", (), response.json())


payment_service = PaymentService()


current_user = User()
seen = {}


def validate(body):
    assert body["items"]


@app.route("/api/orders", methods=["POST"])
def create_order():
    order = Order()
    with tracer.start_as_current_span("create_order") as span:
        span.set_attribute("user.id", current_user.id)
        seen["trace_id"] = format(span.get_span_context().trace_id, "032x")
        # Child span for validation
        with tracer.start_as_current_span("validate_order"):
            validate(request.json)
        # Child span for payment
        with tracer.start_as_current_span("process_payment") as payment_span:
            payment_span.set_attribute("payment.amount", order.total)
            result = payment_service.charge(order)
            payment_span.set_attribute("payment.status", result.status)
        # Child span for fulfillment
        with tracer.start_as_current_span("create_fulfillment"):
            pass
    return jsonify(order.to_dict())


response = app.test_client().post("/api/orders", json={"items": ["book"]})
assert response.status_code == 200, response.status_code
provider.shutdown()
payment_server.shutdown()
payment_provider.shutdown()
print(seen["trace_id"], flush=True)
