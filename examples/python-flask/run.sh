#!/usr/bin/env bash
# Runs the seed's two services against Lantern and drives traffic, with payment failures
# injected half way:
#   ./run.sh                  # starts Lantern too (the `lantern` binary on PATH, or $LANTERN)
#   LANTERN_URL=http://127.0.0.1:9700 ./run.sh   # against a Lantern already running
# Then open http://127.0.0.1:9700/ (the dashboard, the logs, a failed request's trace) or run
# `lantern investigate --from -5m`.
# Settings (environment): DURATION (120 s), FAIL_AFTER (60 s), PYTHON (python3, with
# requirements.txt installed), APP_PORT 5000, PAYMENT_PORT 5001, APP_METRICS_PORT 8001,
# PAYMENT_METRICS_PORT 8002, OTLP (http://127.0.0.1:4317), LOG_DIR (./logs).
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3}
LOG_DIR=${LOG_DIR:-$PWD/logs}
OTLP=${OTLP:-http://127.0.0.1:4317}
APP_PORT=${APP_PORT:-5000} PAYMENT_PORT=${PAYMENT_PORT:-5001}
mkdir -p "$LOG_DIR"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT

if [ -z "${LANTERN_URL:-}" ]; then
  LANTERN_URL=http://127.0.0.1:9700
  "${LANTERN:-lantern}" serve --config lantern.yaml --data-dir "${DATA_DIR:-./lantern-data}" &
  pids+=($!)
fi
for _ in $(seq 100); do curl -sf "$LANTERN_URL/-/ready" >/dev/null && break; sleep 0.2; done
curl -sf "$LANTERN_URL/-/ready" >/dev/null || { echo "run.sh: Lantern is not ready at $LANTERN_URL" >&2; exit 1; }
"$PYTHON" -c "import flask, structlog, prometheus_client, opentelemetry.instrumentation.flask" 2>/dev/null \
  || { echo "run.sh: install the packages first: $PYTHON -m pip install -r requirements.txt" >&2; exit 1; }

SERVICE_NAME=payment-service PORT=$PAYMENT_PORT METRICS_PORT=${PAYMENT_METRICS_PORT:-8002} \
  LOG_FILE="$LOG_DIR/payment-service.log" OTEL_EXPORTER_OTLP_ENDPOINT=$OTLP "$PYTHON" payment.py 2>>"$LOG_DIR/payment-service.stderr" &
pids+=($!)
SERVICE_NAME=order-service PORT=$APP_PORT METRICS_PORT=${APP_METRICS_PORT:-8001} PAYMENT_URL=http://127.0.0.1:$PAYMENT_PORT \
  LOG_FILE="$LOG_DIR/order-service.log" OTEL_EXPORTER_OTLP_ENDPOINT=$OTLP "$PYTHON" app.py 2>>"$LOG_DIR/order-service.stderr" &
pids+=($!)
for port in $APP_PORT $PAYMENT_PORT; do
  for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.2; done
done

echo "run.sh: traffic for ${DURATION:-120} s, payment failures after ${FAIL_AFTER:-60} s"
"$PYTHON" traffic.py --app "http://127.0.0.1:$APP_PORT" --payment "http://127.0.0.1:$PAYMENT_PORT" \
  --duration "${DURATION:-120}" --fail-after "${FAIL_AFTER:-60}"
# Give the span batches and the last scrape time to land.
sleep "${SETTLE:-6}"
cat <<EOT
run.sh: done. Open
  $LANTERN_URL/dashboards                 the seed's dashboard and a Service Overview per service
  $LANTERN_URL/logs?query=level:error     the failed payments, each with its trace
  $LANTERN_URL/investigate?from=now-5m    where the failures start
EOT
