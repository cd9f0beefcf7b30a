"""Pushes metrics to Lantern with the OpenTelemetry Python SDK (from PyPI).

Usage: otlp_metrics.py grpc|http ENDPOINT SERVICE [delta]
Records a counter, a histogram (inside a span, so the SDK attaches a trace exemplar),
an up-down counter and an observable gauge, exports twice, and prints the trace id.
"""
import sys

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import (Counter, Histogram, MeterProvider, ObservableGauge,
                                       UpDownCounter)
from opentelemetry.sdk.metrics.export import AggregationTemporality, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

transport, endpoint, service = sys.argv[1], sys.argv[2], sys.argv[3]
delta = len(sys.argv) > 4 and sys.argv[4] == "delta"
if transport == "grpc":
    from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
    kwargs = {"endpoint": endpoint, "insecure": True}
else:
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    kwargs = {"endpoint": endpoint}
if delta:
    kwargs["preferred_temporality"] = {
        Counter: AggregationTemporality.DELTA,
        Histogram: AggregationTemporality.DELTA,
        UpDownCounter: AggregationTemporality.CUMULATIVE,
        ObservableGauge: AggregationTemporality.CUMULATIVE,
    }
exporter = OTLPMetricExporter(**kwargs)
resource = Resource.create({"service.name": service, "service.instance.id": "instance-1",
                            "deployment.environment": "test"})
reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
provider = MeterProvider(resource=resource, metric_readers=[reader])
metrics.set_meter_provider(provider)
trace.set_tracer_provider(TracerProvider(resource=resource))
tracer = trace.get_tracer("checkout")

meter = metrics.get_meter("checkout", "1.0.0")
orders = meter.create_counter("orders.placed", unit="{order}", description="Orders placed")
latency = meter.create_histogram("http.server.request.duration", unit="s", description="Request duration")
inflight = meter.create_up_down_counter("http.server.active_requests", unit="{request}")
meter.create_observable_gauge("process.memory.usage", unit="By",
                              callbacks=[lambda options: [metrics.Observation(1048576)]])

orders.add(3, {"payment.method": "card"})
inflight.add(2)
with tracer.start_as_current_span("checkout") as span:
    latency.record(0.3, {"http.route": "/checkout"})
    trace_id = format(span.get_span_context().trace_id, "032x")
reader.force_flush()
orders.add(2, {"payment.method": "card"})
latency.record(1.7, {"http.route": "/checkout"})
reader.force_flush()
provider.shutdown()
print(trace_id, flush=True)
