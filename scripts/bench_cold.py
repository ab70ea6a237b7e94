"""One cold start, measured inside a fresh process: ``python bench_cold.py MODE``.

``app``: import the Chalice app and answer one ``GET /api/user-info`` through
the Lambda entry point (``app(event, context)``), building its AWS clients on
the way; the session cookie comes from ``BENCH_SESSION_ID`` and AWS from the
usual ``KL_*`` and ``AWS_*`` variables. ``boto3``: import boto3 and build one
DynamoDB client (a floor). ``pass``: nothing (the other floor).

Prints one JSON line. ``in_process_ms`` runs from this script's first
statement to the answer, so interpreter start-up and exit are excluded (the
parent's wall time of the whole subprocess includes them). ``maxrss_kb`` is
``ru_maxrss`` of this process at the end and ``peak_rss_kb`` its VmHWM.

Only the standard library is imported at module level, so the floors measure
nothing of ours; ``api_event`` is shared with the warm benchmark.
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()

import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

APP_DIR = Path(__file__).resolve().parent.parent / "chalice_app"
SESSION_COOKIE = "__Host-kl_session"
HEAVY_MODULES = ("boto3", "botocore", "requests", "jwt", "cryptography", "urllib3")


class LambdaContext:
    """The attributes Lambda's context object carries that a handler may read."""

    function_name = "kakao-login-bench"
    function_version = "$LATEST"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:ap-northeast-2:000000000000:function:x"

    def __init__(self, request_id: str) -> None:
        self.aws_request_id = request_id

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def api_event(
    method: str,
    path: str,
    *,
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    body: str | None = None,
    request_id: str = "bench-request",
) -> dict[str, Any]:
    """An API Gateway REST (v1 proxy) event, as Lambda hands it to Chalice."""
    sent = dict(headers or {})
    return {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": sent,
        "multiValueHeaders": {name: [value] for name, value in sent.items()},
        "queryStringParameters": dict(query) if query else None,
        "multiValueQueryStringParameters": (
            {name: [value] for name, value in query.items()} if query else None
        ),
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": path,
            "httpMethod": method,
            "path": "/api" + path,
            "stage": "api",
            "requestId": request_id,
            "apiId": "bench",
        },
        "body": body,
        "isBase64Encoded": False,
    }


def _answer_user_info() -> dict[str, Any]:
    sys.path.insert(0, str(APP_DIR))
    import app as chalice_app

    imported = time.perf_counter()
    cookie = f"{SESSION_COOKIE}={os.environ['BENCH_SESSION_ID']}"
    event = api_event("GET", "/api/user-info", headers={"Cookie": cookie})
    response = chalice_app.app(event, LambdaContext("bench-cold"))
    return {
        "status": response["statusCode"],
        "import_ms": (imported - STARTED) * 1000,
    }


def _build_dynamodb_client() -> dict[str, Any]:
    import boto3

    boto3.client("dynamodb", region_name=os.environ.get("KL_REGION", "us-east-1"))
    return {"status": None}


def _peak_rss_kb() -> int | None:
    """VmHWM: the peak resident set of this program image alone.

    Linux carries the parent's high-water mark into ``ru_maxrss`` across fork
    and exec, so a child of a large parent reports at least the parent's size
    there; VmHWM starts afresh at exec.
    """
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return None


def main(mode: str) -> None:
    if mode == "app":
        result = _answer_user_info()
    elif mode == "boto3":
        result = _build_dynamodb_client()
    else:
        result = {"status": None}
    finished = time.perf_counter()

    result["in_process_ms"] = (finished - STARTED) * 1000
    result["maxrss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result["peak_rss_kb"] = _peak_rss_kb()
    result["heavy_modules"] = sorted(m for m in HEAVY_MODULES if m in sys.modules)
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "pass")
