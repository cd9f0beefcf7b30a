#!/usr/bin/env bash
# Logs: ingest of structlog-like JSON lines (lines per CPU-second of the Lantern process,
# sealing included) through JSON lines and through Loki push, stored bytes against
# `zstd -3` of the raw lines, and every query shape of bench/logs_query.py side by side
# with ClickHouse's engine (chdb from PyPI) on the same lines, at each size.
#
#   bench/logs.sh                          # 1M and 10M lines
#   SIZES=1000000 bench/logs.sh            # quick run
#   SHAPES="needle word" SIZES=1000000 bench/logs.sh   # some shapes only
#
# Writes bench/LOGS_RESULTS.md. Nothing here is a test.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
SIZES=${SIZES:-1000000 10000000}
CONC=${CONC:-2}
SHAPES=${SHAPES:-}
OUT=bench/out/logs
rm -rf "$OUT" && mkdir -p "$OUT"
cargo build --release -q -p lantern -p lantern-bench
python3 -m venv "$OUT/venv" >/dev/null && "$OUT/venv/bin/pip" install -q chdb==4.4.0 requests==2.34.2
TCK=$(getconf CLK_TCK)
PID=
trap '[ -n "$PID" ] && kill $PID 2>/dev/null || true' EXIT

# One run: start Lantern, send every line, seal what is left in memory, print
# "lines seconds rejected cpu_s bytes rss_mib"; leaves Lantern running (PID, URL).
run() {
  local mode=$1 dir="$OUT/$2/data-$1" http
  http=$(free_port)
  target/release/lantern serve --data-dir "$dir" --http-addr "127.0.0.1:$http" \
    --otlp-grpc-addr "127.0.0.1:$(free_port)" --otlp-http-addr "127.0.0.1:$(free_port)" >"$OUT/$2/lantern-$mode.log" 2>&1 &
  PID=$!
  wait_http "http://127.0.0.1:$http/-/ready"
  local c0 c1 res peak
  c0=$(cpu_ticks $PID)
  # Peak resident memory while ingesting, sampled.
  ( p=0; while kill -0 $PID 2>/dev/null; do r=$(rss_kb $PID 2>/dev/null || echo 0); [ "$r" -gt "$p" ] && p=$r && echo $p >"$OUT/$2/peak-$mode"; sleep 0.2; done ) &
  local sampler=$!
  res=$(target/release/log_bench send --url "http://127.0.0.1:$http" --file "$OUT/$2/lines.jsonl" --mode "$mode" --concurrency "$CONC")
  curl -sf -XPOST "http://127.0.0.1:$http/api/v1/admin/logs/flush"
  c1=$(cpu_ticks $PID)
  kill $sampler 2>/dev/null || true
  URL="http://127.0.0.1:$http"
  echo "$res" | python3 -c "import json,sys; r=json.load(sys.stdin); print(r['lines'], r['seconds'], r['rejected'], ($c1 - $c0) / $TCK, end=' ')"
  echo "$(du -sb "$dir/logs" | cut -f1) $(( $(cat "$OUT/$2/peak-$mode") / 1024 ))"
}

ratio() { python3 -c "print(round($1 / $2, 2))"; }
{
  echo "# Logs benchmark"
  echo
  echo "Command: \`SIZES=\"$SIZES\" bench/logs.sh\` on $(date -u +%Y-%m-%d)."
  echo "Machine: $(machine), shared and noisy; the load generator and chdb run on the same cores."
  echo "Data: \`log_bench gen\` (crates/lantern-bench): structlog-like JSON lines, about 286 bytes each, over one hour: 20 services, request IDs unique, 100k users, 12 paths, levels info 85% / warn 7% / error 5% / debug 3%, keys in structlog's order."
  echo
  echo "ClickHouse's side (chdb, in-process, same machine, same run): a MergeTree table ordered by (service, level, timestamp), ZSTD(3) codecs,"
  echo "the common fields extracted into typed columns (timestamp, service, level, event, request_id, user_id, path, method, status, duration_ms),"
  echo "the raw line kept with a tokenbf_v1 index over its lowercased words, a bloom_filter index on request_id, merged (OPTIMIZE FINAL)."
  echo "Fields not extracted (the sparse error_code, attempt) are read from the line with JSONExtract, as such a table would."
  echo "Lantern is queried over HTTP (its JSON answers included); chdb from the same Python process. Each query is run alternately on both;"
  echo "an answer is the number of matches and the newest 100 rows (searches), the newest 100 lines (LogQL log queries) or the values (metric queries), and both must agree."
} > "$OUT/report.md"

