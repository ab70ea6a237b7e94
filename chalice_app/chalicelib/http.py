"""HTTP plumbing: cookies, CORS, CSRF, JSON bodies and responses, headers.

Nothing here knows the login flow; ``app.py`` joins the two.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from chalice.app import Response

from chalicelib.audit import request_id
from chalicelib.config import AppConfig, origin_of
from chalicelib.errors import (
    ApiError,
    CsrfRequired,
    InvalidRequest,
    OriginNotAllowed,
)

MAX_BODY_BYTES = 64 * 1024
CORS_ALLOWED_HEADERS = "Content-Type, X-CSRF"
CORS_MAX_AGE = "600"
# Content types a cross-site form or a no-preflight fetch can send (Fetch
# standard, "CORS-safelisted request-header").
SAFELISTED_CONTENT_TYPES = frozenset(
    {"text/plain", "application/x-www-form-urlencoded", "multipart/form-data"}
)
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
}
LOGIN_BINDING_MAX_AGE = 600


# --- Requests ----------------------------------------------------------------


def new_request_id(request: Any) -> str:
    context = getattr(request, "context", None) or {}
    upstream = context.get("requestId") if isinstance(context, dict) else None
    return str(upstream) if upstream else uuid.uuid4().hex


def header(request: Any, name: str) -> str | None:
    value = request.headers.get(name)
    return str(value) if value is not None else None


def query(request: Any, name: str) -> str | None:
    params = request.query_params or {}
    value = params.get(name)
    return str(value) if value is not None else None


def cookies(request: Any) -> dict[str, str]:
    """Cookie header parsed leniently; the first of a duplicated name wins."""
    found: dict[str, str] = {}
    for part in (header(request, "cookie") or "").split(";"):
        name, sep, value = part.strip().partition("=")
        if sep and name and name not in found:
            found[name] = value.strip()
    return found


def media_type(request: Any) -> str:
    raw = header(request, "content-type") or ""
    return raw.split(";", 1)[0].strip().lower()


def check_state_changing(request: Any, config: AppConfig) -> None:
    """CSRF defence for every POST (OWASP ASVS 5.0 V3.5).

    The custom header forces a CORS preflight, which only allowlisted origins
    pass; a safelisted content type marks a request a form could have sent.
    """
    if header(request, "x-csrf") != "1":
        raise CsrfRequired()
    if media_type(request) in SAFELISTED_CONTENT_TYPES:
        raise CsrfRequired()
    origin = header(request, "origin")
    if origin is not None and not origin_allowed(origin, config):
        raise OriginNotAllowed()


def json_body(request: Any) -> dict[str, Any]:
    raw = request.raw_body or b""
    if len(raw) > MAX_BODY_BYTES:
        raise InvalidRequest("The request body is larger than 64 KB.")
    if media_type(request) != "application/json":
        raise InvalidRequest("Send the body as application/json.")
    try:
        value = json.loads(raw.decode("utf-8"))
        # JSON's \ud800 escapes decode to lone surrogates, which are not text:
        # refuse them here rather than fail later when a value is hashed.
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except (UnicodeError, ValueError, RecursionError):
        raise InvalidRequest("The body is not UTF-8 JSON.") from None
    if not isinstance(value, dict):
        raise InvalidRequest("The body must be a JSON object.")
    return value


def string_field(body: dict[str, Any], name: str, max_length: int = 4096) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value or len(value) > max_length:
        raise InvalidRequest(f"'{name}' must be a non-empty string.")
    return value


# --- CORS ----------------------------------------------------------------------


def origin_allowed(origin: str, config: AppConfig) -> bool:
    return origin in config.allowed_origins or origin == origin_of(config.callback_url)


def cors_headers(origin: str | None, config: AppConfig | None) -> dict[str, str]:
    """Exact-origin CORS with credentials; never ``*`` or ``null``."""
    if origin is None or config is None or origin not in config.allowed_origins:
        return {}
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Credentials": "true",
    }


def preflight_headers(methods: list[str]) -> dict[str, str]:
    return {
        "Access-Control-Allow-Methods": ", ".join(methods),
        "Access-Control-Allow-Headers": CORS_ALLOWED_HEADERS,
        "Access-Control-Max-Age": CORS_MAX_AGE,
    }


# --- Cookies -------------------------------------------------------------------


@dataclass(frozen=True)
class CookiePolicy:
    """Cookie names and the Secure flag for a stage.

    Production attributes (``__Host-`` prefix, ``Secure``) are kept even offline,
    because Chromium honours them on http://localhost; only an all-loopback stage
    that opts in with KL_ALLOW_INSECURE_COOKIES=1 drops them.
    """

    secure: bool

    @classmethod
    def for_stage(cls, config: AppConfig, allow_insecure: bool) -> CookiePolicy:
        return cls(secure=not (allow_insecure and config.all_loopback))

    @property
    def session(self) -> str:
        return "__Host-kl_session" if self.secure else "kl_session"

    @property
    def login(self) -> str:
        return "__Host-kl_login" if self.secure else "kl_login"

    def set(self, name: str, value: str, max_age: int) -> str:
        parts = [f"{name}={value}", "Path=/", f"Max-Age={max(0, max_age)}"]
        if self.secure:
            parts.append("Secure")
        parts += ["HttpOnly", "SameSite=Lax"]
        return "; ".join(parts)

    def clear(self, name: str) -> str:
        return self.set(name, "", 0)


# --- Responses -----------------------------------------------------------------


def json_response(
    body: dict[str, Any],
    status: int = 200,
    *,
    set_cookies: list[str] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    all_headers: dict[str, Any] = {"Content-Type": "application/json"}
    all_headers.update(headers or {})
    if set_cookies:
        all_headers["Set-Cookie"] = list(set_cookies)
    return Response(body=json.dumps(body), status_code=status, headers=all_headers)


def error_response(error: ApiError, headers: dict[str, str] | None = None) -> Response:
    body = {"error": error.code, "message": error.message, "request_id": request_id()}
    return json_response(body, error.status, headers=headers)


def redirect(location: str, *, set_cookies: list[str] | None = None) -> Response:
    headers: dict[str, Any] = {"Location": location}
    if set_cookies:
        headers["Set-Cookie"] = list(set_cookies)
    return Response(body="", status_code=302, headers=headers)


def with_query(url: str, params: dict[str, str]) -> str:
    separator = "&" if "?" in url else "?"
    return url + separator + urlencode(params)


def finish(response: Response, extra: dict[str, str]) -> Response:
    """Add the headers every response carries."""
    for name, value in {**SECURITY_HEADERS, **extra}.items():
        response.headers[name] = value
    response.headers["X-Request-Id"] = request_id()
    vary = response.headers.get("Vary")
    response.headers["Vary"] = "Origin" if not vary else f"{vary}, Origin"
    return response
