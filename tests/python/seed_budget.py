"""The seed's error-budget function, as written there, run on counts given as
arguments: seed_budget.py SLO_TARGET WINDOW_REQUESTS FAILED_REQUESTS. Prints JSON."""
import json
import sys


def calculate_error_budget(slo_target: float, window_requests: int,
                           failed_requests: int) -> dict:
    allowed_failures = window_requests * (1 - slo_target / 100)
    remaining = allowed_failures - failed_requests
    return {
        "budget_total": allowed_failures,
        "budget_used": failed_requests,
        "budget_remaining": remaining,
        "budget_remaining_percent": (remaining / allowed_failures) * 100
    }


if __name__ == "__main__":
    print(json.dumps(calculate_error_budget(float(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))))