for LINES in $SIZES; do
  mkdir -p "$OUT/$LINES"
  target/release/log_bench gen --lines "$LINES" --out "$OUT/$LINES/lines.jsonl" --ids "$OUT/$LINES/ids.txt"
  raw=$(stat -c %s "$OUT/$LINES/lines.jsonl")
  zstd3=$(zstd -3 -q -c "$OUT/$LINES/lines.jsonl" | wc -c)
  run loki "$LINES" >"$OUT/$LINES/loki.res"
  kill $PID; wait $PID 2>/dev/null || true
  read -r l_loki s_loki rej_loki cpu_loki bytes_loki rss_loki <"$OUT/$LINES/loki.res"
  run jsonl "$LINES" >"$OUT/$LINES/jsonl.res"
  read -r l_jsonl s_jsonl rej_jsonl cpu_jsonl bytes_jsonl rss_jsonl <"$OUT/$LINES/jsonl.res"
  # shellcheck disable=SC2086
  "$OUT/venv/bin/python" bench/logs_query.py "$URL" "$(realpath "$OUT/$LINES/lines.jsonl")" "$OUT/$LINES/ids.txt" "$(realpath "$OUT/$LINES")/chdb" $SHAPES >"$OUT/$LINES/query.json"
  kill $PID; wait $PID 2>/dev/null || true
  q="$OUT/$LINES/query.json"
  f() { python3 -c "import json; r=json.load(open('$q')); print($1)"; }
  {
    echo
    echo "## $LINES lines"
    echo
    echo "| | value | target |"
    echo "|---|---:|---:|"
    echo "| JSON lines: lines per CPU-second of the Lantern process (ingest and sealing) | $(python3 -c "print(round($l_jsonl / $cpu_jsonl))") | >= 250,000 |"
    echo "| Loki push (JSON): lines per CPU-second | $(python3 -c "print(round($l_loki / $cpu_loki))") | >= 250,000 |"
    echo "| JSON lines: wall time, $CONC senders | ${s_jsonl} s | |"
    echo "| peak resident memory while ingesting (JSON lines / Loki push) | ${rss_jsonl} / ${rss_loki} MiB | |"
    echo "| lines refused | $((rej_jsonl + rej_loki)) | 0 |"
    echo "| raw lines | $raw bytes | |"
    echo "| \`zstd -3\` of the raw lines | $zstd3 bytes | |"
    echo "| stored by Lantern (segments, filters, log), JSON lines | $bytes_jsonl bytes | |"
    echo "| stored / zstd -3 | $(ratio "$bytes_jsonl" "$zstd3") | <= 1.0 |"
    echo "| stored by Lantern, Loki push (the lines kept as pushed) | $bytes_loki bytes | |"
    echo "| chdb MergeTree (above; it also keeps the raw line) | $(f "r['chdb_bytes']") bytes | |"
    echo "| Lantern / chdb on disk | $(ratio "$bytes_jsonl" "$(f "r['chdb_bytes']")") | |"
    echo
    echo "Queries, milliseconds p50 / p99 of repeated runs, both with their defaults (ClickHouse's query condition cache and"
    echo "Lantern's condition cache, logs.condition_cache_size, on; target: Lantern / chdb <= 1); chdb's p50 with its cache off; and each system's first"
    echo "run of the query (neither has seen it):"
    echo
    echo "| query | Lantern | chdb | Lantern / chdb (p50) | chdb, cache off | Lantern / chdb cache off | first run, Lantern / chdb | answers agree |"
    echo "|---|---:|---:|---:|---:|---:|---:|---|"
    python3 - "$q" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
for x in r["shapes"]:
    agree = "yes" if x["agree"] else f"NO: {x['lantern']} vs {x['chdb']}"
    print(f"| {x['desc']} | {x['lantern_p50']} / {x['lantern_p99']} | {x['chdb_p50']} / {x['chdb_p99']} | {x['ratio']} "
          f"| {x['chdb_nocache_p50']} | {x['ratio_nocache']} | {x['lantern_first']} / {x['chdb_first']} | {agree} |")
PY
  } >> "$OUT/report.md"
done
cp "$OUT/report.md" bench/LOGS_RESULTS.md
cat bench/LOGS_RESULTS.md
