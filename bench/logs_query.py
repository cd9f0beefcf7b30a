"""Log queries side by side: Lantern (HTTP APIs) and ClickHouse's engine in-process
through chdb (PyPI), on the same lines.

Usage: logs_query.py LANTERN_URL LINES_FILE IDS_FILE CHDB_DIR [SHAPE...]
Loads LINES_FILE into a MergeTree table once (kept in CHDB_DIR; RELOAD=1 loads again),
then times every query shape (or those named) on both, alternating, and prints JSON:
the table's bytes on disk, and per shape p50/p99 milliseconds per system and both
answers (which must agree).

The ClickHouse table is what a competent ClickHouse user would define for these logs:
ordered by service, level and time; the common fields extracted into typed columns;
the raw line kept (for free text, line filters and fields not extracted, such as the
sparse `error_code`), with a token Bloom filter over its lowercased words and a Bloom
filter on the request ID. Searches answer with the number of matches and the newest
100 rows; LogQL log queries with the newest 100 lines; metric queries with their
values.
"""
import json
import os
import sys
import time
import urllib.parse

import requests
from chdb import session

url, lines_file, ids_file, chdb_dir = sys.argv[1:5]
only = set(sys.argv[5:])
ids = [l.strip() for l in open(ids_file) if l.strip()][:10]

s = session.Session(chdb_dir)
s.query("CREATE DATABASE IF NOT EXISTS bench")
exists = s.query("EXISTS TABLE bench.logs", "CSV").bytes().decode().strip() == "1"
load_s = None
if os.environ.get("RELOAD") == "1" or not exists:
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
        line String CODEC(ZSTD(3)),
        INDEX rid request_id TYPE bloom_filter(0.01) GRANULARITY 1,
        INDEX tok lower(line) TYPE tokenbf_v1(32768, 3, 0) GRANULARITY 1
    ) ENGINE = MergeTree ORDER BY (service, level, timestamp)"""
    )
    t0 = time.time()
    s.query(
        f"""INSERT INTO bench.logs SELECT parseDateTime64BestEffort(JSONExtractString(line, 'timestamp'), 6, 'UTC'),
        JSONExtractString(line, 'service'), JSONExtractString(line, 'level'), JSONExtractString(line, 'event'),
        JSONExtractString(line, 'request_id'), JSONExtractString(line, 'user_id'), JSONExtractString(line, 'path'),
        JSONExtractString(line, 'method'), JSONExtractUInt(line, 'status'), JSONExtractFloat(line, 'duration_ms'), line
        FROM file('{lines_file}', 'LineAsString', 'line String')"""
    )
    s.query("OPTIMIZE TABLE bench.logs FINAL")
    load_s = round(time.time() - t0, 1)
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
# Queries end at T (whole seconds past the newest line); both systems get the same windows.
T = int(hi_s) + 2
START = int(lo_s) - 1


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + "Z"


def us(t):
    return f"fromUnixTimestamp64Micro({int(t * 1_000_000)}, 'UTC')"


# --- Lantern ---------------------------------------------------------------------


def search(q, start=START, end=T):
    body = {"query": q, "sort": "timestamp:desc", "limit": 100, "start": iso(start), "end": iso(end)}
    r = requests.post(url + "/api/v1/logs/search", json=body, timeout=600)
    r.raise_for_status()
    v = r.json()
    return [v["total"], len(v["hits"])]


def loki_range(q, start=START, end=T, step=None, limit=100):
    p = {"query": q, "start": str(start), "end": str(end), "limit": str(limit), "direction": "backward"}
    if step:
        p["step"] = step
    r = requests.get(url + "/loki/api/v1/query_range?" + urllib.parse.urlencode(p), timeout=600)
    r.raise_for_status()
    return r.json()["data"]


def logql_lines(q, start=START, end=T):
    d = loki_range(q, start, end)
    return [sum(len(st["values"]) for st in d["result"])]


def logql_instant(q):
    r = requests.get(url + "/loki/api/v1/query?" + urllib.parse.urlencode({"query": q, "time": str(T)}), timeout=600)
    r.raise_for_status()
    return sorted((tuple(sorted(x["metric"].items())), round(float(x["value"][1]))) for x in r.json()["data"]["result"])


def logql_matrix_total(q, step):
    d = loki_range(q, START, T, step=step)
    return [len(d["result"]), sum(len(x["values"]) for x in d["result"]), round(sum(float(v[1]) for x in d["result"] for v in x["values"]))]


# --- chdb ------------------------------------------------------------------------


# ClickHouse answers repeated queries from its query condition cache (on by default since
# 25.3: granules a WHERE condition found nothing in are skipped the next time). Each
# query is timed with its defaults, and again with the cache off (`NO_CACHE`).
NO_CACHE = False


def ch(sql):
    if NO_CACHE:
        sql += " SETTINGS use_query_condition_cache = 0"
    return json.loads(s.query(sql, "JSONCompact").bytes())["data"]


WINDOW = f"timestamp >= {us(START)} AND timestamp <= {us(T)}"


def ch_page(where, start=START, end=T):
    rows = ch(
        f"SELECT *, count() OVER () AS total FROM bench.logs WHERE ({where}) AND timestamp >= {us(start)} AND timestamp <= {us(end)} "
        "ORDER BY timestamp DESC LIMIT 100"
    )
    return [int(rows[0][-1]) if rows else 0, len(rows)]


def ch_lines(where, start=START, end=T):
    rows = ch(f"SELECT timestamp, line FROM bench.logs WHERE ({where}) AND timestamp >= {us(start)} AND timestamp <= {us(end)} ORDER BY timestamp DESC LIMIT 100")
    return [len(rows)]


def ch_groups(sql):
    return sorted((tuple(r[:-1]), round(float(r[-1]))) for r in ch(sql))


def ch_instant(where, by=None, rng=None, per_second=False):
    """LogQL's sum [by] (count_over_time(...[rng])) at T: a count over (T-rng, T]."""
    lo_t = T - rng if rng else START
    val = "count() / %d" % rng if per_second else "count()"
    if by:
        rows = ch(f"SELECT {by}, {val} FROM bench.logs WHERE ({where}) AND timestamp > {us(lo_t)} AND timestamp <= {us(T)} GROUP BY {by}")
        return sorted(((("level" if by == "level" else by, r[0]),), round(float(r[1]))) for r in rows)
    rows = ch(f"SELECT {val} FROM bench.logs WHERE ({where}) AND timestamp > {us(lo_t)} AND timestamp <= {us(T)}")
    return [((), round(float(rows[0][0])))] if rows and float(rows[0][0]) > 0 else []


