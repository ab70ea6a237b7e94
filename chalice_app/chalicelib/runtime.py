"""Everything a request needs that outlives it: clock, clients, caches, stores.

One ``Runtime`` per container, built on first use from the stage environment
(``KL_REGION``, ``KL_SSM_PREFIX``, ``KL_SESSIONS_TABLE``); AWS clients and the
HTTP session are built lazily so a cold start pays only for what it uses. Tests
install their own with ``set_runtime``.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from chalicelib.cognito import CognitoOAuthClient
from chalicelib.config import Clock, ConfigSource
from chalicelib.deployment import DeploymentCheck
from chalicelib.errors import ConfigUnavailable
from chalicelib.sessions import SessionStore
from chalicelib.tokens import TokenVerifier
from chalicelib.transactions import TransactionStore


class SystemClock:
    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class Runtime:
    def __init__(
        self,
        *,
        region: str,
        ssm_prefix: str,
        sessions_table: str,
        clock: Clock | None = None,
        http: Any = None,
        dynamodb: Any = None,
        ssm: Any = None,
        cognito: Any = None,
        allow_insecure_cookies: bool = False,
    ) -> None:
        self.region = region
        self.sessions_table = sessions_table
        self.clock: Clock = clock or SystemClock()
        self.allow_insecure_cookies = allow_insecure_cookies
        self._http = http
        self._dynamodb = dynamodb
        self._ssm = ssm
        self._cognito = cognito
        self._lock = threading.Lock()

        self.config_source = ConfigSource(
            self.ssm, region=region, prefix=ssm_prefix, clock=self.clock
        )
        self.verifier = TokenVerifier(_Lazy(self.http), self.clock)
        self.oauth = CognitoOAuthClient(_Lazy(self.http))
        self.deployment = DeploymentCheck(self.cognito, self.clock)
        self.sessions = SessionStore(self.dynamodb, sessions_table, self.clock)
        self.transactions = TransactionStore(self.dynamodb, sessions_table, self.clock)

    @classmethod
    def from_env(cls) -> Runtime:
        names = ("KL_REGION", "KL_SSM_PREFIX", "KL_SESSIONS_TABLE")
        values = {name: os.environ.get(name, "") for name in names}
        if not all(values.values()):
            raise ConfigUnavailable()
        return cls(
            region=values["KL_REGION"],
            ssm_prefix=values["KL_SSM_PREFIX"],
            sessions_table=values["KL_SESSIONS_TABLE"],
            allow_insecure_cookies=os.environ.get("KL_ALLOW_INSECURE_COOKIES") == "1",
        )

    def http(self) -> Any:
        with self._lock:
            if self._http is None:
                import requests

                self._http = requests.Session()
            return self._http

    def dynamodb(self) -> Any:
        with self._lock:
            if self._dynamodb is None:
                self._dynamodb = self._client("dynamodb")
            return self._dynamodb

    def ssm(self) -> Any:
        with self._lock:
            if self._ssm is None:
                self._ssm = self._client("ssm")
            return self._ssm

    def cognito(self) -> Any:
        with self._lock:
            if self._cognito is None:
                self._cognito = self._client("cognito-idp")
            return self._cognito

    def _client(self, service: str) -> Any:
        from botocore.config import Config

        # Short timeouts and few retries: a slow dependency becomes a quick 503
        # rather than a Lambda timeout. AWS_ENDPOINT_URL (offline) is honoured.
        settings = Config(
            connect_timeout=2,
            read_timeout=3,
            retries={"mode": "standard", "max_attempts": 2},
        )
        return _aws_session().create_client(
            service, region_name=self.region, config=settings
        )


class _Lazy:
    """Stands in for the HTTP session until the first call needs it."""

    def __init__(self, factory: Any) -> None:
        self._factory = factory

    def __getattr__(self, name: str) -> Any:
        return getattr(self._factory(), name)


_botocore_session: Any = None
_botocore_lock = threading.Lock()


def _aws_session() -> Any:
    """One botocore session per container, so clients share its loaded models.

    botocore rather than boto3: importing boto3 also imports s3transfer and its
    dependencies, about a quarter of a cold start's AWS set-up, for nothing a
    client uses.
    """
    global _botocore_session
    with _botocore_lock:
        if _botocore_session is None:
            from botocore.session import get_session

            _botocore_session = get_session()
        return _botocore_session


_runtime: Runtime | None = None
_runtime_lock = threading.Lock()


def get_runtime() -> Runtime:
    global _runtime
    with _runtime_lock:
        if _runtime is None:
            _runtime = Runtime.from_env()
        return _runtime


def set_runtime(runtime: Runtime | None) -> None:
    """Install a runtime (tests), or None to rebuild from the environment."""
    global _runtime
    with _runtime_lock:
        _runtime = runtime
