"""The OpenTelemetry Python SDK sending all three signals over OTLP/gRPC to an agent.

Usage: otlp_agent.py ENDPOINT SERVICE N FIRST
Sends N spans (each a root span `job` with attribute seq = FIRST..FIRST+N-1), N log
records (`record <seq>` with the seq attribute) and a counter `agent_items` increased
by N, then shuts the providers down, which flushes them (the SDK's exporters retry
refusals such as UNAVAILABLE with backoff). Prints "ok".
"""
import logging
import sys

from opentelemetry import metrics, trace
from opentelemetry._logs import set_logger_provider
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

endpoint, service, n, first = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
resource = Resource.create({"service.name": service})

tracer_provider = TracerProvider(resource=resource)
tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint, insecure=True)))
trace.set_tracer_provider(tracer_provider)

logger_provider = LoggerProvider(resource=resource)
logger_provider.add_log_record_processor(BatchLogRecordProcessor(OTLPLogExporter(endpoint=endpoint, insecure=True)))
set_logger_provider(logger_provider)
log = logging.getLogger("agent")
log.addHandler(LoggingHandler(level=logging.INFO, logger_provider=logger_provider))
log.setLevel(logging.INFO)

reader = PeriodicExportingMetricReader(OTLPMetricExporter(endpoint=endpoint, insecure=True), export_interval_millis=60000)
meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
metrics.set_meter_provider(meter_provider)
counter = metrics.get_meter("agent").create_counter("agent_items")

tracer = trace.get_tracer("agent")
for seq in range(first, first + n):
    with tracer.start_as_current_span("job") as span:
        span.set_attribute("seq", seq)
        log.info("record %d", seq, extra={"seq": seq})
    counter.add(1)

tracer_provider.shutdown()
logger_provider.shutdown()
meter_provider.shutdown()
print("ok")
