"""Access logs without query strings: OAuth codes and states travel in them.

Every server of the offline stack logs one line per request, as a developer
expects, but the line names the path only. ``chalice local``'s request handler
cannot be swapped from its command line, so its ``log_request`` is replaced in
the process that runs it.
"""

from __future__ import annotations

from typing import Any

from moto.moto_server.werkzeug_app import MotoRequestHandler
from werkzeug.serving import WSGIRequestHandler


def redacted_target(path: str) -> str:
    base, query, _ = path.partition("?")
    return base + ("?…" if query else "")


def log_request(handler: Any, code: int | str = "-", size: int | str = "-") -> None:
    """``BaseHTTPRequestHandler.log_request`` with the query string left out."""
    handler.log_message(
        '"%s %s %s" %s %s',
        getattr(handler, "command", "-"),
        redacted_target(getattr(handler, "path", "-")),
        getattr(handler, "request_version", "-"),
        code,
        size,
    )


class RedactingRequestHandler(WSGIRequestHandler):
    log_request = log_request


class RedactingMotoRequestHandler(MotoRequestHandler):
    log_request = log_request


def run_chalice_local(argv: list[str]) -> int:
    """``chalice local`` itself, with the redacted request log."""
    import sys

    from chalice.cli import main
    from chalice.local import ChaliceRequestHandler

    ChaliceRequestHandler.log_request = log_request
    sys.argv = ["chalice", "local", *argv]
    return int(main() or 0)
