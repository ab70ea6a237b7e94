"""Shared fixtures for the offline stack's tests.

One moto server per test session, in this process, on a free loopback port; the
Kakao and Cognito stand-ins run on free ports too, so a stack on the default
ports (another engineer's) is never touched. Everything started is stopped.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from devstack.aws import AwsServer
from devstack.settings import BIND_HOST, StackSettings


def free_ports(count: int) -> list[int]:
    """Distinct free ports on 127.0.0.1 (held open together, then released)."""
    with ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind((BIND_HOST, 0))
        return [sock.getsockname()[1] for sock in sockets]


class QuietHandler(WSGIRequestHandler):
    """No access log: request lines carry codes and state."""

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


@contextmanager
def serving(app: Flask, port: int) -> Iterator[BaseWSGIServer]:
    """Serve ``app`` on 127.0.0.1:``port`` in a thread until the block ends."""
    server = make_server(
        BIND_HOST, port, app, threaded=True, request_handler=QuietHandler
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


class ShiftableClock:
    """The real time plus an offset a test moves forward (and a fixture resets)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@pytest.fixture(scope="session")
def stack_settings(tmp_path_factory: pytest.TempPathFactory) -> StackSettings:
    aws, cognito, kakao, api, frontend = free_ports(5)
    return StackSettings(
        aws_port=aws,
        cognito_port=cognito,
        kakao_port=kakao,
        api_port=api,
        frontend_port=frontend,
        state_dir=tmp_path_factory.mktemp("devstack"),
    )


@pytest.fixture(scope="session")
def aws_server(stack_settings: StackSettings) -> Iterator[AwsServer]:
    with AwsServer(stack_settings) as server:
        yield server


@pytest.fixture(scope="session")
def provisioned(aws_server: AwsServer, stack_settings: StackSettings) -> dict[str, Any]:
    """Outputs of one provisioning of the session's stack, values only."""
    from devstack.provision import provision

    outputs = provision(stack_settings)
    return {name: item["value"] for name, item in outputs.items()}


@pytest.fixture(scope="session")
def kakao_server(
    provisioned: dict[str, Any], stack_settings: StackSettings
) -> Iterator[str]:
    from devstack import kakao

    with pytest.warns(kakao.KakaoStandInWarning):
        app = kakao.create_app(stack_settings, env={})
    with serving(app, stack_settings.kakao_port):
        yield stack_settings.kakao_url


@pytest.fixture(scope="session")
def hosted_ui_clock() -> ShiftableClock:
    return ShiftableClock()


@pytest.fixture(scope="session")
def hosted_ui(
    kakao_server: str, stack_settings: StackSettings, hosted_ui_clock: ShiftableClock
) -> Iterator[Flask]:
    """The Cognito stand-in, served on its port; its test client shares its state."""
    from devstack import cognito

    with pytest.warns(cognito.StandInWarning):
        app = cognito.create_app(stack_settings, clock=hosted_ui_clock)
    with serving(app, stack_settings.cognito_port):
        yield app
