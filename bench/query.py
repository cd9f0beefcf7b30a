#!/usr/bin/env python3
"""Times the same PromQL queries against Lantern and Prometheus (see bench/query.sh).

Usage: query.py LANTERN_URL LANTERN_PID PROM_URL PROM_PID END_S RANGE_S REPEAT OUT.md "HEADER"
Each query runs once to warm up, then REPEAT times per system, alternating systems; the
median wall time of the HTTP request is reported. Peak memory is VmHWM after the
queries (reset before them through /proc/PID/clear_refs).
"""
import json, statistics, sys, time, urllib.parse, urllib.request

lantern, lpid, prom, ppid, end, span, repeat, out, header = sys.argv[1:10]
end, span, repeat = float(end), float(span), int(repeat)

QUERIES = [
    ("rate", 'rate(node_network_receive_bytes_total[5m])'),
    ("sum by", 'sum by (datacenter, mode) (rate(node_cpu_seconds_total{mode!="idle"}[5m]))'),
    ("histogram_quantile", 'histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))'),
    ("histogram_quantile by handler", 'histogram_quantile(0.9, sum by (handler, le) (rate(http_request_duration_seconds_bucket[5m])))'),
    ("topk", 'topk(10, rate(node_network_transmit_bytes_total[5m]))'),
    ("subquery", 'max_over_time(sum by (instance) (rate(http_requests_total[5m]))[30m:1m])'),
    ("regex matcher", 'sum by (instance) (node_filesystem_avail_bytes{mountpoint=~"/var|/data", instance=~"host-000[0-4].*"})'),
    ("error ratio", 'sum by (handler) (rate(http_requests_total{status=~"5.."}[5m])) / sum by (handler) (rate(http_requests_total[5m]))'),
    ("avg gauge", 'avg by (datacenter) (node_load1)'),
    ("count", 'count by (status) (http_requests_total)'),
]

def vm_hwm(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM"):
            return int(line.split()[1]) * 1024
    return 0

def reset_hwm(pid):
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass

def run(base, path, params):
    data = urllib.parse.urlencode(params).encode()
    t0 = time.perf_counter()
    with urllib.request.urlopen(urllib.request.Request(base + path, data=data), timeout=600) as r:
        body = r.read()
    dt = time.perf_counter() - t0
    j = json.loads(body)
    if j.get("status") != "success":
        raise SystemExit(f"{base}{path} {params}: {j}")
    res = j["data"]["result"]
    return dt, (len(res) if isinstance(res, list) else 1)

reset_hwm(lpid); reset_hwm(ppid)
rows = []
for name, q in QUERIES:
    for kind, path, params in [
        ("instant", "/api/v1/query", {"query": q, "time": f"{end:.3f}"}),
        ("range", "/api/v1/query_range", {"query": q, "start": f"{end - span:.3f}", "end": f"{end:.3f}", "step": "60"}),
    ]:
        times = {lantern: [], prom: []}
        counts = {}
        for base in (lantern, prom):
            counts[base] = run(base, path, params)[1]  # warm-up
        for _ in range(repeat):
            for base in (lantern, prom):
                times[base].append(run(base, path, params)[0])
        lt, pt = statistics.median(times[lantern]), statistics.median(times[prom])
        rows.append((name, kind, lt, pt, lt / pt, counts[lantern], counts[prom]))
        print(f"{name:32} {kind:8} lantern {lt*1000:9.1f} ms  prometheus {pt*1000:9.1f} ms  ratio {lt/pt:5.2f}  series {counts[lantern]}/{counts[prom]}", file=sys.stderr)

ratios = [r[4] for r in rows]
median = statistics.median(ratios)
worst = max(rows, key=lambda r: r[4])
lmem, pmem = vm_hwm(lpid), vm_hwm(ppid)
with open(out, "w") as f:
    f.write("# Query benchmark\n\n" + header + "\n\n")
    f.write("| query | kind | Lantern ms | Prometheus ms | Lantern / Prometheus | result series (L/P) |\n|---|---|---:|---:|---:|---:|\n")
    for name, kind, lt, pt, r, lc, pc in rows:
        f.write(f"| {name} | {kind} | {lt*1000:.1f} | {pt*1000:.1f} | {r:.2f} | {lc}/{pc} |\n")
    f.write(f"\n**Median ratio Lantern / Prometheus: {median:.2f}** (target <= 0.5); worst: {worst[0]} ({worst[1]}) at {worst[4]:.2f} (target <= 1.0).\n\n")
    f.write(f"Peak resident memory while querying (VmHWM, reset before the queries): Lantern {lmem/2**20:.0f} MiB, Prometheus {pmem/2**20:.0f} MiB.\n")
print(json.dumps({"median_ratio": median, "worst_ratio": worst[4], "lantern_hwm": lmem, "prometheus_hwm": pmem}))
