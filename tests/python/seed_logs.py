"""The seed's structlog setup, writing its JSON lines to Lantern.

Usage: seed_logs.py http URL | file PATH
structlog is configured exactly as in the seed (stdlib filter_by_level, add_logger_name,
add_log_level, TimeStamper(fmt="iso"), StackInfoRenderer, JSONRenderer) and the seed's
handle_request runs twice: once completing, once failing with a declined card. The
rendered lines go through the standard logging module to a handler: for `http`, one
that POSTs them as JSON lines to URL (Lantern's /api/v1/logs/jsonl?service=...); for
`file`, a file handler appending to PATH. Prints the number of lines written.
"""
import logging
import sys

import requests
import structlog

mode, target = sys.argv[1], sys.argv[2]


class JsonLinesHandler(logging.Handler):
    """Buffers rendered lines and POSTs them as newline-delimited JSON on flush."""

    def __init__(self, url):
        super().__init__()
        self.url = url
        self.lines = []

    def emit(self, record):
        self.lines.append(self.format(record))

    def flush(self):
        if self.lines:
            r = requests.post(self.url, data="\n".join(self.lines) + "\n", timeout=10)
            r.raise_for_status()
            self.lines = []


handler = JsonLinesHandler(target) if mode == "http" else logging.FileHandler(target)
handler.setFormatter(logging.Formatter("%(message)s"))
logging.basicConfig(level=logging.INFO, handlers=[handler])

# Configure structured logging (the seed's configuration, as written)
structlog.configure(
    processors=[
        structlog.stdlib.filter_by_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso"),
        structlog.processors.StackInfoRenderer(),
        structlog.processors.JSONRenderer()
    ],
    wrapper_class=structlog.stdlib.BoundLogger,
    context_class=dict,
    logger_factory=structlog.stdlib.LoggerFactory(),
)
logger = structlog.get_logger()


class PaymentError(Exception):
    def __init__(self, message, code):
        super().__init__(message)
        self.code = code


class Request:
    path = "/api/orders"


class Result:
    items = ["book", "lamp"]


request = Request()
order_id = "order-789"


def process_order(order_id, fail):
    if fail:
        raise PaymentError("Card declined", "CARD_DECLINED")
    return Result()


# Bind context that persists across log calls (the seed's handler)
def handle_request(request_id: str, user_id: str, fail: bool):
    log = logger.bind(
        request_id=request_id,
        user_id=user_id
    )
    log.info("request_started", path=request.path)
    try:
        result = process_order(order_id, fail)
        log.info("request_completed",
                 order_id=order_id,
                 items=len(result.items))
        return result
    except PaymentError as e:
        log.error("payment_failed",
                  error=str(e),
                  error_code=e.code)
        raise


handle_request("req-122", "user-455", fail=False)
try:
    handle_request("req-123", "user-456", fail=True)
except PaymentError:
    pass
handler.flush()
print(4)