def ch_matrix_total(where, step_s, rng_s, by):
    """count_over_time(...[rng]) at every step from START to T, by `by`: each line counts in
    the windows (t - rng, t] that hold it."""
    steps = (T - START) // step_s + 1
    rows = ch(
        f"""SELECT {by}, count(DISTINCT k), count() FROM (
        SELECT {by}, arrayJoin(range(toUInt32(greatest(0, ceil((toUnixTimestamp64Micro(timestamp) / 1e6 - {START}) / {step_s}))),
               toUInt32(least({steps}, floor((toUnixTimestamp64Micro(timestamp) / 1e6 + {rng_s} - {START}) / {step_s}) + 1)))) AS k
        FROM bench.logs WHERE ({where}) AND {WINDOW}) GROUP BY {by}"""
    )
    return [len(rows), sum(int(r[1]) for r in rows), sum(int(r[2]) for r in rows)]


# --- the shapes --------------------------------------------------------------------

windows = [int(lo_s + (hi_s - lo_s - 300) * i / 9) for i in range(10)]
errs = ["CARD_DECLINED", "INSUFFICIENT_FUNDS", "UPSTREAM_TIMEOUT", "DB_CONN_RESET", "VALIDATION"]
users = ["user-4242", "user-123", "user-99999", "user-7", "user-50000"]


def lw(w):
    return w  # a word, lowercased for the token index


