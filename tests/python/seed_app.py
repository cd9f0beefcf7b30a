"""The seed's instrumented service, as written there (prometheus_client Counter,
Histogram with the seed's buckets, Gauge, start_http_server), behind Flask.

Usage: seed_app.py METRICS_PORT APP_PORT
Two additions: /traced/<endpoint> observes the duration with a trace_id exemplar, as an
instrumented service linking metrics to traces does; /fail/<endpoint> answers 500 and
counts it with status=500 (so error-rate alerts and SLOs have failures to see).
"""
import sys

from flask import Flask, request
from prometheus_client import Counter, Histogram, Gauge, start_http_server

app = Flask(__name__)

# Counter - only goes up
requests_total = Counter(
    'http_requests_total',
    'Total HTTP requests',
    ['method', 'endpoint', 'status']
)
# Histogram - distribution of values
request_duration = Histogram(
    'http_request_duration_seconds',
    'Request duration in seconds',
    ['method', 'endpoint'],
    buckets=[.01, .05, .1, .25, .5, 1, 2.5, 5, 10]
)
# Gauge - can go up or down
active_connections = Gauge(
    'active_connections',
    'Number of active connections'
)


def process_request():
    return "ok"


# Usage
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


@app.route("/traced/<endpoint>")
def handle_traced(endpoint):
    trace_id = request.args.get("trace_id", "4bf92f3577b34da6a3ce929d0e0e4736")
    request_duration.labels(method=request.method, endpoint=endpoint).observe(
        0.2, exemplar={"trace_id": trace_id})
    requests_total.labels(method=request.method, endpoint=endpoint, status=200).inc()
    return "ok"


@app.route("/fail/<endpoint>")
def handle_failure(endpoint):
    with request_duration.labels(method=request.method, endpoint=endpoint).time():
        pass
    requests_total.labels(method=request.method, endpoint=endpoint, status=500).inc()
    return "failed", 500


if __name__ == "__main__":
    # Expose metrics endpoint
    start_http_server(int(sys.argv[1]))
    app.run(host="127.0.0.1", port=int(sys.argv[2]))
