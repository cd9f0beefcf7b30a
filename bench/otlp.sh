#!/usr/bin/env bash
# OTLP metrics ingest over gRPC: data points per CPU-second of the Lantern process, with
# requests of 1,000 points (10 metrics x 100 data points, 3 attributes each) from
# SERVICES services, as OpenTelemetry SDKs send them.
#
#   bench/otlp.sh                          # 20 services x 200 rounds = 4M points
#   SERVICES=5 ROUNDS=20 bench/otlp.sh     # quick run
#
# Writes bench/OTLP_RESULTS.md. Nothing here is a test.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
SERVICES=${SERVICES:-20}
ROUNDS=${ROUNDS:-200}
CONC=${CONC:-4}
OUT=bench/out/otlp
rm -rf "$OUT" && mkdir -p "$OUT"
cargo build --release -q -p lantern -p lantern-bench
HTTP=$(free_port); GRPC=$(free_port); OHTTP=$(free_port)
target/release/lantern serve --data-dir "$OUT/data" --http-addr "127.0.0.1:$HTTP" --otlp-grpc-addr "127.0.0.1:$GRPC" \
  --otlp-http-addr "127.0.0.1:$OHTTP" >"$OUT/lantern.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
for _ in $(seq 1 300); do curl -sf -o /dev/null "http://127.0.0.1:$HTTP/-/ready" && break; sleep 0.2; done
TCK=$(getconf CLK_TCK)
c0=$(cpu_ticks $PID)
res=$(target/release/otlp_bench --url "http://127.0.0.1:$GRPC" --services "$SERVICES" --rounds "$ROUNDS" --concurrency "$CONC")
c1=$(cpu_ticks $PID)
echo "$res" >&2
points=$(echo "$res" | python3 -c 'import json,sys; print(json.load(sys.stdin)["points"])')
rejected=$(echo "$res" | python3 -c 'import json,sys; print(json.load(sys.stdin)["rejected"])')
series=$(echo "$res" | python3 -c 'import json,sys; print(json.load(sys.stdin)["series"])')
secs=$(echo "$res" | python3 -c 'import json,sys; print(json.load(sys.stdin)["seconds"])')
cpu_s=$(python3 -c "print(($c1 - $c0) / $TCK)")
rate=$(python3 -c "print(round($points / $cpu_s))")
stored=$(curl -s "http://127.0.0.1:$HTTP/api/v1/query" --data-urlencode "time=$((1700000000 + (ROUNDS - 1) * 15))" --data-urlencode 'query=count({__name__=~"app_metric_.*"})' | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["result"][0]["value"][1])')
{
  echo "# OTLP metrics ingest benchmark"
  echo
  echo "Command: \`SERVICES=$SERVICES ROUNDS=$ROUNDS CONC=$CONC bench/otlp.sh\` on $(date -u +%Y-%m-%d)."
  echo "Machine: $(machine), shared and noisy."
  echo "Load: \`otlp_bench\` (crates/lantern-bench) sends $points data points over OTLP/gRPC in requests of 1,000 (10 metrics x 100 points, 3 attributes each, one resource per service), $CONC streams; $series series."
  echo
  echo "| | value | target |"
  echo "|---|---:|---:|"
  echo "| data points per CPU-second of the Lantern process | $rate | >= 1,000,000 |"
  echo "| wall time | ${secs} s | |"
  echo "| Lantern CPU time | ${cpu_s} s | |"
  echo "| points refused (partial success) | $rejected | 0 |"
  echo "| series stored (count from PromQL) | $stored | $series |"
} > bench/OTLP_RESULTS.md
cat bench/OTLP_RESULTS.md
