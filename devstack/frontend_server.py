"""Serve ``frontend/`` on loopback the way a static host (S3 + CloudFront) would.

The headers are the ones the deployed site should send too: a strict Content
Security Policy that lets the page talk only to itself and the API, no caching
of the generated config, and no referrer leaking query strings.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, Response, send_from_directory

from devstack.settings import ROOT, StackSettings

FRONTEND_DIR = ROOT / "frontend"


def content_security_policy(api_origin: str) -> str:
    return "; ".join(
        [
            "default-src 'self'",
            f"connect-src 'self' {api_origin}",
            "img-src 'self' data: http://localhost:*",
            "style-src 'self'",
            "script-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
            f"form-action 'self' {api_origin}",
        ]
    )


def create_app(settings: StackSettings, root: Path = FRONTEND_DIR) -> Flask:
    app = Flask(__name__, static_folder=None)
    policy = content_security_policy(settings.api_url)

    @app.get("/")
    def index() -> Response:
        return send_from_directory(root, "index.html")

    @app.get("/config.json")
    def generated_config() -> Response:
        # Each offline stack has its own generated config (ports and ids
        # differ), so it lives in the stack's state folder, not in frontend/.
        config = settings.frontend_config_file
        return send_from_directory(config.parent, config.name)

    @app.get("/<path:name>")
    def asset(name: str) -> Response:
        # Like a single-page app's host: a path that is not a file (a
        # return_to such as /inbox) gets the page, which routes itself.
        if "." not in name.rsplit("/", 1)[-1]:
            return send_from_directory(root, "index.html")
        return send_from_directory(root, name)

    @app.after_request
    def headers(response: Response) -> Response:
        response.headers["Content-Security-Policy"] = policy
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Cache-Control"] = "no-store"
        return response

    return app
