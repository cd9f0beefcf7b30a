"""The OpenTelemetry Python logging exporter sending to Lantern over OTLP.

Usage: otlp_logs.py grpc|http ENDPOINT SERVICE
Standard logging goes through the SDK's LoggingHandler (BatchLogRecordProcessor +
OTLPLogExporter); inside a span, the seed's failed payment is logged at ERROR with
request_id and error_code attributes, and a completed request at INFO. Prints the
span's trace id.
"""
import logging
import sys

from opentelemetry import trace
from opentelemetry._logs import set_logger_provider
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

transport, endpoint, service = sys.argv[1], sys.argv[2], sys.argv[3]
if transport == "grpc":
    from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter

    exporter = OTLPLogExporter(endpoint=endpoint, insecure=True)
else:
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter

    exporter = OTLPLogExporter(endpoint=endpoint)

resource = Resource.create({"service.name": service})
trace.set_tracer_provider(TracerProvider(resource=resource))
provider = LoggerProvider(resource=resource)
provider.add_log_record_processor(BatchLogRecordProcessor(exporter))
set_logger_provider(provider)
logging.getLogger().addHandler(LoggingHandler(level=logging.INFO, logger_provider=provider))
logging.getLogger().setLevel(logging.INFO)
log = logging.getLogger("checkout")

with trace.get_tracer("checkout").start_as_current_span("create_order") as span:
    log.info("request_completed", extra={"request_id": "req-122", "items": 2})
    log.error("payment_failed", extra={"request_id": "req-123", "error_code": "CARD_DECLINED"})
    trace_id = format(span.get_span_context().trace_id, "032x")

provider.shutdown()
print(trace_id)
