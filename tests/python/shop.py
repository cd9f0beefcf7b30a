"""A small shop of services instrumented with the real clients as the seed's services
are, for the browser and investigation tests: api-gateway -> order-service ->
payment-service, and for some scenarios recommendation-service (called by the gateway)
and ledger-service (called by payment-service).

Usage: shop.py OTLP_GRPC_ENDPOINT LANTERN_URL CALM_S INCIDENT_S SCENARIO PORTS_JSON

PORTS_JSON maps each service to the port of its /metrics endpoint, e.g.
'{"api-gateway": 9101, "order-service": 9102, "payment-service": 9103}'.

Each service has its own prometheus_client registry served on its port (the seed's
http_requests_total, http_request_duration_seconds with the seed's buckets and a trace_id
exemplar, active_connections, and the saturation gauges the seed's dashboard divides:
container_memory_usage_bytes and container_spec_memory_limit_bytes, plus
container_cpu_usage_ratio and queue_depth), its own OpenTelemetry tracer provider
exporting spans over OTLP/gRPC, and structlog configured as in the seed, whose JSON lines
are posted to Lantern's JSON-lines endpoint every half second with the request ID and
trace ID bound (the seed's before_request convention).

Orders go through calmly for CALM_S seconds, then for INCIDENT_S seconds the SCENARIO
plays (its culprit's CPU, queue depth and connections climb):
  timeout  payment-service charge_card times out after 2.5 s on a third of the orders;
           order-service logs "connection timeout to payment-service", the gateway 500s
  decoy    the same, while recommendation-service fails a third of its calls from the
           start (its errors are background noise the gateway shrugs off)
  latency  charge_card takes 1.2-1.8 s, nothing fails
  leaf     ledger-service write_entry (two hops below the gateway's caller-facing
           service) fails "disk full" on 40% of orders, and every caller up fails too
  nologs   as timeout, but no log line is sent at all
  calm     nothing happens
Prints one JSON line at the end: counts, and the first and last failing requests' IDs
(the last one's exemplars are still the newest of their buckets when the shop ends).
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
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

otlp, lantern = sys.argv[1], sys.argv[2].rstrip("/")
calm_s, incident_s, scenario = float(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
ports = json.loads(sys.argv[6])
assert scenario in ("timeout", "decoy", "latency", "leaf", "nologs", "calm"), scenario
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
        self.queue = Gauge("queue_depth", "Requests waiting", registry=reg)
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

    def observe(self, method, endpoint, status, secs, trace_id):
        self.requests.labels(method=method, endpoint=endpoint, status=str(status)).inc()
        self.duration.labels(method=method, endpoint=endpoint).observe(secs, exemplar={"trace_id": trace_id})


class Collect(logging.Handler):
    """Keeps each service's rendered JSON lines until they are shipped."""

    def emit(self, record):
        svc = services.get(record.name)
        if svc is not None and scenario != "nologs":
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
services = {name: Service(name, port) for name, port in ports.items()}
gw, orders, pay = services["api-gateway"], services["order-service"], services["payment-service"]
reco, ledger = services.get("recommendation-service"), services.get("ledger-service")
culprit = {"leaf": ledger}.get(scenario, pay)


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


class Clock:
    """Explicit span times laid out from the order's start (spans are recorded, not slept)."""

    def __init__(self, start):
        self.t = start

    def at(self, ms):
        return self.t + int(ms * 1e6)


def span(svc, name, start, kind=SpanKind.INTERNAL):
    return svc.tracer.start_as_current_span(name, kind=kind, start_time=start, end_on_exit=False)


def ids(s):
    ctx = s.get_span_context()
    return format(ctx.trace_id, "032x"), format(ctx.span_id, "016x")


def fail(s, message, exc=None):
    s.set_status(Status(StatusCode.ERROR, message))
    if exc:
        s.add_event("exception", {"exception.type": exc[0], "exception.message": exc[1]})


stats = {"orders": 0, "failed": 0}
failing = None
last_failing = None
load = 0.0


