"""``make deploy STAGE=<stage>``: the one deploy sequence, step by step.

1. ``terraform apply`` in ``infra/terraform`` with ``envs/<stage>.tfvars``
   (the only place ids are born);
2. generate config from its outputs;
3. ``chalice deploy --stage <stage>`` (the Lambda role comes from Terraform);
4. generate config again, so the files match what is now deployed;
5. ``make doctor``: every piece of config checked against the live resources.

It stops at the first failing step and says what to do. ``--dry-run``
(``DRY_RUN=1``) prints the commands instead of running them.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TERRAFORM_DIR = ROOT / "infra" / "terraform"
CHALICE_DIR = ROOT / "chalice_app"


@dataclass(frozen=True)
class Step:
    name: str
    command: tuple[str, ...]
    cwd: Path
    on_failure: str


def steps(stage: str) -> list[Step]:
    python = sys.executable
    sync = (python, "-m", "scripts.sync_config", "--stage", stage)
    var_file = f"envs/{stage}.tfvars"
    return [
        Step(
            "terraform apply",
            ("terraform", "apply", "-input=false", f"-var-file={var_file}"),
            TERRAFORM_DIR,
            f"fix the Terraform error above; check {TERRAFORM_DIR / var_file} "
            "and that `terraform init` has run with the remote backend",
        ),
        Step(
            "generate config",
            sync,
            ROOT,
            "the outputs above are incomplete: "
            "compare outputs.tf with scripts/outputs.py",
        ),
        Step(
            "chalice deploy",
            ("chalice", "deploy", "--stage", stage),
            CHALICE_DIR,
            "fix the Chalice error above, then rerun `make deploy`; the "
            "infrastructure is already applied",
        ),
        Step("generate config again", sync, ROOT, "rerun `make sync-config`"),
        Step(
            "doctor",
            (python, "-m", "scripts.doctor", "--stage", stage),
            ROOT,
            "each ✗ above names its fix",
        ),
    ]


def run(
    stage: str,
    *,
    dry_run: bool = False,
    execute: Callable[[Step], int] | None = None,
) -> int:
    plan = steps(stage)
    for number, step in enumerate(plan, start=1):
        shown = shlex.join(step.command)
        print(
            f"[{number}/{len(plan)}] {step.name}: {shown}  (in {step.cwd})", flush=True
        )
        if dry_run:
            continue
        status = (execute or _execute)(step)
        if status != 0:
            print(
                f"deploy stopped at step {number} ({step.name}), "
                f"exit {status}: {step.on_failure}"
            )
            return 1
    print(
        "deploy: dry run, nothing ran" if dry_run else f"deploy: stage {stage} deployed"
    )
    return 0


def _execute(step: Step) -> int:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    try:
        return subprocess.run(
            step.command, cwd=step.cwd, env=env, check=False
        ).returncode
    except FileNotFoundError:
        print(f"{step.command[0]} is not installed or not on PATH")
        return 127


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", required=True)
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args(argv)
    if args.stage == "local":
        print(
            "the local stage is the offline stack: "
            "use `make demo` or `python -m devstack up`"
        )
        return 1
    return run(args.stage, dry_run=args.dry_run or os.environ.get("DRY_RUN") == "1")


if __name__ == "__main__":
    sys.exit(main())
