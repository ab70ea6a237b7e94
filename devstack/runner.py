"""Start, watch and stop the offline stack's processes.

Each service runs in its own process group on 127.0.0.1, logs to
``.devstack/logs/<service>.log`` and is recorded in ``.devstack/processes.json``
so ``down`` (or a later ``up``) can stop exactly what was started, even from
another shell.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import requests

from devstack.settings import BIND_HOST, ROOT, StackSettings

READY_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 10.0


class StackError(Exception):
    """The stack cannot start or stop; the message says what to do."""


@dataclass(frozen=True)
class Service:
    name: str
    port: int
    url: str
    health_path: str
    command: tuple[str, ...]
    cwd: Path = ROOT


@dataclass(frozen=True)
class RunningService:
    name: str
    pid: int
    port: int
    url: str
    log: str


def services(settings: StackSettings) -> list[Service]:
    """Every service in start order: AWS first, the product last."""
    serve = (sys.executable, "-m", "devstack", "serve")
    return [
        Service(
            "aws", settings.aws_port, settings.aws_url, "/moto-api/", (*serve, "aws")
        ),
        Service(
            "kakao",
            settings.kakao_port,
            settings.kakao_url,
            "/.well-known/openid-configuration",
            (*serve, "kakao"),
        ),
        Service(
            "cognito",
            settings.cognito_port,
            settings.cognito_url,
            "/health",
            (*serve, "cognito"),
        ),
        Service(
            "api",
            settings.api_port,
            settings.api_url,
            "/health",
            (*serve, "api"),
            cwd=ROOT / "chalice_app",
        ),
        Service(
            "frontend",
            settings.frontend_port,
            settings.frontend_url,
            "/",
            (*serve, "frontend"),
        ),
    ]


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((BIND_HOST, port))
        except OSError:
            return False
    return True


def _env_var_for(service: str) -> str:
    return f"DEVSTACK_{service.upper()}_PORT"


class Supervisor:
    """Owns the processes of one stack and the record of them."""

    def __init__(
        self,
        settings: StackSettings,
        report: Callable[[str], None] = print,
    ) -> None:
        self.settings = settings
        self.report = report
        self.record = settings.state_dir / "processes.json"
        self.log_dir = settings.state_dir / "logs"

    # -- the record ---------------------------------------------------------

    def running(self) -> list[RunningService]:
        if not self.record.exists():
            return []
        try:
            entries = json.loads(self.record.read_text())
            return [RunningService(**entry) for entry in entries]
        except (ValueError, TypeError):
            return []

    def _save(self, running: Iterable[RunningService]) -> None:
        self.settings.state_dir.mkdir(parents=True, exist_ok=True)
        self.record.write_text(json.dumps([asdict(item) for item in running], indent=2))

    # -- start --------------------------------------------------------------

    def check_ports(self, wanted: Iterable[Service]) -> None:
        taken = [service for service in wanted if not port_is_free(service.port)]
        if taken:
            lines = [
                f"port {service.port} ({service.name}) is already taken: stop what "
                f"uses it, run `python -m devstack down`, or set "
                f"{_env_var_for(service.name)} to another port"
                for service in taken
            ]
            raise StackError("\n".join(lines))

    def start(self, service: Service) -> RunningService:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{service.name}.log"
        env = {**os.environ, **self.settings.aws_env(), "PYTHONUNBUFFERED": "1"}
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                service.command,
                cwd=service.cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        entry = RunningService(
            service.name, process.pid, service.port, service.url, str(log_path)
        )
        self._save([*self.running(), entry])
        self._wait_ready(service, process)
        return entry

    def _wait_ready(self, service: Service, process: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        url = service.url + service.health_path
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise StackError(
                    f"{service.name} exited with status {process.returncode}; "
                    f"see {self.log_dir / (service.name + '.log')}"
                )
            try:
                answer = requests.get(url, timeout=2, allow_redirects=False)
                if answer.status_code < 500:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise StackError(
            f"{service.name} was not ready at {url} within "
            f"{READY_TIMEOUT_SECONDS:.0f} s; "
            f"see {self.log_dir / (service.name + '.log')}"
        )

    # -- stop ---------------------------------------------------------------

    def stop_all(self) -> list[str]:
        stopped = []
        for entry in reversed(self.running()):
            if _terminate_group(entry.pid):
                stopped.append(entry.name)
        if self.record.exists():
            self.record.unlink()
        return stopped

    def status(self) -> dict[str, dict[str, object]]:
        result: dict[str, dict[str, object]] = {}
        for entry in self.running():
            alive = _alive(entry.pid)
            result[entry.name] = {
                "url": entry.url,
                "port": entry.port,
                "pid": entry.pid,
                "running": alive,
                "log": entry.log,
            }
        return result


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _terminate_group(pid: int) -> bool:
    """SIGTERM the process group, then SIGKILL what is left after a grace period."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        try:
            finished, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            finished = pid if not _alive(pid) else 0
        if finished:
            break
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    return True
