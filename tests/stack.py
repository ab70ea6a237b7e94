"""Bring the whole offline stack up for a test session, on free ports."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from devstack.settings import ROOT, StackSettings


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def stack_env(state_dir: Path) -> dict[str, str]:
    names = ("AWS", "COGNITO", "KAKAO", "API", "FRONTEND")
    ports = {f"DEVSTACK_{name}_PORT": str(free_port()) for name in names}
    return {**ports, "DEVSTACK_STATE_DIR": str(state_dir)}


def devstack(env: dict[str, str], *args: str, timeout: float = 180) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "devstack", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"devstack {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
        )
    return done.stdout


@contextmanager
def running_stack(
    state_dir: Path, **extra_env: str
) -> Iterator[tuple[StackSettings, dict[str, str]]]:
    """The same `python -m devstack up --detach` a person runs, stopped after."""
    env = {**stack_env(state_dir), **extra_env}
    settings = StackSettings(
        aws_port=int(env["DEVSTACK_AWS_PORT"]),
        cognito_port=int(env["DEVSTACK_COGNITO_PORT"]),
        kakao_port=int(env["DEVSTACK_KAKAO_PORT"]),
        api_port=int(env["DEVSTACK_API_PORT"]),
        frontend_port=int(env["DEVSTACK_FRONTEND_PORT"]),
        state_dir=state_dir,
        token_delivery=env.get("DEVSTACK_TOKEN_DELIVERY", "bff"),
    )
    with ExitStack() as cleanup:
        cleanup.callback(devstack, env, "down")
        devstack(env, "up", "--detach")
        yield settings, env
