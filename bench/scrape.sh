#!/usr/bin/env bash
# Scraping: Lantern and Prometheus (Debian's package) scrape the same TARGETS exporters of
# SERIES series each every 15 s, side by side for DURATION seconds; CPU-seconds and
# resident memory of each server are compared.
#
#   bench/scrape.sh                                    # 1,000 targets x 1,000 series, 5 minutes
#   TARGETS=100 SERIES=500 DURATION=60 bench/scrape.sh     # quick run
#
# Writes bench/SCRAPE_RESULTS.md. Nothing here is a test.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
TARGETS=${TARGETS:-1000}
SERIES=${SERIES:-1000}
DURATION=${DURATION:-300}
BASE=${BASE:-21000}
OUT=bench/out/scrape
rm -rf "$OUT" && mkdir -p "$OUT"
command -v prometheus >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null; }
cargo build --release -q -p lantern -p lantern-bench

target/release/scrape_targets --base-port "$BASE" --targets "$TARGETS" --series "$SERIES" >"$OUT/targets.log" 2>&1 &
TPID=$!
trap 'kill $TPID $LPID $PPID_ 2>/dev/null || true' EXIT
wait_http "http://127.0.0.1:$BASE/metrics"
targets=$(python3 -c "print(', '.join(\"'127.0.0.1:%d'\" % p for p in range($BASE, $BASE + $TARGETS)))")
printf 'global:\n  scrape_interval: 15s\n  scrape_timeout: 10s\nscrape_configs:\n  - job_name: bench\n    static_configs:\n      - targets: [%s]\n' "$targets" >"$OUT/scrape.yml"

LPORT=$(free_port); PPORT=$(free_port)
target/release/lantern serve --config "$OUT/scrape.yml" --data-dir "$OUT/lantern" --http-addr "127.0.0.1:$LPORT" \
  --otlp-grpc-addr "127.0.0.1:$(free_port)" --otlp-http-addr "127.0.0.1:$(free_port)" >"$OUT/lantern.log" 2>&1 &
LPID=$!
prometheus --config.file="$OUT/scrape.yml" --storage.tsdb.path="$OUT/prometheus" --web.listen-address="127.0.0.1:$PPORT" >"$OUT/prometheus.log" 2>&1 &
PPID_=$!
wait_http "http://127.0.0.1:$LPORT/-/ready"; wait_http "http://127.0.0.1:$PPORT/-/ready"
TCK=$(getconf CLK_TCK)
# Let both discover the targets and fill their heads, then measure a steady window.
sleep 60
l0=$(cpu_ticks $LPID); p0=$(cpu_ticks $PPID_)
sleep "$DURATION"
l1=$(cpu_ticks $LPID); p1=$(cpu_ticks $PPID_)
lrss=$(rss_kb $LPID); prss=$(rss_kb $PPID_)
q() { curl -s "http://127.0.0.1:$1/api/v1/query" --data-urlencode "query=$2" | python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else 0)'; }
lseries=$(q $LPORT 'count({job="bench"})'); pseries=$(q $PPORT 'count({job="bench"})')
lup=$(q $LPORT 'sum(up{job="bench"})'); pup=$(q $PPORT 'sum(up{job="bench"})')
lcpu=$(python3 -c "print(round(($l1 - $l0) / $TCK, 2))"); pcpu=$(python3 -c "print(round(($p1 - $p0) / $TCK, 2))")
{
  echo "# Scraping benchmark"
  echo
  echo "Command: \`TARGETS=$TARGETS SERIES=$SERIES DURATION=$DURATION bench/scrape.sh\` on $(date -u +%Y-%m-%d)."
  echo "Machine: $(machine), shared and noisy: both servers ran at the same time, scraping the same exporters."
  echo "Peer: $(prometheus --version 2>&1 | head -1 | cut -d' ' -f1-3) (Debian package). Exporters: \`scrape_targets\` (crates/lantern-bench), $TARGETS targets x $SERIES series in the text format, scraped every 15 s. Measured over $DURATION s after a 60 s warm-up."
  echo
  echo "| | Lantern | Prometheus | Lantern / Prometheus | target |"
  echo "|---|---:|---:|---:|---:|"
  echo "| CPU-seconds | $lcpu | $pcpu | $(python3 -c "print(f'{$lcpu / $pcpu:.2f}')") | <= 0.5 |"
  echo "| resident memory (MiB) | $((lrss / 1024)) | $((prss / 1024)) | $(python3 -c "print(f'{$lrss / $prss:.2f}')") | <= 0.5 |"
  echo "| series with job=\"bench\" | $lseries | $pseries | | |"
  echo "| targets up | $lup | $pup | | |"
} > bench/SCRAPE_RESULTS.md
cat bench/SCRAPE_RESULTS.md
