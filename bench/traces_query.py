"""Latencies of trace lookups and searches against a running Lantern (stdlib only).

Usage: traces_query.py BASE_URL IDS_FILE
Prints JSON: trace-by-ID p50/p99 over up to 500 random sampled trace IDs (each must be
found), search p50/p99 over 100 queries of one service plus one attribute over the
last hour (half a common route, half a rare user ID), and search p50/p99 over 50
queries of one service, one attribute and a minimum duration.
"""
import json
import random
import sys
import time
import urllib.parse
import urllib.request

base, ids_file = sys.argv[1], sys.argv[2]
ids = [l.strip() for l in open(ids_file) if l.strip()]
random.seed(7)
sample = random.sample(ids, min(500, len(ids)))


def timed(url):
    t = time.perf_counter()
    with urllib.request.urlopen(url) as r:
        body = r.read()
    return (time.perf_counter() - t) * 1000, json.loads(body)


def pct(xs, p):
    xs = sorted(xs)
    return round(xs[min(len(xs) - 1, int(len(xs) * p))], 1)


trace_ms = []
for tid in sample:
    ms, v = timed(f"{base}/api/traces/{tid}")
    assert v["data"][0]["traceID"] == tid and len(v["data"][0]["spans"]) == 8, (tid, v)
    trace_ms.append(ms)

end = int(time.time() * 1e6)
start = end - 3600 * 1_000_000
search_ms = []
for k in range(100):
    svc = f"svc-{k % 20}"
    tags = {"http.route": f"/api/v1/item/{k % 200}"} if k % 2 == 0 else {"user.id": f"user-{k * 997 % 100000}"}
    q = urllib.parse.urlencode({"service": svc, "tags": json.dumps(tags), "start": start, "end": end, "limit": 20})
    ms, v = timed(f"{base}/api/traces?{q}")
    assert isinstance(v["data"], list), v
    search_ms.append(ms)

duration_ms = []
for k in range(50):
    svc = f"svc-{k % 20}"
    tags = {"http.route": f"/api/v1/item/{k % 200}"}
    q = urllib.parse.urlencode({"service": svc, "tags": json.dumps(tags), "minDuration": f"{50 + 10 * (k % 10)}ms",
                                "start": start, "end": end, "limit": 20})
    ms, v = timed(f"{base}/api/traces?{q}")
    assert isinstance(v["data"], list), v
    duration_ms.append(ms)

print(json.dumps({
    "trace_n": len(trace_ms), "trace_p50": pct(trace_ms, 0.5), "trace_p99": pct(trace_ms, 0.99),
    "search_n": len(search_ms), "search_p50": pct(search_ms, 0.5), "search_p99": pct(search_ms, 0.99),
    "duration_n": len(duration_ms), "duration_p50": pct(duration_ms, 0.5), "duration_p99": pct(duration_ms, 0.99),
}))
