#!/usr/bin/env bash
# Traces: OTLP/gRPC ingest (spans per CPU-second of the Lantern process, requests of 512
# spans with ~10 attributes), stored bytes per span against the same requests as
# zstd-3-compressed OTLP protobuf, then trace-by-ID and search latencies over what was
# stored (SPANS spans spread over the last hour).
#
#   bench/traces.sh                       # 10M spans
#   SPANS=1000000 bench/traces.sh         # quick run
#
# Writes bench/TRACES_RESULTS.md. Nothing here is a test.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
SPANS=${SPANS:-10000000}
CONC=${CONC:-4}
OUT=bench/out/traces
rm -rf "$OUT" && mkdir -p "$OUT"
cargo build --release -q -p lantern -p lantern-bench
HTTP=$(free_port); GRPC=$(free_port); OHTTP=$(free_port)
printf 'traces:\n  segment_max_age: 10s\n' >"$OUT/lantern.yml"
target/release/lantern serve --config "$OUT/lantern.yml" --data-dir "$OUT/data" --http-addr "127.0.0.1:$HTTP" \
  --otlp-grpc-addr "127.0.0.1:$GRPC" --otlp-http-addr "127.0.0.1:$OHTTP" >"$OUT/lantern.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
wait_http "http://127.0.0.1:$HTTP/-/ready"
TCK=$(getconf CLK_TCK)
c0=$(cpu_ticks $PID)
res=$(target/release/trace_bench --url "http://127.0.0.1:$GRPC" --spans "$SPANS" --concurrency "$CONC" --ids "$OUT/ids.txt")
# Sustained: the sealing of what was ingested counts too (segments are due 10 s after
# their oldest span arrived).
sleep 25
c1=$(cpu_ticks $PID)
echo "$res" >&2
field() { echo "$res" | python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }
spans=$(field spans); secs=$(field seconds); rejected=$(field rejected); zstd=$(field zstd_bytes); raw=$(field raw_bytes)
cpu_s=$(python3 -c "print(($c1 - $c0) / $TCK)")
rate=$(python3 -c "print(round($spans / $cpu_s))")
stored=$(du -sb "$OUT/data/traces" | cut -f1)
rss=$(( $(rss_kb $PID) / 1024 ))
lat=$(python3 bench/traces_query.py "http://127.0.0.1:$HTTP" "$OUT/ids.txt")
echo "$lat" >&2
lf() { echo "$lat" | python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }
# The same queries while more spans arrive (a fifth as many again, two streams).
MORE=$((SPANS / 5))
target/release/trace_bench --url "http://127.0.0.1:$GRPC" --spans "$MORE" --concurrency 2 --ids "$OUT/ids-more.txt" >"$OUT/more.json" &
MORE_PID=$!
sleep 2
busy=$(python3 bench/traces_query.py "http://127.0.0.1:$HTTP" "$OUT/ids.txt")
still=$(kill -0 $MORE_PID 2>/dev/null && echo yes || echo no)
wait $MORE_PID
echo "$busy" >&2
bf() { echo "$busy" | python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }
{
  echo "# Traces benchmark"
  echo
  echo "Command: \`SPANS=$SPANS bench/traces.sh\` on $(date -u +%Y-%m-%d)."
  echo "Machine: $(machine), shared and noisy; the load generator runs on the same cores."
  echo "Load: \`trace_bench\` (crates/lantern-bench) sends $spans spans over OTLP/gRPC in requests of 512 (traces of 8 spans, ~10 attributes each, one of 20 services per request), $CONC streams, timestamps over the last hour."
  echo
  echo "| | value | target |"
  echo "|---|---:|---:|"
  echo "| spans per CPU-second of the Lantern process (ingest and sealing) | $rate | >= 150,000 |"
  echo "| stored bytes per span (segments, sidecars, log) | $(python3 -c "print(round($stored / $spans, 1))") | |"
  echo "| same spans as zstd-3 OTLP protobuf, bytes per span | $(python3 -c "print(round($zstd / $spans, 1))") | |"
  echo "| stored / zstd-3 OTLP | $(python3 -c "print(round($stored / $zstd, 2))") | <= 1.0 |"
  echo "| uncompressed OTLP protobuf, bytes per span | $(python3 -c "print(round($raw / $spans, 1))") | |"
  echo "| trace by ID, p50 / p99 (ms, $(lf trace_n) random stored traces) | $(lf trace_p50) / $(lf trace_p99) | p99 <= 20 |"
  echo "| search service + one attribute over 1h, p50 / p99 (ms, $(lf search_n) queries, limit 20) | $(lf search_p50) / $(lf search_p99) | p99 <= 200 |"
  echo "| search service + attribute + minDuration over 1h, p50 / p99 (ms, $(lf duration_n) queries) | $(lf duration_p50) / $(lf duration_p99) | p99 <= 200 |"
  echo "| while $MORE more spans arrive (ingest still running at the end: $still): trace by ID, p50 / p99 (ms) | $(bf trace_p50) / $(bf trace_p99) | p99 <= 20 |"
  echo "| while they arrive: search service + one attribute, p50 / p99 (ms) | $(bf search_p50) / $(bf search_p99) | p99 <= 200 |"
  echo "| while they arrive: search service + attribute + minDuration, p50 / p99 (ms) | $(bf duration_p50) / $(bf duration_p99) | p99 <= 200 |"
  echo "| wall time of ingest | ${secs} s | |"
  echo "| Lantern CPU time | ${cpu_s} s | |"
  echo "| resident memory after ingest | ${rss} MiB | |"
  echo "| spans refused | $rejected | 0 |"
} > bench/TRACES_RESULTS.md
cat bench/TRACES_RESULTS.md
