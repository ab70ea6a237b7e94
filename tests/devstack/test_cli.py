"""`python -m devstack`: clear errors, honest status, nothing left running."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from devstack.settings import ROOT
from tests.stack import stack_env


def devstack(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "devstack", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A child that exited but was not reaped is gone for our purposes.
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "zombie" in status.read_text())


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, str]]:
    env = stack_env(tmp_path / "state")
    yield env
    devstack(env, "down")


def test_port_already_taken_is_a_clear_error_and_starts_nothing(
    env: dict[str, str],
) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", int(env["DEVSTACK_KAKAO_PORT"])))
        squatter.listen()

        done = devstack(env, "up", "--detach")

    assert done.returncode == 1
    assert f"port {env['DEVSTACK_KAKAO_PORT']} (kakao) is already taken" in done.stderr
    assert "DEVSTACK_KAKAO_PORT" in done.stderr
    assert "Traceback" not in done.stderr
    assert json.loads(devstack(env, "status", "--json").stdout) == {}


def test_provision_without_a_running_stack_says_what_to_run(
    env: dict[str, str],
) -> None:
    done = devstack(env, "provision")

    assert done.returncode == 1
    assert "python -m devstack up --detach" in done.stderr
    assert "Traceback" not in done.stderr


def listening_addresses(status: dict[str, dict[str, int]]) -> set[str]:
    """The local addresses the stack's ports listen on, from /proc/net/tcp."""
    rows = [line.split() for line in Path("/proc/net/tcp").read_text().splitlines()[1:]]
    listening = [row[1].split(":") for row in rows if row[3] == "0A"]
    by_port = {int(port, 16): address for address, port in listening}
    addresses = {by_port.get(service["port"], "") for service in status.values()}
    return {
        socket.inet_ntoa(bytes.fromhex(a)[::-1]) if a else "none" for a in addresses
    }


def test_up_detach_status_and_down_leave_no_process_behind(
    env: dict[str, str],
) -> None:
    up = devstack(env, "up", "--detach")
    assert up.returncode == 0, up.stderr

    status = json.loads(devstack(env, "status", "--json").stdout)
    assert list(status) == ["aws", "kakao", "cognito", "api", "frontend"]
    assert all(service["running"] for service in status.values())
    for service in status.values():
        assert service["url"].startswith("http://localhost:")
        assert requests.get(service["url"] + "/", timeout=5).status_code < 500
    assert listening_addresses(status) == {"127.0.0.1"}
    again = devstack(env, "up", "--detach")
    assert again.returncode == 1 and "already running" in again.stderr

    down = devstack(env, "down")

    assert down.returncode == 0
    assert not any(alive(service["pid"]) for service in status.values())
    assert json.loads(devstack(env, "status", "--json").stdout) == {}
    for service in status.values():
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", service["port"])) != 0
