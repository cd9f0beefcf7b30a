#!/usr/bin/env bash
# Side-by-side benchmark of Lantern, VictoriaMetrics and Prometheus (Debian's packages) on
# the same generated fleet data, sent over remote write on loopback.
#
#   bench/run.sh                 # full run: 100 hosts (20,600 series) x 1440 scrapes, 1M-series memory test
#   HOSTS=20 SCRAPES=200 MEM_MULT=5 bench/run.sh     # quick run
#   LANTERN_BIN=/path/to/lantern SYSTEMS=lantern bench/run.sh   # another build of Lantern
#
# Measures, per system:
#   ingest  samples per CPU-second of the server process (utime+stime from /proc)
#   disk    bytes per sample on disk after a flush (Lantern: /api/v1/admin/tsdb/flush;
#           VictoriaMetrics: /internal/force_flush + force_merge; Prometheus: a snapshot
#           with the head, which is its compacted on-disk form)
#   memory  resident bytes per active series with ~1M series
# Writes bench/RESULTS.md (the machine is noted there). Nothing here is a test.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
HOSTS=${HOSTS:-100}
SCRAPES=${SCRAPES:-1440}
MEM_MULT=${MEM_MULT:-50}          # memory test: HOSTS x ~206 series x MEM_MULT
MEM_SCRAPES=${MEM_SCRAPES:-4}
CONC=${CONC:-4}
SYSTEMS=${SYSTEMS:-lantern victoriametrics prometheus}   # a subset gives a partial run (no RESULTS.md)
OUT=bench/out
rm -rf "$OUT" && mkdir -p "$OUT"

need=()
command -v prometheus >/dev/null || need+=(prometheus)
command -v victoria-metrics >/dev/null || need+=(victoria-metrics)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
cargo build --release -q -p lantern -p lantern-bench
BENCH=target/release/lantern-bench
TCK=$(getconf CLK_TCK)


start_system() { # name datadir port -> sets PID, WRITE_URL
  local name=$1 dir=$2 port=$3
  mkdir -p "$dir"
  case $name in
    lantern)
      "${LANTERN_BIN:-target/release/lantern}" serve --data-dir "$dir" --http-addr "127.0.0.1:$port" >"$dir.log" 2>&1 &
      PID=$!; WRITE_URL="http://127.0.0.1:$port/api/v1/write"; wait_http "http://127.0.0.1:$port/-/ready" ;;
    victoriametrics)
      victoria-metrics -storageDataPath "$dir" -httpListenAddr "127.0.0.1:$port" -retentionPeriod 100y >"$dir.log" 2>&1 &
      PID=$!; WRITE_URL="http://127.0.0.1:$port/api/v1/write"; wait_http "http://127.0.0.1:$port/health" ;;
    prometheus)
      printf 'global:\n  scrape_interval: 1h\n' >"$dir.yml"
      prometheus --config.file="$dir.yml" --storage.tsdb.path="$dir" --web.listen-address="127.0.0.1:$port" \
        --web.enable-remote-write-receiver --web.enable-admin-api --storage.tsdb.retention.time=100y >"$dir.log" 2>&1 &
      PID=$!; WRITE_URL="http://127.0.0.1:$port/api/v1/write"; wait_http "http://127.0.0.1:$port/-/ready" ;;
  esac
}

flush_and_measure_disk() { # name datadir port -> echoes bytes
  local name=$1 dir=$2 port=$3
  case $name in
    lantern)
      curl -sf -X POST "http://127.0.0.1:$port/api/v1/admin/tsdb/flush" >/dev/null
      du -sb "$dir" | cut -f1 ;;
    victoriametrics)
      curl -sf "http://127.0.0.1:$port/internal/force_flush" >/dev/null; sleep 2
      curl -sf "http://127.0.0.1:$port/internal/force_merge" >/dev/null; sleep 5
      du -sb "$dir" | cut -f1 ;;
    prometheus)
      local snap
      snap=$(curl -sf -X POST "http://127.0.0.1:$port/api/v1/admin/tsdb/snapshot" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["name"])')
      du -sb "$dir/snapshots/$snap" | cut -f1 ;;
  esac
}

