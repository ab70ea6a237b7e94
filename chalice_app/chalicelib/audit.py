"""One structured log line per auth event, and the request id it carries.

A line is JSON: ``{"event", "outcome", "request_id", "subject", "error"}`` where
``subject`` is the first 16 hex digits of sha256(sub). Tokens, codes, cookies,
state values and secrets never reach it.
"""

from __future__ import annotations

import contextvars
import hashlib
import json
import logging

logger = logging.getLogger(__name__)

_request_id: contextvars.ContextVar[str] = contextvars.ContextVar(
    "request_id", default="-"
)


def set_request_id(request_id: str) -> None:
    _request_id.set(request_id)


def request_id() -> str:
    return _request_id.get()


def subject_of(sub: str) -> str:
    return hashlib.sha256(sub.encode()).hexdigest()[:16]


def audit(
    event: str,
    outcome: str,
    *,
    sub: str | None = None,
    error: str | None = None,
) -> None:
    line = {
        "event": event,
        "outcome": outcome,
        "request_id": request_id(),
        "subject": subject_of(sub) if sub else None,
        "error": error,
    }
    logger.info(json.dumps(line, separators=(",", ":")))
