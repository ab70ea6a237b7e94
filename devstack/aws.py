"""AWS offline: moto's server on loopback, and boto3 clients that only talk to it.

The same moto server answers every AWS API the stack uses (Cognito user pools,
SSM, DynamoDB, KMS) and serves each pool's JWKS document at
``{aws_url}/{pool_id}/.well-known/jwks.json``.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import boto3
from chalicelib.config import is_loopback_url
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    create_backend_app,
)
from moto.server import ThreadedMotoServer
from werkzeug.serving import make_server

from devstack.request_log import RedactingMotoRequestHandler
from devstack.settings import BIND_HOST, OFFLINE_CREDENTIALS, StackSettings

logger = logging.getLogger(__name__)


class NotLoopbackError(ValueError):
    """An AWS endpoint outside this machine: the offline stack never calls one."""


def require_loopback(url: str) -> str:
    if not is_loopback_url(url):
        raise NotLoopbackError(
            f"refusing AWS endpoint {url!r}: the offline stack only talks to "
            "moto on localhost (check DEVSTACK_AWS_PORT and AWS_ENDPOINT_URL)"
        )
    return url


def aws_client(service: str, settings: StackSettings) -> Any:
    """A boto3 client for moto: loopback endpoint, fake credentials, stack region."""
    return boto3.client(
        service,  # type: ignore[call-overload]
        endpoint_url=require_loopback(settings.aws_url),
        region_name=settings.region,
        aws_access_key_id=OFFLINE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=OFFLINE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=OFFLINE_CREDENTIALS["AWS_SESSION_TOKEN"],
    )


class AwsServer:
    """moto in a thread of this process, bound to 127.0.0.1 (for tests).

    moto keeps its state in process-wide backends, so every client of one
    process sees the same resources whichever server instance it calls.
    """

    def __init__(self, settings: StackSettings) -> None:
        require_loopback(settings.aws_url)
        # ThreadedMotoServer binds every interface unless told otherwise.
        self._server = ThreadedMotoServer(
            ip_address=BIND_HOST, port=settings.aws_port, verbose=False
        )
        self._running = False

    def start(self) -> AwsServer:
        self._server.start()
        self._running = True
        return self

    def stop(self) -> None:
        if self._running:
            self._server.stop()
            self._running = False

    def __enter__(self) -> AwsServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class OneAtATime:
    """Let moto handle one request at a time, as DynamoDB's writes are atomic.

    moto checks a ConditionExpression and then writes, with nothing between
    the two stopping another thread; the sessions table's refresh lease relies
    on the condition and the write being one step, as they are on AWS.
    Connections are still accepted in threads; only moto's work is serialized.
    """

    def __init__(self, app: Any) -> None:
        self._app = app
        self._lock = threading.Lock()

    def __call__(self, environ: Any, start_response: Any) -> Any:
        with self._lock:
            return list(self._app(environ, start_response))


def serve_aws(settings: StackSettings) -> None:
    """Serve moto on ``settings.aws_port`` until interrupted (a process entry point)."""
    require_loopback(settings.aws_url)
    app = OneAtATime(DomainDispatcherApplication(create_backend_app))
    server = make_server(
        BIND_HOST,
        settings.aws_port,
        app,
        threaded=True,
        request_handler=RedactingMotoRequestHandler,
    )
    logger.info("moto serving AWS APIs at %s", settings.aws_url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