declare -A INGEST DISK MEM SAMPLES SERIES
START_MS=$(( ($(date +%s) - SCRAPES * 15) * 1000 ))
for sys in $SYSTEMS; do
  [ "${SKIP_INGEST:-0}" = 1 ] && break
  port=$(free_port); dir="$OUT/$sys"
  start_system $sys "$dir" "$port"
  c0=$(cpu_ticks $PID)
  res=$($BENCH --url "$WRITE_URL" --hosts "$HOSTS" --scrapes "$SCRAPES" --start-ms "$START_MS" --concurrency "$CONC")
  c1=$(cpu_ticks $PID)
  samples=$(echo "$res" | python3 -c 'import json,sys; print(json.load(sys.stdin)["samples"])')
  failed=$(echo "$res" | python3 -c 'import json,sys; print(json.load(sys.stdin)["failed_requests"])')
  [ "$failed" = 0 ] || { echo "$sys refused $failed requests" >&2; exit 1; }
  SAMPLES[$sys]=$samples
  INGEST[$sys]=$(python3 -c "print(round($samples / (($c1 - $c0) / $TCK)))")
  bytes=$(flush_and_measure_disk $sys "$dir" "$port")
  DISK[$sys]=$(python3 -c "print(round($bytes / $samples, 3))")
  echo "$sys: ingest ${INGEST[$sys]} samples/CPU-s, disk ${DISK[$sys]} bytes/sample ($bytes bytes)" >&2
  kill $PID; wait $PID 2>/dev/null || true
done

MEM_START=$(( ($(date +%s) - MEM_SCRAPES * 15) * 1000 ))
[ "${SKIP_MEM:-0}" = 1 ] && exit 0
for sys in $SYSTEMS; do
  port=$(free_port); dir="$OUT/mem-$sys"
  start_system $sys "$dir" "$port"
  res=$($BENCH --url "$WRITE_URL" --hosts "$HOSTS" --scrapes "$MEM_SCRAPES" --start-ms "$MEM_START" --series-multiplier "$MEM_MULT" --concurrency "$CONC")
  series=$(echo "$res" | python3 -c 'import json,sys; print(json.load(sys.stdin)["series"])')
  sleep 10
  SERIES[$sys]=$series
  MEM[$sys]=$(python3 -c "print(round($(rss_kb $PID) * 1024 / $series))")
  echo "$sys: memory ${MEM[$sys]} bytes/series at $series series" >&2
  kill $PID; wait $PID 2>/dev/null || true
done

[ "$SYSTEMS" = "lantern victoriametrics prometheus" ] || exit 0
ratio() { python3 -c "print(f'{$1 / $2:.2f}')"; }
{
  echo "# Benchmark results"
  echo
  echo "Command: \`HOSTS=$HOSTS SCRAPES=$SCRAPES MEM_MULT=$MEM_MULT MEM_SCRAPES=$MEM_SCRAPES CONC=$CONC bench/run.sh\` on $(date -u +%Y-%m-%d)."
  echo "Machine: $(machine), shared and noisy: compare ratios within one run."
  echo "Peers: $(prometheus --version 2>&1 | head -1 | cut -d' ' -f1-3), VictoriaMetrics $(dpkg-query -W -f '${Version}' victoria-metrics) (Debian packages)."
  echo "Data: ${SERIES_INGEST:-${SAMPLES[lantern]}} samples of fleet data (lantern-bench: $HOSTS hosts, node-exporter-like series, 15 s scrapes) sent by remote write with $CONC connections."
  echo
  echo "| | Lantern | VictoriaMetrics | Prometheus | Lantern / VictoriaMetrics | target |"
  echo "|---|---|---|---|---|---|"
  echo "| ingest, samples per CPU-second | ${INGEST[lantern]} | ${INGEST[victoriametrics]} | ${INGEST[prometheus]} | $(ratio ${INGEST[lantern]} ${INGEST[victoriametrics]})x | >= 1.0x |"
  echo "| disk, bytes per sample after flush | ${DISK[lantern]} | ${DISK[victoriametrics]} | ${DISK[prometheus]} | $(ratio ${DISK[lantern]} ${DISK[victoriametrics]})x | <= 0.6 bytes |"
  echo "| memory, resident bytes per series at ${SERIES[lantern]} series | ${MEM[lantern]} | ${MEM[victoriametrics]} | ${MEM[prometheus]} | $(ratio ${MEM[lantern]} ${MEM[victoriametrics]})x | <= 1.0x |"
} > bench/RESULTS.md
cat bench/RESULTS.md
