"""Where the offline stack lives: ports, URLs, names and its state folder.

Every URL handed out uses the host name ``localhost``: cookies are per host, and
mixing ``localhost`` with ``127.0.0.1`` silently drops them. Servers bind to
``127.0.0.1`` only, never to every interface.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

BIND_HOST = "127.0.0.1"
PUBLIC_HOST = "localhost"
ROOT = Path(__file__).resolve().parent.parent

# Fake credentials for moto: never real ones, and the stack refuses to run
# against anything but loopback.
OFFLINE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}

KAKAO_PROVIDER_NAME = "Kakao"
KAKAO_CLIENT_ID = "devstack-kakao-rest-api-key"


def _port(name: str, default: int) -> int:
    raw = os.environ.get(name, str(default))
    try:
        port = int(raw)
    except ValueError:
        raise SystemExit(f"{name}={raw!r} is not a port number") from None
    if not 1 <= port <= 65535:
        raise SystemExit(f"{name}={port} is outside 1-65535")
    return port


def _token_delivery() -> str:
    mode = os.environ.get("DEVSTACK_TOKEN_DELIVERY", "bff")
    if mode not in ("bff", "token-mediating"):
        raise SystemExit(
            f"DEVSTACK_TOKEN_DELIVERY={mode!r}: use bff or token-mediating"
        )
    return mode


@dataclass(frozen=True)
class StackSettings:
    """One offline stack: change a port with its DEVSTACK_*_PORT variable."""

    aws_port: int = 5100
    cognito_port: int = 9229
    kakao_port: int = 9230
    api_port: int = 8000
    frontend_port: int = 3001
    project: str = "kakao-login"
    stage: str = "local"
    region: str = "ap-northeast-2"
    state_dir: Path = ROOT / ".devstack"
    # The same decisions infra/terraform makes for a deployed stage.
    refresh_rotation_grace_seconds: int = 10
    session_idle_timeout_seconds: int = 1800
    session_absolute_timeout_seconds: int = 8 * 3600
    # "bff" (no token reaches the browser) or "token-mediating".
    token_delivery: str = "bff"

    @classmethod
    def from_env(cls) -> StackSettings:
        return cls(
            aws_port=_port("DEVSTACK_AWS_PORT", 5100),
            cognito_port=_port("DEVSTACK_COGNITO_PORT", 9229),
            kakao_port=_port("DEVSTACK_KAKAO_PORT", 9230),
            api_port=_port("DEVSTACK_API_PORT", 8000),
            frontend_port=_port("DEVSTACK_FRONTEND_PORT", 3001),
            state_dir=Path(os.environ.get("DEVSTACK_STATE_DIR", ROOT / ".devstack")),
            token_delivery=_token_delivery(),
        )

    @staticmethod
    def _url(port: int) -> str:
        return f"http://{PUBLIC_HOST}:{port}"

    @property
    def aws_url(self) -> str:
        return self._url(self.aws_port)

    @property
    def cognito_url(self) -> str:
        return self._url(self.cognito_port)

    @property
    def kakao_url(self) -> str:
        return self._url(self.kakao_port)

    @property
    def api_url(self) -> str:
        return self._url(self.api_port)

    @property
    def frontend_url(self) -> str:
        return self._url(self.frontend_port)

    @property
    def callback_url(self) -> str:
        return f"{self.api_url}/auth/callback"

    @property
    def sign_out_url(self) -> str:
        return f"{self.frontend_url}/"

    @property
    def cognito_domain_prefix(self) -> str:
        return f"{self.project}-{self.stage}"

    @property
    def kakao_registration_file(self) -> Path:
        """Kakao app registration shared by provisioning and the Kakao stand-in."""
        return self.state_dir / "kakao-client.json"

    @property
    def ssm_prefix(self) -> str:
        return f"/{self.project}/{self.stage}/"

    @property
    def sessions_table(self) -> str:
        return f"{self.project}-{self.stage}-sessions"

    @property
    def outputs_file(self) -> Path:
        return self.state_dir / "outputs.json"

    @property
    def frontend_config_file(self) -> Path:
        """The page's generated config; the front-end server serves it."""
        return self.state_dir / "frontend-config.json"

    def aws_env(self) -> dict[str, str]:
        """Environment for a boto3 client that must talk to moto on loopback."""
        return {
            **OFFLINE_CREDENTIALS,
            "AWS_ENDPOINT_URL": self.aws_url,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
        }