shapes = [
    # (name, description, [(lantern, chdb), ...])
    ("needle", "search `request_id:<id>`", [(lambda i=i: search(f"request_id:{i}"), lambda i=i: ch_page(f"request_id = '{i}'")) for i in ids]),
    (
        "level_5m",
        "search `level:error` in a 5-minute window",
        [(lambda w=w: search("level:error", w, w + 300), lambda w=w: ch_page("level = 'error'", w, w + 300)) for w in windows],
    ),
    (
        "window_5m",
        "search `*` in a 5-minute window (a busy window's newest page)",
        [(lambda w=w: search("*", w, w + 300), lambda w=w: ch_page("1", w, w + 300)) for w in windows],
    ),
    (
        "word",
        "search free text `Insufficient`",
        [(lambda: search("Insufficient"), lambda: ch_page("hasToken(lower(line), 'insufficient')"))] * 5,
    ),
    (
        "word_common",
        "search free text `timeout`",
        [(lambda: search("timeout"), lambda: ch_page("hasToken(lower(line), 'timeout')"))] * 5,
    ),
    (
        "phrase",
        'search phrase `"connection reset"`',
        [(lambda: search('"connection reset"'), lambda: ch_page("hasToken(lower(line), 'connection') AND hasToken(lower(line), 'reset') AND positionCaseInsensitive(line, 'connection reset') > 0"))] * 5,
    ),
    (
        "sparse_field",
        "search `error_code:<code>` (a field on 5% of lines, not extracted in ClickHouse)",
        [(lambda e=e: search(f"error_code:{e}"), lambda e=e: ch_page(f"JSONExtractString(line, 'error_code') = '{e}'")) for e in errs],
    ),
    (
        "exists",
        "search `_exists_:attempt` (a field on 7% of lines)",
        [(lambda: search("_exists_:attempt"), lambda: ch_page("JSONHas(line, 'attempt')"))] * 5,
    ),
    (
        "dense_eq",
        "search `event:db_query AND method:POST`",
        [(lambda: search("event:db_query AND method:POST"), lambda: ch_page("event = 'db_query' AND method = 'POST'"))] * 5,
    ),
    (
        "num_range",
        "search `duration_ms:[1990 TO *]`",
        [(lambda: search("duration_ms:[1990 TO *]"), lambda: ch_page("duration_ms >= 1990"))] * 5,
    ),
    (
        "prefix",
        "search `user_id:user-4242*`",
        [(lambda: search("user_id:user-4242*"), lambda: ch_page("startsWith(user_id, 'user-4242')"))] * 5,
    ),
    (
        "negation",
        "search `level:error AND NOT error_code:CARD_DECLINED`",
        [(lambda: search("level:error AND NOT error_code:CARD_DECLINED"), lambda: ch_page("level = 'error' AND JSONExtractString(line, 'error_code') != 'CARD_DECLINED'"))] * 5,
    ),
    (
        "logql_needle",
        'LogQL `{service=~".+"} |= "<request id>"` (query_range, 100 lines)',
        [(lambda i=i: logql_lines('{service=~".+"} |= "%s"' % i), lambda i=i: ch_lines(f"line LIKE '%{i}%'")) for i in ids],
    ),
    (
        "logql_not",
        'LogQL `{service="payment"} != "request_"` (no line matches)',
        [(lambda: logql_lines('{service="payment"} != "request_"'), lambda: ch_lines("service = 'payment' AND line NOT LIKE '%request_%'"))] * 5,
    ),
    (
        "logql_regex",
        'LogQL `{service=~".+"} |~ "upstream timeout after [0-9]+s"` (query_range, 100 lines)',
        [(lambda: logql_lines('{service=~".+"} |~ "upstream timeout after [0-9]+s"'), lambda: ch_lines("match(line, 'upstream timeout after [0-9]+s')"))] * 5,
    ),
    (
        "logql_level",
        'LogQL `{level="error"}` (query_range, 100 lines)',
        [(lambda: logql_lines('{level="error"}'), lambda: ch_lines("level = 'error'"))] * 5,
    ),
    (
        "logql_json",
        'LogQL `{service=~".+"} | json | error_code="CARD_DECLINED"` (query_range, 100 lines)',
        [(lambda: logql_lines('{service=~".+"} | json | error_code="CARD_DECLINED"'), lambda: ch_lines("JSONExtractString(line, 'error_code') = 'CARD_DECLINED'"))] * 5,
    ),
    (
        "logql_count_word",
        'LogQL `sum(count_over_time({service=~".+"} |= "Insufficient" [6h]))`',
        [(lambda: logql_instant('sum(count_over_time({service=~".+"} |= "Insufficient" [6h]))'), lambda: ch_instant("line LIKE '%Insufficient%'", rng=6 * 3600))] * 5,
    ),
    (
        "logql_count_1h",
        'LogQL `sum by (level) (count_over_time({service=~".+"}[1h]))`',
        [(lambda: logql_instant('sum by (level) (count_over_time({service=~".+"}[1h]))'), lambda: ch_instant("1", by="level", rng=3600))] * 5,
    ),
    (
        "logql_rate_json",
        'LogQL `sum by (error_code) (rate({service=~".+"} | json | error_code!="" [1h]))`',
        [(
            lambda: logql_instant('sum by (error_code) (rate({service=~".+"} | json | error_code!="" [1h]))'),
            lambda: sorted(((("error_code", r[0]),), round(float(r[1]))) for r in ch(
                f"SELECT JSONExtractString(line, 'error_code') AS e, count() / 3600 FROM bench.logs WHERE e != '' AND timestamp > {us(T - 3600)} AND timestamp <= {us(T)} GROUP BY e")),
        )] * 5,
    ),
    (
        "logql_steps",
        'LogQL `sum by (level) (count_over_time({service=~".+"} |= "timeout" [1m]))`, query_range over the hour, step 15s (241 steps)',
        [(lambda: logql_matrix_total('sum by (level) (count_over_time({service=~".+"} |= "timeout" [1m]))', "15"), lambda: ch_matrix_total("line LIKE '%timeout%'", 15, 60, "level"))] * 5,
    ),
]


