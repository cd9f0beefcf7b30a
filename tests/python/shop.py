"""A small shop of three services, instrumented with the real clients as the seed's
services are, for the browser tests: api-gateway -> order-service -> payment-service.

Usage: shop.py OTLP_GRPC_ENDPOINT LANTERN_URL GATEWAY_PORT ORDER_PORT PAYMENT_PORT CALM_S INCIDENT_S

Each service has its own prometheus_client registry served on its port (the seed's
http_requests_total, http_request_duration_seconds with the seed's buckets and a trace_id
exemplar, active_connections, and the saturation gauges the seed's dashboard divides:
container_memory_usage_bytes and container_spec_memory_limit_bytes, plus
container_cpu_usage_ratio and, for payment-service, queue_depth), its own OpenTelemetry
tracer provider exporting spans over OTLP/gRPC, and structlog configured as in the seed,
whose JSON lines are posted to Lantern's JSON-lines endpoint every half second with the
request ID and trace ID bound (the seed's before_request convention).

For CALM_S seconds orders go through; then, for INCIDENT_S seconds, payment-service
saturates (CPU and queue depth climb) and a third of its charges time out after 2.5 s,
which order-service logs as "connection timeout to payment-service" and the gateway
answers 500. Prints one JSON line at the end: counts and one failing request's IDs.
"""
import json
import logging
import random
import sys
import threading
import time
import uuid

import requests
import structlog
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

otlp, lantern = sys.argv[1], sys.argv[2].rstrip("/")
ports = {"api-gateway": int(sys.argv[3]), "order-service": int(sys.argv[4]), "payment-service": int(sys.argv[5])}
calm_s, incident_s = float(sys.argv[6]), float(sys.argv[7])
# The shop's own choices are reproducible; the SDK's trace and span IDs (drawn from
# the global generator) stay random across runs.
rng = random.Random(7)


class Service:
    """One service's registry, tracer and logger."""

    def __init__(self, name, port):
        self.name = name
        reg = CollectorRegistry()
        self.requests = Counter("http_requests_total", "Total HTTP requests", ["method", "endpoint", "status"], registry=reg)
        self.duration = Histogram(
            "http_request_duration_seconds", "Request duration in seconds", ["method", "endpoint"],
            buckets=[.01, .05, .1, .25, .5, 1, 2.5, 5, 10], registry=reg)
        self.active = Gauge("active_connections", "Number of active connections", registry=reg)
        self.mem = Gauge("container_memory_usage_bytes", "Memory in use", registry=reg)
        self.mem_limit = Gauge("container_spec_memory_limit_bytes", "Memory limit", registry=reg)
        self.cpu = Gauge("container_cpu_usage_ratio", "CPU in use, as a fraction of the limit", registry=reg)
        self.queue = Gauge("queue_depth", "Requests waiting", registry=reg) if name == "payment-service" else None
        self.mem_limit.set(512 * 1024 * 1024)
        start_http_server(port, addr="127.0.0.1", registry=reg)
        provider = TracerProvider(resource=Resource.create({"service.name": name, "deployment.environment": "test"}))
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=otlp, insecure=True),
                                                       schedule_delay_millis=500))
        self.provider = provider
        self.tracer = provider.get_tracer("shop")
        self.log = structlog.get_logger(name)
        self.lines = []
        self.lock = threading.Lock()


class Collect(logging.Handler):
    """Keeps each service's rendered JSON lines until they are shipped."""

    def emit(self, record):
        svc = services.get(record.name)
        if svc is not None:
            with svc.lock:
                svc.lines.append(record.getMessage())


logging.basicConfig(level=logging.INFO, handlers=[Collect()], format="%(message)s")
# Configure structured logging (as in the seed)
structlog.configure(
    processors=[
        structlog.stdlib.filter_by_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso"),
        structlog.processors.StackInfoRenderer(),
        structlog.processors.JSONRenderer()
    ],
    wrapper_class=structlog.stdlib.BoundLogger,
    context_class=dict,
    logger_factory=structlog.stdlib.LoggerFactory(),
)
services = {}
for name, port in ports.items():
    services[name] = Service(name, port)