def place_order(incident):
    """One order through the services."""
    global failing, last_failing
    request_id = "req-" + uuid.uuid4().hex[:10]
    order_id = "ord-" + uuid.uuid4().hex[:6]
    user_id = "user-%d" % rng.randint(100, 999)
    timeout = incident and scenario in ("timeout", "decoy", "nologs") and rng.random() < 0.33
    disk_full = incident and scenario == "leaf" and rng.random() < 0.4
    slow = incident and scenario == "latency"
    declined = not (timeout or disk_full) and rng.random() < 0.02
    charge_ms = 2500 if timeout else (rng.uniform(1200, 1800) if slow else rng.uniform(20, 80))
    ledger_ms = rng.uniform(5, 15) if ledger else 0
    reco_ms = rng.uniform(10, 30) if reco else 0
    reco_fails = reco is not None and rng.random() < 0.33
    pay_ms = charge_ms + ledger_ms + 2
    order_ms = pay_ms + 6
    gw_ms = order_ms + reco_ms + 6
    end = time.time_ns()
    c = Clock(end - int(gw_ms * 1e6))
    failed = timeout or disk_full
    status = 500 if failed else (402 if declined else 200)

    with span(gw, "GET /api/orders", c.at(0), SpanKind.SERVER) as root:
        root.set_attribute("http.route", "/api/orders")
        root.set_attribute("request_id", request_id)
        trace_id, gw_span = ids(root)
        glog = gw.log.bind(request_id=request_id, trace_id=trace_id, span_id=gw_span)
        glog.info("request_started", path="/api/orders", user_id=user_id)
        t = 1
        if reco:
            with span(gw, "GET recommendation-service/recommendations", c.at(t), SpanKind.CLIENT) as rc:
                with span(reco, "GET /recommendations", c.at(t + 0.5), SpanKind.SERVER) as rs:
                    _, r_span = ids(rs)
                    rlog = reco.log.bind(request_id=request_id, trace_id=trace_id, span_id=r_span)
                    with span(reco, "rank_items", c.at(t + 1)) as rank:
                        if reco_fails:
                            fail(rank, "model unavailable", ("ModelError", "ranking model is not loaded"))
                        rank.end(end_time=c.at(t + reco_ms - 2))
                    if reco_fails:
                        fail(rs, "model unavailable")
                        rlog.error("recommendations_failed", error="model unavailable", error_code="MODEL_DOWN")
                    rs.end(end_time=c.at(t + reco_ms - 1))
                reco.observe("GET", "recommendations", 503 if reco_fails else 200, reco_ms / 1000, trace_id)
                if reco_fails:
                    fail(rc, "503")
                    glog.warning("recommendations_skipped", reason="upstream failed")
                rc.end(end_time=c.at(t + reco_ms))
            t += reco_ms
        with span(gw, "POST order-service/orders", c.at(t + 1), SpanKind.CLIENT) as call:
            with span(orders, "POST /orders", c.at(t + 2), SpanKind.SERVER) as osrv:
                osrv.set_attribute("order.id", order_id)
                _, o_span = ids(osrv)
                olog = orders.log.bind(request_id=request_id, trace_id=trace_id, span_id=o_span)
                olog.info("order_received", order_id=order_id, user_id=user_id)
                with span(orders, "validate_order", c.at(t + 2.5)) as v:
                    v.end(end_time=c.at(t + 3.5))
                with span(orders, "process_payment", c.at(t + 4), SpanKind.CLIENT) as pc:
                    pc.set_attribute("payment.amount", 99.5)
                    with span(pay, "POST /charge", c.at(t + 4.5), SpanKind.SERVER) as psrv:
                        _, p_span = ids(psrv)
                        plog = pay.log.bind(request_id=request_id, trace_id=trace_id, span_id=p_span)
                        with span(pay, "charge_card", c.at(t + 5)) as cc:
                            if timeout:
                                fail(cc, "upstream card processor timed out", ("TimeoutError", "card processor did not answer in 2.5s"))
                            cc.end(end_time=c.at(t + 5 + charge_ms))
                        if ledger:
                            lt = t + 5.5 + charge_ms
                            with span(pay, "POST ledger-service/entries", c.at(lt), SpanKind.CLIENT) as lc:
                                with span(ledger, "POST /entries", c.at(lt + 0.5), SpanKind.SERVER) as ls:
                                    _, l_span = ids(ls)
                                    llog = ledger.log.bind(request_id=request_id, trace_id=trace_id, span_id=l_span)
                                    with span(ledger, "write_entry", c.at(lt + 1)) as we:
                                        if disk_full:
                                            fail(we, "no space left on device", ("OSError", "[Errno 28] No space left on device"))
                                        we.end(end_time=c.at(lt + ledger_ms - 1))
                                    if disk_full:
                                        fail(ls, "write failed")
                                        llog.error("ledger_write_failed", error="no space left on device", error_code="ENOSPC")
                                    ls.end(end_time=c.at(lt + ledger_ms - 0.5))
                                ledger.observe("POST", "entries", 500 if disk_full else 201, ledger_ms / 1000, trace_id)
                                if disk_full:
                                    fail(lc, "500")
                                lc.end(end_time=c.at(lt + ledger_ms))
                        if timeout:
                            fail(psrv, "timeout")
                            plog.error("payment_failed", error="card processor timed out", error_code="TIMEOUT")
                        elif disk_full:
                            fail(psrv, "ledger write failed")
                            plog.error("payment_failed", error="ledger unavailable", error_code="LEDGER_ERROR")
                        elif declined:
                            plog.warning("payment_failed", error="Card declined", error_code="CARD_DECLINED")
                        else:
                            plog.info("payment_succeeded", amount=99.5)
                        psrv.end(end_time=c.at(t + 4.5 + pay_ms))
                    pay.observe("POST", "charge", 504 if timeout else (500 if disk_full else (402 if declined else 200)),
                                pay_ms / 1000, trace_id)
                    if failed:
                        fail(pc, "payment failed")
                    pc.end(end_time=c.at(t + 5 + pay_ms))
                if failed:
                    fail(osrv, "payment failed")
                    olog.error("order_failed", error="connection timeout to payment-service" if timeout else "payment failed",
                               order_id=order_id)
                else:
                    olog.info("order_created", order_id=order_id, items=rng.randint(1, 5))
                osrv.end(end_time=c.at(t + 5.5 + pay_ms))
            orders.observe("POST", "orders", status, order_ms / 1000, trace_id)
            if failed:
                fail(call, "500")
            call.end(end_time=c.at(t + 6 + pay_ms))
        root.set_attribute("http.status_code", status)
        if status >= 500:
            fail(root, "500")
            glog.error("request_failed", status=status, duration_ms=round(gw_ms))
        else:
            glog.info("request_completed", status=status, duration_ms=round(gw_ms))
        root.end(end_time=end)
    gw.observe("GET", "orders", status, gw_ms / 1000, trace_id)
    stats["orders"] += 1
    if failed:
        stats["failed"] += 1
        last_failing = {"request_id": request_id, "trace_id": trace_id, "order_id": order_id}
        if failing is None:
            failing = last_failing


start = time.time()
last_ship = start
while True:
    now = time.time()
    elapsed = now - start
    if elapsed > calm_s + incident_s:
        break
    incident = elapsed > calm_s and scenario != "calm"
    load = min(1.0, (elapsed - calm_s) / 10) if incident else 0.0
    for svc in services.values():
        busy = svc is culprit and incident
        svc.cpu.set(min(1.0, 0.25 + 0.74 * load + rng.uniform(-0.03, 0.03)) if busy else 0.2 + rng.uniform(-0.05, 0.05))
        svc.mem.set((300 if busy else 180) * 1024 * 1024 + rng.randint(0, 20) * 1024 * 1024)
        svc.active.set(rng.randint(2, 6) + (int(40 * load) if busy else 0))
        svc.queue.set((int(120 * load) if busy else 0) + rng.randint(0, 3))
    place_order(incident)
    if now - last_ship > 0.5:
        ship()
        last_ship = now
    time.sleep(0.05)

ship()
for svc in services.values():
    svc.provider.shutdown()
print(json.dumps({**stats, "failing": failing, "last_failing": last_failing, "incident_started": start + calm_s}), flush=True)
