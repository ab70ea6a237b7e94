"""The backend for the front end: Kakao login through Cognito, sessions in DynamoDB.

Routes are thin: each reads the request, calls one step of ``chalicelib.login``
and shapes the response with ``chalicelib.http``. Every response carries
``Cache-Control: no-store``, a request id and exact-origin CORS headers.

``/auth/callback`` is a top-level navigation from Cognito, so its failures
redirect to the front end with ``?login_error=<code>`` instead of showing JSON;
``/auth/token`` (the same exchange, called by the front end) answers JSON.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from chalice.app import Chalice, Response
from chalicelib import http, login
from chalicelib.audit import set_request_id
from chalicelib.config import AppConfig
from chalicelib.errors import (
    ApiError,
    ConfigStale,
    InvalidRequest,
    InvalidState,
    LoginFailed,
    MethodNotAllowed,
    NotFound,
    SessionExpired,
    Unauthenticated,
)
from chalicelib.runtime import Runtime, get_runtime

app = Chalice(app_name="kakao-login")
logger = logging.getLogger(__name__)
# Lambda's root logger stops at WARNING; the audit lines are INFO.
logging.getLogger("chalicelib").setLevel(logging.INFO)

ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]
# Chalice answers 415 itself for a content type a route does not list; accepting
# every type lets the CSRF and body checks below give the documented errors.
ANY_CONTENT = ["*/*"]

View = Callable[[], Response]


# --- Request plumbing ---------------------------------------------------------


@app.middleware("http")
def _every_response(event: Any, get_response: Callable[[Any], Response]) -> Response:
    set_request_id(http.new_request_id(event))
    try:
        response = get_response(event)
    except Exception:
        logger.exception("unhandled error")
        response = http.error_response(ApiError())
    response = _replace_framework_error(response)
    if event.method == "HEAD":
        # RFC 9110 section 9.3.2: no body on HEAD. API Gateway drops it; chalice
        # local would write it, and the stray bytes break a kept-alive connection.
        response.body = ""

    origin = http.header(event, "origin")
    config = None
    if origin is not None and event.path != "/health":
        config = _config_or_none()
    return http.finish(response, http.cors_headers(origin, config))


def _replace_framework_error(response: Response) -> Response:
    """Chalice's own error bodies ({"Code", "Message"}) never reach a client."""
    body = response.body
    if not (isinstance(body, dict) and "Code" in body):
        return response
    if response.status_code == 405:
        error: ApiError = MethodNotAllowed()
    elif response.status_code == 404:
        error = NotFound()
    elif 400 <= response.status_code < 500:
        # e.g. Chalice's own 400 for a malformed request or 415 for a media type
        error = InvalidRequest()
    else:
        error = ApiError()
    allow = response.headers.get("Allow")
    headers = {"Allow": allow} if isinstance(allow, str) else None
    return http.error_response(error, headers=headers)


def _config_or_none() -> AppConfig | None:
    try:
        return get_runtime().config_source.get()
    except ApiError:
        return None


def _guarded(view: View) -> Response:
    try:
        return view()
    except ApiError as exc:
        return http.error_response(exc)
    except Exception:
        logger.exception("unhandled error")
        return http.error_response(ApiError())


def endpoint(path: str, method: str) -> Callable[[View], View]:
    """Register ``view`` for one method, 405 for the others, and a preflight."""

    def register(view: View) -> View:
        def handle() -> Response:
            return _guarded(view)

        def wrong_method() -> Response:
            return http.error_response(MethodNotAllowed(), headers={"Allow": method})

        def preflight() -> Response:
            headers = http.preflight_headers([method, "OPTIONS"])
            return Response(body="", status_code=204, headers={**headers})

        others = [other for other in ALL_METHODS if other != method]
        name = view.__name__
        app.route(path, methods=[method], content_types=ANY_CONTENT, name=name)(handle)
        app.route(path, methods=others, content_types=ANY_CONTENT, name=f"{name}_405")(
            wrong_method
        )
        app.route(
            path, methods=["OPTIONS"], content_types=ANY_CONTENT, name=f"{name}_options"
        )(preflight)
        return view

    return register


def _request() -> Any:
    return app.current_request


def _runtime_and_config() -> tuple[Runtime, AppConfig]:
    runtime = get_runtime()
    return runtime, runtime.config_source.get()


def _cookie_policy(rt: Runtime, config: AppConfig) -> http.CookiePolicy:
    return http.CookiePolicy.for_stage(config, rt.allow_insecure_cookies)


def _state_changing(config: AppConfig) -> dict[str, Any]:
    """CSRF and origin checks for a POST, then its JSON body ({} when empty)."""
    request = _request()
    http.check_state_changing(request, config)
    if not request.raw_body:
        return {}
    return http.json_body(request)


def _session_cookie(
    rt: Runtime, config: AppConfig, session_id: str, expires_at: int
) -> str:
    policy = _cookie_policy(rt, config)
    max_age = expires_at - int(rt.clock.now())
    return policy.set(policy.session, session_id, max_age)


def _finish_login(
    rt: Runtime, config: AppConfig, *, code: str, state: str, flow: str
) -> tuple[login.LoginResult, str]:
    """The code exchange shared by the callback and /auth/token, and its cookie."""
    policy = _cookie_policy(rt, config)
    jar = http.cookies(_request())
    result = login.finish_login(
        rt,
        config,
        code=code,
        state=state,
        binding=jar.get(policy.login),
        flow=flow,
        previous_session_id=jar.get(policy.session),
    )
    cookie = _session_cookie(
        rt, config, result.session_id, result.session.absolute_expires_at
    )
    return result, cookie


