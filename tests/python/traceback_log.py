"""Writes Python logging lines to a file, one of them with the traceback of a chained
exception (logger.exception), as a service's stdlib logging does.

Usage: traceback_log.py FILE
"""

import logging
import sys

logging.basicConfig(
    filename=sys.argv[1],
    format="%(asctime)s level=%(levelname)s %(name)s %(message)s",
    level=logging.INFO,
)
log = logging.getLogger("payment")


def charge(amount):
    try:
        return amount / 0
    except ZeroDivisionError as e:
        raise RuntimeError("gateway rejected the charge") from e


log.info("charging order-1")
try:
    charge(42)
except RuntimeError:
    log.exception("charge failed for order-1")
log.info("next request order-2")
logging.shutdown()