gw, orders, pay = services["api-gateway"], services["order-service"], services["payment-service"]


def ship():
    for svc in services.values():
        with svc.lock:
            lines, svc.lines = svc.lines, []
        if not lines:
            continue
        # As a log shipper does: retried until Lantern takes them (it may be restarting).
        for attempt in range(60):
            try:
                r = requests.post(f"{lantern}/api/v1/logs/jsonl", params={"service": svc.name},
                                  data="\n".join(lines).encode(), timeout=10)
                if r.status_code < 500:
                    r.raise_for_status()
                    break
            except requests.ConnectionError:
                pass
            time.sleep(0.5)
        else:
            raise SystemExit(f"Lantern did not take {svc.name}'s log lines for 30 s")


def ids(span):
    ctx = span.get_span_context()
    return format(ctx.trace_id, "032x"), format(ctx.span_id, "016x")


stats = {"orders": 0, "failed": 0}
failing = None
queue_level = 0


def place_order(incident):
    """One order through the three services, with explicit span times (no sleeping)."""
    global failing
    request_id = "req-" + uuid.uuid4().hex[:10]
    order_id = "ord-" + uuid.uuid4().hex[:6]
    user_id = "user-%d" % rng.randint(100, 999)
    timeout = incident and rng.random() < 0.33
    declined = not timeout and rng.random() < 0.02
    pay_s = 2.5 if timeout else rng.uniform(0.02, 0.6 if incident else 0.08)
    order_s = pay_s + rng.uniform(0.01, 0.03)
    gw_s = order_s + rng.uniform(0.005, 0.02)
    end = time.time_ns()
    t0 = end - int(gw_s * 1e9)
    status = 500 if timeout else (402 if declined else 200)

    with gw.tracer.start_as_current_span("GET /api/orders", kind=SpanKind.SERVER, start_time=t0,
                                         end_on_exit=False) as root:
        root.set_attribute("http.method", "GET")
        root.set_attribute("http.route", "/api/orders")
        root.set_attribute("request_id", request_id)
        trace_id, gw_span = ids(root)
        glog = gw.log.bind(request_id=request_id, trace_id=trace_id, span_id=gw_span)
        glog.info("request_started", path="/api/orders", user_id=user_id)
        with gw.tracer.start_as_current_span("POST order-service/orders", kind=SpanKind.CLIENT,
                                             start_time=t0 + 2_000_000, end_on_exit=False) as call:
            with orders.tracer.start_as_current_span("POST /orders", kind=SpanKind.SERVER,
                                                     start_time=t0 + 3_000_000, end_on_exit=False) as osrv:
                osrv.set_attribute("order.id", order_id)
                _, o_span = ids(osrv)
                olog = orders.log.bind(request_id=request_id, trace_id=trace_id, span_id=o_span)
                olog.info("order_received", order_id=order_id, user_id=user_id)
                with orders.tracer.start_as_current_span("validate_order", start_time=t0 + 3_500_000,
                                                         end_on_exit=False) as v:
                    v.end(end_time=t0 + 4_500_000)
                with orders.tracer.start_as_current_span("process_payment", kind=SpanKind.CLIENT,
                                                         start_time=t0 + 5_000_000, end_on_exit=False) as pc:
                    pc.set_attribute("payment.amount", 99.5)
                    with pay.tracer.start_as_current_span("POST /charge", kind=SpanKind.SERVER,
                                                          start_time=t0 + 5_500_000, end_on_exit=False) as psrv:
                        _, p_span = ids(psrv)
                        plog = pay.log.bind(request_id=request_id, trace_id=trace_id, span_id=p_span)
                        p_end = t0 + 5_500_000 + int(pay_s * 1e9)
                        with pay.tracer.start_as_current_span("charge_card", start_time=t0 + 6_000_000,
                                                              end_on_exit=False) as cc:
                            if timeout:
                                cc.set_status(Status(StatusCode.ERROR, "upstream card processor timed out"))
                                cc.add_event("exception", {"exception.type": "TimeoutError",
                                                           "exception.message": "card processor did not answer in 2.5s"})
                            cc.end(end_time=p_end - 500_000)
                        if timeout:
                            psrv.set_status(Status(StatusCode.ERROR, "timeout"))
                            psrv.set_attribute("http.status_code", 504)
                            plog.error("payment_failed", error="card processor timed out", error_code="TIMEOUT",
                                       queue_depth=queue_level)
                        elif declined:
                            psrv.set_attribute("http.status_code", 402)
                            plog.warning("payment_failed", error="Card declined", error_code="CARD_DECLINED")
                        else:
                            psrv.set_attribute("http.status_code", 200)
                            plog.info("payment_succeeded", amount=99.5)
                        psrv.end(end_time=p_end)
                    pc.set_attribute("payment.status", "timeout" if timeout else ("declined" if declined else "ok"))
                    if timeout:
                        pc.set_status(Status(StatusCode.ERROR, "timeout"))
                    pc.end(end_time=p_end + 300_000)
                if timeout:
                    osrv.set_status(Status(StatusCode.ERROR, "payment timeout"))
                    olog.error("order_failed", error="connection timeout to payment-service", order_id=order_id)
                else:
                    olog.info("order_created", order_id=order_id, items=rng.randint(1, 5))
                osrv.end(end_time=end - 2_000_000)
            if timeout:
                call.set_status(Status(StatusCode.ERROR))
            call.end(end_time=end - 1_000_000)
        root.set_attribute("http.status_code", status)
        if status >= 500:
            root.set_status(Status(StatusCode.ERROR))
            glog.error("request_failed", status=status, duration_ms=round(gw_s * 1000))
        else:
            glog.info("request_completed", status=status, duration_ms=round(gw_s * 1000))
        root.end(end_time=end)

    for svc, secs, endpoint in ((gw, gw_s, "orders"), (orders, order_s, "orders"), (pay, pay_s, "charge")):
        code = status if svc is not pay else (504 if timeout else (402 if declined else 200))
        svc.requests.labels(method="GET" if svc is gw else "POST", endpoint=endpoint, status=str(code)).inc()
        svc.duration.labels(method="GET" if svc is gw else "POST", endpoint=endpoint).observe(
            secs, exemplar={"trace_id": trace_id})
    stats["orders"] += 1
    if timeout:
        stats["failed"] += 1
        if failing is None:
            failing = {"request_id": request_id, "trace_id": trace_id, "order_id": order_id}


start = time.time()
last_ship = start
while True:
    now = time.time()
    elapsed = now - start
    if elapsed > calm_s + incident_s:
        break
    incident = elapsed > calm_s
    load = min(1.0, (elapsed - calm_s) / 10) if incident else 0.0
    for svc in services.values():
        busy = svc is pay and incident
        svc.cpu.set(min(1.0, 0.25 + 0.74 * load + rng.uniform(-0.03, 0.03)) if busy else 0.2 + rng.uniform(-0.05, 0.05))
        svc.mem.set((300 if busy else 180) * 1024 * 1024 + rng.randint(0, 20) * 1024 * 1024)
        svc.active.set(rng.randint(2, 6) + (int(40 * load) if busy else 0))
    queue_level = int(120 * load) + rng.randint(0, 3)
    pay.queue.set(queue_level)
    place_order(incident)
    if now - last_ship > 0.5:
        ship()
        last_ship = now
    time.sleep(0.05)

ship()
for svc in services.values():
    svc.provider.shutdown()
print(json.dumps({**stats, "failing": failing}), flush=True)
