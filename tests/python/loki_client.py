"""Real Loki clients from PyPI against Lantern's Loki API.

Usage:
  loki_client.py push BASE_URL        python-logging-loki's LokiHandler (push API v1,
                                      JSON) sends two records tagged service=payment
  loki_client.py tail BASE_URL QUERY N  websocket-client follows /loki/api/v1/tail;
                                      prints "connected", then each line as it comes,
                                      and exits after N lines
"""
import json
import logging
import sys
import urllib.parse

mode, base = sys.argv[1], sys.argv[2]

if mode == "push":
    import logging_loki

    handler = logging_loki.LokiHandler(
        url=base + "/loki/api/v1/push",
        tags={"service": "payment"},
        version="1",
    )
    log = logging.getLogger("payment")
    log.setLevel(logging.INFO)
    log.addHandler(handler)
    log.error("card declined for req-123", extra={"tags": {"env": "test"}})
    log.info("refund issued for req-124")
    print("pushed")
elif mode == "tail":
    import websocket

    query, want = sys.argv[3], int(sys.argv[4])
    url = base.replace("http://", "ws://") + "/loki/api/v1/tail?" + urllib.parse.urlencode({"query": query})
    ws = websocket.create_connection(url, timeout=30)
    print("connected", flush=True)
    seen = 0
    while seen < want:
        frame = json.loads(ws.recv())
        for s in frame["streams"]:
            for ts, line in s["values"]:
                print(json.dumps({"labels": s["stream"], "ts": ts, "line": line}), flush=True)
                seen += 1
    ws.close()
else:
    sys.exit("unknown mode " + mode)
