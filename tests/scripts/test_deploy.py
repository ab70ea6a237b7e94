"""`make deploy`: the real sequence, against stand-in terraform and chalice."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from devstack.provision import provision
from devstack.settings import ROOT, StackSettings
from tests.scripts.conftest import STAGE


def stand_in(bin_dir: Path, name: str, record: Path, script: str = "") -> None:
    """An executable that records its arguments, then runs ``script``."""
    exe = bin_dir / name
    exe.write_text(f'#!/bin/sh\necho "{name} $*" >> "{record}"\n{script}\n')
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)


@pytest.fixture
def rehearsal(settings: StackSettings, tmp_path: Path) -> dict[str, object]:
    """PATH with stand-ins: terraform prints the recorded outputs of the stage."""
    provision(settings)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    record = tmp_path / "calls.log"
    outputs = settings.outputs_file
    stand_in(
        bin_dir,
        "terraform",
        record,
        f'if [ "$1" = output ]; then cat "{outputs}"; fi',
    )
    stand_in(bin_dir, "chalice", record, 'echo "Rest API URL: http://localhost/api/"')
    env = {
        **os.environ,
        **settings.aws_env(),
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "KAKAO_LOGIN_CONFIG_ROOT": str(tmp_path / "config"),
        "DRY_RUN": "",
    }
    return {"env": env, "record": record, "bin": bin_dir, "root": tmp_path / "config"}


def deploy(env: object, *extra: str) -> subprocess.CompletedProcess[str]:
    assert isinstance(env, dict)
    return subprocess.run(
        [sys.executable, "-m", "scripts.deploy", "--stage", STAGE, *extra],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def calls(record: object) -> list[str]:
    assert isinstance(record, Path)
    return record.read_text().splitlines() if record.exists() else []


def test_deploy_runs_every_step_in_order_and_ends_with_doctor(
    rehearsal: dict[str, object],
) -> None:
    done = deploy(rehearsal["env"])

    assert done.returncode == 0, done.stdout + done.stderr
    assert calls(rehearsal["record"]) == [
        f"terraform apply -input=false -var-file=envs/{STAGE}.tfvars",
        "terraform output -json",
        f"chalice deploy --stage {STAGE}",
        "terraform output -json",
        "terraform output -json",  # the doctor reads the outputs too
    ]
    steps = [line for line in done.stdout.splitlines() if line.startswith("[")]
    assert [line.split(":")[0] for line in steps] == [
        "[1/5] terraform apply",
        "[2/5] generate config",
        "[3/5] chalice deploy",
        "[4/5] generate config again",
        "[5/5] doctor",
    ]
    assert "doctor: " in done.stdout and " 0 stale" in done.stdout
    root = rehearsal["root"]
    assert isinstance(root, Path)
    chalice = json.loads((root / "chalice_app/.chalice/config.json").read_text())
    assert chalice["stages"][STAGE]["manage_iam_role"] is False


def test_failed_apply_stops_before_anything_else(
    rehearsal: dict[str, object],
) -> None:
    bin_dir, record = rehearsal["bin"], rehearsal["record"]
    assert isinstance(bin_dir, Path) and isinstance(record, Path)
    stand_in(bin_dir, "terraform", record, "echo 'Error: quota' >&2; exit 1")

    done = deploy(rehearsal["env"])

    assert done.returncode == 1
    assert "deploy stopped at step 1 (terraform apply)" in done.stdout
    assert "fix the Terraform error above" in done.stdout
    assert not any(call.startswith("chalice") for call in calls(record))


def test_failed_chalice_deploy_stops_and_says_infrastructure_is_applied(
    rehearsal: dict[str, object],
) -> None:
    bin_dir, record = rehearsal["bin"], rehearsal["record"]
    assert isinstance(bin_dir, Path) and isinstance(record, Path)
    stand_in(bin_dir, "chalice", record, "exit 2")

    done = deploy(rehearsal["env"])

    assert done.returncode == 1
    assert "deploy stopped at step 3 (chalice deploy)" in done.stdout
    assert "infrastructure is already applied" in done.stdout
    assert "[4/5]" not in done.stdout


def test_dry_run_prints_the_commands_and_runs_nothing(
    rehearsal: dict[str, object],
) -> None:
    env = rehearsal["env"]
    assert isinstance(env, dict)

    done = deploy({**env, "DRY_RUN": "1"})

    assert done.returncode == 0
    assert calls(rehearsal["record"]) == []
    assert f"terraform apply -input=false -var-file=envs/{STAGE}.tfvars" in done.stdout
    assert f"chalice deploy --stage {STAGE}" in done.stdout
    assert "dry run, nothing ran" in done.stdout