def pct(v, p):
    v = sorted(v)
    return round(v[min(len(v) - 1, int(round(p * (len(v) - 1))))] * 1000, 1)


result = {"chdb_bytes": ch_bytes, "chdb_load_s": load_s, "shapes": []}
result["lines"] = int(ch("SELECT count() FROM bench.logs")[0][0])
for name, desc, runs in shapes:
    if only and name not in only:
        continue
    # Warm both once (the first run: neither has seen the query), and check they agree.
    t = time.perf_counter()
    a = runs[0][0]()
    first_l = time.perf_counter() - t
    t = time.perf_counter()
    b = runs[0][1]()
    first_c = time.perf_counter() - t
    tl, tc, tn = [], [], []
    for _ in range(2 if len(runs) < 10 else 1):
        for fl, fc in runs:
            t = time.perf_counter()
            fl()
            tl.append(time.perf_counter() - t)
            t = time.perf_counter()
            fc()
            tc.append(time.perf_counter() - t)
            NO_CACHE = True
            t = time.perf_counter()
            fc()
            tn.append(time.perf_counter() - t)
            NO_CACHE = False
    r = {"name": name, "desc": desc, "lantern": a, "chdb": b, "agree": a == b,
         "lantern_p50": pct(tl, 0.5), "lantern_p99": pct(tl, 0.99), "chdb_p50": pct(tc, 0.5), "chdb_p99": pct(tc, 0.99),
         "chdb_nocache_p50": pct(tn, 0.5), "lantern_first": round(first_l * 1000, 1), "chdb_first": round(first_c * 1000, 1),
         "n": len(tl)}
    r["ratio"] = round(r["lantern_p50"] / max(r["chdb_p50"], 0.1), 2)
    r["ratio_nocache"] = round(r["lantern_p50"] / max(r["chdb_nocache_p50"], 0.1), 2)
    print(f"{name:18} lantern {r['lantern_p50']:8.1f} ms  chdb {r['chdb_p50']:8.1f} ms  ratio {r['ratio']:6.2f}  chdb no cache {r['chdb_nocache_p50']:8.1f} ms  first {r['lantern_first']:8.1f} / {r['chdb_first']:8.1f}  agree={r['agree']} {a if not r['agree'] else ''} {b if not r['agree'] else ''}", file=sys.stderr)
    result["shapes"].append(r)
print(json.dumps(result))
