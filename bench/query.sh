#!/usr/bin/env bash
# Query latency of Lantern vs Prometheus (Debian's package) on the same data: the
# lantern-bench fleet (HOSTS x ~206 series, 15 s scrapes over 3 h) remote-written to both,
# then the queries of bench/query.py as instant and range (3 h, 60 s step) queries.
#
#   bench/query.sh                    # 50 hosts = 10,300 series x 720 scrapes
#   HOSTS=10 SCRAPES=240 bench/query.sh   # quick run
#
# Writes bench/QUERY_RESULTS.md. Nothing here is a test.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
HOSTS=${HOSTS:-50}
SCRAPES=${SCRAPES:-720}
REPEAT=${REPEAT:-5}
OUT=bench/out/query
rm -rf "$OUT" && mkdir -p "$OUT"
command -v prometheus >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null; }
cargo build --release -q -p lantern -p lantern-bench


LPORT=$(free_port); PPORT=$(free_port)
target/release/lantern serve --data-dir "$OUT/lantern" --http-addr "127.0.0.1:$LPORT" >"$OUT/lantern.log" 2>&1 &
LPID=$!
printf 'global:\n  scrape_interval: 1h\n' >"$OUT/prometheus.yml"
prometheus --config.file="$OUT/prometheus.yml" --storage.tsdb.path="$OUT/prometheus" --web.listen-address="127.0.0.1:$PPORT" \
  --web.enable-remote-write-receiver --storage.tsdb.retention.time=100y >"$OUT/prometheus.log" 2>&1 &
PPID_=$!
trap 'kill $LPID $PPID_ 2>/dev/null || true' EXIT
wait_http "http://127.0.0.1:$LPORT/-/ready"; wait_http "http://127.0.0.1:$PPORT/-/ready"

NOW=$(date +%s)
START_MS=$(( (NOW - SCRAPES * 15) * 1000 ))
END_S="$(( NOW - 15 )).5"   # off the 15 s sample grid: Prometheus 2 and 3 close windows differently
for url in "http://127.0.0.1:$LPORT/api/v1/write" "http://127.0.0.1:$PPORT/api/v1/write"; do
  res=$(target/release/lantern-bench --url "$url" --hosts "$HOSTS" --scrapes "$SCRAPES" --start-ms "$START_MS" --concurrency 4)
  echo "loaded $url: $res" >&2
done
SERIES=$(echo "$res" | python3 -c 'import json,sys; print(json.load(sys.stdin)["series"])')
sleep "${SETTLE:-75}"   # let both run their periodic maintenance (head cuts, compaction) once
HEADER="Command: \`HOSTS=$HOSTS SCRAPES=$SCRAPES REPEAT=$REPEAT bench/query.sh\` on $(date -u +%Y-%m-%d).
Machine: $(machine), shared and noisy: compare ratios within one run.
Peer: $(prometheus --version 2>&1 | head -1 | cut -d' ' -f1-3) (Debian package), remote-write receiver on; both hold the same $SERIES series x $SCRAPES scrapes (15 s apart, $((SCRAPES * 15 / 3600)) h), after a settling pause in which both ran their periodic head cuts and compaction.
Each query: one warm-up, then $REPEAT runs per system alternating; the median wall time of the HTTP request (Python urllib on loopback). Range queries cover the span but its first 10 minutes, at a 60 s step."
python3 bench/query.py "http://127.0.0.1:$LPORT" $LPID "http://127.0.0.1:$PPORT" $PPID_ "$END_S" $(( SCRAPES * 15 - 600 )) "$REPEAT" bench/QUERY_RESULTS.md "$HEADER"