def _token_body(rt: Runtime, config: AppConfig, session: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "success": True,
        "expires_in": max(0, session.access_expires_at - int(rt.clock.now())),
    }
    # Token-mediating backend (RFC 10017): the access token only, never the
    # refresh or ID token. The default BFF mode hands out no token at all.
    if config.token_delivery == "token-mediating":
        body["access_token"] = session.access_token
    return body


def _ended_session(rt: Runtime, config: AppConfig, error: ApiError) -> Response:
    policy = _cookie_policy(rt, config)
    response = http.error_response(error)
    response.headers["Set-Cookie"] = [policy.clear(policy.session)]
    return response


# --- Login ------------------------------------------------------------------------


@endpoint("/auth/login", "GET")
def start_login() -> Response:
    rt = get_runtime()
    # Read SSM now: a login never starts with a client id SSM no longer holds.
    config = rt.config_source.get(max_age=0)
    policy = _cookie_policy(rt, config)
    request = _request()

    try:
        start = login.start_login(
            rt,
            config,
            return_to=http.query(request, "return_to"),
            idp=http.query(request, "idp"),
            flow=http.query(request, "flow"),
            binding=http.cookies(request).get(policy.login),
            fingerprint=http.query(request, "fingerprint"),
        )
    except ConfigStale as exc:
        # A person clicked "Log in": tell them on our page, not Cognito's.
        failure = {"login_error": exc.code}
        return http.redirect(http.with_query(config.frontend_url, failure))

    binding_cookie = policy.set(policy.login, start.binding, http.LOGIN_BINDING_MAX_AGE)
    return http.redirect(start.authorize_url, set_cookies=[binding_cookie])


@endpoint("/auth/callback", "GET")
def callback() -> Response:
    rt, config = _runtime_and_config()
    policy = _cookie_policy(rt, config)
    request = _request()
    jar = http.cookies(request)
    state = http.query(request, "state")

    authorize_error = http.query(request, "error")
    if authorize_error is not None:
        reported = login.abandon_login(
            rt, state=state, binding=jar.get(policy.login), error=authorize_error
        )
        return http.redirect(
            http.with_query(config.frontend_url, {"login_error": reported})
        )

    try:
        code = http.query(request, "code")
        if not state:
            raise InvalidState()
        if not code:
            raise LoginFailed()
        result, cookie = _finish_login(rt, config, code=code, state=state, flow="api")
    except ApiError as exc:
        return http.redirect(
            http.with_query(config.frontend_url, {"login_error": exc.code})
        )
    except Exception:
        logger.exception("unhandled error in the callback")
        failure = {"login_error": ApiError.code}
        return http.redirect(http.with_query(config.frontend_url, failure))

    location = login.frontend_return_url(config, result.return_to)
    return http.redirect(location, set_cookies=[cookie])


@endpoint("/auth/token", "POST")
def token() -> Response:
    rt, config = _runtime_and_config()
    body = _state_changing(config)
    code, state = http.string_field(body, "code"), http.string_field(body, "state")

    result, cookie = _finish_login(rt, config, code=code, state=state, flow="frontend")
    return http.json_response(
        _token_body(rt, config, result.session), set_cookies=[cookie]
    )


# --- Session ---------------------------------------------------------------------


@endpoint("/auth/refresh", "POST")
def refresh() -> Response:
    rt, config = _runtime_and_config()
    policy = _cookie_policy(rt, config)
    _state_changing(config)
    session_id = http.cookies(_request()).get(policy.session)

    try:
        session = login.current_session(rt, session_id)
        session = login.refresh(rt, config, session)
    except (Unauthenticated, SessionExpired) as exc:
        return _ended_session(rt, config, exc)
    return http.json_response(_token_body(rt, config, session))


@endpoint("/api/user-info", "GET")
def user_info() -> Response:
    rt, config = _runtime_and_config()
    policy = _cookie_policy(rt, config)
    session_id = http.cookies(_request()).get(policy.session)

    try:
        info = login.user_info(rt, config, session_id)
    except (Unauthenticated, SessionExpired) as exc:
        if session_id is None:
            raise
        return _ended_session(rt, config, exc)
    return http.json_response(info)


@endpoint("/auth/logout", "POST")
def logout() -> Response:
    rt, config = _runtime_and_config()
    policy = _cookie_policy(rt, config)
    _state_changing(config)
    session_id = http.cookies(_request()).get(policy.session)

    logout_url = login.logout(rt, config, session_id)

    return http.json_response(
        {"success": True, "logout_url": logout_url},
        set_cookies=[policy.clear(policy.session)],
    )


# --- Service ----------------------------------------------------------------------


@endpoint("/api/config", "GET")
def public_config() -> Response:
    _, config = _runtime_and_config()
    return http.json_response(config.public())


@endpoint("/health", "GET")
def health() -> Response:
    return http.json_response({"status": "ok"})


def _not_found(**_: str) -> Response:
    return http.error_response(NotFound())


app.route("/", methods=[*ALL_METHODS, "OPTIONS"], content_types=ANY_CONTENT)(_not_found)
app.route(
    "/{proxy+}",
    methods=[*ALL_METHODS, "OPTIONS"],
    content_types=ANY_CONTENT,
    name="not_found",
)(_not_found)
