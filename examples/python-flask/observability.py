"""The seed's observability code, shared by the two services: prometheus_client metrics,
structlog configured exactly as the seed configures it, OpenTelemetry tracing with the
OTLP exporter and the Flask and requests instrumentation, and the seed's X-Request-ID
correlation hooks. Each service calls setup(app) once.

Environment: SERVICE_NAME, METRICS_PORT (the /metrics endpoint Lantern scrapes),
LOG_FILE (JSON lines Lantern follows), OTEL_EXPORTER_OTLP_ENDPOINT (Lantern's OTLP/gRPC
port, default http://127.0.0.1:4317).
"""
import logging
import os
import uuid

import structlog
from flask import g, request
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.flask import FlaskInstrumentor
from opentelemetry.instrumentation.requests import RequestsInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from prometheus_client import Counter, Gauge, Histogram, start_http_server

SERVICE = os.environ.get("SERVICE_NAME", "order-service")

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

# The stdlib logger structlog hands its JSON lines to writes them to LOG_FILE.
logging.basicConfig(level=logging.INFO, format="%(message)s",
                    handlers=[logging.FileHandler(os.environ.get("LOG_FILE", f"{SERVICE}.log"))])

# Configure structured logging
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
logger = structlog.get_logger()

# Setup tracing (the seed exports to http://jaeger:4317; here, Lantern's OTLP port)
provider = TracerProvider(resource=Resource.create({"service.name": SERVICE}))
processor = BatchSpanProcessor(OTLPSpanExporter(
    endpoint=os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317"), insecure=True))
provider.add_span_processor(processor)
trace.set_tracer_provider(provider)
tracer = trace.get_tracer(__name__)


def setup(app):
    """Instruments a Flask app as the seed does and serves /metrics."""
    # Auto-instrument frameworks
    FlaskInstrumentor().instrument_app(app)
    RequestsInstrumentor().instrument()

    @app.before_request
    def set_correlation_id():
        # Get from header or generate
        g.request_id = request.headers.get('X-Request-ID', str(uuid.uuid4()))
        g.trace_id = trace.get_current_span().get_span_context().trace_id
        # Bind to logger
        g.log = logger.bind(
            request_id=g.request_id,
            trace_id=format(g.trace_id, '032x')
        )

    @app.after_request
    def add_correlation_headers(response):
        response.headers['X-Request-ID'] = g.request_id
        return response

    # Expose metrics endpoint
    start_http_server(int(os.environ.get("METRICS_PORT", "9090")), addr="127.0.0.1")


def exemplar():
    """The current trace as an exemplar (metrics link to traces)."""
    return {"trace_id": format(trace.get_current_span().get_span_context().trace_id, "032x")}
