"""Log queries side by side: Lantern (HTTP APIs) and ClickHouse's engine in-process
through chdb (PyPI), on the same lines.

Usage: logs_query.py LANTERN_URL LINES_FILE IDS_FILE CHDB_DIR
Loads LINES_FILE into a MergeTree table (ZSTD codecs, ordered by service and time),
then times four queries on both, alternating, and prints JSON: the table's bytes on
disk and p50/p99 milliseconds per query and system. Each query returns the number of
matches and the newest 100 rows (a search page), or counts per level.
  needle      one request_id (20 different IDs)
  level_5m    level:error in a 5-minute window (20 windows)
  word        a free-text word ("timeout") anywhere
  count_1h    count_over_time by level over the last hour
"""
import json
import sys
import time
import urllib.parse

import requests
from chdb import session

url, lines_file, ids_file, chdb_dir = sys.argv[1:5]
ids = [l.strip() for l in open(ids_file) if l.strip()][:20]

s = session.Session(chdb_dir)
s.query("CREATE DATABASE IF NOT EXISTS bench")
s.query("DROP TABLE IF EXISTS bench.logs")
s.query(
    """CREATE TABLE bench.logs (
    timestamp DateTime64(6, 'UTC') CODEC(Delta, ZSTD(3)),
    service LowCardinality(String) CODEC(ZSTD(3)),
    level LowCardinality(String) CODEC(ZSTD(3)),
    event LowCardinality(String) CODEC(ZSTD(3)),
    request_id String CODEC(ZSTD(3)),
    user_id String CODEC(ZSTD(3)),
    path LowCardinality(String) CODEC(ZSTD(3)),
    method LowCardinality(String) CODEC(ZSTD(3)),
    status UInt16 CODEC(ZSTD(3)),
    duration_ms Float64 CODEC(ZSTD(3)),
    attempt Nullable(UInt8) CODEC(ZSTD(3)),
    error Nullable(String) CODEC(ZSTD(3)),
    error_code LowCardinality(Nullable(String)) CODEC(ZSTD(3)),
    logger LowCardinality(String) CODEC(ZSTD(3))
) ENGINE = MergeTree ORDER BY (service, timestamp)"""
)
t0 = time.time()
s.query(
    f"""INSERT INTO bench.logs SELECT parseDateTime64BestEffort(timestamp, 6, 'UTC'), service, level, event,
    request_id, user_id, path, method, status, duration_ms, attempt, error, error_code, logger
    FROM file('{lines_file}', 'JSONEachRow',
    'request_id String, user_id String, event String, error Nullable(String), error_code Nullable(String),
     path String, method String, status UInt16, duration_ms Float64, attempt Nullable(UInt8),
     service String, logger String, level String, timestamp String')"""
)
s.query("OPTIMIZE TABLE bench.logs FINAL")
load_s = time.time() - t0
ch_bytes = int(
    s.query("SELECT sum(bytes_on_disk) FROM system.parts WHERE database = 'bench' AND table = 'logs' AND active", "CSV")
    .bytes()
    .decode()
    .strip()
)
lo, hi = [
    float(x)
    for x in s.query("SELECT toUnixTimestamp64Micro(min(timestamp)), toUnixTimestamp64Micro(max(timestamp)) FROM bench.logs", "CSV")
    .bytes()
    .decode()
    .strip()
    .split(",")
]
lo_s, hi_s = lo / 1e6, hi / 1e6


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + "Z"


def lantern_search(q, start=None, end=None):
    body = {"query": q, "sort": "timestamp:desc", "limit": 100}
    if start:
        body["start"], body["end"] = start, end
    r = requests.post(url + "/api/v1/logs/search", json=body, timeout=300)
    r.raise_for_status()
    v = r.json()
    return v["total"], len(v["hits"])


# The hour before T (whole seconds), the same window for both.
T = int(hi_s) + 2


def lantern_count():
    q = 'sum by (level) (count_over_time({service=~".+"}[1h]))'
    r = requests.get(url + "/loki/api/v1/query?" + urllib.parse.urlencode({"query": q, "time": str(T)}), timeout=300)
    r.raise_for_status()
    return sorted((x["metric"].get("level", ""), int(float(x["value"][1]))) for x in r.json()["data"]["result"])


def ch(sql):
    return s.query(sql, "JSONCompact").bytes()


def ch_page(where):
    out = json.loads(ch(f"SELECT *, count() OVER () AS total FROM bench.logs WHERE {where} ORDER BY timestamp DESC LIMIT 100"))
    rows = out["data"]
    return (rows[0][-1] if rows else 0), len(rows)


def ch_count():
    out = json.loads(
        ch(
            f"SELECT level, count() FROM bench.logs WHERE timestamp > fromUnixTimestamp64Micro({(T - 3600) * 1000000}, 'UTC') "
            f"AND timestamp <= fromUnixTimestamp64Micro({T * 1000000}, 'UTC') GROUP BY level"
        )
    )
    return sorted((r[0], int(r[1])) for r in out["data"])


WORD_COLS = ["event", "error", "error_code", "path", "logger", "method", "level", "service", "user_id", "request_id"]
word_where = " OR ".join(f"hasTokenCaseInsensitive(ifNull({c}, ''), 'timeout')" for c in WORD_COLS)
windows = [lo_s + (hi_s - lo_s - 300) * i / 19 for i in range(20)]
cases = {
    "needle": [
        (lambda i=i: lantern_search(f"request_id:{i}"), lambda i=i: ch_page(f"request_id = '{i}'")) for i in ids
    ],
    "level_5m": [
        (
            lambda w=w: lantern_search("level:error", iso(w), iso(w + 300)),
            lambda w=w: ch_page(
                f"level = 'error' AND timestamp >= fromUnixTimestamp64Micro({int(w) * 1000000}, 'UTC') AND timestamp <= fromUnixTimestamp64Micro({int(w + 300) * 1000000}, 'UTC')"
            ),
        )
        for w in windows
    ],
    "word": [(lambda: lantern_search("timeout"), lambda: ch_page(word_where))] * 10,
    "count_1h": [(lantern_count, ch_count)] * 10,
}


def pct(v, p):
    v = sorted(v)
    return round(v[min(len(v) - 1, int(round(p * (len(v) - 1))))] * 1000, 1)


result = {"chdb_bytes": ch_bytes, "chdb_load_s": round(load_s, 1)}
result["lines"] = int(json.loads(ch("SELECT count() FROM bench.logs"))["data"][0][0])
for name, runs in cases.items():
    # Warm both once, and check they agree.
    a, b = runs[0][0](), runs[0][1]()
    if name != "count_1h":
        a, b = a[0], int(b[0])
    result[f"{name}_answer"] = {"lantern": a, "chdb": b}
    tl, tc = [], []
    for fl, fc in runs:
        t = time.perf_counter()
        fl()
        tl.append(time.perf_counter() - t)
        t = time.perf_counter()
        fc()
        tc.append(time.perf_counter() - t)
    result[name] = {"lantern_p50": pct(tl, 0.5), "lantern_p99": pct(tl, 0.99), "chdb_p50": pct(tc, 0.5), "chdb_p99": pct(tc, 0.99), "n": len(runs)}
print(json.dumps(result))
