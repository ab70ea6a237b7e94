"""Fixtures for the hostile-input, fault and load suite, and its summary line.

The in-process tests reuse the API fixtures (moto in-process, the Cognito double
behind a ``requests`` adapter); faults are injected at the same boundaries a real
outage would cross: the HTTP adapter in front of the Cognito double, and botocore's
``before-call`` event on the boto3 clients the runtime holds. Every test counts
what it tried in one ``Figures`` recorder, printed at the end of the session.
"""

from __future__ import annotations

import json
import logging
import statistics
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import pytest
import requests
from botocore.exceptions import ClientError, EndpointConnectionError

from tests.api.conftest import (  # noqa: F401  (fixtures re-exported for pytest)
    TABLE,
    DoubleAdapter,
    Stack,
    aws_env,
    other_key,
    signing_key,
    stack,
)

# --- Figures --------------------------------------------------------------------------


@dataclass
class Figures:
    """What the suite tried, counted by the tests themselves."""

    tried: int = 0
    refused: int = 0
    sessions_lost: int = 0
    faults_injected: int = 0
    faults_survived: int = 0
    fuzz_calls: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    load_errors: int = 0
    load_stopped_early: bool = False
    secrets: set[str] = field(default_factory=set)
    log_lines_scanned: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def hostile(self, refused: bool) -> None:
        with self.lock:
            self.tried += 1
            self.refused += int(refused)

    def lost(self, count: int) -> None:
        with self.lock:
            self.sessions_lost += max(0, count)

    def fault(self, survived: bool) -> None:
        with self.lock:
            self.faults_injected += 1
            self.faults_survived += int(survived)

    def secret(self, *values: str | None) -> None:
        with self.lock:
            self.secrets.update(v for v in values if v and len(v) >= 8)

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies_ms)
        if not ordered:
            return 0.0
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]

    def summary(self) -> str:
        load = (
            f"load: {len(self.latencies_ms)} requests, {self.load_errors} errors, "
            f"p50 {self.percentile(0.5):.1f} ms, p99 {self.percentile(0.99):.1f} ms"
        )
        if self.load_stopped_early:
            load += " (stopped at the time cap)"
        if self.latencies_ms:
            load += f", mean {statistics.fmean(self.latencies_ms):.1f} ms"
        return (
            f"hostile: {self.tried} tried, {self.refused} refused, "
            f"{self.sessions_lost} sessions lost; "
            f"faults: {self.faults_injected} injected, "
            f"{self.faults_survived} survived; {load}; "
            f"fuzz: {self.fuzz_calls} calls; "
            f"logs: {self.log_lines_scanned} lines scanned"
        )


FIGURES = Figures()


@pytest.fixture
def figures() -> Figures:
    return FIGURES


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if FIGURES.tried or FIGURES.faults_injected or FIGURES.latencies_ms:
        terminalreporter.write_sep("=", "hostile suite figures")
        terminalreporter.write_line(FIGURES.summary())


# --- Logs -----------------------------------------------------------------------------


class _Collector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture(autouse=True)
def no_secret_in_logs() -> Iterator[None]:
    """Every log line of the API during a test is scanned for values it saw."""
    collector = _Collector()
    loggers = [logging.getLogger(name) for name in ("chalicelib", "app")]
    for logger in loggers:
        logger.addHandler(collector)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeHandler(collector)
    leaks = leaked(collector.lines, FIGURES.secrets)
    with FIGURES.lock:
        FIGURES.log_lines_scanned += len(collector.lines)
    assert not leaks, f"{len(leaks)} log lines carry a token, code or cookie"


def leaked(lines: list[str], secrets: set[str]) -> list[str]:
    return [line for line in lines if any(secret in line for secret in secrets)]


# --- Cognito faults at the HTTP boundary ----------------------------------------------

TOKEN_FIELDS = ("access_token", "id_token", "refresh_token")


