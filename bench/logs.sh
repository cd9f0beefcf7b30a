#!/usr/bin/env bash
# Logs: ingest of structlog-like JSON lines (lines per CPU-second of the Lantern process,
# sealing included) through JSON lines and through Loki push, stored bytes against
# `zstd -3` of the raw lines, and four queries side by side with ClickHouse's engine
# (chdb from PyPI) on the same lines.
#
#   bench/logs.sh                      # 10M lines
#   LINES=1000000 bench/logs.sh        # quick run
#
# Writes bench/LOGS_RESULTS.md. Nothing here is a test.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
LINES=${LINES:-10000000}
CONC=${CONC:-2}
OUT=bench/out/logs
rm -rf "$OUT" && mkdir -p "$OUT"
cargo build --release -q -p lantern -p lantern-bench
python3 -m venv "$OUT/venv" >/dev/null && "$OUT/venv/bin/pip" install -q chdb==4.4.0 requests==2.34.2
target/release/log_bench gen --lines "$LINES" --out "$OUT/lines.jsonl" --ids "$OUT/ids.txt"
raw=$(stat -c %s "$OUT/lines.jsonl")
zstd3=$(zstd -3 -q -c "$OUT/lines.jsonl" | wc -c)
TCK=$(getconf CLK_TCK)

# One run: start Lantern, send every line, seal what is left in memory, report
# "lines seconds cpu_s bytes"; leaves Lantern running for queries when $2 is "keep".
run() {
  local mode=$1 dir="$OUT/data-$1" http
  http=$(free_port)
  target/release/lantern serve --data-dir "$dir" --http-addr "127.0.0.1:$http" \
    --otlp-grpc-addr "127.0.0.1:$(free_port)" --otlp-http-addr "127.0.0.1:$(free_port)" >"$OUT/lantern-$mode.log" 2>&1 &
  PID=$!
  wait_http "http://127.0.0.1:$http/-/ready"
  local c0 c1 res
  c0=$(cpu_ticks $PID)
  res=$(target/release/log_bench send --url "http://127.0.0.1:$http" --file "$OUT/lines.jsonl" --mode "$mode" --concurrency "$CONC")
  curl -sf -XPOST "http://127.0.0.1:$http/api/v1/admin/logs/flush"
  c1=$(cpu_ticks $PID)
  RSS=$(( $(rss_kb $PID) / 1024 ))
  URL="http://127.0.0.1:$http"
  echo "$res" | python3 -c "import json,sys; r=json.load(sys.stdin); print(r['lines'], r['seconds'], r['rejected'], ($c1 - $c0) / $TCK, end=' ')"
  du -sb "$dir/logs" | cut -f1
}
run loki >"$OUT/loki.res"
kill $PID; wait $PID 2>/dev/null || true
read -r l_loki s_loki rej_loki cpu_loki bytes_loki <"$OUT/loki.res"
run jsonl >"$OUT/jsonl.res"
trap 'kill $PID 2>/dev/null || true' EXIT
read -r l_jsonl s_jsonl rej_jsonl cpu_jsonl bytes_jsonl <"$OUT/jsonl.res"
q=$("$OUT/venv/bin/python" bench/logs_query.py "$URL" "$(realpath "$OUT/lines.jsonl")" "$OUT/ids.txt" "$(realpath "$OUT")/chdb")
echo "$q" >&2
f() { echo "$q" | python3 -c "import json,sys; r=json.load(sys.stdin); print($1)"; }
ratio() { python3 -c "print(round($1 / $2, 2))"; }
row() { echo "| $1 | $(f "r['$2']['lantern_p50']") / $(f "r['$2']['lantern_p99']") | $(f "r['$2']['chdb_p50']") / $(f "r['$2']['chdb_p99']") | $(ratio "$(f "r['$2']['lantern_p50']")" "$(f "r['$2']['chdb_p50']")") |"; }
{
  echo "# Logs benchmark"
  echo
  echo "Command: \`LINES=$LINES bench/logs.sh\` on $(date -u +%Y-%m-%d)."
  echo "Machine: $(machine), shared and noisy; the load generator and chdb run on the same cores."
  echo "Data: \`log_bench gen\` (crates/lantern-bench): $LINES structlog-like JSON lines, $(python3 -c "print(round($raw / $LINES))") bytes each on average, over one hour: 20 services, request IDs unique, 100k users, 12 paths, levels info 85% / warn 7% / error 5% / debug 3%, keys in structlog's order."
  echo
  echo "## Ingest and disk"
  echo
  echo "| | value | target |"
  echo "|---|---:|---:|"
  echo "| JSON lines: lines per CPU-second of the Lantern process (ingest and sealing) | $(python3 -c "print(round($l_jsonl / $cpu_jsonl))") | >= 250,000 |"
  echo "| Loki push (JSON): lines per CPU-second | $(python3 -c "print(round($l_loki / $cpu_loki))") | >= 250,000 |"
  echo "| JSON lines: wall time, $CONC senders | ${s_jsonl} s | |"
  echo "| lines refused | $((rej_jsonl + rej_loki)) | 0 |"
  echo "| raw lines | $raw bytes | |"
  echo "| \`zstd -3\` of the raw lines | $zstd3 bytes | |"
  echo "| stored by Lantern (segments, filters, log), JSON lines | $bytes_jsonl bytes | |"
  echo "| stored / zstd -3 | $(ratio "$bytes_jsonl" "$zstd3") | <= 1.0 |"
  echo "| stored by Lantern, Loki push (the lines kept as pushed) | $bytes_loki bytes | |"
  echo "| chdb MergeTree (ZSTD(3) codecs, ordered by service and time, merged) | $(f "r['chdb_bytes']") bytes | |"
  echo "| Lantern / chdb on disk | $(ratio "$bytes_jsonl" "$(f "r['chdb_bytes']")") | < 1.0 |"
  echo "| Lantern resident memory after ingest | ${RSS} MiB | |"
  echo
  echo "## Queries (milliseconds, p50 / p99; each returns the number of matches and the newest 100)"
  echo
  echo "| query | Lantern | chdb | Lantern / chdb (p50) |"
  echo "|---|---:|---:|---:|"
  row "needle: one request_id (Lantern: \`request_id:<id>\`)" needle
  row "\`level:error\` in a 5-minute window" level_5m
  row "free-text word \`timeout\`" word
  row "count by level over 1h (LogQL \`sum by (level) (count_over_time({service=~\".+\"}[1h]))\`)" count_1h
  echo
  echo "Both answered the same counts: needle $(f "r['needle_answer']"), level_5m $(f "r['level_5m_answer']"), word $(f "r['word_answer']"), count_1h equal: $(f "r['count_1h_answer']['lantern'] == r['count_1h_answer']['chdb']")."
  echo "Lantern is queried over HTTP (its JSON answers included); chdb in-process from the same Python."
} > bench/LOGS_RESULTS.md
cat bench/LOGS_RESULTS.md
