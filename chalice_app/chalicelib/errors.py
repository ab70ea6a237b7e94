"""The API's errors: each carries the stable ``error`` code and HTTP status.

Messages tell the caller what to do; they never carry exception text, upstream
bodies, tokens or URLs with secrets.
"""

from __future__ import annotations


class ApiError(Exception):
    code = "internal_error"
    status = 500
    message = "Something went wrong on our side. Try again later."

    def __init__(self, message: str | None = None) -> None:
        if message is not None:
            self.message = message
        super().__init__(self.message)


class InvalidRequest(ApiError):
    code = "invalid_request"
    status = 400
    message = "The request is malformed. Send a JSON object with the documented fields."


class InvalidReturnTo(ApiError):
    code = "invalid_return_to"
    status = 400
    message = "return_to must be a local path starting with a single '/'."


class UnsupportedIdentityProvider(ApiError):
    code = "unsupported_identity_provider"
    status = 400
    message = "This identity provider is not enabled. Use one from /api/config."


class InvalidState(ApiError):
    code = "invalid_state"
    status = 400
    message = (
        "This login link is unknown, expired, already used or was started in "
        "another browser. Start the login again."
    )


class LoginFailed(ApiError):
    code = "login_failed"
    status = 400
    message = "The sign-in could not be completed. Start the login again."


class LoginUpstreamFailed(LoginFailed):
    """Cognito's token endpoint failed (5xx, not JSON, timeout) during a login."""

    status = 502
    message = "Cognito could not complete the sign-in. Start the login again."


class ConfigStale(ApiError):
    """The config in SSM names an app client, URL or provider Cognito lacks."""

    code = "config_stale"
    status = 503
    message = (
        "The login configuration is out of date, so the login was stopped before "
        "reaching Cognito. An operator should run `make doctor`."
    )


class InvalidIdToken(ApiError):
    code = "invalid_id_token"
    status = 401
    message = "The identity token could not be verified. Start the login again."


class Unauthenticated(ApiError):
    code = "unauthenticated"
    status = 401
    message = "No active session. Sign in first."


class SessionExpired(ApiError):
    code = "session_expired"
    status = 401
    message = "The session has ended. Sign in again."


class CsrfRequired(ApiError):
    code = "csrf_required"
    status = 403
    message = "Send the header 'X-CSRF: 1' with a JSON request."


class OriginNotAllowed(ApiError):
    code = "origin_not_allowed"
    status = 403
    message = "Requests from this origin are not allowed."


class NotFound(ApiError):
    code = "not_found"
    status = 404
    message = "No such resource."


class MethodNotAllowed(ApiError):
    code = "method_not_allowed"
    status = 405
    message = "This method is not supported here; see the Allow header."


class ConfigUnavailable(ApiError):
    code = "config_unavailable"
    status = 503
    message = "The service configuration is unavailable. Try again shortly."


class UpstreamUnavailable(ApiError):
    code = "upstream_unavailable"
    status = 503
    message = "The sign-in service is not answering. Try again shortly."


class SessionStoreUnavailable(ApiError):
    code = "session_store_unavailable"
    status = 503
    message = "Sessions are temporarily unavailable. Try again shortly."