class FaultyCognito(DoubleAdapter):
    """The Cognito double behind an adapter that can break the token endpoint.

    ``fault`` applies to the grant type in ``grant`` (None: every grant). Every
    token and code that crosses the adapter is remembered so the log scan can
    look for it.
    """

    fault: str | None = None
    grant: str | None = None

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> Any:
        body = str(request.body or "")
        for part in body.split("&"):
            name, _, value = part.partition("=")
            if name in ("code", "refresh_token", "token", "code_verifier"):
                FIGURES.secret(unquote_plus(value))
        to_token = (request.url or "").endswith("/oauth2/token")
        wanted = self.grant is None or f"grant_type={self.grant}" in body
        if self.fault and to_token and wanted:
            return self._broken(request)
        response = super().send(request, **kwargs)
        if "json" in response.headers.get("Content-Type", ""):
            try:
                document = response.json()
            except ValueError:
                document = None
            if isinstance(document, dict):
                FIGURES.secret(
                    *(str(document.get(name) or "") for name in TOKEN_FIELDS)
                )
        return response

    def _broken(self, request: requests.PreparedRequest) -> Any:
        self.double.calls["faulted"] += 1
        if self.fault == "timeout":
            raise requests.exceptions.ReadTimeout("read timed out")
        if self.fault == "connection":
            raise requests.exceptions.ConnectionError("connection refused")
        status, raw, content_type = {
            "html500": (
                500,
                "<html><body>Internal Server Error trace</body></html>",
                "text/html",
            ),
            "html502": (502, "<html>Bad Gateway upstream-detail</html>", "text/html"),
            "json503": (503, '{"error": "unavailable"}', "application/json"),
            "malformed": (200, '{"access_token": "at-partial', "application/json"),
            "invalid_grant": (400, '{"error": "invalid_grant"}', "application/json"),
            "invalid_client": (400, '{"error": "invalid_client"}', "application/json"),
            "unauthorized_client": (
                400,
                '{"error": "unauthorized_client"}',
                "application/json",
            ),
        }[str(self.fault)]
        response = requests.Response()
        response.status_code = status
        response.headers["Content-Type"] = content_type
        response._content = raw.encode()
        response.url = request.url or ""
        response.request = request
        return response


UPSTREAM_TEXT = ("Internal Server Error", "upstream-detail", "<html", "at-partial")


@pytest.fixture
def hstack(stack: Stack) -> Stack:  # noqa: F811  (the API fixture)
    """The API stack with the fault-capable adapter in front of the Cognito double."""
    adapter = FaultyCognito(stack.cognito)
    session = stack.runtime.http()
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return stack


def adapter_of(api: Stack) -> FaultyCognito:
    adapter = api.runtime.http().get_adapter("https://cognito.example")
    assert isinstance(adapter, FaultyCognito)
    return adapter


# --- AWS faults at the botocore boundary ----------------------------------------------


class AwsOutage:
    """Makes chosen operations of a boto3 client fail before any request is sent."""

    def __init__(self, client: Any, service: str) -> None:
        self.operations: set[str] = set()
        self.error = "throttled"
        self.injected = 0
        client.meta.events.register(f"before-call.{service}.*", self._maybe_fail)

    def _maybe_fail(self, model: Any, **_: Any) -> None:
        if model.name not in self.operations:
            return
        self.injected += 1
        if self.error == "unreachable":
            raise EndpointConnectionError(endpoint_url="https://aws.invalid")
        code = {
            "throttled": "ProvisionedThroughputExceededException",
            "throttling": "ThrottlingException",
            "limit": "RequestLimitExceeded",
            "internal": "InternalServerError",
        }[self.error]
        error: Any = {"Error": {"Code": code, "Message": "injected"}}
        raise ClientError(error, model.name)


# --- Session table helpers ------------------------------------------------------------


def session_count(client: Any, table: str = TABLE) -> int:
    """Items that are sessions (not login transactions) in the sessions table."""
    count = 0
    pages = client.get_paginator("scan").paginate(
        TableName=table,
        FilterExpression="begins_with(pk, :prefix)",
        ExpressionAttributeValues={":prefix": {"S": "session#"}},
        Select="COUNT",
    )
    for page in pages:
        count += int(page["Count"])
    return count


def json_of(response: Any) -> Any:
    raw = response.body if hasattr(response, "body") else response.text
    return json.loads(raw)


# --- The offline stack over HTTP ------------------------------------------------------


@dataclass
class Offline:
    settings: Any
    env: dict[str, str]
    state_dir: Path


@pytest.fixture(scope="session")
def offline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Offline]:
    """The whole offline stack (moto server, stand-ins, ``chalice local``)."""
    from tests.stack import running_stack

    state_dir = tmp_path_factory.mktemp("hostile-stack")
    started = time.monotonic()
    with running_stack(state_dir) as (settings, env):
        assert time.monotonic() - started < 120
        yield Offline(settings, env, state_dir)
